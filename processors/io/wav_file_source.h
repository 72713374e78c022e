// WavFileSource: plays a WAV file into the pipeline, then ends it.
//
// Input:   nothing (a source; it starts on the StartFrame).
// Output:  the file's audio in `frame`-long frames: PCM s16le (AudioFrame) for
//          16-bit PCM files, mu-law (EncodedAudioFrame) for mu-law files, at
//          the file's rate. After the file (and `pad_end` of silence) an
//          EndFrame, unless `end` is false.
// Options: path (required; relative to the working directory), realtime
//          (pace at the audio's own speed, default false: as fast as the
//          pipeline takes it, yielding between frames), frame (default 20ms),
//          pad_end (silence appended, default 0ms), end (default true).
//
// Example config:
//   - type: WavFileSource
//     path: tests/data/audio/caller_visiting_hours_8k_mulaw.wav
//     realtime: true
#pragma once

#include <boost/asio/steady_timer.hpp>

#include "framework/options.h"
#include "framework/processor.h"
#include "framework/registry.h"
#include "framework/audio/wav_file.h"

namespace voxpipe {

class WavFileSource : public Processor {
 public:
  struct Options {
    std::string path;
    bool realtime = false;
    std::chrono::milliseconds frame{20};
    std::chrono::milliseconds pad_end{0};
    bool end = true;
    static void Declare(Schema<Options>& s);
  };
  static ProcessorDoc Doc();
  static Result<StreamFormat> Negotiate(const Options& options, const StreamFormat& input);

  explicit WavFileSource(const Options& options) : options_(options) {}
  Status Open() override;
  void Process(Frame frame, Direction direction) override;
  void Close() override;

 private:
  void ScheduleNext();
  void PushNext();
  size_t total_samples() const;

  Options options_;
  wav::Audio audio_;
  size_t frame_samples_ = 0;
  size_t position_ = 0;  // in samples, including padding
  size_t padding_samples_ = 0;
  Clock::time_point started_;
  uint64_t frames_sent_ = 0;
  std::optional<boost::asio::steady_timer> timer_;
  bool running_ = false;
};

}  // namespace voxpipe
