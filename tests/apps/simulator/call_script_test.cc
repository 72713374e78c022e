// Caller scripts: what `voxpipe call --script` accepts, and how it says what it does not.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "apps/simulator/call_script.h"

namespace voxpipe::simulator {
namespace {

std::string WriteScript(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(getpid()) + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

const std::string kAudio = VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav";

TEST(CallScriptTest, EveryStepKindParses) {
  auto path = WriteScript("all_steps", "- wait_reply\n- say: " + kAudio + "\n- wait_reply: {timeout: 20s}\n" +
                                           "- barge_in: {after: 800ms, say: " + kAudio + "}\n- dtmf: \"12#\"\n" +
                                           "- silence: 1.5s\n- hang_up\n");
  auto steps = LoadCallScript(path);
  ASSERT_TRUE(steps.ok()) << steps.message();
  ASSERT_EQ(steps->size(), 7u);
  using Kind = CallStep::Kind;
  EXPECT_EQ((*steps)[0].kind, Kind::kWaitReply);
  EXPECT_EQ((*steps)[0].duration, std::chrono::seconds(15)) << "the default reply timeout";
  EXPECT_EQ((*steps)[1].kind, Kind::kSay);
  EXPECT_GT((*steps)[1].audio.size(), 8000u * 3) << "the WAV's mu-law samples";
  EXPECT_EQ((*steps)[2].duration, std::chrono::seconds(20));
  EXPECT_EQ((*steps)[3].kind, Kind::kBargeIn);
  EXPECT_EQ((*steps)[3].duration, std::chrono::milliseconds(800));
  EXPECT_FALSE((*steps)[3].audio.empty());
  EXPECT_EQ((*steps)[4].digits, "12#");
  EXPECT_EQ((*steps)[5].duration, std::chrono::milliseconds(1500));
  EXPECT_EQ((*steps)[6].kind, Kind::kHangUp);
  std::filesystem::remove(path);
}

TEST(CallScriptTest, MistakesNameTheFileAndLine) {
  struct Case {
    std::string text;
    std::string error;
  };
  for (const auto& c : {Case{"- say: " + kAudio + "\n- wait_reply\n- jump: 3\n", ":3: unknown step 'jump'"},
                        Case{"- wait_reply\n- dtmf: \"12x\"\n", ":2: dtmf takes up to 32 keys"},
                        Case{"- wait_reply: {timeout: 20s, after: 1s}\n", ":1: unknown field 'after' of wait_reply"},
                        Case{"- barge_in: {after: 1s}\n", ":1: barge_in needs `say:`"},
                        Case{"- silence: soon\n", ":1:"},
                        Case{"- say: no-such-file.wav\n", ":1:"},
                        Case{"say: hello.wav\n", ":1: a caller script is a list of steps"},
                        Case{"- {say: a.wav, dtmf: \"1\"}\n", ":1: a step is a mapping with one key"}}) {
    auto path = WriteScript("bad_script", c.text);
    auto steps = LoadCallScript(path);
    ASSERT_FALSE(steps.ok()) << c.text;
    EXPECT_NE(steps.message().find(path + c.error), std::string::npos) << steps.message();
    std::filesystem::remove(path);
  }
}

TEST(CallScriptTest, TheShippedExamplesParse) {
  for (const char* name : {"visiting_hours.yaml", "barge_in.yaml", "keypad.yaml"}) {
    auto steps = LoadCallScript(std::string(VOXPIPE_SOURCE_DIR "/examples/calls/") + name);
    EXPECT_TRUE(steps.ok()) << name << ": " << steps.message();
  }
}

TEST(CallScriptTest, CallerAudioMustBePhoneRate) {
  auto audio = LoadCallerAudio(VOXPIPE_AUDIO_DIR "/caller_visiting_hours_16k.wav");
  ASSERT_FALSE(audio.ok());
  EXPECT_NE(audio.message().find("must be 8000 Hz mono"), std::string::npos) << audio.message();
}

}  // namespace
}  // namespace voxpipe::simulator
