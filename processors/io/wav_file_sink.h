// WavFileSink: writes the audio it receives to a WAV file, in its format.
//
// Input:   PCM s16le (AudioFrame) or mu-law (EncodedAudioFrame), any rate.
// Output:  no audio; other frames pass through.
// Options: path (required; created or overwritten).
//
// The file is created when the pipeline opens (when the input rate is known
// then) or on the first audio frame, and finalised when the pipeline closes.
// Audio at another rate or encoding than the first is refused with a
// non-fatal error.
//
// Example config:
//   - type: WavFileSink
//     path: caller_heard.wav
#pragma once

#include <memory>

#include "framework/options.h"
#include "framework/processor.h"
#include "framework/registry.h"
#include "framework/audio/wav_file.h"

namespace voxpipe {

class WavFileSink : public Processor {
 public:
  struct Options {
    std::string path;
    static void Declare(Schema<Options>& s);
  };
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options& options, const StreamFormat& input);

  explicit WavFileSink(const Options& options) : options_(options) {}
  Status Open() override;
  void Process(Frame frame, Direction direction) override;
  void Close() override;

 private:
  Status EnsureWriter(const StreamFormat& format);

  Options options_;
  std::unique_ptr<wav::Writer> writer_;
  bool reported_mismatch_ = false;
};

}  // namespace voxpipe
