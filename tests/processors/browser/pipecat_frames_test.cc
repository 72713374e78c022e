// The hand-written pipecat.Frame codec against byte vectors derived by hand
// from the schema (processors/browser/pipecat.proto; proto3 wire format:
// tag = field << 3 | wire type, lengths and integers as base-128 varints).
#include "processors/browser/pipecat_frames.h"

#include <gtest/gtest.h>

#include "processors/browser/rtvi.h"

namespace voxpipe::browser {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(char(b));
  return out;
}

// What Pipecat's client sends for two samples {1, -1}:
// Frame.audio (2, LEN) { name (2, LEN) "audio", audio (3, LEN) 01 00 ff ff,
// sample_rate (4, VARINT) 16000 = 80 7d, num_channels (5, VARINT) 1 }.
const std::string kClientAudio = Bytes({0x12, 0x12, 0x12, 0x05, 'a', 'u', 'd', 'i', 'o', 0x1a, 0x04, 0x01, 0x00, 0xff,
                                        0xff, 0x20, 0x80, 0x7d, 0x28, 0x01});

TEST(PipecatFrames, DecodesClientAudio) {
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(kClientAudio, frame, error)) << error;
  EXPECT_EQ(frame.kind, PipecatFrame::Kind::kAudio);
  EXPECT_EQ(frame.audio, Bytes({0x01, 0x00, 0xff, 0xff}));
  EXPECT_EQ(frame.sample_rate, 16000u);
  EXPECT_EQ(frame.num_channels, 1u);
}

TEST(PipecatFrames, EncodesServerAudioAt24k) {
  std::string out;
  const int16_t samples[] = {1, -1};
  EncodePipecatAudio(out, samples, 24000, 1);
  // 24000 = c0 bb 01; inner length 7 + 6 + 4 + 2 = 19.
  EXPECT_EQ(out, Bytes({0x12, 0x13, 0x12, 0x05, 'a', 'u', 'd', 'i', 'o', 0x1a, 0x04, 0x01, 0x00, 0xff, 0xff, 0x20,
                        0xc0, 0xbb, 0x01, 0x28, 0x01}));
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(out, frame, error)) << error;
  EXPECT_EQ(frame.sample_rate, 24000u);
}

TEST(PipecatFrames, EncodesLongAudioWithMultiByteLengths) {
  std::vector<int16_t> samples(960, 7);  // 40 ms at 24 kHz: 1920 bytes, length 80 0f
  std::string out;
  EncodePipecatAudio(out, samples, 24000, 1);
  // inner = 7 + (1 + 2 + 1920) + 4 + 2 = 1936 = 90 0f.
  EXPECT_EQ(out.substr(0, 3), Bytes({0x12, 0x90, 0x0f}));
  EXPECT_EQ(out.size(), 3u + 1936u);
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(out, frame, error)) << error;
  EXPECT_EQ(frame.audio.size(), 1920u);
}

TEST(PipecatFrames, MessageRoundTrip) {
  std::string out;
  EncodePipecatMessage(out, "{}");
  EXPECT_EQ(out, Bytes({0x22, 0x04, 0x0a, 0x02, '{', '}'}));
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(out, frame, error)) << error;
  EXPECT_EQ(frame.kind, PipecatFrame::Kind::kMessage);
  EXPECT_EQ(frame.text, "{}");
}

TEST(PipecatFrames, DecodesTextTranscriptionAndInterruption) {
  PipecatFrame frame;
  std::string error;
  // Frame.text { id 5, text "hi" }; the decoded text is a view of its input.
  const std::string text = Bytes({0x0a, 0x06, 0x08, 0x05, 0x1a, 0x02, 'h', 'i'});
  ASSERT_TRUE(DecodePipecatFrame(text, frame, error)) << error;
  EXPECT_EQ(frame.kind, PipecatFrame::Kind::kText);
  EXPECT_EQ(frame.text, "hi");
  // Frame.transcription { text "a", user_id "u", timestamp "t" }
  const std::string transcription = Bytes({0x1a, 0x09, 0x1a, 0x01, 'a', 0x22, 0x01, 'u', 0x2a, 0x01, 't'});
  ASSERT_TRUE(DecodePipecatFrame(transcription, frame, error));
  EXPECT_EQ(frame.kind, PipecatFrame::Kind::kTranscription);
  EXPECT_EQ(frame.text, "a");
  EXPECT_EQ(frame.user_id, "u");
  EXPECT_EQ(frame.timestamp, "t");
  // Frame.interruption {} (empty message)
  ASSERT_TRUE(DecodePipecatFrame(Bytes({0x2a, 0x00}), frame, error)) << error;
  EXPECT_EQ(frame.kind, PipecatFrame::Kind::kInterruption);
}

TEST(PipecatFrames, SkipsUnknownFieldsOfEveryWireType) {
  // Audio with pts (6, VARINT) 5, an unknown fixed32 (9), fixed64 (10) and a
  // length-delimited field (7) holding what would be garbage if parsed;
  // then an unknown outer field 12 (VARINT).
  std::string message = Bytes({0x12, 0x1c, 0x1a, 0x02, 0x02, 0x00, 0x30, 0x05, 0x4d, 1, 2, 3, 4, 0x51, 1, 2, 3, 4, 5,
                               6, 7, 8, 0x3a, 0x03, 0xff, 0xff, 0xff, 0x20, 0x80, 0x7d, 0x60, 0x01});
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(message, frame, error)) << error;
  EXPECT_EQ(frame.kind, PipecatFrame::Kind::kAudio);
  EXPECT_EQ(frame.audio, Bytes({0x02, 0x00}));
  EXPECT_EQ(frame.sample_rate, 16000u);
}

TEST(PipecatFrames, LastOneofMemberWins) {
  std::string message = Bytes({0x0a, 0x03, 0x1a, 0x01, 'x'}) + Bytes({0x22, 0x03, 0x0a, 0x01, 'y'});
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(message, frame, error)) << error;
  EXPECT_EQ(frame.kind, PipecatFrame::Kind::kMessage);
  EXPECT_EQ(frame.text, "y");
}

TEST(PipecatFrames, RefusesMalformedInput) {
  const std::string bad[] = {
      "",                                                   // no frame at all
      Bytes({0x12}),                                        // a tag and nothing
      Bytes({0x12, 0x12, 0x12, 0x05, 'a'}),                 // length past the end
      kClientAudio.substr(0, kClientAudio.size() - 1),      // truncated inner varint
      Bytes({0x22, 0xff, 0xff, 0xff, 0xff, 0x0f}),          // a 4 GB length
      Bytes({0x22, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),  // 11-byte varint
      Bytes({0x0b, 0x0c}),                                  // a group (wire type 3)
      Bytes({0x02, 0x00}),                                  // field number 0
      Bytes({0x12, 0x02, 0x0b, 0x0c}),                      // a group inside audio
      Bytes({0x12, 0x03, 0x20, 0x80, 0x80}),                // unterminated sample_rate
      Bytes({0x12, 0x07, 0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),  // sample_rate past 32 bits
      Bytes({0x4d, 0x01, 0x02}),                            // short fixed32
      Bytes({0x0f}),                                        // wire type 7
  };
  for (const auto& message : bad) {
    PipecatFrame frame;
    std::string error;
    EXPECT_FALSE(DecodePipecatFrame(message, frame, error)) << ::testing::PrintToString(message);
    EXPECT_FALSE(error.empty());
  }
}

TEST(PipecatFrames, DecodedViewsPointIntoTheMessage) {
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(kClientAudio, frame, error));
  EXPECT_GE(frame.audio.data(), kClientAudio.data());
  EXPECT_LE(frame.audio.data() + frame.audio.size(), kClientAudio.data() + kClientAudio.size());
}

TEST(Rtvi, EncodesAndParsesTheEnvelope) {
  std::string out;
  rtvi::Encode(out, "bot-ready", rtvi::BotReadyData(), "a1b2c3d4");
  PipecatFrame frame;
  std::string error;
  ASSERT_TRUE(DecodePipecatFrame(out, frame, error)) << error;
  ASSERT_EQ(frame.kind, PipecatFrame::Kind::kMessage);
  auto json = nlohmann::json::parse(frame.text);
  EXPECT_EQ(json["label"], "rtvi-ai");
  EXPECT_EQ(json["type"], "bot-ready");
  EXPECT_EQ(json["id"], "a1b2c3d4");
  EXPECT_EQ(json["data"]["version"], "2.1.0");

  rtvi::ClientMessage message;
  ASSERT_TRUE(rtvi::ParseClientMessage(R"({"label":"rtvi-ai","type":"client-ready","id":"x1","data":{"version":"2.1.0"}})",
                                       message, error));
  EXPECT_EQ(message.type, "client-ready");
  EXPECT_EQ(message.id, "x1");
  EXPECT_EQ(message.data["version"], "2.1.0");
  EXPECT_FALSE(rtvi::ParseClientMessage(R"({"label":"other","type":"client-ready"})", message, error));
  EXPECT_FALSE(rtvi::ParseClientMessage(R"({"label":"rtvi-ai"})", message, error));
  EXPECT_FALSE(rtvi::ParseClientMessage("[1,2]", message, error));
  EXPECT_FALSE(rtvi::ParseClientMessage("{not json", message, error));
}

}  // namespace
}  // namespace voxpipe::browser
