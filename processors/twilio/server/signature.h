// X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + sorted form
// parameters)). See docs/twilio.md for the URL variants Twilio signs.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace voxpipe::twilio {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// The string Twilio signs: `url`, then each parameter's name and value with
// no separator, sorted by name (then value) in byte order.
std::string SignedData(std::string_view url, FormParams params);

std::string ComputeSignature(std::string_view auth_token, std::string_view url, const FormParams& params);

// The URL as written, with the scheme's default port added when absent and
// removed when present: Twilio has signed both forms.
std::vector<std::string> UrlVariants(std::string_view url);

// True when `signature` matches any variant of `url`; compares in constant time.
bool ValidateSignature(std::string_view auth_token, std::string_view signature, std::string_view url,
                       const FormParams& params);

}  // namespace voxpipe::twilio
