#include "framework/server/websocket_frame.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace voxpipe::server {
namespace {

constexpr size_t kMaskBytes = 4;
constexpr size_t kMaxClientHeader = kMaxFrameHeader + kMaskBytes;

bool IsValidCloseCode(int code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

// dst = src XOR the repeating 4-byte mask, 16 bytes a step (SSE2, the
// baseline); dst may be src. Every message in either direction of a call
// goes through here once.
void MaskCopy(uint8_t* dst, const uint8_t* src, size_t n, const uint8_t* mask) {
  using Block = uint8_t __attribute__((vector_size(16)));
  using Words = uint32_t __attribute__((vector_size(16)));
  uint32_t word;
  std::memcpy(&word, mask, kMaskBytes);
  // Broadcast in a register: built a byte at a time in memory, the key's
  // load would wait on sixteen stores.
  const Block key = reinterpret_cast<Block>(Words{} + word);
  size_t i = 0;
  for (; i + sizeof key <= n; i += sizeof key) {
    Block block;
    std::memcpy(&block, src + i, sizeof block);
    block ^= key;
    std::memcpy(dst + i, &block, sizeof block);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ mask[i % kMaskBytes];
}

}  // namespace

WebSocketReader::WebSocketReader(size_t max_message_bytes, size_t initial_buffer, From from)
    : max_message_(max_message_bytes), masked_(from == From::kClient),
      initial_(std::max<size_t>(initial_buffer, kMaxClientHeader)), buffer_(initial_) {}

uint8_t* WebSocketReader::Prepare(size_t min_free, size_t& available) {
  if (begin_ > 0) {
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  size_t wanted = std::max(end_ + min_free, wanted_);
  if (wanted > buffer_.size()) buffer_.resize(wanted);
  available = buffer_.size() - end_;
  return buffer_.data() + end_;
}

void WebSocketReader::Commit(size_t bytes) { end_ = std::min(buffer_.size(), end_ + bytes); }

namespace {

uint8_t* ThreadSpill() {
  thread_local std::unique_ptr<uint8_t[]> spill(new uint8_t[WebSocketReader::kSpillBytes]);
  return spill.get();
}

}  // namespace

void WebSocketReader::GiveBackGrowth() {
  if (begin_ != end_ || wanted_ != 0 || buffer_.size() <= initial_) return;
  buffer_ = std::vector<uint8_t>(initial_);
  begin_ = end_ = 0;
}

std::array<WebSocketReader::Part, 2> WebSocketReader::PrepareScatter(size_t min_free) {
  size_t available = 0;
  uint8_t* space = Prepare(min_free, available);
  return {Part{space, available}, Part{ThreadSpill(), kSpillBytes}};
}

void WebSocketReader::CommitScatter(size_t bytes) {
  const size_t in_place = std::min(bytes, buffer_.size() - end_);
  end_ += in_place;
  const size_t spilled = std::min(bytes - in_place, kSpillBytes);
  if (spilled > 0) Append({reinterpret_cast<const char*>(ThreadSpill()), spilled});
}

void WebSocketReader::Append(std::string_view bytes) {
  size_t available = 0;
  uint8_t* at = Prepare(bytes.size(), available);
  std::memcpy(at, bytes.data(), bytes.size());
  Commit(bytes.size());
}

WebSocketReader::Event WebSocketReader::Fail(int code, std::string_view why) {
  failed_ = true;
  return {Event::kError, why, code};
}

WebSocketReader::Event WebSocketReader::Next() {
  while (!failed_) {
    const size_t available = end_ - begin_;
    if (available < 2) return {};
    const uint8_t* p = buffer_.data() + begin_;
    const bool fin = p[0] & 0x80;
    const auto opcode = static_cast<WebSocketOpcode>(p[0] & 0x0F);
    uint64_t length = p[1] & 0x7F;
    size_t header = 2;
    if (p[0] & 0x70) return Fail(kCloseProtocolError, "reserved bits set (no extension was negotiated)");
    if (masked_ && !(p[1] & 0x80)) return Fail(kCloseProtocolError, "client frame not masked");
    if (!masked_ && (p[1] & 0x80)) return Fail(kCloseProtocolError, "server frame masked");
    if (length == 126) {
      if (available < 4) return {};
      length = (uint64_t(p[2]) << 8) | p[3];
      header = 4;
      if (length < 126) return Fail(kCloseProtocolError, "frame length not minimally encoded");
    } else if (length == 127) {
      if (available < 10) return {};
      length = 0;
      for (int i = 0; i < 8; ++i) length = (length << 8) | p[2 + i];
      header = 10;
      if (length >> 63) return Fail(kCloseProtocolError, "frame length out of range");
      if (length <= 0xFFFF) return Fail(kCloseProtocolError, "frame length not minimally encoded");
    }
    if (masked_) header += kMaskBytes;

    const bool control = static_cast<uint8_t>(opcode) & 0x8;
    if (control) {
      if (opcode != WebSocketOpcode::kClose && opcode != WebSocketOpcode::kPing && opcode != WebSocketOpcode::kPong) {
        return Fail(kCloseProtocolError, "unknown control opcode");
      }
      if (!fin) return Fail(kCloseProtocolError, "fragmented control frame");
      if (length > 125) return Fail(kCloseProtocolError, "control frame longer than 125 bytes");
    } else {
      if (opcode != WebSocketOpcode::kContinuation && opcode != WebSocketOpcode::kText &&
          opcode != WebSocketOpcode::kBinary) {
        return Fail(kCloseProtocolError, "unknown data opcode");
      }
      const bool continuation = opcode == WebSocketOpcode::kContinuation;
      if (continuation && !in_fragmented_) return Fail(kCloseProtocolError, "continuation frame without a message");
      if (!continuation && in_fragmented_) return Fail(kCloseProtocolError, "new message inside a fragmented one");
      uint64_t total = (continuation ? fragments_.size() : 0) + length;
      if (total > max_message_) return Fail(kCloseTooBig, "message larger than the limit");
    }
    if (available < header + length) {
      wanted_ = header + length;  // Prepare() makes room for the whole frame
      return {};
    }
    wanted_ = 0;
    uint8_t* payload = buffer_.data() + begin_ + header;
    const size_t n = static_cast<size_t>(length);
    if (masked_) MaskCopy(payload, payload, n, payload - kMaskBytes);
    begin_ += header + n;
    std::string_view data(reinterpret_cast<const char*>(payload), n);

    switch (opcode) {
      case WebSocketOpcode::kText:
      case WebSocketOpcode::kBinary:
        if (fin) return {opcode == WebSocketOpcode::kText ? Event::kText : Event::kBinary, data, 0};
        in_fragmented_ = true;
        fragmented_binary_ = opcode == WebSocketOpcode::kBinary;
        fragments_.assign(data);
        continue;
      case WebSocketOpcode::kContinuation:
        fragments_.append(data);
        if (!fin) continue;
        in_fragmented_ = false;
        // The view must outlive a next fragmented message starting in this same buffer.
        completed_.swap(fragments_);
        fragments_.clear();
        return {fragmented_binary_ ? Event::kBinary : Event::kText, completed_, 0};
      case WebSocketOpcode::kPing:
        return {Event::kPing, data, 0};
      case WebSocketOpcode::kPong:
        return {Event::kPong, data, 0};
      case WebSocketOpcode::kClose: {
        if (n == 0) {
          failed_ = true;  // nothing is read after a close
          return {Event::kClose, {}, 1005};
        }
        if (n == 1) return Fail(kCloseProtocolError, "close frame with a one-byte payload");
        int code = (int(payload[0]) << 8) | payload[1];
        if (!IsValidCloseCode(code)) return Fail(kCloseProtocolError, "close frame with an invalid code");
        failed_ = true;
        return {Event::kClose, data.substr(2), code};
      }
    }
  }
  return {};
}

size_t WriteFrameHeader(WebSocketOpcode opcode, size_t payload_bytes, uint8_t* out) {
  out[0] = 0x80 | static_cast<uint8_t>(opcode);
  if (payload_bytes < 126) {
    out[1] = static_cast<uint8_t>(payload_bytes);
    return 2;
  }
  if (payload_bytes <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_bytes >> 8);
    out[3] = static_cast<uint8_t>(payload_bytes);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(uint64_t(payload_bytes) >> (56 - 8 * i));
  return 10;
}

void AppendMaskedFrame(WebSocketOpcode opcode, std::string_view payload, uint32_t mask, std::string& out) {
  uint8_t header[kMaxClientHeader];
  size_t n = WriteFrameHeader(opcode, payload.size(), header);
  header[1] |= 0x80;
  std::memcpy(header + n, &mask, kMaskBytes);
  n += kMaskBytes;
  const size_t start = out.size();
  out.resize(start + n + payload.size());
  auto* at = reinterpret_cast<uint8_t*>(out.data() + start);
  std::memcpy(at, header, n);
  MaskCopy(at + n, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), header + n - kMaskBytes);
}

std::string ClosePayload(int code, std::string_view reason) {
  std::string out;
  out += static_cast<char>((code >> 8) & 0xFF);
  out += static_cast<char>(code & 0xFF);
  out += reason.substr(0, 123);
  return out;
}

std::string WebSocketAcceptKey(std::string_view client_key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(client_key);
  input += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), n);
}

}  // namespace voxpipe::server
