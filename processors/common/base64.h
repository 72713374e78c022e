// Base64 (RFC 4648, standard alphabet, padded), as Twilio media payloads and
// Gemini Live audio use it. Decoding is strict: data from the network that is
// not valid base64 is reported, not guessed at.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace voxpipe::base64 {

std::string Encode(std::span<const uint8_t> data);
// Appends to `out` (reusing its capacity on the hot path).
void EncodeTo(std::span<const uint8_t> data, std::string& out);

// False for bad characters, bad padding or a length that is not a multiple
// of four; `out` is then unspecified.
bool DecodeTo(std::string_view text, std::vector<uint8_t>& out);
std::optional<std::vector<uint8_t>> Decode(std::string_view text);

inline size_t EncodedSize(size_t bytes) { return (bytes + 2) / 3 * 4; }

}  // namespace voxpipe::base64
