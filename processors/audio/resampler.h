// Resampler: changes the sample rate of PCM audio, streaming.
//
// Input:   PCM s16le (AudioFrame), any rate, mono or more channels.
// Output:  PCM s16le at `rate`. Other frames pass through.
// Options: rate (required, Hz); engine (fir: a polyphase FIR with about
//          3.5 ms of delay at phone rates, the default; soxr: libsoxr,
//          higher precision, 40-120 ms of block delay — see
//          common/polyphase_resampler.h); for soxr, quality
//          (quick|low|medium|high|very_high, default high) and phase
//          (linear|intermediate|minimum); on_interruption (reset: drop what
//          the filter holds of the interrupted audio, the default; keep:
//          carry on).
//
// A ratio the FIR cannot do with a practical filter (e.g. 44100 -> 8000)
// uses libsoxr.
//
// The filter state is kept from frame to frame (a fresh resampler per frame
// clicks), created for the first frame's rate and re-created, after a flush,
// if the rate changes. At the end of the stream (EndFrame) the filter's tail
// is flushed out before the EndFrame. Audio already at `rate` passes through.
//
// Example config:
//   - type: Resampler
//     rate: 16000
#pragma once

#include <memory>
#include <vector>

#include "framework/options.h"
#include "framework/processor.h"
#include "framework/registry.h"
#include "processors/audio/common/polyphase_resampler.h"

namespace voxpipe {

class Resampler : public Processor {
 public:
  struct Options {
    int rate = 0;
    std::string engine = "fir";
    std::string quality = "high";
    std::string phase = "linear";
    std::string on_interruption = "reset";
    static void Declare(Schema<Options>& s);
  };
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options& options, const StreamFormat& input);

  explicit Resampler(const Options& options);
  ~Resampler() override;
  void Process(Frame frame, Direction direction) override;
  void OnInterruption() override;
  void Close() override;

  // The filter's delay in output samples (0 before the first frame).
  double delay() const;

 private:
  struct Soxr;
  Status Configure(int input_rate, int channels);
  void Resample(const Frame& input, const AudioFrame& audio);
  void Flush(const Frame& cause);
  bool active() const { return fir_ || soxr_; }

  Options options_;
  std::unique_ptr<PolyphaseResampler> fir_;
  std::unique_ptr<Soxr> soxr_;
  int input_rate_ = 0;
  int channels_ = 0;
  std::vector<int16_t> scratch_;
};

}  // namespace voxpipe
