// StreamFormat: what audio flows on a link between two processors.
//
// Each processor type declares how its output format follows from its
// options and its input format (ProcessorType::negotiate, from the class's Negotiate); the pipeline
// builder walks the chain with it, so a wrong order is rejected before any
// frame flows, with the YAML line of the stage that cannot take its input.
#pragma once

#include <string>

namespace voxpipe {

struct StreamFormat {
  enum class Kind { kNone, kPcm16, kMulaw };
  Kind kind = Kind::kNone;
  int sample_rate = 0;  // 0 when not known until frames arrive
  int channels = 1;

  static StreamFormat None() { return {}; }
  static StreamFormat Pcm16(int rate, int channels = 1) { return {Kind::kPcm16, rate, channels}; }
  static StreamFormat Mulaw(int rate, int channels = 1) { return {Kind::kMulaw, rate, channels}; }

  bool is_audio() const { return kind != Kind::kNone; }
  bool operator==(const StreamFormat&) const = default;
  // "PCM s16le 16000 Hz mono", "mu-law 8000 Hz mono", "no audio".
  std::string ToString() const;
};

}  // namespace voxpipe
