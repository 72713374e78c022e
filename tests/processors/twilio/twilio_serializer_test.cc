// The Twilio Media Streams wire format on its own: every message Twilio
// sends, read one way however it is spaced or ordered; malformed ones named
// by kind; the three messages we send written as Twilio expects them.
#include "processors/twilio/twilio_serializer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace voxpipe::twilio {
namespace {

using Kind = TwilioMessage::Kind;

TwilioMessage Parse(std::string_view text) {
  TwilioMessage message;
  ParseTwilioMessage(text, message);
  return message;
}

TEST(TwilioSerializerTest, ReadsMediaHoweverItIsSpacedOrOrdered) {
  for (const char* text : {
           R"({"event":"media","sequenceNumber":"4","streamSid":"MZ1",)"
           R"("media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"no+JhoaJjpzS"}})",
           R"( { "media" : { "payload" : "no+JhoaJjpzS" , "track":"inbound" } , "event" : "media" } )",
           R"({"event":"media","media":{"payload":"no+JhoaJjpzS"}})",
           R"({"event":"media","media":{"payload":"no\/JhoaJjpzS"}})",  // JSON may escape '/'
       }) {
    TwilioMessage m = Parse(text);
    ASSERT_EQ(m.kind, Kind::kMedia) << text << ": " << m.error;
    EXPECT_TRUE(m.inbound) << text;
    EXPECT_EQ(m.payload.size(), 12u) << text;
  }
  EXPECT_EQ(Parse(R"({"event":"media","media":{"payload":"no\/Jhoa"}})").payload, "no/Jhoa");
}

TEST(TwilioSerializerTest, OtherTracksAreMediaButNotTheCallers) {
  // Spaces around the colon once made a fast scan take the outbound track as the caller's.
  for (const char* text : {R"({"event":"media","media":{"track" : "outbound","payload":"AAAA"}})",
                           R"({"event":"media","media":{"track":"outbound","payload":"AAAA"}})"}) {
    TwilioMessage m = Parse(text);
    ASSERT_EQ(m.kind, Kind::kMedia) << text;
    EXPECT_FALSE(m.inbound) << text;
  }
}

TEST(TwilioSerializerTest, ReadsStartWithItsMediaFormatAndParameters) {
  TwilioMessage m = Parse(R"({"event":"start","sequenceNumber":"1","streamSid":"MZd","start":{"accountSid":"ACx",)"
                          R"("streamSid":"MZd","callSid":"CAd","tracks":["inbound"],)"
                          R"("customParameters":{"From":"+15550000001","n":3,"tenant":"acme"},)"
                          R"("mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}})");
  ASSERT_EQ(m.kind, Kind::kStart) << m.error;
  EXPECT_EQ(m.start.call_sid, "CAd");
  EXPECT_EQ(m.start.stream_sid, "MZd");
  EXPECT_EQ(m.start.account_sid, "ACx");
  EXPECT_EQ(m.start.encoding, "audio/x-mulaw");
  EXPECT_EQ(m.start.sample_rate, 8000);
  EXPECT_EQ(m.start.channels, 1);
  // Parameters that are not strings are left out.
  ASSERT_EQ(m.start.custom_parameters.size(), 2u);
  EXPECT_EQ(m.start.custom_parameters[0], (std::pair<std::string, std::string>{"From", "+15550000001"}));
}

TEST(TwilioSerializerTest, ReadsMarksKeysConnectedAndStop) {
  EXPECT_EQ(Parse(R"({"event":"connected","protocol":"Call","version":"1.0.0"})").kind, Kind::kConnected);
  TwilioMessage mark = Parse(R"({"event":"mark","streamSid":"MZ1","mark":{"name":"turn-1"}})");
  ASSERT_EQ(mark.kind, Kind::kMark);
  EXPECT_EQ(mark.mark, "turn-1");
  TwilioMessage key = Parse(R"({"event":"dtmf","dtmf":{"track":"inbound_track","digit":"#"}})");
  ASSERT_EQ(key.kind, Kind::kDtmf);
  EXPECT_EQ(key.digit, '#');
  EXPECT_EQ(Parse(R"({"event":"stop","stop":{"callSid":"CA1"}})").kind, Kind::kStop);
}

TEST(TwilioSerializerTest, MalformedMessagesAreNamedByKind) {
  struct Case {
    const char* text;
    std::string_view kind;
  };
  for (const Case& c : {
           Case{"", "bad_json"},
           Case{"not json", "bad_json"},
           Case{R"(["event","media"])", "bad_json"},
           Case{R"({"event":"media","media":{"payload":"AAAA"}} trailing)", "bad_json"},
           Case{R"({"media":{"payload":"AAAA"}})", "no_event"},
           Case{R"({"event":7})", "no_event"},
           Case{R"({"event":"media","event":"stop","media":{"payload":"AAAA"}})", "ambiguous"},
           // A payload counts only inside "media".
           Case{R"({"event":"media","payload":"AAAA"})", "bad_media"},
           Case{R"({"event":"media","media":{"payload":42}})", "bad_media"},
           Case{R"({"event":"media","media":{"payload":"AAAA","payload":"BBBB"}})", "bad_media"},
           Case{R"({"event":"media","media":{"track":1,"payload":"AAAA"}})", "bad_media"},
           Case{R"({"event":"mark","mark":{}})", "bad_mark"},
           Case{R"({"event":"dtmf","dtmf":{"digit":"12"}})", "bad_dtmf"},
           Case{R"({"event":"dtmf","dtmf":{"digit":"x"}})", "bad_dtmf"},
           Case{R"({"event":"start","start":{"streamSid":"MZ1"}})", "bad_start"},
           Case{R"({"event":"start","start":{"callSid":"","streamSid":"MZ1"}})", "bad_start"},
           Case{R"({"event":"hello"})", "unknown_event"},
       }) {
    TwilioMessage m = Parse(c.text);
    EXPECT_EQ(m.kind, Kind::kInvalid) << c.text;
    EXPECT_EQ(m.error_kind, c.kind) << c.text;
    EXPECT_FALSE(m.error.empty()) << c.text;
  }
}

TEST(TwilioSerializerTest, WritesTheThreeMessagesTwilioAccepts) {
  std::string sid = QuoteStreamSid("MZ\"1");
  std::string media, mark, clear;
  const uint8_t mulaw[] = {0xFF, 0x7F, 0x00};
  AppendMediaMessage(sid, mulaw, media);
  AppendMarkMessage(sid, "turn \"1\"", mark);
  AppendClearMessage(sid, clear);
  auto m = nlohmann::json::parse(media);
  EXPECT_EQ(m, nlohmann::json::parse(R"({"event":"media","streamSid":"MZ\"1","media":{"payload":"/38A"}})"));
  EXPECT_EQ(nlohmann::json::parse(mark)["mark"]["name"], "turn \"1\"");
  EXPECT_EQ(nlohmann::json::parse(clear), nlohmann::json::parse(R"({"event":"clear","streamSid":"MZ\"1"})"));
  // What we write, we read back.
  EXPECT_EQ(Parse(media).kind, Kind::kMedia);
  EXPECT_EQ(Parse(media).payload, "/38A");
}

}  // namespace
}  // namespace voxpipe::twilio
