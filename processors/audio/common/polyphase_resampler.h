// A streaming polyphase FIR resampler for rational rate ratios, built for a
// phone line's latency budget.
//
// libsoxr processes in DFT blocks: at 8 -> 16 kHz and 24 -> 8 kHz its output
// trails the input by 40-120 ms (measured; see docs/performance.md), most of
// it block buffering, not filter delay. This filter produces output for every
// input sample it gets, with only its group delay (about 3.5 ms at the phone
// rates): a Kaiser-windowed sinc, passband to 85% of the lower Nyquist
// frequency, stopband from the lower Nyquist frequency at -70 dB.
//
// Output is aligned with the input (the group delay is skipped at the start
// and made up by Flush()), like soxr's, so the total count is
// round(input * out / in).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace voxpipe {

class PolyphaseResampler {
 public:
  // Null when the ratio needs an impractically long filter (e.g. 48 kHz to
  // 44.099 kHz has 44099/48000 and would need millions of taps; 44.1 kHz to
  // 8 kHz, 80/441, takes 25k).
  static std::unique_ptr<PolyphaseResampler> Create(int input_rate, int output_rate, int channels);

  // Appends the output for `input` (interleaved) to `output`.
  void Process(std::span<const int16_t> input, std::vector<int16_t>& output);
  // Appends the remaining output, then resets for a new stream.
  void Flush(std::vector<int16_t>& output);
  // Forgets the signal so far (e.g. on interruption).
  void Reset();

  // Group delay in output samples (per channel).
  double delay() const { return double(delay_) / decimation_; }
  size_t taps() const { return taps_; }
  // The filter's taps in time order, at the filter rate (input rate * L).
  std::vector<float> impulse_response() const;

 private:
  PolyphaseResampler(int interpolation, int decimation, int channels, std::vector<float> coefficients);
  void Run(size_t frames, std::vector<int16_t>& output);

  int interpolation_;  // L
  int decimation_;     // M
  int channels_;
  size_t taps_;            // N, the filter's length at the filter rate
  size_t taps_per_phase_;  // ceil(N / L), rounded up to whole 8-float vectors
  int64_t delay_;          // (N - 1) / 2, at the filter's rate
  // Phase-major: coefficients_[p * taps_per_phase_ + k] = h[p + k * L], reversed
  // in k so the inner loop walks history forwards; the padding is zeros at the
  // oldest end.
  std::vector<float> coefficients_;
  // Per channel: the last taps_per_phase_ - 1 inputs, then the current block.
  std::vector<std::vector<float>> history_;
  std::vector<float> sums_;  // one block's output before rounding, interleaved
  int64_t next_ = 0;            // filter-rate index of the next output, relative to the block start
  uint64_t frames_in_ = 0;      // input frames since the last reset
  uint64_t frames_out_ = 0;     // output frames since the last reset
};

}  // namespace voxpipe
