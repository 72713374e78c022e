#include "processors/twilio/server/signature.h"

#include <gtest/gtest.h>

namespace voxpipe::twilio {
namespace {

// Reference vector (Twilio SDKs' tests, recomputed independently).
const FormParams kParams = {{"CallSid", "CA1234567890ABCDE"},
                            {"Caller", "+12349013030"},
                            {"Digits", "1234"},
                            {"From", "+12349013030"},
                            {"To", "+18005551212"}};
constexpr const char* kUrl = "https://mycompany.com/myapp.php?foo=1&bar=2";

TEST(SignatureTest, SignsTheReferenceVector) {
  EXPECT_EQ(SignedData(kUrl, kParams),
            "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+12349013030Digits1234From+"
            "12349013030To+18005551212");
  EXPECT_EQ(ComputeSignature("12345", kUrl, kParams), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
}

TEST(SignatureTest, SortsParametersByName) {
  FormParams shuffled(kParams.rbegin(), kParams.rend());
  EXPECT_EQ(ComputeSignature("12345", kUrl, shuffled), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
}

TEST(SignatureTest, ValidatesOnlyTheRightTokenUrlAndParameters) {
  EXPECT_TRUE(ValidateSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", kUrl, kParams));
  EXPECT_FALSE(ValidateSignature("12346", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", kUrl, kParams));
  EXPECT_FALSE(ValidateSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ", kUrl, kParams));
  EXPECT_FALSE(ValidateSignature("12345", "", kUrl, kParams));
  EXPECT_FALSE(ValidateSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", "https://mycompany.com/myapp.php", kParams));
  FormParams tampered = kParams;
  tampered[2].second = "9999";
  EXPECT_FALSE(ValidateSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", kUrl, tampered));
}

TEST(SignatureTest, AcceptsTheUrlWithOrWithoutTheDefaultPort) {
  std::string with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
  EXPECT_TRUE(ValidateSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", with_port, kParams));
  std::string signed_with_port = ComputeSignature("12345", with_port, kParams);
  EXPECT_TRUE(ValidateSignature("12345", signed_with_port, kUrl, kParams));
  // Another port is another URL.
  EXPECT_FALSE(ValidateSignature("12345", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
                                 "https://mycompany.com:8443/myapp.php?foo=1&bar=2", kParams));
}

TEST(SignatureTest, UrlVariantsCoverWebSocketSchemes) {
  EXPECT_EQ(UrlVariants("wss://h.example/twilio/stream"),
            (std::vector<std::string>{"wss://h.example/twilio/stream", "wss://h.example:443/twilio/stream"}));
  EXPECT_EQ(UrlVariants("ws://h:80/s"), (std::vector<std::string>{"ws://h:80/s", "ws://h/s"}));
  EXPECT_EQ(UrlVariants("https://h:8443/s"), (std::vector<std::string>{"https://h:8443/s"}));
  EXPECT_EQ(UrlVariants("not a url"), (std::vector<std::string>{"not a url"}));
}

}  // namespace
}  // namespace voxpipe::twilio
