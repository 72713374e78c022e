// voxpipe: runs, checks and inspects pipelines. See `voxpipe --help`.
//
// Exit status: 0 on success, 1 when the work failed (a bad pipeline, a call
// that failed), 2 for a usage error (with the usage line and the closest
// command or option), 130 when a signal stopped a file pipeline.
#include <algorithm>
#include <cstdio>
#include <sstream>

#include <fmt/format.h>

#include "apps/voxpipe/commands.h"
#include "framework/config.h"
#include "framework/logging.h"
#include "framework/plugin_loader.h"
#include "framework/version.h"

namespace voxpipe::cli {

bool LoadCommandPlugins(const CommonFlags& common) {
  for (const auto& plugin : common.plugins) {
    if (Status s = LoadPlugin(plugin); !s.ok()) {
      PrintError(s);
      return false;
    }
  }
  return true;
}

void PrintError(const Status& status) {
  const std::string& text = status.message();
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    fmt::print(stderr, "error: {}\n", text.substr(start, end - start));
    start = end + 1;
  }
}

Result<PipelineFile> LoadForCommand(const std::string& path, const CommonFlags& common, Strictness strictness) {
  if (strictness == Strictness::kSecretsOptional) {
    LenientVariables lenient;
    auto file = LoadPipelineFile(path, common.plugins);
    for (const auto& unset : lenient.unset()) {
      fmt::print(stderr, "warning: {}: {} is not set (empty for this check; `voxpipe run` needs it)\n", unset.where,
                 unset.name);
    }
    if (!file.ok()) PrintError(file.status());
    return file;
  }
  auto file = LoadPipelineFile(path, common.plugins);
  if (!file.ok()) PrintError(file.status());
  return file;
}

namespace {

// "Usage: voxpipe run [OPTIONS] pipeline...", from CLI11's own formatter.
std::string UsageLine(const CLI::App& app) {
  auto formatter = std::dynamic_pointer_cast<CLI::Formatter>(app.get_formatter());
  if (!formatter) return "";
  std::string usage = formatter->make_usage(&app, app.get_parent() ? "voxpipe " + app.get_name() : app.get_name());
  while (!usage.empty() && (usage.back() == '\n' || usage.front() == '\n')) {
    usage.erase(usage.back() == '\n' ? usage.size() - 1 : 0, 1);
  }
  return usage;
}

// The subcommand that was being parsed when the error came, or the app.
const CLI::App& ActiveCommand(const CLI::App& app) {
  auto parsed = app.get_subcommands();
  return parsed.empty() ? app : *parsed.back();
}

std::vector<std::string> OptionNames(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options()) {
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
  }
  if (const CLI::App* parent = command.get_parent()) {
    for (const CLI::Option* option : parent->get_options()) {
      for (const auto& name : option->get_lnames()) names.push_back("--" + name);
    }
  }
  return names;
}

int UsageError(const CLI::App& command, const std::string& message) {
  fmt::print(stderr, "error: {}\n{}\nRun '{} --help' for more.\n", message, UsageLine(command),
             command.get_parent() ? "voxpipe " + command.get_name() : std::string("voxpipe"));
  return 2;
}

int OnParseError(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App& command = ActiveCommand(app);
  if (const auto* extras = dynamic_cast<const CLI::ExtrasError*>(&e)) {
    // CLI11 names them in its message: "The following arguments were not expected: 3 --tial".
    std::string what = extras->what();
    std::istringstream words(what.substr(what.rfind(':') + 1));
    std::vector<std::string> extra;
    for (std::string word; words >> word;) extra.push_back(word);
    for (const auto& word : extra) {
      if (word.rfind("-", 0) != 0) continue;
      std::string flag = word.substr(0, word.find('='));
      return UsageError(command, fmt::format("unknown option '{}'{}", flag, DidYouMean(flag, OptionNames(command))));
    }
    return UsageError(command, fmt::format("unexpected argument '{}'", extra.empty() ? what : extra.front()));
  }
  return UsageError(command, e.what());
}

}  // namespace
}  // namespace voxpipe::cli

int main(int argc, char** argv) {
  using namespace voxpipe;
  CLI::App app("voxpipe: real-time voice pipelines from YAML", "voxpipe");
  app.set_version_flag("--version", std::string("voxpipe ") + VOXPIPE_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  cli::CommonFlags common;
  app.add_option("--plugin", common.plugins, "Load processors from this shared library (repeat for several)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  app.add_option("--log-level", common.log_level, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_option("--log-format", common.log_format, "text or json (one object a line)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  int exit_code = 0;
  cli::AddRunCommand(app, common, &exit_code);
  cli::AddCheckCommand(app, common, &exit_code);
  cli::AddGraphCommand(app, common, &exit_code);
  cli::AddProcessorsCommand(app, common, &exit_code);
  cli::AddCallCommand(app, common, &exit_code);
  cli::AddTimelineCommand(app, common, &exit_code);

  // An unknown command: CLI11 would only say that a subcommand is required.
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(sub->get_name());
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--plugin" || arg == "--log-level" || arg == "--log-format") {
      ++i;
      continue;
    }
    if (arg.rfind("-", 0) == 0) continue;
    if (std::find(commands.begin(), commands.end(), arg) == commands.end()) {
      return cli::UsageError(app, fmt::format("unknown command '{}'{}", arg, DidYouMean(arg, commands)));
    }
    break;
  }

  app.parse_complete_callback([&] {
    if (Status s = InitLogging(common.log_level, common.log_format); !s.ok()) {
      throw CLI::ValidationError("--log-level", s.message());
    }
    if (Status s = LoadDotEnv(".env"); !s.ok()) throw CLI::ValidationError(".env", s.message());
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return cli::OnParseError(app, e);
  }
  return exit_code;
}
