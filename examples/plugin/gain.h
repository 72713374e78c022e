// Gain: changes the loudness of PCM audio by a number of decibels, with
// saturation instead of wrap-around. An example of a processor that lives
// outside voxpipe's tree and is loaded as a plugin.
//
// Input:   PCM s16le, any rate.
// Output:  PCM s16le, same format. Other frames pass through.
// Options: db (gain in dB, default 0; negative is quieter).
//
// Example config:
//   plugins: [build/gain/libvoxpipe_gain.so]
//   pipeline:
//     - type: Gain
//       db: -6
#pragma once

#include <framework/options.h>
#include <framework/processor.h>
#include <framework/registry.h>

namespace example {

class Gain : public voxpipe::Processor {
 public:
  struct Options {
    double db = 0;
    static void Declare(voxpipe::Schema<Options>& s) {
      s.Field("db", &Options::db, "Gain in decibels (negative is quieter)").Range(-96, 48);
    }
  };
  static voxpipe::ProcessorDoc Doc();
  static voxpipe::Result<voxpipe::StreamFormat> Negotiate(const Options&, const voxpipe::StreamFormat& input);

  explicit Gain(const Options& options);
  void Process(voxpipe::Frame frame, voxpipe::Direction direction) override;

 private:
  double factor_;
};

}  // namespace example
