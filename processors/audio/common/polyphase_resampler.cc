#include "processors/audio/common/polyphase_resampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

// Compiled for AVX2+FMA as well as the baseline, chosen when the program
// starts by what the CPU has (an ifunc). Not under ThreadSanitizer: an ifunc
// resolver runs while the program is relocated, before TSan's runtime is up,
// and its instrumented code crashes there.
#if defined(__SANITIZE_THREAD__)
#define VOXPIPE_CLONES_FOR_AVX2
#else
#define VOXPIPE_CLONES_FOR_AVX2 __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif

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

// Eight floats: one AVX register, or a pair of SSE registers on the baseline.
// The helpers that pass them are always inlined, so GCC's note that such
// arguments are passed differently without AVX concerns no real call.
#pragma GCC diagnostic ignored "-Wpsabi"
constexpr size_t kLanes = 8;
using Floats = float __attribute__((vector_size(kLanes * sizeof(float))));
using Ints = int32_t __attribute__((vector_size(kLanes * sizeof(int32_t))));
using Shorts = int16_t __attribute__((vector_size(kLanes * sizeof(int16_t))));

[[gnu::always_inline]] inline Floats Load(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// [a0+a1, a2+a3, b0+b1, b2+b3 | a4+a5, a6+a7, b4+b5, b6+b7], AVX's hadd.
[[gnu::always_inline]] inline Floats PairSums(const Floats& a, const Floats& b) {
  return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) +
         __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
}

// Output samples that use one polyphase branch, on windows `stride` inputs
// apart: each coefficient load serves every row.
struct SharedBranch {
  const float* coefficients;
  const float* window;
  size_t stride;
  float* sums;
  size_t sums_stride;
  const float* branch(int) const { return coefficients; }
  const float* input(int r) const { return window + r * stride; }
  float* sum(int r) const { return sums + r * sums_stride; }
};

// Output samples gathered from different branches.
struct Gathered {
  struct Row {
    const float* branch;
    const float* input;
    float* sum;
  };
  const Row* rows;
  const float* branch(int r) const { return rows[r].branch; }
  const float* input(int r) const { return rows[r].input; }
  float* sum(int r) const { return rows[r].sum; }
};

// kRows dot products at once, each keeping its partial sums in lanes until one
// transposed reduction at the end: a dot product per output would spend more
// on its horizontal sum than on its multiplies, and would wait on one chain of
// additions.
template <int kRows, typename Rows>
[[gnu::always_inline]] inline void Dot(const Rows& rows, size_t taps) {
  static_assert(kRows <= int(kLanes), "one lane of the reduction per row");
  Floats acc[kLanes] = {};  // rows past kRows stay zero
  for (size_t k = 0; k < taps; k += kLanes) {
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) acc[r] += Load(rows.branch(r) + k) * Load(rows.input(r) + k);
  }
  Floats low = PairSums(PairSums(acc[0], acc[1]), PairSums(acc[2], acc[3]));
  Floats high = PairSums(PairSums(acc[4], acc[5]), PairSums(acc[6], acc[7]));
  Floats total = __builtin_shufflevector(low, high, 0, 1, 2, 3, 8, 9, 10, 11) +
                 __builtin_shufflevector(low, high, 4, 5, 6, 7, 12, 13, 14, 15);
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) *rows.sum(r) = total[r];
}

// One channel's block: sums[t * sums_stride] for outputs t in [0, count), the
// first at filter-rate position `first` from the window at x. Outputs t and
// t + L use the same branch on windows M inputs apart, so they go eight at a
// time; the rest (all of them when a block has fewer than eight outputs per
// branch, as at 44.1 -> 48 kHz) are batched across branches. Compiled for
// AVX2+FMA as well as the baseline, chosen when the program starts by what the
// CPU has.
VOXPIPE_CLONES_FOR_AVX2 void Filter(const float* coefficients, size_t taps,
                                                                        int L, int M, const float* x, int64_t first,
                                                                        size_t count, float* sums,
                                                                        size_t sums_stride) {
  Gathered::Row pending[8];
  int waiting = 0;
  for (size_t t0 = 0; t0 < std::min(size_t(L), count); ++t0) {
    int64_t position = first + int64_t(t0) * M;
    SharedBranch shared{coefficients + size_t(position % L) * taps, x + position / L, size_t(M),
                        sums + t0 * sums_stride, size_t(L) * sums_stride};
    const size_t rows = (count - t0 + L - 1) / L;
    size_t r = 0;
    for (; r + 8 <= rows; r += 8) {
      Dot<8>(shared, taps);
      shared.window += 8 * shared.stride;
      shared.sums += 8 * shared.sums_stride;
    }
    for (; r < rows; ++r) {
      pending[waiting++] = {shared.coefficients, shared.window, shared.sums};
      shared.window += shared.stride;
      shared.sums += shared.sums_stride;
      if (waiting == 8) {
        Dot<8>(Gathered{pending}, taps);
        waiting = 0;
      }
    }
  }
  int done = 0;
  if (waiting - done >= 4) {
    Dot<4>(Gathered{pending + done}, taps);
    done += 4;
  }
  if (waiting - done >= 2) {
    Dot<2>(Gathered{pending + done}, taps);
    done += 2;
  }
  if (waiting > done) Dot<1>(Gathered{pending + done}, taps);
}

// Rounds half away from zero (as lround does) and saturates. Adding just
// under one half before truncating is exact in float over this range.
[[gnu::always_inline]] inline Shorts RoundToPcm(const Floats& sums) {
  constexpr float kJustUnderHalf = 0.49999997f;
  Floats v = sums < -32768.0f ? Floats{} - 32768.0f : sums;
  v = v > 32767.0f ? Floats{} + 32767.0f : v;
  v += v < 0 ? Floats{} - kJustUnderHalf : Floats{} + kJustUnderHalf;
  return __builtin_convertvector(__builtin_convertvector(v, Ints), Shorts);
}

// One block's sums to 16-bit samples.
VOXPIPE_CLONES_FOR_AVX2 void ToPcm(const float* in, size_t n, int16_t* out) {
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    Shorts pcm = RoundToPcm(Load(in + i));
    std::memcpy(out + i, &pcm, sizeof pcm);
  }
  if (i < n) {
    Floats rest = {};
    std::memcpy(&rest, in + i, (n - i) * sizeof(float));
    Shorts pcm = RoundToPcm(rest);
    std::memcpy(out + i, &pcm, (n - i) * sizeof(int16_t));
  }
}

// One channel of interleaved 16-bit samples to floats.
VOXPIPE_CLONES_FOR_AVX2 void ToFloats(const int16_t* in, size_t channels,
                                                                          size_t n, float* out) {
  size_t i = 0;
  if (channels == 1) {
    for (; i + kLanes <= n; i += kLanes) {
      Shorts pcm;
      std::memcpy(&pcm, in + i, sizeof pcm);
      Floats v = __builtin_convertvector(pcm, Floats);
      std::memcpy(out + i, &v, sizeof v);
    }
  }
  for (; i < n; ++i) out[i] = in[i * channels];
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
      taps_(h.size()),
      taps_per_phase_(((h.size() + interpolation - 1) / interpolation + kLanes - 1) / kLanes * kLanes),
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

std::vector<float> PolyphaseResampler::impulse_response() const {
  std::vector<float> h(taps_);
  for (size_t n = 0; n < taps_; ++n) {
    size_t p = n % interpolation_, k = n / interpolation_;
    h[n] = coefficients_[p * taps_per_phase_ + (taps_per_phase_ - 1 - k)];
  }
  return h;
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
    ToFloats(input.data() + c, channels_, frames, h.data() + base);
  }
  frames_in_ += frames;
  Run(frames, output);
}

void PolyphaseResampler::Run(size_t frames, std::vector<int16_t>& output) {
  const int64_t limit = int64_t(frames) * interpolation_;
  size_t count = next_ < limit ? size_t((limit - next_ + decimation_ - 1) / decimation_) : 0;
  sums_.resize(count * channels_);
  for (int c = 0; c < channels_; ++c) {
    Filter(coefficients_.data(), taps_per_phase_, interpolation_, decimation_, history_[c].data(), next_, count,
           sums_.data() + c, channels_);
  }
  size_t start = output.size();
  output.resize(start + sums_.size());
  ToPcm(sums_.data(), sums_.size(), output.data() + start);
  next_ += int64_t(count) * decimation_ - limit;
  frames_out_ += count;
  for (auto& h : history_) h.erase(h.begin(), h.end() - (taps_per_phase_ - 1));
}

void PolyphaseResampler::Flush(std::vector<int16_t>& output) {
  uint64_t wanted = (frames_in_ * interpolation_ + decimation_ / 2) / decimation_;
  // Zeros push the filter's tail out; then trim to the aligned length.
  size_t padding = size_t(delay_ / interpolation_) + (taps_ + interpolation_ - 1) / interpolation_ + 1;
  size_t start = output.size();
  uint64_t before = frames_out_;
  for (auto& h : history_) h.insert(h.end(), padding, 0.0f);
  Run(padding, output);
  uint64_t keep = wanted > before ? wanted - before : 0;
  output.resize(start + std::min<uint64_t>(keep, frames_out_ - before) * channels_);
  Reset();
}

}  // namespace voxpipe
