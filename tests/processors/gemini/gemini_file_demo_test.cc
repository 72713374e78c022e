// pipelines/gemini_file_demo.yaml, run against the in-process emulator:
// WavFileSource → MulawDecoder → Resampler → GeminiLiveLLM → WavFileSink
// writes exactly the emulator's reply.
#include <cstdlib>
#include <filesystem>

#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>

#include "framework/pipeline_file.h"
#include "framework/audio/wav_file.h"
#include "tests/processors/gemini/gemini_test_util.h"

namespace voxpipe {
namespace {

TEST(GeminiFileDemoTest, WritesTheEmulatorsReplyToAWav) {
  auto emulator = emulator::LoadScenario(VOXPIPE_SOURCE_DIR "/tests/data/emulator/visiting_hours.yaml");
  ASSERT_TRUE(emulator.ok()) << emulator.message();
  emulator::GeminiEmulator server(std::move(emulator).value());
  ASSERT_TRUE(server.Start().ok());

  auto reply_path = (std::filesystem::temp_directory_path() / "voxpipe_gemini_demo_reply.wav").string();
  std::filesystem::remove(reply_path);
  setenv("GEMINI_LIVE_URL", server.url().c_str(), 1);
  setenv("CALLER_WAV", VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav", 1);
  setenv("REPLY_WAV", reply_path.c_str(), 1);
  auto file = LoadPipelineFile(VOXPIPE_SOURCE_DIR "/pipelines/gemini_file_demo.yaml");
  unsetenv("GEMINI_LIVE_URL");
  unsetenv("CALLER_WAV");
  unsetenv("REPLY_WAV");
  ASSERT_TRUE(file.ok()) << file.message();

  boost::asio::io_context io;
  auto instance = PipelineInstance::Create(file->pipeline, io.get_executor(), "demo");
  std::optional<Status> result;
  instance->Start(StartFrame{"demo", {}}, [&](const Status& s) { result = s; });
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!result && Clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(result.has_value()) << "the pipeline did not finish";
  ASSERT_TRUE(result->ok()) << result->message();

  auto reply = wav::Read(reply_path);
  ASSERT_TRUE(reply.ok()) << reply.message();
  EXPECT_EQ(reply->format, StreamFormat::Pcm16(24000));
  EXPECT_EQ(reply->pcm, server.reply_audio());
  auto stats = server.stats();
  EXPECT_EQ(stats.replies_completed, 1);
  EXPECT_EQ(stats.interruptions, 0);
  EXPECT_EQ(stats.caller_rates[0], 16000);
}

}  // namespace
}  // namespace voxpipe
