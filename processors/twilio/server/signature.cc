#include "processors/twilio/server/signature.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "processors/common/base64.h"

namespace voxpipe::twilio {

std::string SignedData(std::string_view url, FormParams params) {
  std::sort(params.begin(), params.end());
  std::string data(url);
  for (const auto& [name, value] : params) {
    data += name;
    data += value;
  }
  return data;
}

std::string ComputeSignature(std::string_view auth_token, std::string_view url, const FormParams& params) {
  std::string data = SignedData(url, params);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), auth_token.data(), static_cast<int>(auth_token.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return base64::Encode({digest, length});
}

namespace {

std::string_view DefaultPort(std::string_view scheme) {
  if (scheme == "https" || scheme == "wss") return "443";
  if (scheme == "http" || scheme == "ws") return "80";
  return "";
}

}  // namespace

std::vector<std::string> UrlVariants(std::string_view url) {
  std::vector<std::string> out{std::string(url)};
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return out;
  std::string_view scheme = url.substr(0, scheme_end);
  std::string_view port = DefaultPort(scheme);
  if (port.empty()) return out;
  size_t host_start = scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_start);
  if (host_end == std::string_view::npos) host_end = url.size();
  std::string_view authority = url.substr(host_start, host_end - host_start);
  size_t at = authority.rfind('@');
  size_t colon = authority.rfind(':');
  bool has_port = colon != std::string_view::npos && (at == std::string_view::npos || colon > at) &&
                  authority.find(']', colon) == std::string_view::npos;
  std::string prefix(url.substr(0, host_start));
  std::string rest(url.substr(host_end));
  if (has_port) {
    if (authority.substr(colon + 1) == port) out.push_back(prefix + std::string(authority.substr(0, colon)) + rest);
  } else {
    out.push_back(prefix + std::string(authority) + ":" + std::string(port) + rest);
  }
  return out;
}

bool ValidateSignature(std::string_view auth_token, std::string_view signature, std::string_view url,
                       const FormParams& params) {
  bool match = false;
  for (const auto& variant : UrlVariants(url)) {
    std::string expected = ComputeSignature(auth_token, variant, params);
    // Every variant is computed and compared, so timing says nothing about which matched.
    bool same = expected.size() == signature.size() &&
                CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
    match = match || same;
  }
  return match;
}

}  // namespace voxpipe::twilio
