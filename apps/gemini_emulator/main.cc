// gemini-emulator: serve the Gemini Live emulator on a local port.
//
//   gemini-emulator --port 9100 --scenario tests/data/emulator/visiting_hours.yaml
//   GEMINI_LIVE_URL=ws://127.0.0.1:9100/ws/... voxpipe run pipelines/gemini_file_demo.yaml
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/gemini_emulator/emulator.h"
#include "framework/runtime.h"
#include "framework/version.h"

int main(int argc, char** argv) {
  using namespace voxpipe::emulator;
  CLI::App app{"A local stand-in for Google's Gemini Live API (BidiGenerateContent over WebSocket)", "gemini-emulator"};
  app.set_version_flag("--version", std::string("gemini-emulator (voxpipe ") + VOXPIPE_VERSION + ")");
  ServerOptions options;
  options.port = 9100;
  std::string scenario_path;
  app.add_option("--port", options.port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--address", options.address, "Address to bind");
  app.add_option("--scenario", scenario_path, "Scenario YAML (default: a tone after each caller turn)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", options.tls_cert, "PEM certificate chain: serve wss://");
  app.add_option("--tls-key", options.tls_key, "PEM private key for --tls-cert");
  double batch_window_ms = std::chrono::duration<double, std::milli>(voxpipe::Runtime::kDefaultBatchWindow).count();
  app.add_option("--batch-window", batch_window_ms,
                 "When busy, gather wake-ups this many ms apart, as voxpipe run does (0: wake for every message)")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    fmt::print(stderr, "error: {}\nRun 'gemini-emulator --help' for more.\n", e.what());
    return 2;
  }
  options.batch_window = std::chrono::microseconds(static_cast<int64_t>(batch_window_ms * 1000));
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    fmt::print(stderr, "error: --tls-cert and --tls-key go together\n");
    return 2;
  }

  Scenario scenario;
  if (!scenario_path.empty()) {
    auto loaded = LoadScenario(scenario_path);
    if (!loaded.ok()) {
      fmt::print(stderr, "error: {}\n", loaded.message());
      return 1;
    }
    scenario = std::move(loaded).value();
  }
  GeminiEmulator emulator(std::move(scenario), options);
  if (auto s = emulator.Start(); !s.ok()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return 1;
  }
  fmt::print("gemini-emulator listening on {}\n", emulator.url());
  std::fflush(stdout);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  int received = 0;
  sigwait(&signals, &received);
  auto stats = emulator.stats();
  emulator.Stop();
  fmt::print("sessions: {}, refused: {}, replies: {}, interruptions: {}, tool calls: {}\n", stats.connections,
             stats.rejected, stats.replies, stats.interruptions, stats.tool_calls);
  return 0;
}
