#include "processors/audio/common/polyphase_resampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace voxpipe {
namespace {

constexpr double kAttenuationDb = 70;
constexpr double kPassbandFraction = 0.85;
constexpr size_t kMaxTaps = 1 << 16;

// Zeroth-order modified Bessel function of the first kind, for the Kaiser window.
double BesselI0(double x) {
  double sum = 1, term = 1;
  for (int k = 1; k < 50; ++k) {
    term *= (x / (2 * k)) * (x / (2 * k));
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

// The hot loop: one output sample. Compiled for AVX2+FMA as well as the
// baseline, chosen when the program starts by what the CPU has.
__attribute__((target_clones("arch=x86-64-v3", "default"))) float Dot(const float* a, const float* b, size_t n) {
  float acc = 0;
#pragma omp simd reduction(+ : acc)
  for (size_t k = 0; k < n; ++k) acc += a[k] * b[k];
  return acc;
}

}  // namespace

std::unique_ptr<PolyphaseResampler> PolyphaseResampler::Create(int input_rate, int output_rate, int channels) {
  if (input_rate <= 0 || output_rate <= 0 || channels <= 0) return nullptr;
  int g = std::gcd(input_rate, output_rate);
  int L = output_rate / g;
  int M = input_rate / g;
  double filter_rate = double(input_rate) * L;
  double nyquist = std::min(input_rate, output_rate) / 2.0;
  double transition = (1 - kPassbandFraction) * nyquist;
  double cutoff = nyquist - transition / 2;  // -6 dB point, mid-transition
  // Kaiser's estimates for the length and shape of the window.
  double delta_omega = 2 * M_PI * transition / filter_rate;
  size_t taps = static_cast<size_t>(std::ceil((kAttenuationDb - 7.95) / (2.285 * delta_omega))) | 1;  // odd
  if (taps > kMaxTaps) return nullptr;
  double beta = 0.1102 * (kAttenuationDb - 8.7);
  std::vector<float> h(taps);
  double center = (taps - 1) / 2.0;
  double i0_beta = BesselI0(beta);
  for (size_t n = 0; n < taps; ++n) {
    double t = (n - center) / filter_rate;
    double x = 2 * cutoff * t;
    double sinc = x == 0 ? 1 : std::sin(M_PI * x) / (M_PI * x);
    double r = (n - center) / center;
    double window = BesselI0(beta * std::sqrt(std::max(0.0, 1 - r * r))) / i0_beta;
    // Gain L makes up for the zeros inserted between input samples.
    h[n] = static_cast<float>(2 * cutoff / filter_rate * sinc * window * L);
  }
  return std::unique_ptr<PolyphaseResampler>(new PolyphaseResampler(L, M, channels, std::move(h)));
}

PolyphaseResampler::PolyphaseResampler(int interpolation, int decimation, int channels, std::vector<float> h)
    : interpolation_(interpolation),
      decimation_(decimation),
      channels_(channels),
      taps_per_phase_((h.size() + interpolation - 1) / interpolation),
      delay_(static_cast<int64_t>(h.size() - 1) / 2) {
  coefficients_.assign(size_t(interpolation_) * taps_per_phase_, 0.0f);
  for (int p = 0; p < interpolation_; ++p) {
    for (size_t k = 0; k < taps_per_phase_; ++k) {
      size_t n = p + k * interpolation_;
      // Reversed: index 0 multiplies the oldest sample of the window.
      coefficients_[p * taps_per_phase_ + (taps_per_phase_ - 1 - k)] = n < h.size() ? h[n] : 0.0f;
    }
  }
  history_.assign(channels_, {});
  Reset();
}

void PolyphaseResampler::Reset() {
  for (auto& h : history_) h.assign(taps_per_phase_ - 1, 0.0f);
  // Start at the group delay so that output sample 0 lines up with input sample 0.
  next_ = delay_;
  frames_in_ = 0;
  frames_out_ = 0;
}

void PolyphaseResampler::Process(std::span<const int16_t> input, std::vector<int16_t>& output) {
  size_t frames = input.size() / channels_;
  for (int c = 0; c < channels_; ++c) {
    auto& h = history_[c];
    size_t base = h.size();
    h.resize(base + frames);
    for (size_t i = 0; i < frames; ++i) h[base + i] = input[i * channels_ + c];
  }
  frames_in_ += frames;
  Run(frames, output);
}

void PolyphaseResampler::Run(size_t frames, std::vector<int16_t>& output) {
  const int64_t limit = int64_t(frames) * interpolation_;
  const size_t K = taps_per_phase_;
  size_t count = next_ < limit ? size_t((limit - next_ + decimation_ - 1) / decimation_) : 0;
  size_t start = output.size();
  output.resize(start + count * channels_);
  // Walk the filter-rate position in (input sample, phase) steps; a 64-bit
  // division per output sample would cost more than its dot product.
  int64_t n = next_ / interpolation_;  // newest input sample in the window
  int p = int(next_ % interpolation_);
  const int64_t step_samples = decimation_ / interpolation_;
  const int step_phase = decimation_ % interpolation_;
  for (size_t t = 0; t < count; ++t) {
    const float* coefficients = &coefficients_[size_t(p) * K];
    for (int c = 0; c < channels_; ++c) {
      const float* x = &history_[c][size_t(n)];  // window [n - K + 1, n], shifted by the K - 1 history
      float acc = Dot(coefficients, x, K);
      output[start + t * channels_ + c] = static_cast<int16_t>(std::clamp(std::lround(acc), -32768L, 32767L));
    }
    n += step_samples;
    p += step_phase;
    if (p >= interpolation_) {
      p -= interpolation_;
      ++n;
    }
  }
  int64_t position = n * interpolation_ + p;
  next_ = position - limit;
  frames_out_ += count;
  for (auto& h : history_) h.erase(h.begin(), h.end() - (K - 1));
}

void PolyphaseResampler::Flush(std::vector<int16_t>& output) {
  uint64_t wanted = (frames_in_ * interpolation_ + decimation_ / 2) / decimation_;
  // Zeros push the filter's tail out; then trim to the aligned length.
  size_t padding = size_t(delay_ / interpolation_) + taps_per_phase_ + 1;
  size_t start = output.size();
  uint64_t before = frames_out_;
  for (auto& h : history_) h.insert(h.end(), padding, 0.0f);
  Run(padding, output);
  uint64_t keep = wanted > before ? wanted - before : 0;
  output.resize(start + std::min<uint64_t>(keep, frames_out_ - before) * channels_);
  Reset();
}

}  // namespace voxpipe
