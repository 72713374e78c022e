#include "processors/twilio/media_message.h"

#include <gtest/gtest.h>

namespace voxpipe::twilio {
namespace {

TEST(MediaMessageTest, FindsThePayloadOfTwiliosMediaMessages) {
  EXPECT_EQ(ScanMediaPayload(R"({"event":"media","sequenceNumber":"4","streamSid":"MZ1",)"
                             R"("media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"no+JhoaJjpzS"}})"),
            "no+JhoaJjpzS");
  EXPECT_EQ(ScanMediaPayload(R"( {"event":"media","streamSid":"MZ1","media":{"payload":"AAAA"}} )"), "AAAA");
}

TEST(MediaMessageTest, LeavesAnythingUnusualToTheFullParser) {
  for (const char* text : {
           R"({"event":"mark","mark":{"name":"payload"}})",
           R"({"event":"media","media":{"track":"outbound","payload":"AAAA"}})",
           R"({"event":"media","event":"stop","media":{"payload":"AAAA"}})",
           R"({"event":"stop","x":{"event":"media"},"media":{"payload":"AAAA"}})",
           R"({"event":"media","media":{"payload":"AA\"AA"}})",
           R"({"event":"media","media":{"payload":"AAAA","payload":"BBBB"}})",
           R"({"event":"media","media":{"payload":"AAAA)",
           R"(["event","media"])",
           "",
       }) {
    EXPECT_FALSE(ScanMediaPayload(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace voxpipe::twilio
