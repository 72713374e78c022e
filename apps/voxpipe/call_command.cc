// `voxpipe call URL`: act as Twilio against a running server — signed
// webhook, TwiML, a media stream from a WAV file — and report what the caller
// heard, the events and the latencies; `--calls N` for a load test.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "apps/voxpipe/commands.h"
#include "framework/client/http_client.h"
#include "framework/client/url.h"
#include "framework/runtime.h"
#include "processors/common/g711.h"
#include "framework/audio/wav_file.h"
#include "apps/simulator/call_simulator.h"
#include "apps/timeline/call_timeline.h"

namespace voxpipe::cli {
namespace {

using simulator::SimulatedCallOptions;
using simulator::SimulatedCallResult;

struct CallFlags {
  std::string url;
  std::string audio_path;
  std::string auth_token;
  std::string from = "+15555550100";
  std::string to = "+15555550199";
  std::string record_path;
  std::string timeline_path;
  std::string call_sid;
  std::string script_path;
  std::string public_url;
  bool fast = false;
  bool quiet = false;
  int calls = 1;
  double ramp_s = -1;
  double tail_s = -1;  // < 0: wait for the reply (real time), 2 s (fast)
  double reply_timeout_s = 15;
  double stream_delay_s = 0;
  double timeout_s = 0;
  int server_pid = 0;
  double expect_echo = 0;
  std::string admin_url;
};

// A spoken-like test signal when no WAV is given: two seconds of a gliding
// tone with a syllable rhythm, then silence.
std::vector<uint8_t> TestSignal() {
  std::vector<uint8_t> out(8000 * 3, 0xFF);
  double phase = 0;
  for (size_t i = 0; i < 16000; ++i) {
    double t = i / 8000.0;
    double freq = 300 + 500 * t;
    phase += 2 * M_PI * freq / 8000.0;
    double envelope = 0.5 * (1 - std::cos(2 * M_PI * 4 * t));
    out[i] = g711::MulawEncode(static_cast<int16_t>(8000 * envelope * std::sin(phase)));
  }
  return out;
}

Result<std::vector<uint8_t>> LoadAudio(const std::string& path) {
  if (path.empty()) return TestSignal();
  return simulator::LoadCallerAudio(path);
}

// Exit statuses beyond 0 (it worked) and 2 (usage), as docs/call-simulator.md lists them.
constexpr int kExitCallFailed = 1;    // the webhook or the stream failed, or the call timed out
constexpr int kExitNothingHeard = 3;  // no reply came (or no audio at all)
constexpr int kExitServerError = 4;   // the server ended the call with an error (e.g. its model failed)

// What went wrong with one call, for its exit status and a one-line reason.
std::pair<int, std::string> Verdict(const SimulatedCallResult& r) {
  if (!r.status.ok()) return {kExitCallFailed, r.status.message()};
  if (r.closed_by_server && r.close_code != 1000) {
    std::string why = fmt::format("the server ended the call with an error ({}{})", r.close_code,
                                  r.close_reason.empty() ? "" : ": " + r.close_reason);
    if (!r.after_stream.empty()) why += "; the line then answered: " + simulator::DescribeTwiml(r.after_stream);
    return {kExitServerError, why};
  }
  if (r.no_reply) return {kExitNothingHeard, "no reply from the assistant"};
  if (r.media_received == 0) return {kExitNothingHeard, "the caller heard nothing"};
  return {0, ""};
}

// The server's own latency histograms from its /metrics (Prometheus text):
// name -> (upper bound in seconds, cumulative count) per bucket.
using Histograms = std::map<std::string, std::vector<std::pair<double, double>>>;

Histograms ParseLatencyHistograms(const std::string& text) {
  Histograms out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    // voxpipe_x_latency_seconds_bucket{le="0.001"} 123
    auto brace = line.find("_latency_seconds_bucket{le=\"");
    if (line.starts_with("#") || brace == std::string::npos) continue;
    auto le_at = brace + std::string_view("_latency_seconds_bucket{le=\"").size();
    auto le_end = line.find('"', le_at);
    auto space = line.rfind(' ');
    if (le_end == std::string::npos || space == std::string::npos || space < le_end) continue;
    std::string le = line.substr(le_at, le_end - le_at);
    double bound = le == "+Inf" ? INFINITY : std::atof(le.c_str());
    out[line.substr(0, brace) + "_latency_seconds"].emplace_back(bound, std::atof(line.c_str() + space + 1));
  }
  return out;
}

// The server's admin listener: --admin, else for a server on this machine
// the default admin address (ADMIN_PORT, default 8099); "" when unknown.
std::string AdminUrl(const CallFlags& flags) {
  if (!flags.admin_url.empty()) return flags.admin_url;
  auto url = ParseUrl(flags.url);
  if (!url.ok() || (url->host != "127.0.0.1" && url->host != "localhost")) return "";
  const char* port = std::getenv("ADMIN_PORT");
  return fmt::format("http://127.0.0.1:{}", port && *port ? port : "8099");
}

std::optional<Histograms> FetchLatencyHistograms(const std::string& admin_url) {
  if (admin_url.empty()) return std::nullopt;
  boost::asio::io_context io;
  std::optional<Histograms> out;
  HttpFetch(io.get_executor(), {.url = admin_url + "/metrics", .timeout = std::chrono::seconds(2)},
            [&](Result<voxpipe::HttpResponse> r) {
              if (r.ok() && r->status == 200) out = ParseLatencyHistograms(r->body);
            });
  io.run();
  return out;
}

// What the server measured during the run (after minus before), e.g.
// "n=9803  <=0.1 ms 89.7%  <=1 ms 100.0%  <=2 ms 100.0%  p50 <=0.05 ms  p99 <=0.5 ms".
void PrintServerLatency(const Histograms& before, const Histograms& after) {
  for (const auto& [name, buckets] : after) {
    auto was = before.find(name);
    std::vector<double> counts;
    for (size_t i = 0; i < buckets.size(); ++i) {
      double earlier = was != before.end() && i < was->second.size() ? was->second[i].second : 0;
      counts.push_back(buckets[i].second - earlier);
    }
    double total = counts.empty() ? 0 : counts.back();
    if (total <= 0) continue;
    auto share_within = [&](double seconds) {
      for (size_t i = 0; i < buckets.size(); ++i) {
        if (buckets[i].first >= seconds - 1e-12) return 100 * counts[i] / total;
      }
      return 100.0;
    };
    auto percentile = [&](double p) {
      for (size_t i = 0; i < buckets.size(); ++i) {
        if (counts[i] >= p / 100 * total) return buckets[i].first * 1000;
      }
      return double(INFINITY);
    };
    fmt::print("  {:<44} n={:<8.0f} <=0.1 ms {:5.1f}%  <=1 ms {:5.1f}%  <=2 ms {:5.1f}%  p50 <={} ms  p99 <={} ms\n", name,
               total, share_within(0.0001), share_within(0.001), share_within(0.002), percentile(50), percentile(99));
  }
}

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  size_t k = std::min(values.size() - 1, static_cast<size_t>(std::ceil(p / 100.0 * values.size())) - (p > 0 ? 1 : 0));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

std::string Summary(std::vector<double> values) {
  if (values.empty()) return "n/a";
  double mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  return fmt::format("p50 {:.2f}  p90 {:.2f}  p99 {:.2f}  max {:.2f}  mean {:.2f} ms (n={})", Percentile(values, 50),
                     Percentile(values, 90), Percentile(values, 99), Percentile(values, 100), mean, values.size());
}

// CPU time and resident memory of a local process, from /proc.
struct ProcessSample {
  double cpu_s = 0;
  double rss_kib = 0;
};

std::optional<ProcessSample> SampleProcess(int pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (text.empty() || paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  ProcessSample sample;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state
    if (i == 14) sample.cpu_s += std::stod(field) / ticks;  // utime
    if (i == 15) {
      sample.cpu_s += std::stod(field) / ticks;  // stime
      break;
    }
  }
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_kib = std::stod(line.substr(6));
  }
  return sample;
}

void PrintTimeline(const SimulatedCallResult& r) {
  for (const auto& e : r.events) fmt::print("  {:>9.1f} ms  {}\n", e.at.count() / 1000.0, e.what);
}

int RunCalls(const CallFlags& flags) {
  auto audio = LoadAudio(flags.audio_path);
  if (!audio.ok()) {
    fmt::print(stderr, "voxpipe call: {}\n", audio.message());
    return 2;
  }
  if (flags.fast && !flags.script_path.empty()) {
    fmt::print(stderr, "voxpipe call: --script runs in real time; drop --fast\n");
    return 2;
  }
  if (flags.fast && !flags.timeline_path.empty()) {
    fmt::print(stderr, "voxpipe call: --timeline draws a real-time call; drop --fast\n");
    return 2;
  }
  if (flags.calls > 1 && (!flags.call_sid.empty() || !flags.timeline_path.empty() || !flags.record_path.empty())) {
    fmt::print(stderr, "voxpipe call: --call-sid, --record and --timeline are for one call; drop --calls\n");
    return 2;
  }
  // Real time without --tail: the caller says their words and waits for the
  // whole reply (or follows --script); --tail or --fast: a fixed listening time.
  bool by_script = !flags.fast && flags.tail_s < 0;
  std::vector<simulator::CallStep> script;
  if (!flags.script_path.empty()) {
    auto loaded = simulator::LoadCallScript(flags.script_path);
    if (!loaded.ok()) {
      fmt::print(stderr, "voxpipe call: {}\n", loaded.message());
      return 2;
    }
    script = std::move(loaded).value();
  } else if (by_script) {
    script = simulator::SayAndWait(*audio, flags.audio_path.empty() ? "a test tone" : flags.audio_path);
    script[1].duration = std::chrono::milliseconds(static_cast<int64_t>(flags.reply_timeout_s * 1000));
  }
  double tail_s = flags.tail_s >= 0 ? flags.tail_s : 2;
  // A loop per core keeps the simulator from being the bottleneck of a load
  // test; results are gathered on the main loop.
  Runtime runtime(flags.calls > 1 ? 0 : 1);
  auto results_loop = runtime.main().executor();
  int calls = std::max(1, flags.calls);
  double ramp_s = flags.ramp_s >= 0 ? flags.ramp_s : (calls > 1 ? 1.0 : 0.0);
  double audio_s = audio->size() / 8000.0;
  double script_s = 0;
  for (const auto& step : script) {
    script_s += step.audio.size() / 8000.0 + std::chrono::duration<double>(step.duration).count() + 10;
  }
  double timeout_s = flags.timeout_s > 0 ? flags.timeout_s
                                         : (flags.fast ? 0 : audio_s) + tail_s + ramp_s + script_s + 30;

  std::optional<ProcessSample> before;
  double peak_rss = 0;
  if (flags.server_pid > 0) {
    before = SampleProcess(flags.server_pid);
    if (!before) {
      fmt::print(stderr, "error: no process {} to measure (--server-pid)\n", flags.server_pid);
      return 1;
    }
    peak_rss = before->rss_kib;
  }
  boost::asio::steady_timer sampler(results_loop);
  std::function<void()> sample = [&] {
    if (auto s = SampleProcess(flags.server_pid)) peak_rss = std::max(peak_rss, s->rss_kib);
    sampler.expires_after(std::chrono::milliseconds(100));
    sampler.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) sample();
    });
  };
  if (before) sample();

  const std::string admin_url = AdminUrl(flags);
  auto server_latency_before = FetchLatencyHistograms(admin_url);
  std::vector<SimulatedCallResult> results;
  auto started = Clock::now();
  std::vector<std::unique_ptr<boost::asio::steady_timer>> starters;
  for (int i = 0; i < calls; ++i) {
    SimulatedCallOptions options;
    options.url = flags.url;
    options.auth_token = flags.auth_token;
    options.call_sid = flags.call_sid;
    options.keep_said = !flags.timeline_path.empty();
    options.from = flags.from;
    options.to = flags.to;
    options.audio = *audio;
    options.realtime = !flags.fast;
    options.tail = std::chrono::milliseconds(static_cast<int64_t>(tail_s * 1000));
    options.script = script;
    options.public_url = flags.public_url;
    options.stream_delay = std::chrono::milliseconds(static_cast<int64_t>(flags.stream_delay_s * 1000));
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
    auto loop = runtime.loop(i % runtime.size()).executor();
    auto delay = std::chrono::microseconds(calls > 1 ? static_cast<int64_t>(ramp_s * 1e6 * i / calls) : 0);
    auto& timer = starters.emplace_back(std::make_unique<boost::asio::steady_timer>(loop, delay));
    timer->async_wait([&, loop, options = std::move(options)](const boost::system::error_code&) mutable {
      simulator::PlaceSimulatedCall(loop, std::move(options), [&](SimulatedCallResult r) {
        boost::asio::post(results_loop, [&, r = std::move(r)]() mutable {
          results.push_back(std::move(r));
          if (static_cast<int>(results.size()) == calls) {
            sampler.cancel();
            runtime.Stop();
          }
        });
      });
    });
  }
  runtime.Run();
  double wall_s = std::chrono::duration<double>(Clock::now() - started).count();
  std::optional<ProcessSample> after = flags.server_pid > 0 ? SampleProcess(flags.server_pid) : std::nullopt;

  int failed = 0, echo_failed = 0;
  int exit_status = 0;
  std::string reason;
  for (const auto& r : results) {
    auto [status, why] = Verdict(r);
    if (status != 0 && (exit_status == 0 || status < exit_status)) {
      exit_status = status;
      reason = calls > 1 ? fmt::format("call {}: {}", r.call_sid, why) : why;
    }
  }
  std::vector<double> latency, webhook, connect, first_audio, reply;
  size_t frames_sent = 0, frames_received = 0, underruns = 0;
  for (auto& r : results) {
    if (Verdict(r).first != 0) ++failed;
    latency.insert(latency.end(), r.echo_latency_ms.begin(), r.echo_latency_ms.end());
    reply.insert(reply.end(), r.reply_latency_ms.begin(), r.reply_latency_ms.end());
    if (r.webhook_ms > 0) webhook.push_back(r.webhook_ms);
    if (r.connect_ms > 0) connect.push_back(r.connect_ms);
    if (r.first_audio_ms >= 0) first_audio.push_back(r.first_audio_ms);
    frames_sent += r.media_sent;
    frames_received += r.media_received;
    underruns += r.underruns;
  }
  if (calls == 1) {
    const auto& r = results.front();
    fmt::print("call {} to {}\n", r.call_sid, flags.url);
    if (!flags.quiet) PrintTimeline(r);
    fmt::print("media: {} sent, {} received; marks {}, clears {}; playback gaps {}\n", r.media_sent,
               r.media_received, r.marks, r.clears, r.underruns);
  } else {
    fmt::print("{} calls to {} ({} audio, ramp {:.1f} s): {} ok, {} failed, {:.1f} s\n", calls, flags.url,
               flags.fast ? "fast" : "real-time", ramp_s, calls - failed, failed, wall_s);
    for (const auto& r : results) {
      if (auto [status, why] = Verdict(r); status != 0 && failed <= 10) fmt::print("  {} failed: {}\n", r.call_sid, why);
    }
    fmt::print("media: {} sent, {} received; playback gaps {} (20 ms slots of silence inside an utterance)\n", frames_sent,
               frames_received, underruns);
  }
  fmt::print("webhook:       {}\n", Summary(webhook));
  fmt::print("stream open:   {}\n", Summary(connect));
  fmt::print("first audio:   {}\n", Summary(first_audio));
  if (!reply.empty()) fmt::print("reply latency: {}\n", Summary(reply));
  if (flags.expect_echo > 0) {
    // Only an echo line sends back the caller's own samples, so only there is
    // "arrival minus when that sample was sent" a round trip.
    fmt::print("echo latency:  {}\n", Summary(latency));
    std::vector<double> correlations;
    for (const auto& r : results) {
      auto match = simulator::CorrelateEcho(*audio, r.received);
      correlations.push_back(match.correlation);
      if (match.correlation < flags.expect_echo) ++echo_failed;
      if (calls == 1) {
        fmt::print("echo check:    correlation {:.3f} at lag {} samples ({:.1f} ms) — {}\n", match.correlation,
                   match.lag, match.lag / 8.0, match.correlation >= flags.expect_echo ? "heard back" : "NOT heard back");
      }
    }
    if (calls > 1) {
      fmt::print("echo check:    {} of {} calls heard back (correlation >= {:.2f}; worst {:.3f})\n",
                 calls - echo_failed, calls, flags.expect_echo,
                 *std::min_element(correlations.begin(), correlations.end()));
    }
  }
  if (before && after) {
    double cpu_s = after->cpu_s - before->cpu_s;
    double frames = static_cast<double>(frames_sent + frames_received);
    fmt::print("server pid {}: CPU {:.2f} s over {:.1f} s = {:.1f}% of a core; {:.3f}% of a core per call; "
               "{:.1f} µs per 20 ms frame per direction\n",
               flags.server_pid, cpu_s, wall_s, 100 * cpu_s / wall_s, 100 * cpu_s / wall_s / calls,
               frames > 0 ? cpu_s * 1e6 / frames : 0);
    fmt::print("server memory: {:.1f} MiB before, {:.1f} MiB peak: {:.0f} KiB per call\n", before->rss_kib / 1024,
               peak_rss / 1024, (peak_rss - before->rss_kib) / calls);
  }
  if (server_latency_before) {
    if (auto after = FetchLatencyHistograms(admin_url)) {
      fmt::print("server latency during the run (its admin /metrics):\n");
      PrintServerLatency(*server_latency_before, *after);
    }
  }
  if (!flags.record_path.empty()) {
    auto writer = wav::Writer::Open(flags.record_path, StreamFormat::Mulaw(8000));
    Status s = writer.ok() ? (*writer)->Write(std::span<const uint8_t>(results.front().heard)) : writer.status();
    if (s.ok()) s = (*writer)->Close();
    if (!s.ok()) {
      fmt::print(stderr, "error: {}\n", s.message());
      return 1;
    }
    fmt::print("recorded what the caller heard ({:.1f} s) to {}\n", results.front().heard.size() / 8000.0,
               flags.record_path);
  }
  if (!flags.timeline_path.empty()) {
    Status s = timeline::WriteTimeline(timeline::CallTimeline(results.front(), flags.url), flags.timeline_path);
    if (!s.ok()) {
      fmt::print(stderr, "error: {}\n", s.message());
      return 1;
    }
    fmt::print("drew the call's timeline to {}\n", flags.timeline_path);
  }
  if (exit_status == 0 && echo_failed) {
    exit_status = kExitNothingHeard;
    reason = "the caller did not hear their own audio back (--expect-echo)";
  }
  if (exit_status != 0) {
    fmt::print(stderr, "voxpipe call: {}{}\n", reason,
               calls > 1 && failed > 1 ? fmt::format(" (and {} more failed calls)", failed - 1) : "");
  }
  return exit_status;
}

}  // namespace

void AddCallCommand(CLI::App& app, CommonFlags&, int* exit_code) {
  auto* cmd = app.add_subcommand("call", "Act as Twilio: place a simulated call against a running phone server");
  auto flags = std::make_shared<CallFlags>();
  if (const char* token = std::getenv("TWILIO_AUTH_TOKEN")) flags->auth_token = token;
  cmd->add_option("url", flags->url, "Server base URL (http://127.0.0.1:8091) or the webhook URL")->required();
  cmd->add_option("-a,--audio", flags->audio_path, "What the caller says: 8000 Hz mono WAV (default: a test tone)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--auth-token", flags->auth_token, "Sign the webhook and stream (default: $TWILIO_AUTH_TOKEN)");
  cmd->add_option("--from", flags->from, "Caller number")->capture_default_str();
  cmd->add_option("--to", flags->to, "Called number")->capture_default_str();
  cmd->add_option("--record", flags->record_path, "Write what the caller heard to this WAV (mu-law 8 kHz)");
  cmd->add_option("--timeline", flags->timeline_path,
                  "Draw who spoke when, first audio, barge-ins and clears to this file (.html, or .svg)");
  cmd->add_option("--call-sid", flags->call_sid, "The call's CallSid (default: a new random one)")
      ->check([](const std::string& value) -> std::string {
        bool ok = value.size() == 34 && value.starts_with("CA") &&
                  std::all_of(value.begin() + 2, value.end(), [](char c) { return std::isxdigit(c); });
        return ok ? "" : "must be CA and 32 hex digits, as Twilio's are";
      });
  cmd->add_flag("--fast", flags->fast, "Send audio as fast as possible instead of in real time");
  cmd->add_option("--tail", flags->tail_s,
                  "Seconds to keep listening after the audio ends, instead of waiting for the reply to finish "
                  "(default with --fast: 2)")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--script", flags->script_path,
                  "A YAML list of caller steps (say, wait_reply, barge_in, dtmf, silence, hang_up); see "
                  "docs/call-simulator.md")
      ->check(CLI::ExistingFile)
      ->excludes("--audio");
  cmd->add_option("--reply-timeout", flags->reply_timeout_s,
                  "Seconds to wait for the assistant's reply to start before giving up (exit 3)")
      ->check(CLI::Range(0.5, 600.0))
      ->capture_default_str();
  cmd->add_option("--public-url", flags->public_url,
                  "Sign as Twilio would for a server whose PUBLIC_URL is this (https://host); requests still go to URL")
      ->check([](const std::string& value) -> std::string {
        auto url = ParseUrl(value);
        if (!url.ok() || (url->scheme != "https" && url->scheme != "http")) return "must be an https:// address";
        if (!url->target.empty() && url->target != "/") return "must be a base address without a path";
        return "";
      });
  cmd->add_option("--stream-delay", flags->stream_delay_s,
                  "Seconds between the webhook's answer and opening the stream (Twilio takes a few hundred ms)")
      ->check(CLI::Range(0.0, 30.0));
  cmd->add_option("--timeout", flags->timeout_s, "Give up on a call after this many seconds (default: audio + 30)")
      ->check(CLI::Range(0.0, 86400.0));
  cmd->add_option("--calls", flags->calls, "Concurrent calls (load test)")->check(CLI::Range(1, 100000));
  cmd->add_option("--ramp", flags->ramp_s, "Spread call starts over this many seconds (default 1 with --calls)")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->add_option("--server-pid", flags->server_pid, "Report this local process's CPU and memory (the server)");
  cmd->add_option("--expect-echo", flags->expect_echo,
                  "Echo lines: report the round trip, and fail unless the caller hears their own audio back (correlation at least this, e.g. 0.9)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("-q,--quiet", flags->quiet, "No timeline");
  cmd->add_option("--admin", flags->admin_url,
                  "The server's admin listener, for its own latency figures (default for a local server: "
                  "http://127.0.0.1:$ADMIN_PORT, 8099)");
  cmd->callback([flags, exit_code] { *exit_code = RunCalls(*flags); });
}

}  // namespace voxpipe::cli
