#include "framework/stream_format.h"

#include <fmt/format.h>

namespace voxpipe {

std::string StreamFormat::ToString() const {
  if (kind == Kind::kNone) return "no audio";
  std::string rate = sample_rate > 0 ? fmt::format("{} Hz", sample_rate) : "any rate";
  std::string layout = channels == 1 ? "mono" : fmt::format("{} channels", channels);
  return fmt::format("{} {} {}", kind == Kind::kPcm16 ? "PCM s16le" : "mu-law", rate, layout);
}

}  // namespace voxpipe
