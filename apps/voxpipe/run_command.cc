// `voxpipe run PIPELINE.yaml`: serve calls until SIGINT/SIGTERM (then drain),
// or run a file pipeline to completion.
#include <chrono>
#include <optional>

#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apps/voxpipe/commands.h"
#include "framework/logging.h"
#include "framework/runtime.h"

namespace voxpipe::cli {
namespace {

struct RunFlags {
  std::string path;
  int threads = 0;
  std::optional<std::chrono::milliseconds> drain;  // default: the service's own
  bool trace_frames = false;
};

int RunFilePipeline(const PipelineFile& file, const RunFlags& flags, Runtime& runtime) {
  auto instance = PipelineInstance::Create(file.pipeline, runtime.main().executor(), file.name);
  instance->context().AddObserver(std::make_shared<LogObserver>(flags.trace_frames));
  Status result = Status::Error("did not finish");
  bool interrupted = false;

  // A file pipeline runs on one loop, with its signals.
  boost::asio::signal_set signals(runtime.main().executor(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::warn("signal {}: stopping", signal);
    interrupted = true;
    instance->Cancel("interrupted by signal");
  });
  auto started = Clock::now();
  instance->Start(StartFrame{file.name, {{"pipeline", file.path}}}, [&](const Status& status) {
    result = status;
    signals.cancel();
    runtime.Stop();
  });
  runtime.Run();
  auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  if (!result.ok()) {
    fmt::print(stderr, "error: {}\n", result.message());
    return interrupted ? 130 : 1;
  }
  spdlog::info("pipeline '{}' finished in {:.3f} s", file.name, elapsed);
  return 0;
}

int RunService(const PipelineFile& file, const RunFlags& flags, Runtime& runtime) {
  ServiceEnv env{&runtime, file.pipeline, file.path};
  auto service = file.service->create(file.service_options.get(), env);
  if (Status s = service->Start(); !s.ok()) {
    fmt::print(stderr, "error: {}\n", s.message());
    return 1;
  }
  // Signals and the drain's end both run on the main loop.
  int signals_seen = 0;
  boost::asio::signal_set signals(runtime.main().executor(), SIGINT, SIGTERM);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (signals_seen++ > 0) {
        spdlog::warn("signal {} again: stopping now", signal);
        runtime.Abort();
        return;
      }
      auto grace = flags.drain.value_or(service->drain_timeout());
      spdlog::info("signal {}: draining (up to {:.1f} s; send it again to stop at once)", signal,
                   std::chrono::duration<double>(grace).count());
      // Armed before the drain starts: a drain with nothing to wait for ends
      // at once, and its cancel must find this wait.
      wait_signal();
      service->Drain(grace, [&] {
        signals.cancel();
        runtime.Stop();
      });
    });
  };
  wait_signal();
  runtime.Run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

void AddRunCommand(CLI::App& app, CommonFlags& common, int* exit_code) {
  auto* cmd = app.add_subcommand("run", "Run a pipeline: serve calls, or process a file pipeline to its end");
  auto flags = std::make_shared<RunFlags>();
  cmd->add_option("pipeline", flags->path, "Pipeline YAML file")->required();
  cmd->add_option("--threads", flags->threads, "Event loops, one thread each (default: one per core)");
  cmd->add_option_function<double>(
      "--drain-timeout", [flags](double s) { flags->drain = std::chrono::milliseconds(int64_t(s * 1000)); },
      "Seconds active calls may take to finish after SIGTERM (default: the server's drain_timeout, 30 s)");
  cmd->add_flag("--trace-frames", flags->trace_frames, "Log every frame (with --log-level debug)");
  cmd->callback([=, &common] {
    auto file = LoadForCommand(flags->path, common);
    if (!file.ok()) {
      *exit_code = 1;
      return;
    }
    Runtime runtime(flags->threads);
    *exit_code = file->service ? RunService(*file, *flags, runtime) : RunFilePipeline(*file, *flags, runtime);
  });
}

}  // namespace voxpipe::cli
