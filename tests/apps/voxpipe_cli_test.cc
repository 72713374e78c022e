// The runner as a user meets it: exit status, messages, files written.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/common/command.h"

namespace voxpipe {
namespace {

using testing::BackgroundProcess;
using testing::Binary;
using testing::CommandOptions;
using testing::HttpGet;
using testing::ListeningPort;
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

// PUBLIC_URL is where Twilio reaches the line: https, scheme and host only.
TEST(VoxpipeCliTest, CheckNamesAPublicUrlThatTwilioCannotUse) {
  struct Case {
    std::string url, error;
  };
  for (const auto& c : {Case{"https://abc123.ngrok.app/twilio/voice", "without a path: use https://abc123.ngrok.app"},
                        Case{"http://abc123.ngrok.app", "must be the https:// address"},
                        Case{"abc123.ngrok.app", "must be the https:// address"}}) {
    auto r = RunCommand({VoxpipeBinary(), "check", "pipelines/twilio_gemini.yaml"},
                        {.env = {{"PUBLIC_URL", c.url}}, .cwd = VOXPIPE_SOURCE_DIR});
    EXPECT_NE(r.exit_code, 0) << c.url << "\n" << r.output;
    EXPECT_NE(r.output.find(c.error), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("twilio_gemini.yaml:"), std::string::npos) << "names the file and line: " << r.output;
  }
  for (const char* fine : {"https://abc123.ngrok.app", "https://line.example.org:8443/", "http://127.0.0.1:8091"}) {
    auto r = RunCommand({VoxpipeBinary(), "check", "pipelines/twilio_gemini.yaml"},
                        {.env = {{"PUBLIC_URL", fine}}, .cwd = VOXPIPE_SOURCE_DIR});
    EXPECT_EQ(r.exit_code, 0) << fine << "\n" << r.output;
  }
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

TEST(VoxpipeCliTest, UnsetVariablesAreErrorsForRunAndWarningsForCheck) {
  auto path = WriteTemp("env.yaml", "pipeline:\n  - type: WavFileSource\n    path: " + kAudio +
                                        "/caller_visiting_hours_16k.wav\n  - type: WavFileSink\n"
                                        "    path: ${VOXPIPE_NOT_SET_ANYWHERE}/out.wav\n");
  auto run = RunCommand({VoxpipeBinary(), "run", path});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find(path + ":5: environment variable VOXPIPE_NOT_SET_ANYWHERE is not set"), std::string::npos)
      << run.output;
  auto check = RunCommand({VoxpipeBinary(), "check", path});
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_NE(check.output.find("warning: " + path + ":5: VOXPIPE_NOT_SET_ANYWHERE is not set"), std::string::npos)
      << check.output;
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
  EXPECT_NE(r.output.find("\"to_model\" -> \"fork_1\" [label=\"PCM s16le 16000 Hz mono\"]"), std::string::npos)
      << r.output;
  // The recorder branch ends in a sink: nothing leaves it; the join takes the other branch.
  EXPECT_NE(r.output.find("\"fork_1\" -> \"join_1\""), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("\"WavFileSink#1\" ->"), std::string::npos) << r.output;
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

// ---- command-line conventions

TEST(VoxpipeCliTest, UsageErrorsExitTwoWithTheUsageLineAndTheClosestMatch) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : {
           Case{{"chek", "x.yaml"}, "unknown command 'chek' (did you mean 'check'?)"},
           Case{{"--bogus", "check", "x.yaml"}, "unknown option '--bogus'"},
           Case{{"call", "http://127.0.0.1:1", "--tial", "3"}, "unknown option '--tial' (did you mean '--tail'?)"},
           Case{{"run", "--threads", "-1", "x.yaml"}, "--threads"},
           Case{{"run", "--drain-timeout", "-5", "x.yaml"}, "--drain-timeout"},
           Case{{"call", "http://127.0.0.1:1", "--tail", "-1"}, "--tail"},
           Case{{"call", "http://127.0.0.1:1", "--calls", "0"}, "--calls"},
           Case{{}, "A subcommand is required"},
       }) {
    std::vector<std::string> argv = {VoxpipeBinary()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = RunCommand(argv);
    std::string shown = c.args.empty() ? "(none)" : c.args.front();
    EXPECT_EQ(r.exit_code, 2) << shown << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << shown << ": " << r.output;
    EXPECT_NE(r.output.find("Usage: voxpipe"), std::string::npos) << shown << ": " << r.output;
  }
}

TEST(VoxpipeCliTest, PluginTakesExactlyOnePath) {
  // The next argument is the pipeline, not a second plugin: the error is about the file given.
  auto r = RunCommand({VoxpipeBinary(), "run", "--plugin", "/etc/hostname", "pipelines/twilio_echo.yaml"},
                      {.cwd = VOXPIPE_SOURCE_DIR});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("plugin /etc/hostname: cannot load"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("pipeline is required"), std::string::npos) << r.output;
}

TEST(VoxpipeCliTest, EveryExecutableHasVersionAndHelp) {
  for (const std::string& binary : {VoxpipeBinary(), Binary("gemini-emulator")}) {
    auto version = RunCommand({binary, "--version"});
    EXPECT_EQ(version.exit_code, 0) << binary << ": " << version.output;
    EXPECT_NE(version.output.find("0.1.0"), std::string::npos) << version.output;
    EXPECT_EQ(RunCommand({binary, "--help"}).exit_code, 0) << binary;
    EXPECT_EQ(RunCommand({binary, "--no-such-flag"}).exit_code, 2) << binary;
  }
}

// ---- checks that need no secrets

TEST(VoxpipeCliTest, TheShippedLinesCheckWithNoVariablesSetAndSayWhatIsUnset) {
  for (const char* line : {"pipelines/twilio_gemini.yaml", "pipelines/twilio_echo.yaml"}) {
    auto r = RunCommand({"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", VoxpipeBinary(), "check", line},
                        {.cwd = VOXPIPE_SOURCE_DIR});
    EXPECT_EQ(r.exit_code, 0) << line << ": " << r.output;
  }
  auto r = RunCommand({"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", VoxpipeBinary(), "check",
                       "pipelines/twilio_gemini.yaml"},
                      {.cwd = VOXPIPE_SOURCE_DIR});
  EXPECT_NE(r.output.find("warning: pipelines/twilio_gemini.yaml:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("GEMINI_API_KEY is not set"), std::string::npos) << r.output;
  auto graph = RunCommand({"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", VoxpipeBinary(), "graph",
                           "pipelines/twilio_gemini.yaml"},
                          {.cwd = VOXPIPE_SOURCE_DIR});
  EXPECT_EQ(graph.exit_code, 0) << graph.output;
}

TEST(VoxpipeCliTest, AMissingPromptFileFailsCheckNamingItsLine) {
  auto path = WriteTemp("no_prompt.yaml", "server:\n  type: twilio\n  port: 0\npipeline:\n  - type: TwilioInput\n"
                                          "  - type: MulawDecoder\n  - type: GeminiLiveLLM\n"
                                          "    system_instruction_file: no-such-prompt.md\n"
                                          "  - type: Resampler\n    rate: 8000\n  - type: MulawEncoder\n"
                                          "  - type: TwilioOutput\n");
  auto r = RunCommand({VoxpipeBinary(), "check", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find(path + ":8: system_instruction_file: cannot read"), std::string::npos) << r.output;
}

TEST(VoxpipeCliTest, DuplicateKeysAndTabsAreNamed) {
  auto dup = WriteTemp("dup.yaml", "pipeline:\n  - type: Resampler\n    rate: 8000\n    rate: 16000\n");
  auto r = RunCommand({VoxpipeBinary(), "check", dup});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(dup + ":4: key 'rate' is given twice in one mapping (first on line 3)"), std::string::npos)
      << r.output;
  auto tab = WriteTemp("tab.yaml", "pipeline:\n\t- type: Resampler\n");
  r = RunCommand({VoxpipeBinary(), "check", tab});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(tab + ":2: a tab in the indentation"), std::string::npos) << r.output;
}

// ---- serving: several lines, the admin listener, reload, JSON logs

std::string EchoLine(const std::string& name) {
  return "name: " + name + "\nserver:\n  type: twilio\n  port: 0\n  address: 127.0.0.1\npipeline:\n"
         "  - type: TwilioInput\n  - type: MulawDecoder\n  - type: MulawEncoder\n  - type: TwilioOutput\n";
}

TEST(VoxpipeCliTest, SeveralLinesRunInOneProcessWithOneAdminListener) {
  auto a = WriteTemp("line_a.yaml", EchoLine("line_a"));
  auto b = WriteTemp("line_b.yaml", EchoLine("line_b"));
  BackgroundProcess run({VoxpipeBinary(), "run", a, b}, {.env = {{"ADMIN_PORT", "0"}}});
  ASSERT_TRUE(run.WaitForOutput("admin listening on")) << run.output();
  std::string out = run.output();
  auto first = out.find("twilio server listening on");
  auto second = out.find("twilio server listening on", first + 1);
  ASSERT_NE(second, std::string::npos) << "two lines, each on its own port: " << out;
  int port_a = ListeningPort(out.substr(first), "twilio server");
  int port_b = ListeningPort(out.substr(second), "twilio server");
  EXPECT_NE(port_a, port_b);
  std::string admin = "http://127.0.0.1:" + std::to_string(ListeningPort(out, "admin"));
  auto home = HttpGet(admin + "/");
  ASSERT_EQ(home.status, 200) << home.error;
  EXPECT_NE(home.body.find("line_a"), std::string::npos) << home.body;
  EXPECT_NE(home.body.find("line_b"), std::string::npos) << home.body;
  EXPECT_EQ(HttpGet(admin + "/health/ready").status, 200);
  EXPECT_EQ(run.Stop(SIGTERM), 0) << run.output();
  EXPECT_NE(run.output().find("stopped"), std::string::npos);
}

TEST(VoxpipeCliTest, CallsAndMetricsAreOnTheAdminListenerOnly) {
  auto line = WriteTemp("admin_line.yaml", EchoLine("admin_line"));
  BackgroundProcess run({VoxpipeBinary(), "run", line}, {.env = {{"ADMIN_PORT", "0"}}});
  ASSERT_TRUE(run.WaitForOutput("admin listening on")) << run.output();
  std::string public_url = "http://127.0.0.1:" + std::to_string(ListeningPort(run.output(), "twilio server"));
  std::string admin = "http://127.0.0.1:" + std::to_string(ListeningPort(run.output(), "admin"));
  for (const char* path : {"/metrics", "/twilio/calls", "/calls"}) {
    EXPECT_EQ(HttpGet(public_url + path).status, 404) << path << " on the public port";
    EXPECT_EQ(HttpGet(admin + path).status, 200) << path << " on the admin listener";
  }
  EXPECT_EQ(HttpGet(public_url + "/health").status, 200);
  EXPECT_EQ(HttpGet(public_url + "/health/live").status, 200);
  EXPECT_EQ(HttpGet(public_url + "/health/ready").status, 200);
}

TEST(VoxpipeCliTest, AnAdminTokenIsRequiredWhenSetAndOffLoopback) {
  auto line = WriteTemp("token_line.yaml", EchoLine("token_line"));
  // Off loopback with no token: refused at start.
  auto open = RunCommand({VoxpipeBinary(), "run", line}, {.env = {{"ADMIN_PORT", "0"}, {"ADMIN_ADDRESS", "0.0.0.0"}},
                                                          .timeout = std::chrono::seconds(10)});
  EXPECT_EQ(open.exit_code, 1) << open.output;
  EXPECT_NE(open.output.find("needs ADMIN_TOKEN"), std::string::npos) << open.output;
  BackgroundProcess run({VoxpipeBinary(), "run", line}, {.env = {{"ADMIN_PORT", "0"}, {"ADMIN_TOKEN", "s3cret-admin"}}});
  ASSERT_TRUE(run.WaitForOutput("admin listening on")) << run.output();
  std::string admin = "http://127.0.0.1:" + std::to_string(ListeningPort(run.output(), "admin"));
  EXPECT_EQ(HttpGet(admin + "/metrics").status, 401);
  EXPECT_EQ(HttpGet(admin + "/metrics", {{"Authorization", "Bearer wrong"}}).status, 401);
  EXPECT_EQ(HttpGet(admin + "/metrics", {{"Authorization", "Bearer s3cret-admin"}}).status, 200);
  EXPECT_EQ(run.output().find("s3cret-admin"), std::string::npos) << "the token is never logged";
}

TEST(VoxpipeCliTest, SighupReloadsTheLineAndABrokenFileChangesNothing) {
  auto line = WriteTemp("reload_line.yaml", EchoLine("before_reload"));
  BackgroundProcess run({VoxpipeBinary(), "run", line}, {.env = {{"ADMIN_PORT", "0"}}});
  ASSERT_TRUE(run.WaitForOutput("admin listening on")) << run.output();
  std::string public_url = "http://127.0.0.1:" + std::to_string(ListeningPort(run.output(), "twilio server"));
  std::string admin = "http://127.0.0.1:" + std::to_string(ListeningPort(run.output(), "admin"));

  WriteTemp("reload_line.yaml", EchoLine("after_reload"));
  kill(run.pid(), SIGHUP);
  ASSERT_TRUE(run.WaitForOutput("reloaded")) << run.output();
  EXPECT_NE(HttpGet(public_url + "/").body.find("after_reload"), std::string::npos) << "new calls get the new pipeline";

  WriteTemp("reload_line.yaml", EchoLine("broken") + "  - type: NoSuchProcessor\n");
  kill(run.pid(), SIGHUP);
  ASSERT_TRUE(run.WaitForOutput("reload of " + line + " failed")) << run.output();
  // The reason follows on its own line, maybe in a later write.
  EXPECT_TRUE(run.WaitForOutput(line + ":11: unknown processor type 'NoSuchProcessor'")) << run.output();
  EXPECT_NE(HttpGet(public_url + "/").body.find("after_reload"), std::string::npos) << "nothing changed";
  auto metrics = HttpGet(admin + "/metrics").body;
  EXPECT_NE(metrics.find("voxpipe_reloads_total{result=\"ok\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("voxpipe_reloads_total{result=\"failed\"} 1"), std::string::npos) << metrics;
  EXPECT_EQ(run.Stop(SIGTERM), 0) << "SIGHUP did not kill it: " << run.output();
}

TEST(VoxpipeCliTest, JsonLogsAreOneObjectALineWithTheTimeZone) {
  auto line = WriteTemp("json_line.yaml", EchoLine("json_line"));
  BackgroundProcess run({VoxpipeBinary(), "--log-format", "json", "run", line}, {.env = {{"ADMIN_PORT", "0"}}});
  ASSERT_TRUE(run.WaitForOutput("admin listening on")) << run.output();
  run.Stop(SIGTERM);
  std::istringstream lines(run.output());
  int objects = 0;
  for (std::string text; std::getline(lines, text);) {
    if (text.empty()) continue;
    auto object = nlohmann::json::parse(text, nullptr, false);
    ASSERT_TRUE(object.is_object()) << text;
    EXPECT_TRUE(std::regex_match(object.value("time", ""),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d)")))
        << text;
    EXPECT_TRUE(object.contains("level")) << text;
    EXPECT_TRUE(object.contains("msg")) << text;
    ++objects;
  }
  EXPECT_GT(objects, 3);
}

}  // namespace
}  // namespace voxpipe
