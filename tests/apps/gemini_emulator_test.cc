// The Gemini Live emulator checks what clients send the way Google does.
#include "apps/gemini_emulator/emulator.h"

#include <sys/wait.h>

#include <cstdio>
#include <optional>

#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>

#include "framework/client/websocket_client.h"
#include "processors/gemini/gemini_live_messages.h"
#include "tests/framework/client/client_test_util.h"

namespace voxpipe::emulator {
namespace {

struct Closed {
  int code = 0;
  std::string reason;
  std::vector<std::string> messages;
};

// Connects, sends `messages` in order, and returns how the session ended.
Closed Exchange(GeminiEmulator& server, const std::vector<std::string>& messages, size_t until_messages = SIZE_MAX) {
  boost::asio::io_context io;
  Closed result;
  bool done = false;
  std::shared_ptr<WebSocketClient> ws;
  ws = WebSocketClient::Create(boost::asio::make_strand(io), {.url = server.url()},
                               {.on_open = [&] { ws->Send(messages.front()); },
                                // The rest once the server answered the first (setupComplete).
                                .on_message =
                                    [&](std::string_view data, bool) {
                                      result.messages.emplace_back(data);
                                      if (result.messages.size() == 1) {
                                        for (size_t i = 1; i < messages.size(); ++i) ws->Send(messages[i]);
                                      }
                                    },
                                .on_close = [&](const WebSocketCloseInfo& info) {
                                  result.code = info.code;
                                  result.reason = info.reason;
                                  done = true;
                                },
                                .on_written = {}});
  ws->Connect();
  testing::RunUntil(io, [&] { return done || result.messages.size() >= until_messages; }, std::chrono::seconds(2));
  if (!done) {
    ws->Close(1000, "test done");
    testing::RunUntil(io, [&] { return done; });
  }
  return result;
}

TEST(GeminiEmulatorTest, TranscriptionConfigInsideGenerationConfigIsRejected) {
  GeminiEmulator server(Scenario{});
  ASSERT_TRUE(server.Start().ok());
  auto closed = Exchange(server, {R"({"setup":{"model":"models/m","generationConfig":{"inputAudioTranscription":{}}}})"});
  EXPECT_EQ(closed.code, 1007);
  EXPECT_EQ(closed.reason,
            "Invalid JSON payload received. Unknown name \"inputAudioTranscription\" at 'setup.generation_config': "
            "Cannot find field.");
}

TEST(GeminiEmulatorTest, DeprecatedMediaChunksAreRejected) {
  GeminiEmulator server(Scenario{});
  ASSERT_TRUE(server.Start().ok());
  auto closed = Exchange(server, {R"({"setup":{"model":"models/m"}})",
                                  R"({"realtime_input":{"media_chunks":[{"mime_type":"audio/pcm","data":"AAAA"}]}})"});
  EXPECT_EQ(closed.code, 1007);
  EXPECT_EQ(closed.reason, "realtime_input.media_chunks is deprecated. Use audio, video, or text instead.");
  ASSERT_FALSE(closed.messages.empty());
  EXPECT_NE(closed.messages[0].find("setupComplete"), std::string::npos);
}

TEST(GeminiEmulatorTest, AcceptsSnakeCaseAndRejectsUnknownSetupFields) {
  GeminiEmulator server(Scenario{});
  ASSERT_TRUE(server.Start().ok());
  auto ok = Exchange(server, {R"({"setup":{"model":"models/m","generation_config":{"response_modalities":["AUDIO"]}}})"}, 1);
  ASSERT_FALSE(ok.messages.empty());
  EXPECT_NE(ok.messages[0].find("setupComplete"), std::string::npos);
  auto bad = Exchange(server, {R"({"setup":{"model":"models/m","voice":"Kore"}})"});
  EXPECT_EQ(bad.code, 1007);
  EXPECT_NE(bad.reason.find("Unknown name \"voice\" at 'setup'"), std::string::npos) << bad.reason;
}

TEST(GeminiEmulatorTest, InputBeforeSetupAndTwoKeysPerMessageAreRejected) {
  GeminiEmulator server(Scenario{});
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(Exchange(server, {R"({"realtimeInput":{"audioStreamEnd":true}})"}).code, 1007);
  EXPECT_EQ(Exchange(server, {R"({"setup":{"model":"models/m"},"realtimeInput":{}})"}).code, 1007);
  EXPECT_EQ(Exchange(server, {"not json"}).code, 1007);
}

TEST(GeminiEmulatorTest, UnknownModelsAndForeignHandlesAreNotFound) {
  Scenario scenario;
  scenario.models = {"gemini-live"};
  GeminiEmulator server(scenario);
  ASSERT_TRUE(server.Start().ok());
  auto model = Exchange(server, {R"({"setup":{"model":"models/gemini-old"}})"});
  EXPECT_EQ(model.code, 1008);
  EXPECT_NE(model.reason.find("models/gemini-old is not found"), std::string::npos);
  auto handle = Exchange(server, {R"({"setup":{"model":"models/gemini-live","sessionResumption":{"handle":"forged"}}})"});
  EXPECT_EQ(handle.code, 1008);
}

TEST(GeminiEmulatorTest, AToolResponseWithTheWrongIdIsNotFound) {
  Scenario scenario;
  ToolCallScript call;
  call.name = "lookup";
  scenario.tool_calls.push_back(call);
  GeminiEmulator server(scenario);
  ASSERT_TRUE(server.Start().ok());
  std::vector<int16_t> speech(3200), silence(9600);
  for (size_t i = 0; i < speech.size(); ++i) speech[i] = (i / 20) % 2 ? 8000 : -8000;
  std::string speech_message, silence_message;
  gemini::EncodeAudioInput(speech.data(), speech.size(), 16000, speech_message);
  gemini::EncodeAudioInput(silence.data(), silence.size(), 16000, silence_message);
  auto closed = Exchange(server, {R"({"setup":{"model":"models/m"}})", speech_message, silence_message,
                                  R"({"toolResponse":{"functionResponses":[{"id":"forged","name":"lookup","response":{}}]}})"});
  EXPECT_EQ(closed.code, 1008);
  EXPECT_EQ(closed.reason, "Requested entity was not found.");
  bool saw_call = false;
  for (const auto& m : closed.messages) saw_call = saw_call || m.find("\"toolCall\"") != std::string::npos;
  EXPECT_TRUE(saw_call);
}

TEST(GeminiEmulatorTest, ScenarioErrorsNameTheLine) {
  auto parsed = ParseScenario("reply:\n  speeed: 3\n", "s.yaml", ".");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.message().find("s.yaml:2"), std::string::npos) << parsed.message();
  EXPECT_NE(parsed.message().find("speed"), std::string::npos) << parsed.message();
}

TEST(GeminiEmulatorTest, ShippedScenariosLoad) {
  for (const char* name : {"visiting_hours", "goodbye", "long_call"}) {
    auto scenario = LoadScenario(std::string(VOXPIPE_SOURCE_DIR "/tests/data/emulator/") + name + ".yaml");
    ASSERT_TRUE(scenario.ok()) << scenario.message();
    GeminiEmulator server(std::move(scenario).value());
    EXPECT_TRUE(server.Start().ok()) << name;
  }
}

}  // namespace
}  // namespace voxpipe::emulator

namespace voxpipe::emulator {
namespace {

int RunEmulatorBinary(const std::string& args, std::string& output) {
  std::string command = std::string(VOXPIPE_BINARY_DIR "/bin/gemini-emulator ") + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(GeminiEmulatorBinaryTest, ABadScenarioFailsNamingTheLine) {
  std::string path = ::testing::TempDir() + "/bad_scenario.yaml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("reply:\n  tone_hz: loud\n", f);
  std::fclose(f);
  std::string output;
  EXPECT_EQ(RunEmulatorBinary("--port 0 --scenario " + path, output), 1);
  EXPECT_NE(output.find("bad_scenario.yaml:2"), std::string::npos) << output;
}

TEST(GeminiEmulatorBinaryTest, HelpListsTheOptions) {
  std::string output;
  EXPECT_EQ(RunEmulatorBinary("--help", output), 0);
  for (const char* option : {"--port", "--scenario", "--tls-cert", "--tls-key"}) {
    EXPECT_NE(output.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace voxpipe::emulator
