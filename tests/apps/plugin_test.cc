// The out-of-tree example plugin: installed headers and CMake package, an
// independent build, loading by the runner, and the loader's errors.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/common/command.h"

namespace voxpipe {
namespace {

using testing::RunCommand;
using testing::VoxpipeBinary;

class PluginTest : public ::testing::Test {
 protected:
  // Installs voxpipe and builds examples/plugin, incrementally: ctest runs
  // each test in its own process, and only the first pays for the builds.
  // A failure here fails every test (gtest would only skip them after a
  // failed SetUpTestSuite, and a skip hides the problem).
  static void SetUpTestSuite() {
    root_ = std::string(VOXPIPE_BINARY_DIR) + "/plugin_test";
    auto install = RunCommand({"/usr/bin/cmake", "--install", VOXPIPE_BINARY_DIR, "--prefix", root_ + "/prefix", "--component", "dev"});
    if (install.exit_code != 0) {
      setup_error_ = "cmake --install failed:\n" + install.output;
      return;
    }
    plugin_ = Build("build", {});
    // The same source compiled as if against another engine version.
    if (setup_error_.empty()) other_abi_plugin_ = Build("build-other-abi", {"-DCMAKE_CXX_FLAGS=-DVOXPIPE_ABI_VERSION=999"});
  }

  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static std::string Build(const std::string& dir, std::vector<std::string> extra) {
    std::vector<std::string> configure = {"/usr/bin/cmake", "-S", std::string(VOXPIPE_SOURCE_DIR) + "/examples/plugin",
                                          "-B", root_ + "/" + dir, "-DCMAKE_PREFIX_PATH=" + root_ + "/prefix",
                                          "-DCMAKE_BUILD_TYPE=Release"};
    configure.insert(configure.end(), extra.begin(), extra.end());
    auto r = RunCommand(configure, {.timeout = std::chrono::minutes(3)});
    if (r.exit_code == 0) r = RunCommand({"/usr/bin/cmake", "--build", root_ + "/" + dir}, {.timeout = std::chrono::minutes(5)});
    if (r.exit_code != 0) setup_error_ = "building the example plugin in " + dir + " failed:\n" + r.output;
    return root_ + "/" + dir + "/libvoxpipe_gain.so";
  }

  static std::string root_;
  static std::string plugin_;
  static std::string other_abi_plugin_;
  static std::string setup_error_;
};

std::string PluginTest::root_;
std::string PluginTest::plugin_;
std::string PluginTest::other_abi_plugin_;
std::string PluginTest::setup_error_;

TEST_F(PluginTest, ProcessorsListsThePlugin) {
  auto r = RunCommand({VoxpipeBinary(), "--plugin", plugin_, "processors", "Gain"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Gain  (" + plugin_ + ")"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("db (number, default 0"), std::string::npos) << r.output;
}

TEST_F(PluginTest, RunsInsideAYamlPipeline) {
  std::string out = root_ + "/quieter.wav";
  auto r = RunCommand({VoxpipeBinary(), "run", "examples/plugin/gain_pipeline.yaml"},
               {.env = {{"GAIN_PLUGIN", plugin_}, {"OUTPUT", out}}, .cwd = VOXPIPE_SOURCE_DIR});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // -6 dB: every sample about half the original.
  auto original = RunCommand({"/usr/bin/sox", std::string(VOXPIPE_AUDIO_DIR) + "/caller_visiting_hours_16k.wav", "-n", "stat"});
  auto quieter = RunCommand({"/usr/bin/sox", out, "-n", "stat"});
  auto rms = [](const std::string& stat) {
    auto at = stat.find("RMS     amplitude:");
    return std::stod(stat.substr(at + 18));
  };
  EXPECT_NEAR(rms(quieter.output) / rms(original.output), 0.501, 0.01);
}

TEST_F(PluginTest, PluginBuiltForAnotherEngineVersionIsRefused) {
  auto r = RunCommand({VoxpipeBinary(), "--plugin", other_abi_plugin_, "processors"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("plugin " + other_abi_plugin_ + ": was built against voxpipe engine ABI 999"),
            std::string::npos)
      << r.output;
}

TEST_F(PluginTest, ProcessorNameRegisteredTwiceIsRefused) {
  std::string copy = root_ + "/copy/libvoxpipe_gain_copy.so";
  std::filesystem::create_directories(root_ + "/copy");
  std::filesystem::copy_file(plugin_, copy, std::filesystem::copy_options::overwrite_existing);
  auto r = RunCommand({VoxpipeBinary(), "--plugin", plugin_, "--plugin", copy, "processors"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("processor 'Gain' is registered twice (already registered by " + plugin_ + ")"),
            std::string::npos)
      << r.output;
}

TEST_F(PluginTest, MissingAndBrokenFilesAreNamed) {
  std::string yaml = root_ + "/missing.yaml";
  std::ofstream(yaml) << "plugins: [nowhere/libx.so]\npipeline:\n  - type: Gain\n";
  auto r = RunCommand({VoxpipeBinary(), "check", yaml});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(yaml + ":1: plugin " + root_ + "/nowhere/libx.so: file not found"), std::string::npos)
      << r.output;

  std::string junk = root_ + "/libjunk.so";
  std::ofstream(junk) << "not a shared library";
  r = RunCommand({VoxpipeBinary(), "--plugin", junk, "processors"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("plugin " + junk + ": cannot load:"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace voxpipe
