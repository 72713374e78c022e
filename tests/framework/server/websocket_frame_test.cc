// RFC 6455 framing: client frames in, however the bytes arrive; every
// malformed frame is an error with the close code the RFC asks for, never a
// crash; and the client's side: masked frames out, unmasked server frames in.
#include "framework/server/websocket_frame.h"

#include <array>
#include <cstring>

#include <gtest/gtest.h>

namespace voxpipe::server {
namespace {

using Event = WebSocketReader::Event;

// A client frame: masked with `mask`, `fin` and `opcode` as given.
std::string ClientFrame(uint8_t opcode, std::string_view payload, bool fin = true,
                        std::array<uint8_t, 4> mask = {0x12, 0x34, 0x56, 0x78}) {
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | opcode);
  size_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((uint64_t(n) >> (8 * i)) & 0xFF);
  }
  for (uint8_t m : mask) out += static_cast<char>(m);
  for (size_t i = 0; i < n; ++i) out += static_cast<char>(payload[i] ^ mask[i % 4]);
  return out;
}

void Feed(WebSocketReader& reader, std::string_view bytes) {
  size_t available = 0;
  uint8_t* space = reader.Prepare(bytes.size(), available);
  ASSERT_GE(available, bytes.size());
  std::memcpy(space, bytes.data(), bytes.size());
  reader.Commit(bytes.size());
}

TEST(WebSocketReaderTest, ReadsSeveralMessagesFromOneRead) {
  WebSocketReader reader(1024);
  Feed(reader, ClientFrame(0x1, "one") + ClientFrame(0x2, std::string("\0\1\2", 3)) + ClientFrame(0x1, ""));
  Event a = reader.Next();
  EXPECT_EQ(a.kind, Event::kText);
  EXPECT_EQ(a.data, "one");
  Event b = reader.Next();
  EXPECT_EQ(b.kind, Event::kBinary);
  EXPECT_EQ(b.data, std::string_view("\0\1\2", 3));
  Event c = reader.Next();
  EXPECT_EQ(c.kind, Event::kText);
  EXPECT_EQ(c.data, "");
  EXPECT_EQ(reader.Next().kind, Event::kNone);
}

// One scatter read as a socket's recvmsg would fill it: the free space
// first, then the thread's spill buffer.
void FeedScatter(WebSocketReader& reader, std::string_view bytes) {
  auto parts = reader.PrepareScatter(64);
  size_t first = std::min(bytes.size(), parts[0].size);
  ASSERT_LE(bytes.size() - first, parts[1].size);
  std::memcpy(parts[0].data, bytes.data(), first);
  std::memcpy(parts[1].data, bytes.data() + first, bytes.size() - first);
  reader.CommitScatter(bytes.size());
}

TEST(WebSocketReaderTest, ABurstBiggerThanTheBufferArrivesInOneScatterRead) {
  WebSocketReader reader(100000, 1024);
  std::string burst;
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(std::string(300 + i, static_cast<char>('a' + i)));
    burst += ClientFrame(0x1, sent.back());
  }
  ASSERT_GT(burst.size(), reader.buffer_capacity());
  FeedScatter(reader, burst.substr(0, burst.size() - 100));  // the last frame is not all there yet
  std::vector<std::string> got;
  for (Event e = reader.Next(); e.kind != Event::kNone; e = reader.Next()) got.emplace_back(e.data);
  EXPECT_EQ(got.size(), 19u);
  FeedScatter(reader, burst.substr(burst.size() - 100));
  for (Event e = reader.Next(); e.kind != Event::kNone; e = reader.Next()) got.emplace_back(e.data);
  EXPECT_EQ(got, sent);
}

TEST(WebSocketReaderTest, ABufferGrownByABurstIsGivenBackOnceAllIsParsed) {
  WebSocketReader reader(100000, 1024);
  std::string frame = ClientFrame(0x2, std::string(20000, 'x'));
  FeedScatter(reader, std::string_view(frame).substr(0, 10000));
  EXPECT_EQ(reader.Next().kind, Event::kNone);
  reader.GiveBackGrowth();  // half a frame: kept
  EXPECT_GE(reader.buffer_capacity(), 10000u);
  FeedScatter(reader, std::string_view(frame).substr(10000));
  EXPECT_EQ(reader.Next().kind, Event::kBinary);
  EXPECT_EQ(reader.Next().kind, Event::kNone);
  reader.GiveBackGrowth();
  EXPECT_EQ(reader.buffer_capacity(), 1024u);
  FeedScatter(reader, ClientFrame(0x1, "after"));
  Event e = reader.Next();
  EXPECT_EQ(e.kind, Event::kText);
  EXPECT_EQ(e.data, "after");
}

TEST(WebSocketReaderTest, AssemblesAMessageThatArrivesOneByteAtATime) {
  std::string big(70000, 'x');  // a 64-bit length
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::string wire = ClientFrame(0x1, "hello") + ClientFrame(0x1, big);
  WebSocketReader reader(100000, 16);
  std::vector<std::string> messages;
  for (char byte : wire) {
    Feed(reader, std::string_view(&byte, 1));
    for (Event e = reader.Next(); e.kind != Event::kNone; e = reader.Next()) messages.emplace_back(e.data);
  }
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0], "hello");
  EXPECT_EQ(messages[1], big);
}

TEST(WebSocketReaderTest, ReassemblesFragmentsAndAnswersControlFramesBetweenThem) {
  WebSocketReader reader(1024);
  Feed(reader, ClientFrame(0x1, "Hel", false) + ClientFrame(0x9, "ping!") + ClientFrame(0x0, "lo ", false) +
                   ClientFrame(0x0, "world"));
  Event ping = reader.Next();
  EXPECT_EQ(ping.kind, Event::kPing);
  EXPECT_EQ(ping.data, "ping!");
  Event message = reader.Next();
  EXPECT_EQ(message.kind, Event::kText);
  EXPECT_EQ(message.data, "Hello world");
}

TEST(WebSocketReaderTest, CloseFramesCarryTheirCodeAndEndReading) {
  WebSocketReader reader(1024);
  Feed(reader, ClientFrame(0x8, std::string("\x03\xe8", 2) + "bye") + ClientFrame(0x1, "after"));
  Event close = reader.Next();
  EXPECT_EQ(close.kind, Event::kClose);
  EXPECT_EQ(close.code, 1000);
  EXPECT_EQ(close.data, "bye");
  EXPECT_EQ(reader.Next().kind, Event::kNone);

  WebSocketReader empty(1024);
  Feed(empty, ClientFrame(0x8, ""));
  EXPECT_EQ(empty.Next().code, 1005);
}

struct BadFrame {
  std::string name;
  std::string bytes;
  int code;
};

TEST(WebSocketReaderTest, MalformedFramesAreErrorsWithTheRightCloseCode) {
  std::string unmasked = "\x81\x03one";
  std::string rsv = ClientFrame(0x1, "x");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  std::string non_minimal = "\x81\xfe";
  non_minimal += std::string("\x00\x05", 2) + "\x01\x02\x03\x04" + "abcde";
  std::vector<BadFrame> cases = {
      {"unmasked", unmasked, 1002},
      {"reserved bit", rsv, 1002},
      {"unknown data opcode", ClientFrame(0x3, "x"), 1002},
      {"unknown control opcode", ClientFrame(0xB, "x"), 1002},
      {"fragmented ping", ClientFrame(0x9, "x", false), 1002},
      {"long ping", ClientFrame(0x9, std::string(126, 'p')), 1002},
      {"continuation first", ClientFrame(0x0, "x"), 1002},
      {"text inside fragments", ClientFrame(0x1, "a", false) + ClientFrame(0x1, "b"), 1002},
      {"too big", ClientFrame(0x1, std::string(2000, 'x')), 1009},
      {"too big in fragments", ClientFrame(0x1, std::string(600, 'x'), false) + ClientFrame(0x0, std::string(600, 'x')),
       1009},
      {"non-minimal length", non_minimal, 1002},
      {"one-byte close", ClientFrame(0x8, "\x03"), 1002},
      {"reserved close code", ClientFrame(0x8, std::string("\x03\xed", 2)), 1002},  // 1005
  };
  for (const auto& c : cases) {
    WebSocketReader reader(1024);
    Feed(reader, c.bytes);
    Event e = reader.Next();
    EXPECT_EQ(e.kind, Event::kError) << c.name;
    EXPECT_EQ(e.code, c.code) << c.name;
    EXPECT_FALSE(e.data.empty()) << c.name;
    EXPECT_TRUE(reader.failed()) << c.name;
    EXPECT_EQ(reader.Next().kind, Event::kNone) << c.name << ": nothing is read after an error";
  }
}

TEST(WebSocketFrameTest, ServerHeadersUseTheShortestLength) {
  uint8_t header[kMaxFrameHeader];
  EXPECT_EQ(WriteFrameHeader(WebSocketOpcode::kText, 125, header), 2u);
  EXPECT_EQ(header[0], 0x81);
  EXPECT_EQ(header[1], 125);
  EXPECT_EQ(WriteFrameHeader(WebSocketOpcode::kBinary, 126, header), 4u);
  EXPECT_EQ(header[0], 0x82);
  EXPECT_EQ(header[1], 126);
  EXPECT_EQ(header[3], 126);
  EXPECT_EQ(WriteFrameHeader(WebSocketOpcode::kText, 65536, header), 10u);
  EXPECT_EQ(header[1], 127);
  EXPECT_EQ(header[7], 1);
}

TEST(WebSocketFrameTest, MaskedFramesReadBackThroughAServerReader) {
  const std::string long_text(70000, 'q');
  std::string wire;
  AppendMaskedFrame(WebSocketOpcode::kText, "hello", 0x0badf00d, wire);
  AppendMaskedFrame(WebSocketOpcode::kBinary, long_text, 0x12345678, wire);
  AppendMaskedFrame(WebSocketOpcode::kClose, ClosePayload(1000, "bye"), 0, wire);
  EXPECT_EQ(wire.find("hello"), std::string::npos) << "the payload goes masked";
  WebSocketReader reader(1 << 20);
  Feed(reader, wire);
  Event text = reader.Next();
  EXPECT_EQ(text.kind, Event::kText);
  EXPECT_EQ(text.data, "hello");
  Event binary = reader.Next();
  EXPECT_EQ(binary.kind, Event::kBinary);
  EXPECT_EQ(binary.data, long_text);
  Event close = reader.Next();
  EXPECT_EQ(close.kind, Event::kClose);
  EXPECT_EQ(close.code, 1000);
  EXPECT_EQ(close.data, "bye");
}

// The mask is applied 16 bytes a step and then byte by byte: every length
// across a few steps is masked as RFC 6455 section 5.3 says, byte by byte.
TEST(WebSocketFrameTest, MaskingMatchesTheRfcAtEveryLength) {
  const uint32_t mask = 0x0badf00d;
  std::array<uint8_t, 4> mask_bytes;
  std::memcpy(mask_bytes.data(), &mask, 4);  // the order it goes on the wire
  std::string payload;
  for (size_t n = 0; n <= 70; ++n) {
    std::string wire;
    AppendMaskedFrame(WebSocketOpcode::kText, payload, mask, wire);
    ASSERT_EQ(wire, ClientFrame(0x1, payload, true, mask_bytes)) << n << " bytes";
    WebSocketReader reader(1 << 10);
    Feed(reader, ClientFrame(0x2, payload, true, mask_bytes));
    Event binary = reader.Next();
    ASSERT_EQ(binary.kind, Event::kBinary);
    ASSERT_EQ(binary.data, payload) << n << " bytes";
    payload += static_cast<char>('a' + n % 26);
  }
}

TEST(WebSocketReaderTest, AClientsReaderTakesUnmaskedFramesAndRefusesMaskedOnes) {
  uint8_t header[kMaxFrameHeader];
  size_t n = WriteFrameHeader(WebSocketOpcode::kText, 5, header);
  WebSocketReader reader(1024, 4096, WebSocketReader::From::kServer);
  Feed(reader, std::string(reinterpret_cast<char*>(header), n) + "hello");
  Event text = reader.Next();
  EXPECT_EQ(text.kind, Event::kText);
  EXPECT_EQ(text.data, "hello");
  Feed(reader, ClientFrame(0x1, "masked"));
  Event error = reader.Next();
  EXPECT_EQ(error.kind, Event::kError);
  EXPECT_EQ(error.code, kCloseProtocolError);
  EXPECT_EQ(error.data, "server frame masked");
}

TEST(WebSocketFrameTest, AcceptKeyMatchesTheRfcExample) {
  // RFC 6455 §1.3.
  EXPECT_EQ(WebSocketAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketFrameTest, ClosePayloadFitsAControlFrame) {
  std::string payload = ClosePayload(1008, std::string(300, 'r'));
  EXPECT_EQ(payload.size(), 125u);
  EXPECT_EQ(static_cast<uint8_t>(payload[0]), 0x03);
  EXPECT_EQ(static_cast<uint8_t>(payload[1]), 0xF0);
}

}  // namespace
}  // namespace voxpipe::server
