#include "framework/frames.h"

#include <atomic>

#include <fmt/format.h>

#include "framework/buffer_pool.h"

namespace voxpipe {
namespace {

constexpr std::string_view kNames[] = {
    "AudioFrame",   "EncodedAudioFrame", "TextFrame",      "TranscriptionFrame", "DtmfFrame",
    "ToolCallFrame", "ToolResultFrame",  "MarkFrame",      "StartFrame",         "EndFrame",
    "EndOfTurnFrame", "CallControlFrame", "CancelFrame",   "InterruptionFrame",  "ErrorFrame",
    "MetricsFrame",
};
static_assert(std::size(kNames) == std::variant_size_v<FrameBody>);

}  // namespace

// Ids are unique across threads without a shared counter on the per-frame
// path: each thread counts in a range of its own (2^44 ids a thread).
uint64_t Frame::NextId() {
  static std::atomic<uint64_t> threads{0};
  thread_local uint64_t next = (threads.fetch_add(1, std::memory_order_relaxed) << 44) + 1;
  return next++;
}

void Frame::GiveBuffer(std::vector<int16_t>& samples) { BufferPool<int16_t>::Give(samples); }
void Frame::GiveBuffer(std::vector<uint8_t>& bytes) { BufferPool<uint8_t>::Give(bytes); }

std::string_view Frame::name() const { return kNames[body.index()]; }

std::string Describe(const Frame& frame) {
  struct Visitor {
    std::string operator()(const AudioFrame& f) const {
      return fmt::format("AudioFrame({} Hz, {} ch, {} samples)", f.sample_rate, f.channels, f.samples.size());
    }
    std::string operator()(const EncodedAudioFrame& f) const {
      return fmt::format("EncodedAudioFrame(mulaw, {} Hz, {} bytes)", f.sample_rate, f.bytes.size());
    }
    std::string operator()(const TextFrame& f) const { return fmt::format("TextFrame(\"{}\")", f.text); }
    std::string operator()(const TranscriptionFrame& f) const {
      return fmt::format("TranscriptionFrame({}, {}, \"{}\")",
                         f.speaker == TranscriptionFrame::Speaker::kUser ? "user" : "bot",
                         f.final ? "final" : "partial", f.text);
    }
    std::string operator()(const DtmfFrame& f) const { return fmt::format("DtmfFrame({})", f.digit); }
    std::string operator()(const ToolCallFrame& f) const {
      return fmt::format("ToolCallFrame({}, {}, {})", f.id, f.name, f.arguments.dump());
    }
    std::string operator()(const ToolResultFrame& f) const {
      return fmt::format("ToolResultFrame({}, {}, {})", f.id, f.name, f.result.dump());
    }
    std::string operator()(const MarkFrame& f) const {
      return fmt::format("MarkFrame({}{})", f.name, f.cleared ? ", cleared" : "");
    }
    std::string operator()(const StartFrame& f) const { return fmt::format("StartFrame({})", f.call_id); }
    std::string operator()(const EndFrame& f) const { return fmt::format("EndFrame({})", f.reason); }
    std::string operator()(const EndOfTurnFrame& f) const {
      return fmt::format("EndOfTurnFrame({})", f.interrupted ? "interrupted" : "complete");
    }
    std::string operator()(const CallControlFrame& f) const {
      return f.action == CallControlFrame::Action::kHangup ? "CallControlFrame(hangup)"
                                                           : fmt::format("CallControlFrame(transfer {})", f.target);
    }
    std::string operator()(const CancelFrame& f) const { return fmt::format("CancelFrame({})", f.reason); }
    std::string operator()(const InterruptionFrame&) const { return "InterruptionFrame"; }
    std::string operator()(const ErrorFrame& f) const {
      return fmt::format("ErrorFrame({}{}: {})", f.fatal ? "fatal, " : "", f.source, f.message);
    }
    std::string operator()(const MetricsFrame& f) const {
      return fmt::format("MetricsFrame({}, {} values)", f.source, f.values.size());
    }
  };
  return std::visit(Visitor{}, frame.body);
}

}  // namespace voxpipe
