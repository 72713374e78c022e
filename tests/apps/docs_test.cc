// Documentation that cannot drift: docs/reference.md is what the registry
// says, every processor's example builds and is the one its header shows,
// and every YAML example in README.md and docs/ is checked like a user's file.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "framework/config.h"
#include "framework/pipeline_file.h"
#include "framework/registry.h"
#include "framework/service.h"
#include "tests/common/command.h"

namespace voxpipe {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;
using testing::VoxpipeBinary;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// "GeminiLiveLLM" -> "gemini_live_llm", "WavFileSource" -> "wav_file_source".
std::string SnakeCase(const std::string& name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool upper = std::isupper(static_cast<unsigned char>(c));
    bool after_lower = i > 0 && std::islower(static_cast<unsigned char>(name[i - 1]));
    bool before_lower = i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1]));
    bool after_upper = i > 0 && std::isupper(static_cast<unsigned char>(name[i - 1]));
    if (upper && i > 0 && (after_lower || (after_upper && before_lower))) out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::optional<fs::path> HeaderOf(const std::string& processor) {
  std::string file = SnakeCase(processor) + ".h";
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(VOXPIPE_SOURCE_DIR) / "processors")) {
    if (entry.path().filename() == file) return entry.path();
  }
  return std::nullopt;
}

// The lines under "// Example config:" in a header's opening comment, with
// the comment marks and the block's own indentation taken off.
std::string HeaderExample(const std::string& header) {
  std::istringstream lines(header);
  std::string line, out;
  bool in_example = false;
  size_t indent = std::string::npos;
  while (std::getline(lines, line)) {
    if (line.rfind("//", 0) != 0) {
      if (in_example) break;
      continue;
    }
    std::string text = line.substr(2);
    if (!in_example) {
      in_example = text.find("Example config:") != std::string::npos;
      continue;
    }
    if (text.find_first_not_of(' ') == std::string::npos) break;
    if (indent == std::string::npos) indent = text.find_first_not_of(' ');
    out += (out.empty() ? "" : "\n") + text.substr(std::min(indent, text.size()));
  }
  return out;
}

TEST(DocsTest, TheReferenceIsWhatTheRegistrySays) {
  auto generated = RunCommand({VoxpipeBinary(), "processors", "--markdown"});
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  std::string checked_in = ReadFile(fs::path(VOXPIPE_SOURCE_DIR) / "docs/reference.md");
  if (generated.output == checked_in) return;
  std::istringstream a(generated.output), b(checked_in);
  std::string line_a, line_b;
  int line = 0;
  while (true) {
    ++line;
    bool more_a = static_cast<bool>(std::getline(a, line_a));
    bool more_b = static_cast<bool>(std::getline(b, line_b));
    if (line_a != line_b || more_a != more_b) break;
  }
  ADD_FAILURE() << "docs/reference.md is stale from line " << line << ":\n  registry: " << line_a
                << "\n  file:     " << line_b
                << "\nrun `build/bin/voxpipe processors --markdown > docs/reference.md`";
}

TEST(DocsTest, EveryProcessorsExampleBuildsAndIsTheOneItsHeaderShows) {
  auto& registry = Registry::Instance();
  for (const auto& name : registry.ProcessorNames()) {
    const ProcessorType* type = registry.FindProcessor(name);
    if (type->origin != "built-in") continue;
    ASSERT_FALSE(type->doc.example.empty()) << name;
    {
      LenientVariables lenient;  // examples show ${GEMINI_API_KEY} and the like
      auto stages = ConfigNode::Parse(type->doc.example, name + " example");
      ASSERT_TRUE(stages.ok()) << stages.message();
      ASSERT_TRUE(stages->IsSequence()) << name << ": an example is a list of stages";
      for (const auto& stage : stages->Items()) {
        auto stage_type = stage["type"].Scalar();
        ASSERT_TRUE(stage_type.ok()) << name;
        const ProcessorType* t = registry.FindProcessor(*stage_type);
        ASSERT_NE(t, nullptr) << name << ": " << *stage_type;
        // Run from the source tree, where the examples' paths are.
        auto cwd = fs::current_path();
        fs::current_path(VOXPIPE_SOURCE_DIR);
        auto options = t->parse_options(stage);
        fs::current_path(cwd);
        EXPECT_TRUE(options.ok()) << name << ": " << options.message();
      }
    }
    auto header = HeaderOf(name);
    ASSERT_TRUE(header) << name << ": no " << SnakeCase(name) << ".h under processors/";
    EXPECT_EQ(HeaderExample(ReadFile(*header)), type->doc.example)
        << header->string() << ": its \"Example config:\" and the registry's example differ";
  }
}

struct YamlBlock {
  std::string where;  // file:line
  std::string text;
};

std::vector<YamlBlock> YamlBlocksIn(const fs::path& path) {
  std::vector<YamlBlock> blocks;
  std::istringstream lines(ReadFile(path));
  std::string line, text;
  int number = 0, start = 0;
  bool in_block = false;
  while (std::getline(lines, line)) {
    ++number;
    if (!in_block && line.rfind("```yaml", 0) == 0) {
      in_block = true;
      text.clear();
      start = number + 1;
    } else if (in_block && line.rfind("```", 0) == 0) {
      in_block = false;
      blocks.push_back({fs::relative(path, VOXPIPE_SOURCE_DIR).string() + ":" + std::to_string(start), text});
    } else if (in_block) {
      text += line + "\n";
    }
  }
  return blocks;
}

TEST(DocsTest, EveryYamlExampleInTheDocsIsChecked) {
  std::vector<fs::path> docs = {fs::path(VOXPIPE_SOURCE_DIR) / "README.md"};
  for (const auto& entry : fs::directory_iterator(fs::path(VOXPIPE_SOURCE_DIR) / "docs")) {
    if (entry.path().extension() == ".md" && entry.path().filename() != "reference.md") docs.push_back(entry.path());
  }
  // Paths in the examples are the ones a user in the source tree would type.
  fs::current_path(VOXPIPE_SOURCE_DIR);
  int checked = 0;
  for (const auto& doc : docs) {
    for (const auto& block : YamlBlocksIn(doc)) {
      LenientVariables lenient;
      // Named as if it sat in pipelines/, so relative prompt and knowledge paths resolve as there.
      std::string name = std::string(VOXPIPE_SOURCE_DIR) + "/pipelines/(" + block.where + ")";
      auto root = ConfigNode::Parse(block.text, name);
      ASSERT_TRUE(root.ok()) << block.where << ": " << root.message();
      if (root->IsMap() && !(*root)["pipeline"].IsNull()) {
        auto file = ParsePipeline(block.text, name, std::string(VOXPIPE_SOURCE_DIR) + "/pipelines");
        EXPECT_TRUE(file.ok()) << block.where << ": " << file.message();
      } else if (root->IsSequence()) {
        for (const auto& stage : root->Items()) {
          auto type_name = stage["type"].Scalar();
          const ProcessorType* t = type_name.ok() ? Registry::Instance().FindProcessor(*type_name) : nullptr;
          ASSERT_NE(t, nullptr) << block.where << ": not a stage of a known processor";
          auto options = t->parse_options(stage);
          EXPECT_TRUE(options.ok()) << block.where << ": " << options.message();
        }
      } else if (root->IsMap() && !(*root)["server"].IsNull()) {
        auto type_name = (*root)["server"]["type"].Scalar();
        const ServiceType* t = type_name.ok() ? Registry::Instance().FindService(*type_name) : nullptr;
        ASSERT_NE(t, nullptr) << block.where << ": not a known server type";
        auto options = t->parse_options((*root)["server"]);
        EXPECT_TRUE(options.ok()) << block.where << ": " << options.message();
      } else {
        continue;  // another kind of YAML (an emulator scenario, a call script): checked by its own tests
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 2) << "the docs show pipelines; this test must see them";
}

}  // namespace
}  // namespace voxpipe
