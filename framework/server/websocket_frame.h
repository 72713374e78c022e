// The WebSocket wire format (RFC 6455 §5) for both ends: frames parsed as
// they arrive into a buffer that is read into directly, the headers of what
// a server sends, and masked frames for what a client sends. No sockets
// here, so it can be tested and fuzzed alone
// (tests/framework/server/websocket_frame_test.cc,
// tests/fuzz/websocket_frames_fuzz.cc). The server (server_websocket.cc) and
// the client (framework/client/websocket_client.cc) share it.
//
// Clients must mask their frames and servers must not; nobody fragments
// control frames; extensions (RSV bits) are not negotiated, so any set RSV
// bit is an error.
// A message (one frame, or a fragmented one reassembled) larger than the
// limit is an error with close code 1009. Text is not checked for UTF-8:
// every consumer parses it (JSON) and rejects what it cannot read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace voxpipe::server {

enum class WebSocketOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes the server uses (RFC 6455 §7.4.1).
inline constexpr int kCloseNormal = 1000;
inline constexpr int kCloseGoingAway = 1001;
inline constexpr int kCloseProtocolError = 1002;
inline constexpr int kCloseUnsupportedData = 1003;
inline constexpr int kClosePolicyViolation = 1008;
inline constexpr int kCloseTooBig = 1009;
inline constexpr int kCloseInternalError = 1011;

// Reads frames from a client (the server's reader) or from a server (the
// client's). Typical use:
//   auto space = reader.Prepare();            // read up to space.size() bytes into it
//   reader.Commit(n);
//   while (auto event = reader.Next(); event.kind != Event::kNone) ...
// The data of an event stays valid until the next Prepare().
class WebSocketReader {
 public:
  struct Event {
    enum Kind { kNone, kText, kBinary, kPing, kPong, kClose, kError };
    Kind kind = kNone;
    std::string_view data;  // message, control payload, or the close reason
    int code = 0;           // kClose: the peer's code (1005 when none); kError: the code to close with
  };

  // Who sends the frames read: a client's must be masked, a server's must not.
  enum class From { kClient, kServer };

  explicit WebSocketReader(size_t max_message_bytes, size_t initial_buffer = 4096, From from = From::kClient);

  // Free space at the end of the buffer, at least `min_free` bytes. Moves
  // unparsed bytes to the front first, so views from Next() end here.
  uint8_t* Prepare(size_t min_free, size_t& available);
  void Commit(size_t bytes);

  // For one scatter read (recvmsg with both parts) that takes a whole
  // burst: the free space, at least `min_free`, then a spill buffer the
  // thread's readers share (so both calls are made on one thread, with no
  // other reader's in between). CommitScatter(n) copies what reached the
  // spill into this reader, so a burst costs one system call, not one per
  // buffer-full; GiveBackGrowth() once the socket is empty returns the
  // reader to its small first buffer.
  struct Part {
    uint8_t* data;
    size_t size;
  };
  std::array<Part, 2> PrepareScatter(size_t min_free);
  void CommitScatter(size_t bytes);
  static constexpr size_t kSpillBytes = 64 * 1024;

  // When everything read is parsed and no frame is half there, a buffer
  // grown past its first size goes back: calls are many, bursts brief.
  void GiveBackGrowth();

  // Bytes already received before the reader existed (after the HTTP
  // upgrade request, in the same read).
  void Append(std::string_view bytes);

  Event Next();

  // After an error, nothing more is parsed.
  bool failed() const { return failed_; }
  size_t buffer_capacity() const { return buffer_.size(); }

 private:
  Event Fail(int code, std::string_view why);

  size_t max_message_;
  bool masked_;  // whether frames carry a masking key
  size_t initial_;
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;  // first unparsed byte
  size_t end_ = 0;    // one past the last received byte
  size_t wanted_ = 0;  // bytes a frame that has begun needs in the buffer
  std::string fragments_;  // a fragmented message being reassembled
  std::string completed_;  // the last reassembled one, which an Event may show
  bool in_fragmented_ = false;
  bool fragmented_binary_ = false;
  bool failed_ = false;
};

// Writes the header of an unmasked (server-to-client) frame into `out`,
// which holds at least kMaxFrameHeader bytes; returns its length.
inline constexpr size_t kMaxFrameHeader = 10;
size_t WriteFrameHeader(WebSocketOpcode opcode, size_t payload_bytes, uint8_t* out);

// Appends a client-to-server frame to `out`: the header, `mask`, and the
// payload masked with it.
void AppendMaskedFrame(WebSocketOpcode opcode, std::string_view payload, uint32_t mask, std::string& out);

// The payload of a close frame: the code, big-endian, then the reason
// (cut to fit the 125-byte limit of control frames).
std::string ClosePayload(int code, std::string_view reason);

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2).
std::string WebSocketAcceptKey(std::string_view client_key);

}  // namespace voxpipe::server
