#include "framework/metrics.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

namespace voxpipe {

MetricHistogram::MetricHistogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (auto& shard : shards_) {
    shard.buckets.reset(new std::atomic<uint64_t>[bounds_.size() + 1]);
    for (size_t i = 0; i <= bounds_.size(); ++i) shard.buckets[i].store(0, std::memory_order_relaxed);
  }
}

void MetricHistogram::Observe(double value) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  Shard& shard = shards_[metrics_detail::ShardIndex()];
  shard.buckets[i].fetch_add(1, std::memory_order_relaxed);
  double old = shard.sum.load(std::memory_order_relaxed);
  while (!shard.sum.compare_exchange_weak(old, old + value, std::memory_order_relaxed)) {
  }
}

std::vector<uint64_t> MetricHistogram::counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (const auto& shard : shards_) {
    for (size_t i = 0; i < out.size(); ++i) out[i] += shard.buckets[i].load(std::memory_order_relaxed);
  }
  return out;
}

uint64_t MetricHistogram::count() const {
  uint64_t total = 0;
  for (uint64_t c : counts()) total += c;
  return total;
}

double MetricHistogram::sum() const {
  double total = 0;
  for (const auto& shard : shards_) total += shard.sum.load(std::memory_order_relaxed);
  return total;
}

std::vector<double> LatencyBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0};
}

Metrics& Metrics::Global() {
  static Metrics* metrics = new Metrics();  // never destroyed: metrics outlive every static user
  return *metrics;
}

Metrics::Series& Metrics::Get(const std::string& name, const std::string& help, Kind kind, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = families_.try_emplace(name, Family{kind, help, {}});
  assert(it->second.kind == kind && "one metric name, one kind");
  for (auto& s : it->second.series) {
    if (s->labels == labels) return *s;
  }
  auto series = std::make_unique<Series>();
  series->labels = labels;
  it->second.series.push_back(std::move(series));
  return *it->second.series.back();
}

MetricCounter& Metrics::Counter(const std::string& name, const std::string& help, const Labels& labels) {
  auto& s = Get(name, help, Kind::kCounter, labels);
  std::lock_guard lock(mutex_);
  if (!s.counter) s.counter = std::make_unique<MetricCounter>();
  return *s.counter;
}

MetricGauge& Metrics::Gauge(const std::string& name, const std::string& help, const Labels& labels) {
  auto& s = Get(name, help, Kind::kGauge, labels);
  std::lock_guard lock(mutex_);
  if (!s.gauge) s.gauge = std::make_unique<MetricGauge>();
  return *s.gauge;
}

MetricHistogram& Metrics::Histogram(const std::string& name, const std::string& help, const Labels& labels,
                                    std::vector<double> bounds) {
  auto& s = Get(name, help, Kind::kHistogram, labels);
  std::lock_guard lock(mutex_);
  if (!s.histogram) s.histogram = std::make_unique<MetricHistogram>(std::move(bounds));
  return *s.histogram;
}

namespace {

std::string EscapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// `{a="1",b="2"}` with `extra` appended, or "" when there are no labels.
std::string FormatLabels(const Metrics::Labels& labels, const std::string& extra = "") {
  std::string out;
  for (const auto& [k, v] : labels) out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", k, EscapeLabel(v));
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

std::string Metrics::RenderText() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.kind == Kind::kCounter ? "counter" : family.kind == Kind::kGauge ? "gauge" : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, family.help, name, type);
    for (const auto& s : family.series) {
      if (s->counter) out += fmt::format("{}{} {}\n", name, FormatLabels(s->labels), s->counter->value());
      if (s->gauge) out += fmt::format("{}{} {}\n", name, FormatLabels(s->labels), s->gauge->value());
      if (s->histogram) {
        auto counts = s->histogram->counts();
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          std::string le = i < s->histogram->bounds().size() ? fmt::format("{}", s->histogram->bounds()[i]) : "+Inf";
          out += fmt::format("{}_bucket{} {}\n", name, FormatLabels(s->labels, "le=\"" + le + "\""), cumulative);
        }
        out += fmt::format("{}_sum{} {}\n", name, FormatLabels(s->labels), s->histogram->sum());
        out += fmt::format("{}_count{} {}\n", name, FormatLabels(s->labels), cumulative);
      }
    }
  }
  return out;
}

}  // namespace voxpipe
