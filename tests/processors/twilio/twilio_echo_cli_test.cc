// The "done when" of the phone line, through the real binaries: `voxpipe run
// pipelines/twilio_echo.yaml` serves, `voxpipe call` places a call and checks
// that the caller heard their own voice back; SIGTERM drains and exits 0.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "framework/audio/wav_file.h"
#include "tests/common/command.h"

namespace voxpipe::twilio {
namespace {

using voxpipe::testing::BackgroundProcess;
using voxpipe::testing::ListeningPort;
using voxpipe::testing::RunCommand;
using voxpipe::testing::VoxpipeBinary;

const std::string kEchoLine = VOXPIPE_SOURCE_DIR "/pipelines/twilio_echo.yaml";

TEST(TwilioEchoCliTest, CallerHearsTheirVoiceBackAndTheServerDrainsOnSigterm) {
  BackgroundProcess server({VoxpipeBinary(), "run", kEchoLine},
                           {.env = {{"PORT", "0"}, {"ADMIN_PORT", "0"}, {"TWILIO_AUTH_TOKEN", "cli-test-token"}}});
  ASSERT_TRUE(server.WaitForOutput("admin listening on")) << server.output();
  std::string port = std::to_string(ListeningPort(server.output(), "twilio server"));
  std::string admin = "http://127.0.0.1:" + std::to_string(ListeningPort(server.output(), "admin"));

  auto record = std::filesystem::temp_directory_path() / ("twilio_echo_cli_" + std::to_string(getpid()) + ".wav");
  auto call = RunCommand({VoxpipeBinary(), "call", "http://127.0.0.1:" + port, "--audio",
                          VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav", "--auth-token", "cli-test-token",
                          "--fast", "--tail", "0.5", "--timeout", "30", "--expect-echo", "0.9", "--record",
                          record.string(), "--admin", admin});
  EXPECT_EQ(call.exit_code, 0) << call.output;
  EXPECT_NE(call.output.find("heard back"), std::string::npos) << call.output;
  EXPECT_NE(call.output.find("server latency during the run"), std::string::npos) << call.output;
  EXPECT_NE(call.output.find("voxpipe_twilio_output_latency_seconds"), std::string::npos) << call.output;

  auto heard = wav::Read(record.string());
  ASSERT_TRUE(heard.ok()) << heard.message();
  EXPECT_GT(heard->samples(), 8000u * 3) << "the recording holds the echoed speech";

  // A wrong token is refused, and the simulator says so with its exit status.
  auto bad = RunCommand({VoxpipeBinary(), "call", "http://127.0.0.1:" + port, "--auth-token", "wrong", "--fast",
                         "--timeout", "10", "--admin", admin});
  EXPECT_NE(bad.exit_code, 0) << bad.output;

  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0) << server.output();
  std::filesystem::remove(record);
}

// drain_timeout from the pipeline file: a call still going when SIGTERM
// comes is ended after it, and the server exits cleanly.
TEST(TwilioEchoCliTest, DrainTimeoutFromThePipelineFileEndsLongCalls) {
  BackgroundProcess server({VoxpipeBinary(), "run", kEchoLine},
                           {.env = {{"PORT", "0"}, {"ADMIN_PORT", "0"}, {"DRAIN_TIMEOUT", "300ms"}}});
  ASSERT_TRUE(server.WaitForOutput("admin listening on")) << server.output();
  std::string port = std::to_string(ListeningPort(server.output(), "twilio server"));
  // A 3 s test tone in real time, and a long tail: the call outlasts the drain.
  BackgroundProcess call({VoxpipeBinary(), "call", "http://127.0.0.1:" + port, "--tail", "20", "--timeout", "30", "-q"});
  ASSERT_TRUE(server.WaitForOutput("] started")) << server.output();
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(server.Stop(SIGTERM, std::chrono::seconds(10)), 0) << server.output();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5))
      << "ended after drain_timeout (300 ms) and the 2 s allowed for cancelled calls, not the default 30 s";
  EXPECT_NE(server.output().find("draining (up to 0.3 s"), std::string::npos) << server.output();
}

}  // namespace
}  // namespace voxpipe::twilio
