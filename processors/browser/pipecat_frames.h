// The wire format of Pipecat's browser client: one protobuf `pipecat.Frame`
// per binary WebSocket message (reference/pipecat-websocket-protocol.md §1).
//
// A hand-written codec for the messages of pipecat.proto (a copy of
// Pipecat's frames.proto, next to this file), not protoc
// output: the schema is six small messages, we decode only what a client
// sends (audio, message; text and transcription for completeness) and
// encode only audio and message. About 150 lines against a generated
// library, a protobuf runtime dependency and its arena; and every bound is
// ours to see: varints of at most 10 bytes, lengths checked against what
// is left, groups refused, unknown fields of the other wire types skipped
// unparsed as proto3 says (so nothing nests deeper than Frame's member). Decoded strings and bytes are views into
// the message (valid while it is).
//
//   message Frame { oneof frame { TextFrame text = 1; AudioRawFrame audio = 2;
//     TranscriptionFrame transcription = 3; MessageFrame message = 4;
//     InterruptionFrame interruption = 5; } }
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace voxpipe::browser {

struct PipecatFrame {
  enum class Kind { kNone, kText, kAudio, kTranscription, kMessage, kInterruption };
  Kind kind = Kind::kNone;
  std::string_view text;   // TextFrame.text, TranscriptionFrame.text, MessageFrame.data
  std::string_view audio;  // AudioRawFrame.audio: PCM16 little-endian
  uint32_t sample_rate = 0;
  uint32_t num_channels = 0;
  std::string_view user_id;    // TranscriptionFrame
  std::string_view timestamp;  // TranscriptionFrame
};

// Decodes one message into `frame`. False with `error` set when it is not a
// well-formed pipecat.Frame. With several oneof members the last wins, as in
// protobuf.
bool DecodePipecatFrame(std::string_view bytes, PipecatFrame& frame, std::string& error);

// Appends a Frame{audio: AudioRawFrame{name:"audio", audio, sample_rate,
// num_channels}} to `out`.
void EncodePipecatAudio(std::string& out, std::span<const int16_t> samples, uint32_t sample_rate,
                        uint32_t num_channels);
// Appends a Frame{message: MessageFrame{data: json}} to `out`.
void EncodePipecatMessage(std::string& out, std::string_view json);

}  // namespace voxpipe::browser
