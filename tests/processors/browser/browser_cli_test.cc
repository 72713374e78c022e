// The shipped lines as a user runs them: `voxpipe run` with the phone line
// and the browser chat in one process, the model being the emulator.
#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/common/command.h"
#include "tests/processors/gemini/gemini_test_util.h"

namespace voxpipe::testing {
namespace {

TEST(BrowserCli, BothShippedLinesRunInOneProcess) {
  auto emulator = StartEmulator("api_key: \"\"\n");
  ASSERT_TRUE(emulator);
  BackgroundProcess run({VoxpipeBinary(), "run", "pipelines/twilio_gemini.yaml", "pipelines/browser_gemini.yaml"},
                        {.env = {{"PORT", "0"}, {"ADMIN_PORT", "0"}, {"GEMINI_API_KEY", "any"},
                                 {"GEMINI_LIVE_URL", emulator->url()}},
                         .cwd = VOXPIPE_SOURCE_DIR});
  ASSERT_TRUE(run.WaitForOutput("admin listening on")) << run.output();
  std::string out = run.output();
  int browser = ListeningPort(out, "browser server");
  int phone = ListeningPort(out, "twilio server");
  ASSERT_GT(browser, 0) << out;
  ASSERT_GT(phone, 0) << out;
  EXPECT_NE(browser, phone);
  std::string base = "http://127.0.0.1:" + std::to_string(browser);

  // The page comes from the source tree's web/ (web_dir left empty).
  auto page = HttpGet(base + "/");
  ASSERT_EQ(page.status, 200) << page.error;
  EXPECT_NE(page.body.find("app.js"), std::string::npos);
  EXPECT_EQ(HttpGet(base + "/audio-worklet.js").status, 200);
  auto start = HttpPost(base + "/start", "", {{"Content-Type", "application/json"}});
  ASSERT_EQ(start.status, 200) << start.body;
  EXPECT_EQ(nlohmann::json::parse(start.body),
            nlohmann::json({{"wsUrl", "ws://127.0.0.1:" + std::to_string(browser) + "/ws"}}));
  EXPECT_EQ(HttpGet("http://127.0.0.1:" + std::to_string(phone) + "/health").status, 200);
  EXPECT_EQ(run.Stop(SIGTERM), 0) << run.output();
}

}  // namespace
}  // namespace voxpipe::testing
