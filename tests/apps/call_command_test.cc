// The hospital line end to end, as a user runs it: `voxpipe run
// pipelines/twilio_gemini.yaml` against the Gemini Live emulator, called by
// `voxpipe call` scripts; what the call left in its recording is checked.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "framework/runtime.h"
#include "framework/server/http_message.h"
#include "tests/common/command.h"
#include "tests/common/rest_recorder.h"

namespace voxpipe {
namespace {

namespace fs = std::filesystem;
using testing::BackgroundProcess;
using testing::Binary;
using testing::HttpGet;
using testing::ListeningPort;
using testing::RestRecorder;
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
  // `env` adds to the line's variables (e.g. Twilio's REST credentials).
  explicit HospitalLine(const std::string& scenario, const std::string& model_url = "",
                        std::map<std::string, std::string> env = {})
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
    env.merge(std::map<std::string, std::string>{{"PORT", "0"},
                                                 {"ADMIN_PORT", "0"},
                                                 {"GEMINI_API_KEY", "test"},
                                                 {"GEMINI_LIVE_URL", url},
                                                 {"RECORDINGS_DIR", (dir_ / "recordings").string()},
                                                 {"MESSAGES_FILE", (dir_ / "messages.jsonl").string()}});
    server_ = std::make_unique<BackgroundProcess>(
        // Spread over two loops, so that a call's webhook, early model
        // session and stream cross loops as they can under load.
        std::vector<std::string>{VoxpipeBinary(), "run", "--threads", "2", "--loop-fill", "0",
                                 VOXPIPE_SOURCE_DIR "/pipelines/twilio_gemini.yaml"},
        testing::CommandOptions{.env = std::move(env)});
    if (!server_->WaitForOutput("admin listening on")) return;
    port_ = ListeningPort(server_->output(), "twilio server");
    admin_port_ = ListeningPort(server_->output(), "admin");
  }
  ~HospitalLine() {
    server_.reset();
    emulator_.reset();
    fs::remove_all(dir_);
  }

  bool ok() const { return port_ > 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string metrics() const {
    return HttpGet("http://127.0.0.1:" + std::to_string(admin_port_) + "/metrics").body;
  }
  // The calls' records: DIR/DATE/CALL.jsonl.
  std::vector<fs::path> Records() const {
    std::vector<fs::path> records;
    if (!fs::exists(dir_ / "recordings")) return records;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / "recordings")) {
      if (entry.path().extension() == ".jsonl") records.push_back(entry.path());
    }
    return records;
  }
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
  int port_ = 0, admin_port_ = 0;
};

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(HospitalLineTest, AQuestionIsAnsweredFromTheKnowledgeFileAndHeardToTheEnd) {
  HospitalLine line("sutherland_general.yaml");
  ASSERT_TRUE(line.ok()) << line.server_output();
  const fs::path picture = line.dir() / "call.svg";
  auto call = RunCommand({VoxpipeBinary(), "call", line.url(), "--script",
                          VOXPIPE_SOURCE_DIR "/examples/calls/visiting_hours.yaml", "-q", "--timeline", picture.string()});
  EXPECT_EQ(call.exit_code, 0) << call.output;
  // The caller's side of the call, drawn: the greeting, the question, the
  // answer and how long it took to start.
  std::string svg = Slurp(picture);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u) << call.output;
  EXPECT_NE(svg.find("first audio"), std::string::npos);
  EXPECT_NE(svg.find(" ms</text>"), std::string::npos) << "the reply delay is drawn";
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
  // The model session was opened when the webhook came, and the call used it.
  EXPECT_NE(line.metrics().find("voxpipe_early_calls_total{result=\"used\"} 1"), std::string::npos)
      << line.metrics();

  // The picture of the call, from its record.
  auto records = line.Records();
  ASSERT_EQ(records.size(), 1u);
  auto drawn = RunCommand({VoxpipeBinary(), "timeline", records[0].string()});
  ASSERT_EQ(drawn.exit_code, 0) << drawn.output;
  EXPECT_NE(drawn.output.find("the caller spoke 1 time, the assistant 2 times"), std::string::npos) << drawn.output;
  std::string html = Slurp(fs::path(records[0]).replace_extension(".html"));
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("tool call lookup_hospital_info"), std::string::npos);
  EXPECT_NE(html.find("nine in the morning"), std::string::npos) << "the answer's transcript is on its span";
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
  // Gemini sends the transcript in pieces with the audio, and no more of it
  // after the interruption (so does the emulator): the interrupted turn's
  // transcript is what was heard, the start of the scenario's answer.
  const std::string answer =
      "Visiting hours at Sutherland General are from nine in the morning until eight in the evening, every day.";
  bool cut = false;
  for (const auto& turn : line.Events("bot_transcript")) {
    if (!turn["interrupted"].get<bool>()) continue;
    std::string heard = turn["text"];
    EXPECT_FALSE(heard.empty()) << turn.dump();
    EXPECT_LT(heard.size(), answer.size() / 2) << turn.dump();
    EXPECT_EQ(answer.rfind(heard, 0), 0u) << "what was heard is the start of the answer: " << turn.dump();
    cut = true;
  }
  EXPECT_TRUE(cut) << line.server_output();
}

TEST(HospitalLineTest, AMessageIsTakenAndTheCallerIsTransferredThroughTheRestApi) {
  const std::string sid = "CA0123456789abcdef0123456789abcdef";
  Runtime rest_runtime(1);
  RestRecorder twilio_api(rest_runtime, "ACe2e", sid);
  rest_runtime.Start();
  HospitalLine line("front_desk.yaml", "",
                    {{"TWILIO_ACCOUNT_SID", "ACe2e"}, {"TWILIO_AUTH_TOKEN", "e2e-token"}, {"TWILIO_API_BASE", twilio_api.url()}});
  ASSERT_TRUE(line.ok()) << line.server_output();
  auto call = RunCommand({VoxpipeBinary(), "call", line.url(), "--script",
                          VOXPIPE_SOURCE_DIR "/examples/calls/front_desk.yaml", "--auth-token", "e2e-token",
                          "--call-sid", sid, "-q"});
  EXPECT_EQ(call.exit_code, 0) << call.output;

  // The message is in the front desk's file and in the call's record.
  std::ifstream messages(line.dir() / "messages.jsonl");
  std::string first;
  ASSERT_TRUE(std::getline(messages, first)) << line.server_output();
  auto message = nlohmann::json::parse(first);
  EXPECT_EQ(message["name"], "Ada Lovelace");
  EXPECT_EQ(message["callback_number"], "+15550123456");
  EXPECT_EQ(message["call_id"], sid);
  auto taken = line.Events("message_taken");
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0]["reason"], "appointment with cardiology");

  // The transfer: after the model's goodbye, one REST update of the call
  // with TwiML that says it and dials the front desk.
  auto transfers = line.Events("transfer");
  ASSERT_EQ(transfers.size(), 1u);
  EXPECT_EQ(transfers[0]["target"], "+15550100000");
  auto requests = twilio_api.requests();
  ASSERT_EQ(requests.size(), 1u) << line.server_output();
  EXPECT_EQ(requests[0].Header("authorization"), "Basic QUNlMmU6ZTJlLXRva2Vu");  // ACe2e:e2e-token
  auto form = server::ParseForm(requests[0].body);
  ASSERT_EQ(form.size(), 1u);
  EXPECT_EQ(form[0].first, "Twiml");
  EXPECT_NE(form[0].second.find("<Say>Transferring you to the front desk now.</Say>"), std::string::npos)
      << form[0].second;
  EXPECT_NE(form[0].second.find("<Dial>+15550100000</Dial>"), std::string::npos) << form[0].second;
  rest_runtime.Abort();
  rest_runtime.Join();
}

TEST(HospitalLineTest, TwoCallsAtOnceAreRecordedToTwoSetsOfFiles) {
  HospitalLine line("sutherland_general.yaml");
  ASSERT_TRUE(line.ok()) << line.server_output();
  auto calls = RunCommand({VoxpipeBinary(), "call", line.url(), "--calls", "2", "--ramp", "0", "--audio",
                           VOXPIPE_AUDIO_DIR "/caller_visiting_hours_8k_mulaw.wav"});
  EXPECT_EQ(calls.exit_code, 0) << calls.output;
  auto records = line.Records();
  ASSERT_EQ(records.size(), 2u) << line.server_output();
  std::set<std::string> ids;
  for (const auto& record : records) {
    std::ifstream in(record);
    std::string first;
    ASSERT_TRUE(std::getline(in, first));
    auto start = nlohmann::json::parse(first);
    EXPECT_EQ(start["event"], "call_start");
    EXPECT_EQ(record.stem().string(), start["call_id"].get<std::string>()) << "each call's files carry its CallSid";
    ids.insert(start["call_id"].get<std::string>());
    for (const char* suffix : {".caller.wav", ".heard.wav"}) {
      fs::path wav = fs::path(record).replace_extension(suffix);
      ASSERT_TRUE(fs::exists(wav)) << wav;
      EXPECT_GT(fs::file_size(wav), 8000u * 3) << wav << ": seconds of audio";
    }
  }
  EXPECT_EQ(ids.size(), 2u);
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
