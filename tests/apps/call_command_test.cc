// The hospital line end to end, as a user runs it: `voxpipe run
// pipelines/twilio_gemini.yaml` against the Gemini Live emulator, called by
// `voxpipe call` scripts; what the call left in its recording is checked.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/common/command.h"

namespace voxpipe {
namespace {

namespace fs = std::filesystem;
using testing::BackgroundProcess;
using testing::Binary;
using testing::ListeningPort;
using testing::RunCommand;
using testing::VoxpipeBinary;

std::string EmulatorUrl(const std::string& output) {
  size_t at = output.find("listening on ");
  if (at == std::string::npos) return "";
  at += 13;
  return output.substr(at, output.find('\n', at) - at);
}

std::vector<nlohmann::json> ReadEvents(const fs::path& dir) {
  std::vector<nlohmann::json> events;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".jsonl") continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
  }
  return events;
}

class HospitalLine {
 public:
  // `model_url` empty: the emulator with `scenario`; else that (dead) URL.
  explicit HospitalLine(const std::string& scenario, const std::string& model_url = "")
      : dir_(fs::temp_directory_path() / ("hospital_line_" + std::to_string(getpid()) + "_" + std::to_string(++count_))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string url = model_url;
    if (url.empty()) {
      emulator_ = std::make_unique<BackgroundProcess>(std::vector<std::string>{
          Binary("gemini-emulator"), "--port", "0", "--scenario", VOXPIPE_SOURCE_DIR "/tests/data/emulator/" + scenario});
      if (!emulator_->WaitForOutput("listening on")) return;
      url = EmulatorUrl(emulator_->output());
    }
    server_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{VoxpipeBinary(), "run", VOXPIPE_SOURCE_DIR "/pipelines/twilio_gemini.yaml"},
        testing::CommandOptions{.env = {{"PORT", "0"},
                                        {"ADMIN_PORT", "0"},
                                        {"GEMINI_API_KEY", "test"},
                                        {"GEMINI_LIVE_URL", url},
                                        {"RECORDINGS_DIR", (dir_ / "recordings").string()},
                                        {"MESSAGES_FILE", (dir_ / "messages.jsonl").string()}}});
    if (!server_->WaitForOutput("admin listening on")) return;
    port_ = ListeningPort(server_->output(), "twilio server");
  }
  ~HospitalLine() {
    server_.reset();
    emulator_.reset();
    fs::remove_all(dir_);
  }

  bool ok() const { return port_ > 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const fs::path& dir() const { return dir_; }
  std::string server_output() const { return server_ ? server_->output() : ""; }
  std::vector<nlohmann::json> Events(const std::string& kind) const {
    std::vector<nlohmann::json> out;
    for (auto& e : ReadEvents(dir_ / "recordings")) {
      if (e["event"] == kind) out.push_back(e);
    }
    return out;
  }

 private:
  static inline int count_ = 0;
  fs::path dir_;
  std::unique_ptr<BackgroundProcess> emulator_, server_;
  int port_ = 0;
};

TEST(HospitalLineTest, AQuestionIsAnsweredFromTheKnowledgeFileAndHeardToTheEnd) {
  HospitalLine line("sutherland_general.yaml");
  ASSERT_TRUE(line.ok()) << line.server_output();
  auto call = RunCommand({VoxpipeBinary(), "call", line.url(), "--script",
                          VOXPIPE_SOURCE_DIR "/examples/calls/visiting_hours.yaml", "-q"});
  EXPECT_EQ(call.exit_code, 0) << call.output;
  auto tools = line.Events("tool_call");
  ASSERT_EQ(tools.size(), 1u) << line.server_output();
  EXPECT_EQ(tools[0]["name"], "lookup_hospital_info");
  auto results = line.Events("tool_result");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_NE(results[0]["result"].dump().find("9 am to 8 pm"), std::string::npos) << "the fact came from the file";
  auto said = line.Events("bot_transcript");
  ASSERT_EQ(said.size(), 2u) << "the greeting, then the answer";
  for (const auto& turn : said) EXPECT_FALSE(turn["interrupted"].get<bool>()) << turn.dump();
  auto ends = line.Events("bot_audio_end");
  ASSERT_GE(ends.size(), 2u);
  EXPECT_GT(ends[1]["played_ms"].get<double>(), 5000) << "the whole 5.7 s answer was played";
  EXPECT_EQ(line.Events("call_end").at(0)["status"], "ok");
}

TEST(HospitalLineTest, ABargeInStopsTheAnswerAndTheRecordingSaysHowMuchWasHeard) {
  HospitalLine line("barge_in.yaml");
  ASSERT_TRUE(line.ok()) << line.server_output();
  auto call = RunCommand({VoxpipeBinary(), "call", line.url(), "--script",
                          VOXPIPE_SOURCE_DIR "/examples/calls/barge_in.yaml", "-q"});
  EXPECT_EQ(call.exit_code, 0) << call.output;
  EXPECT_NE(call.output.find("clears 1"), std::string::npos) << call.output;
  auto interruptions = line.Events("interruption");
  ASSERT_FALSE(interruptions.empty()) << line.server_output();
  // What the caller heard of the interrupted answer is what the recording
  // says was played: less than its 5.7 s.
  bool interrupted = false;
  for (const auto& end : line.Events("bot_audio_end")) {
    if (!end["interrupted"].get<bool>() || end["turn"] != 2) continue;
    EXPECT_LT(end["played_ms"].get<double>(), 3000) << end.dump();
    interrupted = true;
  }
  EXPECT_TRUE(interrupted) << line.server_output();
  // The transcript's cut is not checked here: the emulator sends a reply's
  // whole transcript before its audio, where Gemini sends it in pieces with
  // the audio, so here all of it counts as said before the interruption.
}

TEST(HospitalLineTest, AModelOutageEndsInTheApologyAndTheTransferAndTheCallToolSaysSo) {
  HospitalLine line("", "ws://127.0.0.1:1/ws");
  ASSERT_TRUE(line.ok()) << line.server_output();
  auto call = RunCommand({VoxpipeBinary(), "call", line.url(), "--audio",
                          VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav", "-q"});
  EXPECT_EQ(call.exit_code, 4) << call.output;
  EXPECT_NE(call.output.find("voxpipe call: the server ended the call with an error"), std::string::npos)
      << call.output;
  EXPECT_NE(call.output.find("Let me put you through to the front desk.\", then Dial +15550100000"), std::string::npos)
      << call.output;
  auto fallbacks = line.Events("fallback");
  ASSERT_EQ(fallbacks.size(), 1u);
  EXPECT_NE(fallbacks[0]["reason"].get<std::string>().find("unreachable"), std::string::npos);
}

TEST(CallCommandTest, ItsOwnArgumentsAreChecked) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  for (const auto& c : {Case{{"--public-url", "https://x.example.com/twilio/voice"}, "without a path"},
                        Case{{"--script", "/no/such/script.yaml"}, "--script"},
                        Case{{"--reply-timeout", "-1"}, "--reply-timeout"},
                        Case{{"--fast", "--script", VOXPIPE_SOURCE_DIR "/examples/calls/keypad.yaml"},
                             "--script runs in real time"}}) {
    std::vector<std::string> argv = {VoxpipeBinary(), "call", "http://127.0.0.1:1"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.error), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace voxpipe
