// G.711 mu-law against the ITU-T G.191 reference.
//
// The oracle below is G.191's ulaw_compress()/ulaw_expand() written the way
// the reference writes them (a loop finds the segment); the codec under test
// is table-driven and builds its tables with bit operations, so the two
// share no code.
#include "processors/common/g711.h"

#include <gtest/gtest.h>

namespace voxpipe::g711 {
namespace {

uint8_t G191Compress(int16_t linear) {
  short absno = linear < 0 ? static_cast<short>(((~linear) >> 2) + 33) : static_cast<short>((linear >> 2) + 33);
  if (absno > 0x1FFF) absno = 0x1FFF;
  short i = absno >> 6;
  short segno = 1;
  while (i != 0) {
    segno++;
    i >>= 1;
  }
  short high_nibble = 0x0008 - segno;
  short low_nibble = (absno >> segno) & 0x000F;
  low_nibble = 0x000F - low_nibble;
  short log = static_cast<short>((high_nibble << 4) | low_nibble);
  if (linear >= 0) log |= 0x0080;
  return static_cast<uint8_t>(log);
}

int16_t G191Expand(uint8_t logval) {
  short log = logval;
  short sign = log < 0x0080 ? -1 : 1;
  short mantissa = ~log;
  short exponent = (mantissa >> 4) & 0x0007;
  short segment = exponent + 1;
  mantissa = mantissa & 0x000F;
  short step = 4 << segment;
  return static_cast<int16_t>(sign * ((0x0080 << exponent) + step * mantissa + step / 2 - 4 * 33));
}

TEST(G711Test, EncodesAll65536InputsLikeG191) {
  int mismatches = 0;
  for (int x = -32768; x <= 32767; ++x) {
    auto sample = static_cast<int16_t>(x);
    if (MulawEncode(sample) != G191Compress(sample)) {
      ADD_FAILURE_AT(__FILE__, __LINE__) << "input " << x;
      if (++mismatches > 10) return;
    }
  }
}

TEST(G711Test, DecodesAll256CodesLikeG191) {
  for (int code = 0; code < 256; ++code) {
    EXPECT_EQ(MulawDecode(static_cast<uint8_t>(code)), G191Expand(static_cast<uint8_t>(code))) << "code " << code;
  }
}

TEST(G711Test, KnownValues) {
  // Where G.191 and Python's audioop agree.
  EXPECT_EQ(MulawEncode(0), 0xFF);
  EXPECT_EQ(MulawEncode(100), 0xF2);
  EXPECT_EQ(MulawEncode(1000), 0xCE);
  EXPECT_EQ(MulawEncode(-1000), 0x4E);
  EXPECT_EQ(MulawEncode(32767), 0x80);
  EXPECT_EQ(MulawEncode(-32768), 0x00);
  EXPECT_EQ(MulawDecode(0x00), -32124);
  EXPECT_EQ(MulawDecode(0x80), 32124);
  EXPECT_EQ(MulawDecode(0x7F), 0);
  EXPECT_EQ(MulawDecode(0xFF), 0);
  EXPECT_EQ(MulawDecode(0xF2), 104);
  EXPECT_EQ(MulawDecode(0xCE), 988);
  // Where they differ: G.191 takes the one's complement of negative inputs
  // before dropping two bits, so -1 is "negative zero" 0x7F (audioop: 0x7E).
  EXPECT_EQ(MulawEncode(-1), 0x7F);
  EXPECT_EQ(MulawEncode(-100), 0x73);  // audioop: 0x72
}

TEST(G711Test, EveryCodeSurvivesARoundTrip) {
  for (int code = 0; code < 256; ++code) {
    if (code == 0x7F) continue;  // negative zero decodes to 0, which encodes as positive zero
    EXPECT_EQ(MulawEncode(MulawDecode(static_cast<uint8_t>(code))), code) << "code " << code;
  }
}

TEST(G711Test, BufferFormsMatchSampleForms) {
  std::vector<int16_t> in = {0, -1, 1, 12345, -12345, 32767, -32768};
  std::vector<uint8_t> codes(in.size());
  MulawEncode(in, codes);
  std::vector<int16_t> out(codes.size());
  MulawDecode(codes, out);
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(codes[i], MulawEncode(in[i]));
    EXPECT_EQ(out[i], MulawDecode(codes[i]));
  }
}

}  // namespace
}  // namespace voxpipe::g711
