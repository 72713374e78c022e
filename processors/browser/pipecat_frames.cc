#include "processors/browser/pipecat_frames.h"

#include <bit>
#include <cstring>

namespace voxpipe::browser {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

// Reads protobuf fields from a bounded view; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }

  bool Varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      auto byte = static_cast<uint8_t>(data_[pos_++]);
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;  // more than 10 bytes
  }
  bool Tag(uint32_t& field, uint32_t& type) {
    uint64_t tag;
    if (!Varint(tag) || tag > UINT32_MAX) return false;
    field = uint32_t(tag >> 3);
    type = uint32_t(tag & 7);
    return field != 0;
  }
  bool Bytes(std::string_view& out) {
    uint64_t length;
    if (!Varint(length) || length > data_.size() - pos_) return false;
    out = data_.substr(pos_, length);
    pos_ += length;
    return true;
  }
  bool Skip(uint32_t type) {
    uint64_t ignored;
    std::string_view skipped;
    switch (type) {
      case kVarint: return Varint(ignored);
      case kLength: return Bytes(skipped);
      case kFixed64: return Advance(8);
      case kFixed32: return Advance(4);
      default: return false;  // groups: not in this schema, and unbounded to skip
    }
  }

 private:
  bool Advance(size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

// Fields of the inner messages, by the schema's numbers.
bool DecodeInner(std::string_view bytes, PipecatFrame& frame, std::string& error) {
  Reader r(bytes);
  while (!r.done()) {
    uint32_t field, type;
    if (!r.Tag(field, type)) return error = "bad field tag", false;
    using K = PipecatFrame::Kind;
    bool is_string = type == kLength;
    bool is_varint = type == kVarint;
    uint64_t number = 0;
    bool ok = true;
    if (frame.kind == K::kMessage && field == 1 && is_string) {
      ok = r.Bytes(frame.text);
    } else if ((frame.kind == K::kText || frame.kind == K::kTranscription) && field == 3 && is_string) {
      ok = r.Bytes(frame.text);
    } else if (frame.kind == K::kTranscription && field == 4 && is_string) {
      ok = r.Bytes(frame.user_id);
    } else if (frame.kind == K::kTranscription && field == 5 && is_string) {
      ok = r.Bytes(frame.timestamp);
    } else if (frame.kind == K::kAudio && field == 3 && is_string) {
      ok = r.Bytes(frame.audio);
    } else if (frame.kind == K::kAudio && (field == 4 || field == 5) && is_varint) {
      ok = r.Varint(number);
      if (ok && number > UINT32_MAX) return error = "audio field out of range", false;
      (field == 4 ? frame.sample_rate : frame.num_channels) = uint32_t(number);
    } else {
      ok = r.Skip(type);  // id, name, pts, or a field we do not know
    }
    if (!ok) return error = "truncated or malformed field", false;
  }
  return true;
}

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(char(uint8_t(value) | 0x80));
    value >>= 7;
  }
  out.push_back(char(value));
}

size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) value >>= 7, ++n;
  return n;
}

void PutTag(std::string& out, uint32_t field, uint32_t type) { PutVarint(out, (uint64_t(field) << 3) | type); }

}  // namespace

bool DecodePipecatFrame(std::string_view bytes, PipecatFrame& frame, std::string& error) {
  frame = PipecatFrame{};
  Reader r(bytes);
  while (!r.done()) {
    uint32_t field, type;
    if (!r.Tag(field, type)) return error = "bad field tag", false;
    if (field >= 1 && field <= 5 && type == kLength) {
      std::string_view inner;
      if (!r.Bytes(inner)) return error = "truncated frame", false;
      frame = PipecatFrame{};
      frame.kind = static_cast<PipecatFrame::Kind>(field);
      if (!DecodeInner(inner, frame, error)) return false;
    } else if (!r.Skip(type)) {
      return error = "malformed unknown field", false;
    }
  }
  if (frame.kind == PipecatFrame::Kind::kNone) return error = "no frame in the message", false;
  return true;
}

void EncodePipecatAudio(std::string& out, std::span<const int16_t> samples, uint32_t sample_rate,
                        uint32_t num_channels) {
  constexpr std::string_view kName = "audio";
  size_t audio_bytes = samples.size() * 2;
  size_t inner = 1 + 1 + kName.size() + 1 + VarintSize(audio_bytes) + audio_bytes + 1 + VarintSize(sample_rate) + 1 +
                 VarintSize(num_channels);
  out.reserve(out.size() + 1 + VarintSize(inner) + inner);
  PutTag(out, 2, kLength);
  PutVarint(out, inner);
  PutTag(out, 2, kLength);
  PutVarint(out, kName.size());
  out.append(kName);
  PutTag(out, 3, kLength);
  PutVarint(out, audio_bytes);
  size_t at = out.size();
  out.resize(at + audio_bytes);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out.data() + at, samples.data(), audio_bytes);
  } else {
    for (size_t i = 0; i < samples.size(); ++i) {
      auto v = uint16_t(samples[i]);
      out[at + 2 * i] = char(v & 0xff);
      out[at + 2 * i + 1] = char(v >> 8);
    }
  }
  PutTag(out, 4, kVarint);
  PutVarint(out, sample_rate);
  PutTag(out, 5, kVarint);
  PutVarint(out, num_channels);
}

void EncodePipecatMessage(std::string& out, std::string_view json) {
  size_t inner = 1 + VarintSize(json.size()) + json.size();
  PutTag(out, 4, kLength);
  PutVarint(out, inner);
  PutTag(out, 1, kLength);
  PutVarint(out, json.size());
  out.append(json);
}

}  // namespace voxpipe::browser
