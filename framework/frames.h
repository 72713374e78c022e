// Frames: the typed values that flow through a pipeline.
//
// A Frame is a small value (a std::variant of the kinds below) moved from one
// processor to the next by function call. Frames travel downstream (towards
// the caller's ear: media, transcripts, end of call) or upstream (errors,
// acknowledgements, requests for the transport).
//
// Kinds and how an interruption treats them:
//   data     AudioFrame, EncodedAudioFrame, TextFrame, TranscriptionFrame,
//            DtmfFrame, ToolCallFrame, ToolResultFrame, MarkFrame
//            — buffered data of these kinds is dropped on interruption.
//   control  StartFrame, EndFrame, EndOfTurnFrame, CallControlFrame
//            — kept through an interruption, in order.
//   system   CancelFrame, InterruptionFrame, ErrorFrame, MetricsFrame
//            — never buffered, never dropped; handled as they arrive.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace voxpipe {

using Clock = std::chrono::steady_clock;

enum class Direction { kDownstream, kUpstream };

inline std::string_view DirectionName(Direction d) {
  return d == Direction::kDownstream ? "downstream" : "upstream";
}

enum class AudioEncoding { kMulaw };

// PCM, signed 16-bit little-endian, interleaved.
struct AudioFrame {
  int sample_rate = 0;
  int channels = 1;
  std::vector<int16_t> samples;

  std::chrono::microseconds duration() const {
    if (sample_rate <= 0 || channels <= 0) return {};
    return std::chrono::microseconds(int64_t(samples.size() / channels) * 1'000'000 / sample_rate);
  }
};

// Compressed audio, e.g. G.711 mu-law as it arrives from a phone network.
struct EncodedAudioFrame {
  AudioEncoding encoding = AudioEncoding::kMulaw;
  int sample_rate = 8000;
  int channels = 1;
  std::vector<uint8_t> bytes;
};

struct TextFrame {
  std::string text;
};

struct TranscriptionFrame {
  enum class Speaker { kUser, kBot };
  Speaker speaker = Speaker::kUser;
  std::string text;
  bool final = false;
};

struct DtmfFrame {
  char digit = 0;
};

struct ToolCallFrame {
  std::string id;
  std::string name;
  nlohmann::json arguments;
  std::string handler;  // what runs it ("knowledge", "take_message", "http"...), for records
};

struct ToolResultFrame {
  std::string id;
  std::string name;
  nlohmann::json result;  // {"output": ...} or {"error": "..."}
  std::string handler;
};

// A position in the outgoing audio. Downstream: "tell me when the caller has
// heard everything before this point". Upstream: the acknowledgement, with
// `cleared` set when the audio was discarded by an interruption instead.
struct MarkFrame {
  std::string name;
  bool cleared = false;
};

// Opens a pipeline instance; carries what is known about the call.
struct StartFrame {
  std::string call_id;
  std::map<std::string, std::string> metadata;
};

// Graceful end: finish what is queued, then stop. `reason` is for logs.
struct EndFrame {
  std::string reason;
};

// The model (or another producer) finished a turn.
struct EndOfTurnFrame {
  bool interrupted = false;
};

// A request to the telephony transport beyond audio: hang up or transfer.
struct CallControlFrame {
  enum class Action { kHangup, kTransfer };
  Action action = Action::kHangup;
  std::string target;  // phone number or SIP URI for kTransfer
  std::string message; // optional words to say before transferring
};

// Immediate stop: drop everything, close.
struct CancelFrame {
  std::string reason;
};

// Barge-in: the caller spoke over the bot. Buffered outgoing media is dropped.
struct InterruptionFrame {};

struct ErrorFrame {
  std::string message;
  bool fatal = false;
  std::string source;  // processor instance that raised it; filled by the engine
};

struct MetricsFrame {
  std::string source;
  std::map<std::string, double> values;
};

using FrameBody = std::variant<AudioFrame, EncodedAudioFrame, TextFrame, TranscriptionFrame, DtmfFrame,
                               ToolCallFrame, ToolResultFrame, MarkFrame, StartFrame, EndFrame,
                               EndOfTurnFrame, CallControlFrame, CancelFrame, InterruptionFrame,
                               ErrorFrame, MetricsFrame>;

struct Frame {
  Frame() = default;
  // The body built in place from one of its kinds (no variant moved).
  template <typename T>
  Frame(std::in_place_t, T&& kind, Clock::time_point ingress, uint64_t id)
      : body(std::forward<T>(kind)), ingress(ingress), id(id) {}
  Frame(Frame&&) noexcept = default;
  Frame& operator=(Frame&&) noexcept = default;
  Frame(const Frame&) = default;
  Frame& operator=(const Frame&) = default;
  // Gives an audio frame's samples or bytes to the thread's BufferPool.
  // Inline: a frame is moved through every stage, and the moved-from
  // frames left behind have nothing to give.
  ~Frame() {
    if (auto* audio = std::get_if<AudioFrame>(&body); audio && audio->samples.capacity() > 0) {
      GiveBuffer(audio->samples);
    } else if (auto* encoded = std::get_if<EncodedAudioFrame>(&body); encoded && encoded->bytes.capacity() > 0) {
      GiveBuffer(encoded->bytes);
    }
  }

  FrameBody body;
  // When the oldest input this frame derives from entered the process; used
  // for latency figures. Producers that create frames from the network set it;
  // transformers carry it over with Derive().
  Clock::time_point ingress{};
  // Identifies a frame across parallel branches so the merge point can drop
  // the copies; fresh for every frame made by Make.
  uint64_t id = 0;

  template <typename T>
  static Frame Make(T body, Clock::time_point ingress = {}) {
    return Frame(std::in_place, std::move(body), ingress, NextId());
  }
  // A new frame produced from `input`, keeping its ingress time.
  template <typename T>
  static Frame Derive(const Frame& input, T body) {
    return Frame(std::in_place, std::move(body), input.ingress, NextId());
  }

  template <typename T>
  bool Is() const { return std::holds_alternative<T>(body); }
  template <typename T>
  T* As() { return std::get_if<T>(&body); }
  template <typename T>
  const T* As() const { return std::get_if<T>(&body); }

  std::string_view name() const;

 private:
  static uint64_t NextId();
  static void GiveBuffer(std::vector<int16_t>& samples);
  static void GiveBuffer(std::vector<uint8_t>& bytes);
};

// One-line description for logs and tests ("AudioFrame(16000 Hz, 320 samples)").
std::string Describe(const Frame& frame);

}  // namespace voxpipe
