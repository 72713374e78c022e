// `voxpipe run PIPELINE.yaml...`: serve calls until SIGINT/SIGTERM (then
// drain), or run a file pipeline to completion.
//
// Several pipeline files with servers run in one process, each on its own
// port, with one drain, one admin listener (/metrics, /calls) and one call
// registry: the seed's whole system is
//   voxpipe run pipelines/twilio_gemini.yaml pipelines/browser_gemini.yaml
// SIGHUP re-reads every file: new calls get what builds, calls in progress
// finish on what they started with, and a file that does not build changes
// nothing (the error is logged with its line).
#include <sys/resource.h>

#include <chrono>
#include <optional>

#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apps/voxpipe/commands.h"
#include "framework/logging.h"
#include "framework/metrics.h"
#include "framework/runtime.h"
#include "framework/server/admin_server.h"

namespace voxpipe::cli {
namespace {

struct RunFlags {
  std::vector<std::string> paths;
  int threads = 0;
  std::chrono::microseconds batch_window = Runtime::kDefaultBatchWindow;
  int loop_fill = Runtime::kDefaultFillLoad;
  std::optional<std::chrono::milliseconds> drain;  // default: each service's own
  bool trace_frames = false;
  bool no_admin = false;
};

// Calls hold sockets (the caller's, the model's) and files: take what the
// hard limit allows instead of the 1024 a shell usually starts with.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::debug("descriptor limit raised from {} to {}", before, limit.rlim_cur);
  }
}

int RunFilePipeline(const PipelineFile& file, const RunFlags& flags, Runtime& runtime) {
  StartFrame start{file.name, {{"pipeline", file.path}}};
  CallValues values = CallValuesFor(start);
  auto instance = PipelineInstance::Create(file.pipeline, runtime.main().executor(), file.name, &values);
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
  instance->Start(std::move(start), [&](const Status& status) {
    result = status;
    signals.cancel();
    runtime.Stop();
  });
  runtime.Run();
  auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  if (!result.ok()) {
    PrintError(result);
    return interrupted ? 130 : 1;
  }
  spdlog::info("pipeline '{}' finished in {:.3f} s", file.name, elapsed);
  return 0;
}

// The services of one process and what is done to them all.
class ServiceSet {
 public:
  ServiceSet(Runtime& runtime, const CommonFlags& common) : runtime_(runtime), common_(common) {}

  Status Add(const PipelineFile& file) {
    ServiceEnv env{&runtime_, file.pipeline, file.path, registry_};
    auto service = file.service->create(file.service_options.get(), env);
    if (Status s = service->Start(); !s.ok()) return s;
    entries_.push_back({file.path, std::move(service)});
    return OkStatus();
  }

  std::vector<Service*> services() const {
    std::vector<Service*> out;
    for (const auto& e : entries_) out.push_back(e.service.get());
    return out;
  }
  const std::shared_ptr<CallRegistry>& registry() const { return registry_; }

  // Drains every service; `done` once all have finished (on the main loop).
  void Drain(std::optional<std::chrono::milliseconds> grace, std::function<void()> done) {
    auto remaining = std::make_shared<size_t>(entries_.size());
    auto all_done = std::make_shared<std::function<void()>>(std::move(done));
    for (auto& e : entries_) {
      e.service->Drain(grace.value_or(e.service->drain_timeout()), [remaining, all_done] {
        if (--*remaining == 0) (*all_done)();
      });
    }
  }

  std::chrono::milliseconds longest_drain(std::optional<std::chrono::milliseconds> grace) const {
    std::chrono::milliseconds longest{0};
    for (const auto& e : entries_) longest = std::max(longest, grace.value_or(e.service->drain_timeout()));
    return longest;
  }

  // SIGHUP: every file again; what builds replaces what calls start with.
  void Reload() {
    static auto& ok = Metrics::Global().Counter("voxpipe_reloads_total", "Pipeline reloads (SIGHUP), by result",
                                                {{"result", "ok"}});
    static auto& failed = Metrics::Global().Counter("voxpipe_reloads_total", "Pipeline reloads (SIGHUP), by result",
                                                    {{"result", "failed"}});
    for (auto& e : entries_) {
      auto file = LoadPipelineFile(e.path, common_.plugins);
      if (!file.ok()) {
        failed.Increment();
        spdlog::error("reload of {} failed; calls go on with the pipeline they have:", e.path);
        for (const auto& line : SplitLines(file.message())) spdlog::error("  {}", line);
        continue;
      }
      ok.Increment();
      spdlog::info("reloaded {} (the server section is read at start only)", e.path);
      e.service->Reload(file->pipeline);
    }
  }

 private:
  static std::vector<std::string> SplitLines(const std::string& text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      lines.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  }

  struct Entry {
    std::string path;
    std::unique_ptr<Service> service;
  };
  Runtime& runtime_;
  const CommonFlags& common_;
  std::shared_ptr<CallRegistry> registry_ = std::make_shared<CallRegistry>();
  std::vector<Entry> entries_;
};

int RunServices(const std::vector<PipelineFile>& files, const RunFlags& flags, const CommonFlags& common,
                Runtime& runtime) {
  ServiceSet set(runtime, common);
  for (const auto& file : files) {
    if (Status s = set.Add(file); !s.ok()) {
      PrintError(s);
      return 1;
    }
  }
  std::unique_ptr<server::AdminServer> admin;
  if (!flags.no_admin) {
    auto options = server::AdminOptionsFromEnvironment();
    if (!options.ok()) {
      PrintError(options.status());
      return 1;
    }
    admin = std::make_unique<server::AdminServer>(runtime, *options, set.registry(), set.services());
    if (Status s = admin->Start(); !s.ok()) {
      PrintError(s);
      return 1;
    }
  }

  // Signals and the drain's end both run on the main loop.
  int stops = 0;
  boost::asio::signal_set signals(runtime.main().executor(), SIGINT, SIGTERM, SIGHUP);
  std::function<void()> wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        spdlog::info("signal {}: reloading the pipeline files", signal);
        set.Reload();
        return wait_signal();
      }
      if (stops++ > 0) {
        spdlog::warn("signal {} again: stopping now", signal);
        runtime.Abort();
        return;
      }
      spdlog::info("signal {}: draining (up to {:.1f} s; send it again to stop at once)", signal,
                   std::chrono::duration<double>(set.longest_drain(flags.drain)).count());
      // Armed before the drain starts: a drain with nothing to wait for ends
      // at once, and its cancel must find this wait.
      wait_signal();
      set.Drain(flags.drain, [&] {
        if (admin) admin->Stop();
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
  auto* cmd = app.add_subcommand("run", "Run pipelines: serve calls (several files, one port each), or process a "
                                        "file pipeline to its end");
  auto flags = std::make_shared<RunFlags>();
  cmd->add_option("pipeline", flags->paths, "Pipeline YAML files")->required();
  cmd->add_option("--threads", flags->threads, "Event loops, one thread each (default 0: one per core)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option_function<double>(
         "--batch-window",
         [flags](double ms) { flags->batch_window = std::chrono::microseconds(int64_t(ms * 1000)); },
         "Milliseconds a busy event loop gathers messages before it wakes (0: wake for each; default 1)")
      ->check(CLI::Range(0.0, 20.0));
  cmd->add_option("--loop-fill", flags->loop_fill,
                  "Connections an event loop takes before the next loop is used, then the least-loaded "
                  "(0: always the least-loaded loop)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option_function<double>(
         "--drain-timeout", [flags](double s) { flags->drain = std::chrono::milliseconds(int64_t(s * 1000)); },
         "Seconds active calls may take to finish after SIGTERM (default: each server's drain_timeout)")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_flag("--trace-frames", flags->trace_frames, "Log every frame (with --log-level debug)");
  cmd->add_flag("--no-admin", flags->no_admin, "No admin listener (ADMIN_ADDRESS/ADMIN_PORT, default 127.0.0.1:8099)");
  cmd->callback([=, &common] {
    std::vector<PipelineFile> files;
    for (const auto& path : flags->paths) {
      auto file = LoadForCommand(path, common);
      if (!file.ok()) {
        *exit_code = 1;
        return;
      }
      files.push_back(std::move(file).value());
    }
    bool any_file_pipeline = std::any_of(files.begin(), files.end(), [](const PipelineFile& f) { return !f.service; });
    if (any_file_pipeline && files.size() > 1) {
      PrintError(Status::Error("a pipeline without a `server:` runs alone; run it in a `voxpipe run` of its own"));
      *exit_code = 1;
      return;
    }
    RaiseDescriptorLimit();
    // A file pipeline has no calls to gather: it runs flat out.
    Runtime runtime(flags->threads, any_file_pipeline ? std::chrono::microseconds(0) : flags->batch_window);
    runtime.set_fill_load(flags->loop_fill);
    *exit_code = any_file_pipeline ? RunFilePipeline(files.front(), *flags, runtime)
                                   : RunServices(files, *flags, common, runtime);
  });
}

}  // namespace voxpipe::cli
