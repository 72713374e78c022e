// base64: every media payload from Twilio and audio part from Gemini.
// Whatever decodes re-encodes to text that decodes to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "processors/common/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace b64 = voxpipe::base64;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<uint8_t> bytes;
  if (b64::DecodeTo(text, bytes)) {
    std::string again = b64::Encode(bytes);
    auto round = b64::Decode(again);
    if (!round || *round != bytes) abort();
  }
  std::string encoded;
  b64::EncodeTo(std::span(data, size), encoded);
  if (encoded.size() != b64::EncodedSize(size)) abort();
  auto decoded = b64::Decode(encoded);
  if (!decoded || decoded->size() != size || (size && memcmp(decoded->data(), data, size) != 0)) abort();
  return 0;
}
