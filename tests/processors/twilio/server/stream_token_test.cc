// Stream tokens: bound to one CallSid, short-lived, single-use.
#include "processors/twilio/server/stream_token.h"

#include <gtest/gtest.h>

namespace voxpipe::twilio {
namespace {

using namespace std::chrono_literals;

TEST(StreamTokensTest, ATokenFitsOnlyTheCallItWasIssuedFor) {
  StreamTokens tokens("secret", 120s);
  std::string token = tokens.Issue("CA1");
  EXPECT_EQ(tokens.Verify(token), StreamTokens::Check::kOk);
  EXPECT_TRUE(tokens.Matches(token, "CA1"));
  EXPECT_FALSE(tokens.Matches(token, "CA2"));
  // Another secret (another deployment) does not accept it.
  EXPECT_FALSE(StreamTokens("other", 120s).Matches(token, "CA1"));
  // URL-safe: it goes in a path.
  EXPECT_EQ(token.find_first_of("/+=?&#%"), std::string::npos) << token;
}

TEST(StreamTokensTest, TokensExpireAndForgeriesAreMalformed) {
  StreamTokens tokens("secret", 120s);
  auto now = std::chrono::system_clock::now();
  std::string token = tokens.Issue("CA1", now);
  EXPECT_EQ(tokens.Verify(token, now + 119s), StreamTokens::Check::kOk);
  EXPECT_EQ(tokens.Verify(token, now + 121s), StreamTokens::Check::kExpired);
  EXPECT_EQ(tokens.Verify(tokens.Issue("CA1", now + 1h), now), StreamTokens::Check::kExpired);
  std::string good = tokens.Issue("CA1", now);
  std::string no_nonce = good.substr(0, good.find('.')) + good.substr(good.rfind('.'));
  for (const std::string& bad : {std::string(), std::string("abc"), std::string("123."), std::string(".abc"),
                                 std::string("12x.AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA"), std::string("1.AAAA"),
                                 no_nonce}) {
    EXPECT_EQ(tokens.Verify(bad, now), StreamTokens::Check::kMalformed) << bad;
    EXPECT_FALSE(tokens.Matches(bad, "CA1")) << bad;
  }
}

TEST(StreamTokensTest, ATokenIsUsedOnce) {
  StreamTokens tokens("secret", 120s);
  std::string token = tokens.Issue("CA1");
  EXPECT_TRUE(tokens.Use(token));
  EXPECT_FALSE(tokens.Use(token));
  EXPECT_TRUE(tokens.Use(tokens.Issue("CA2")));
  // A retried webhook for the same call gets a token of its own.
  EXPECT_NE(tokens.Issue("CA1"), tokens.Issue("CA1"));
}

TEST(StreamTokensTest, WithoutASecretEachProcessHasItsOwn) {
  StreamTokens a("", 120s), b("", 120s);
  EXPECT_TRUE(a.Matches(a.Issue("CA1"), "CA1"));
  EXPECT_FALSE(b.Matches(a.Issue("CA1"), "CA1"));
}

}  // namespace
}  // namespace voxpipe::twilio
