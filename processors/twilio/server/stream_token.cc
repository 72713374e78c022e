#include "processors/twilio/server/stream_token.h"

#include <charconv>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace voxpipe::twilio {
namespace {

constexpr size_t kMacBytes = 18;    // 144 bits; 24 characters of URL-safe base64
constexpr size_t kNonceBytes = 9;   // 12 characters

std::string Base64Url(const unsigned char* data, size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  for (size_t i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  return out;  // n is a multiple of 3 here: no padding
}

// "EXPIRY.NONCE.MAC" split; false when not of that shape. The nonce makes
// every token a webhook issues another, even for a retried webhook.
struct Parts {
  std::string_view expiry, nonce, mac;
  int64_t seconds = 0;
};

bool Split(std::string_view token, Parts& out) {
  size_t first = token.find('.');
  size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || first == 0 || first > 12) return false;
  out.expiry = token.substr(0, first);
  out.nonce = token.substr(first + 1, second - first - 1);
  out.mac = token.substr(second + 1);
  auto [end, ec] = std::from_chars(out.expiry.data(), out.expiry.data() + out.expiry.size(), out.seconds);
  return ec == std::errc() && end == out.expiry.data() + out.expiry.size() && out.nonce.size() == kNonceBytes / 3 * 4 &&
         out.mac.size() == kMacBytes / 3 * 4;
}

}  // namespace

StreamTokens::StreamTokens(std::string secret, std::chrono::seconds ttl) : secret_(std::move(secret)), ttl_(ttl) {
  if (secret_.empty()) {
    unsigned char random[32];
    RAND_bytes(random, sizeof(random));
    secret_.assign(reinterpret_cast<const char*>(random), sizeof(random));
  }
}

std::string StreamTokens::Mac(std::string_view call_sid, std::string_view expiry, std::string_view nonce) const {
  std::string data = "voxpipe-stream.";
  data += expiry;
  data += '.';
  data += nonce;
  data += '.';
  data += call_sid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  return Base64Url(digest, kMacBytes);
}

std::string StreamTokens::Issue(std::string_view call_sid, TimePoint now) const {
  auto expiry = std::chrono::duration_cast<std::chrono::seconds>((now + ttl_).time_since_epoch()).count();
  std::string expiry_text = std::to_string(expiry);
  unsigned char random[kNonceBytes];
  RAND_bytes(random, sizeof(random));
  std::string nonce = Base64Url(random, sizeof(random));
  return expiry_text + "." + nonce + "." + Mac(call_sid, expiry_text, nonce);
}

StreamTokens::Check StreamTokens::Verify(std::string_view token, TimePoint now) const {
  Parts parts;
  if (!Split(token, parts)) return Check::kMalformed;
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  // A token from the future beyond its lifetime was not issued here.
  if (parts.seconds < now_s || parts.seconds > now_s + ttl_.count() + 60) return Check::kExpired;
  return Check::kOk;
}

bool StreamTokens::Matches(std::string_view token, std::string_view call_sid) const {
  Parts parts;
  if (!Split(token, parts)) return false;
  std::string expected = Mac(call_sid, parts.expiry, parts.nonce);
  return expected.size() == parts.mac.size() && CRYPTO_memcmp(expected.data(), parts.mac.data(), parts.mac.size()) == 0;
}

bool StreamTokens::Use(std::string_view token, TimePoint now) {
  std::lock_guard lock(mutex_);
  std::erase_if(used_, [now](const auto& kv) { return kv.second < now; });
  Parts parts;
  if (!Split(token, parts)) return false;
  return used_.emplace(std::string(token), TimePoint(std::chrono::seconds(parts.seconds))).second;
}

}  // namespace voxpipe::twilio
