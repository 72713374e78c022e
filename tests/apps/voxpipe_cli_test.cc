// The runner as a user meets it: exit status, messages, files written.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "tests/common/command.h"

namespace voxpipe {
namespace {

using testing::BackgroundProcess;
using testing::CommandOptions;
using testing::RunCommand;
using testing::VoxpipeBinary;

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const std::string kAudio = VOXPIPE_AUDIO_DIR;

TEST(VoxpipeCliTest, VersionAndHelp) {
  auto version = RunCommand({VoxpipeBinary(), "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("voxpipe 0.1.0"), std::string::npos) << version.output;
  auto help = RunCommand({VoxpipeBinary(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"run", "check", "graph", "processors"}) {
    EXPECT_NE(help.output.find(command), std::string::npos) << command;
  }
  EXPECT_NE(RunCommand({VoxpipeBinary()}).exit_code, 0);
  EXPECT_NE(RunCommand({VoxpipeBinary(), "nonsense"}).exit_code, 0);
}

TEST(VoxpipeCliTest, CheckAcceptsTheShippedPipeline) {
  auto r = RunCommand({VoxpipeBinary(), "check", "pipelines/phone_audio_roundtrip.yaml"}, {.cwd = VOXPIPE_SOURCE_DIR});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("to_model"), std::string::npos);
}

TEST(VoxpipeCliTest, CheckRejectsMulawIntoAResamplerNamingTheLine) {
  auto path = WriteTemp("mulaw_into_resampler.yaml", "pipeline:\n"
                                                     "  - type: WavFileSource\n"
                                                     "    path: " + kAudio + "/caller_visiting_hours_8k_mulaw.wav\n"
                                                     "  - type: Resampler\n"
                                                     "    rate: 16000\n");
  auto r = RunCommand({VoxpipeBinary(), "check", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(path + ":4: Resampler cannot take mu-law 8000 Hz mono from WavFileSource (line 2): "
                                 "expects PCM s16le audio; put a MulawDecoder before it"),
            std::string::npos)
      << r.output;
}

TEST(VoxpipeCliTest, CheckSuggestsTheClosestProcessorAndOption) {
  auto typo = WriteTemp("typo.yaml", "pipeline:\n  - type: MulawDecodr\n");
  auto r = RunCommand({VoxpipeBinary(), "check", typo});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(typo + ":2: unknown processor type 'MulawDecodr' (did you mean 'MulawDecoder'?)"),
            std::string::npos)
      << r.output;

  auto option = WriteTemp("option.yaml", "pipeline:\n  - type: WavFileSource\n    path: " + kAudio +
                                             "/caller_visiting_hours_16k.wav\n  - type: Resampler\n    rate: 8000\n"
                                             "    qualty: high\n");
  r = RunCommand({VoxpipeBinary(), "check", option});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(option + ":6: unknown option 'qualty' (did you mean 'quality'?)"), std::string::npos)
      << r.output;
}

TEST(VoxpipeCliTest, UnsetVariableNamesFileLineAndVariable) {
  auto path = WriteTemp("env.yaml", "pipeline:\n  - type: WavFileSource\n    path: ${VOXPIPE_NOT_SET_ANYWHERE}\n");
  auto r = RunCommand({VoxpipeBinary(), "check", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(path + ":3: environment variable VOXPIPE_NOT_SET_ANYWHERE is not set"), std::string::npos)
      << r.output;
}

TEST(VoxpipeCliTest, DotEnvInTheWorkingDirectoryIsRead) {
  std::string dir = ::testing::TempDir() + "/dotenv_case";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/.env") << "VOXPIPE_INPUT_FROM_DOTENV=" << kAudio << "/caller_visiting_hours_16k.wav\n";
  std::ofstream(dir + "/p.yaml") << "pipeline:\n  - type: WavFileSource\n    path: ${VOXPIPE_INPUT_FROM_DOTENV}\n"
                                    "  - type: WavFileSink\n    path: out.wav\n";
  auto r = RunCommand({VoxpipeBinary(), "check", "p.yaml"}, {.cwd = dir});
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(VoxpipeCliTest, ProcessorsListsAndDescribes) {
  auto list = RunCommand({VoxpipeBinary(), "processors"});
  EXPECT_EQ(list.exit_code, 0);
  for (const char* name : {"MulawDecoder", "MulawEncoder", "Resampler", "WavFileSource", "WavFileSink"}) {
    EXPECT_NE(list.output.find(name), std::string::npos) << name;
  }
  auto one = RunCommand({VoxpipeBinary(), "processors", "Resampler"});
  EXPECT_EQ(one.exit_code, 0);
  EXPECT_NE(one.output.find("rate (int, required"), std::string::npos) << one.output;
  EXPECT_NE(one.output.find("quality (string, default high"), std::string::npos) << one.output;
  EXPECT_NE(one.output.find("- type: Resampler"), std::string::npos);
  auto missing = RunCommand({VoxpipeBinary(), "processors", "Resampeler"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("did you mean 'Resampler'?"), std::string::npos);
}

TEST(VoxpipeCliTest, GraphPrintsDot) {
  auto r = RunCommand({VoxpipeBinary(), "graph", "pipelines/phone_audio_roundtrip.yaml"}, {.cwd = VOXPIPE_SOURCE_DIR});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("digraph \"phone_audio_roundtrip\"", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("\"to_model\" -> \"parallel_1\" [label=\"PCM s16le 16000 Hz mono\"]"), std::string::npos)
      << r.output;
}

TEST(VoxpipeCliTest, RunsTheRoundTripPipelineToCompletion) {
  std::string out = ::testing::TempDir() + "/cli_roundtrip/heard.wav";
  std::filesystem::remove(out);
  auto r = RunCommand({VoxpipeBinary(), "run", "pipelines/phone_audio_roundtrip.yaml"},
               {.env = {{"OUTPUT", out}, {"MODEL_INPUT", ::testing::TempDir() + "/cli_roundtrip/model.wav"}},
                .cwd = VOXPIPE_SOURCE_DIR});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GT(std::filesystem::file_size(out), 30000u);
}

TEST(VoxpipeCliTest, RunFailsWhenAFileCannotBeWritten) {
  auto path = WriteTemp("unwritable.yaml", "pipeline:\n  - type: WavFileSource\n    path: " + kAudio +
                                               "/caller_visiting_hours_16k.wav\n  - type: WavFileSink\n"
                                               "    path: /proc/voxpipe/out.wav\n");
  auto r = RunCommand({VoxpipeBinary(), "run", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("WavFileSink: cannot open: /proc/voxpipe/out.wav: cannot create WAV"), std::string::npos)
      << r.output;
}

TEST(VoxpipeCliTest, SigtermStopsARealtimePipelineCleanly) {
  auto path = WriteTemp("slow.yaml", "pipeline:\n  - type: WavFileSource\n    path: " + kAudio +
                                         "/caller_visiting_hours_16k.wav\n    realtime: true\n    pad_end: 60s\n"
                                         "  - type: WavFileSink\n    path: " + ::testing::TempDir() + "/slow.wav\n");
  BackgroundProcess run({VoxpipeBinary(), "run", path});
  ASSERT_TRUE(run.WaitForOutput("started")) << run.output();
  EXPECT_EQ(run.Stop(SIGTERM), 130) << run.output();
  EXPECT_NE(run.output().find("interrupted by signal"), std::string::npos) << run.output();
  EXPECT_NE(run.output().find("wrote "), std::string::npos) << run.output();  // the file was finalised
}

}  // namespace
}  // namespace voxpipe
