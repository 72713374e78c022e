#include "processors/audio/resampler.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <numeric>
#include <random>

#include <gtest/gtest.h>

#include "framework/testing/processor_harness.h"
#include "processors/audio/common/polyphase_resampler.h"

namespace voxpipe {
namespace {

std::vector<int16_t> Tones(int rate, double seconds, const std::vector<std::pair<double, double>>& tones) {
  std::vector<int16_t> out(static_cast<size_t>(rate * seconds));
  for (size_t i = 0; i < out.size(); ++i) {
    double v = 0;
    for (auto [hz, amplitude] : tones) v += amplitude * std::sin(2 * std::numbers::pi * hz * i / rate);
    out[i] = static_cast<int16_t>(std::lround(v * 32767));
  }
  return out;
}

// Pushes `samples` in 20 ms frames, then ends the stream; returns the output.
std::vector<int16_t> Stream(int in_rate, int out_rate, const std::vector<int16_t>& samples,
                            std::string extra_options = "") {
  extra_options = extra_options.empty() ? "" : "  " + extra_options + "\n";
  ProcessorHarness h("- type: Resampler\n  rate: " + std::to_string(out_rate) + "\n" + extra_options,
                     StreamFormat::Pcm16(in_rate));
  EXPECT_TRUE(h.status().ok()) << h.status().message();
  size_t frame = in_rate / 50;
  for (size_t i = 0; i < samples.size(); i += frame) {
    size_t n = std::min(frame, samples.size() - i);
    h.Push(AudioFrame{in_rate, 1, std::vector<int16_t>(samples.begin() + i, samples.begin() + i + n)});
  }
  h.End();
  for (const auto& audio : h.Downstream<AudioFrame>()) EXPECT_EQ(audio.sample_rate, out_rate);
  return h.DownstreamSamples();
}

// Magnitude spectrum (dB re full scale) of a Blackman-Harris windowed block.
struct Spectrum {
  std::vector<double> db;
  double bin_hz = 0;

  Spectrum(const std::vector<int16_t>& x, size_t start, size_t n, int rate) : db(n / 2), bin_hz(double(rate) / n) {
    std::vector<double> w(n);
    double gain = 0;
    for (size_t i = 0; i < n; ++i) {
      double a = 2 * std::numbers::pi * i / (n - 1);
      w[i] = 0.35875 - 0.48829 * std::cos(a) + 0.14128 * std::cos(2 * a) - 0.01168 * std::cos(3 * a);
      gain += w[i];
    }
    for (size_t k = 0; k < n / 2; ++k) {
      std::complex<double> sum = 0;
      for (size_t i = 0; i < n; ++i) {
        sum += w[i] * (x[start + i] / 32767.0) * std::polar(1.0, -2 * std::numbers::pi * double(k * i % n) / n);
      }
      db[k] = 20 * std::log10(std::abs(sum) * 2 / gain + 1e-12);
    }
  }
  // Peak level near `hz` (the window spreads a tone over a few bins).
  double LevelAt(double hz) const {
    size_t k = static_cast<size_t>(std::lround(hz / bin_hz));
    double best = -300;
    for (size_t j = k - 3; j <= k + 3; ++j) best = std::max(best, db[j]);
    return best;
  }
  // Highest level more than `guard_hz` away from `hz`.
  double LoudestAwayFrom(double hz, double guard_hz) const {
    double best = -300;
    for (size_t k = 1; k < db.size(); ++k) {
      if (std::abs(k * bin_hz - hz) > guard_hz) best = std::max(best, db[k]);
    }
    return best;
  }
};

constexpr double kToneLevel = 0.5;  // -6 dBFS
const double kToneDb = 20 * std::log10(kToneLevel);

class ResamplerEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string engine() const { return "engine: " + GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Engines, ResamplerEngineTest, ::testing::Values("fir", "soxr"));

TEST_P(ResamplerEngineTest, UpsamplesAPhoneToneWithoutLossOrImaging) {
  auto input = Tones(8000, 1.0, {{1000, kToneLevel}});
  auto output = Stream(8000, 16000, input, engine());
  ASSERT_NEAR(double(output.size()), 16000, 2);
  Spectrum s(output, 4000, 4096, 16000);
  EXPECT_NEAR(s.LevelAt(1000), kToneDb, 0.5);
  // The image of 1 kHz mirrored around the old Nyquist (7 kHz), and anything else.
  EXPECT_LT(s.LevelAt(7000) - kToneDb, -60);
  EXPECT_LT(s.LoudestAwayFrom(1000, 60) - kToneDb, -60);
}

TEST_P(ResamplerEngineTest, DownsamplesModelAudioWithoutLossOrAliasing) {
  // 10 kHz cannot exist at 8 kHz; without filtering it would alias to 2 kHz.
  auto input = Tones(24000, 1.0, {{1000, kToneLevel}, {10000, 0.25}});
  auto output = Stream(24000, 8000, input, engine());
  ASSERT_NEAR(double(output.size()), 8000, 2);
  Spectrum s(output, 2000, 4096, 8000);
  EXPECT_NEAR(s.LevelAt(1000), kToneDb, 0.5);
  EXPECT_LT(s.LevelAt(2000) - kToneDb, -60);
  EXPECT_LT(s.LoudestAwayFrom(1000, 60) - kToneDb, -60);
}

TEST_P(ResamplerEngineTest, StreamingInFramesEqualsOneBlock) {
  auto input = Tones(8000, 0.5, {{440, 0.3}, {1700, 0.2}});
  auto streamed = Stream(8000, 16000, input, engine());
  ProcessorHarness h("- type: Resampler\n  rate: 16000\n  " + engine() + "\n", StreamFormat::Pcm16(8000));
  h.Push(AudioFrame{8000, 1, input});
  h.End();
  EXPECT_EQ(streamed, h.DownstreamSamples());
}

TEST_P(ResamplerEngineTest, FlushAtEndDeliversEveryOutputSampleAligned) {
  auto input = Tones(24000, 0.2, {{300, 0.5}});
  auto output = Stream(24000, 8000, input, engine());
  ASSERT_EQ(output.size(), input.size() / 3);
  // Aligned with the input: a 300 Hz tone matches its decimated self.
  double error = 0;
  for (size_t i = 100; i + 100 < output.size(); ++i) error = std::max(error, std::abs(output[i] - input[i * 3] * 1.0));
  EXPECT_LT(error, 200);  // of 16384: within the filter's passband ripple
}

TEST_P(ResamplerEngineTest, OddRatiosWork) {
  auto input = Tones(44100, 0.5, {{1000, kToneLevel}});
  auto output = Stream(44100, 16000, input, engine());
  EXPECT_NEAR(double(output.size()), 8000, 2);
  Spectrum s(output, 2000, 4096, 16000);
  EXPECT_NEAR(s.LevelAt(1000), kToneDb, 0.5);
}

TEST(ResamplerTest, EqualRatesPassThroughUntouched) {
  ProcessorHarness h("- type: Resampler\n  rate: 8000\n", StreamFormat::Pcm16(8000));
  h.Push(AudioFrame{8000, 1, {1, 2, 3}});
  EXPECT_EQ(h.DownstreamSamples(), (std::vector<int16_t>{1, 2, 3}));
}

TEST(ResamplerTest, RateChangeMidStreamStartsAFreshFilter) {
  ProcessorHarness h("- type: Resampler\n  rate: 16000\n", StreamFormat::Pcm16(0));
  auto a = Tones(8000, 0.1, {{500, 0.3}});
  auto b = Tones(32000, 0.1, {{500, 0.3}});
  h.Push(AudioFrame{8000, 1, a});
  h.Push(AudioFrame{32000, 1, b});
  h.End();
  auto out = h.DownstreamSamples();
  EXPECT_NEAR(double(out.size()), 1600 + 1600, 2);
}

TEST(ResamplerTest, InterruptionResetDropsHeldAudio) {
  auto speech = Tones(24000, 0.1, {{1000, 0.5}});
  auto held_after = [&](const std::string& mode) {
    ProcessorHarness h("- type: Resampler\n  rate: 8000\n  engine: soxr\n  on_interruption: " + mode + "\n",
                       StreamFormat::Pcm16(24000));
    h.Push(AudioFrame{24000, 1, speech});
    h.TakeDownstream();
    h.Push(InterruptionFrame{});
    h.End();
    return h.DownstreamSamples();
  };
  EXPECT_TRUE(held_after("reset").empty());
  EXPECT_FALSE(held_after("keep").empty());
}

TEST(ResamplerTest, FirHoldsOnlyItsGroupDelay) {
  // Every 20 ms frame in gives output at once, trailing by the filter's delay.
  ProcessorHarness h("- type: Resampler\n  rate: 16000\n", StreamFormat::Pcm16(8000));
  auto tone = Tones(8000, 0.2, {{1000, 0.5}});
  size_t pushed = 0;
  for (size_t i = 0; i < tone.size(); i += 160) {
    h.Push(AudioFrame{8000, 1, std::vector<int16_t>(tone.begin() + i, tone.begin() + i + 160)});
    pushed += 320;
    auto out = h.DownstreamSamples().size();
    EXPECT_GE(out + 64, pushed) << "after " << pushed / 320 << " frames";  // 64 samples = 4 ms at 16 kHz
  }
}

TEST(ResamplerTest, UpstreamInterruptionKeepsTheCallersAudio) {
  ProcessorHarness h("- type: Resampler\n  rate: 16000\n", StreamFormat::Pcm16(8000));
  h.Push(AudioFrame{8000, 1, Tones(8000, 0.1, {{1000, 0.5}})});
  size_t before = h.DownstreamSamples().size();
  h.PushUpstream(Frame::Make(InterruptionFrame{}));
  h.End();
  EXPECT_EQ(h.DownstreamSamples().size(), 1600u);
  EXPECT_LT(before, 1600u);
}

TEST(ResamplerTest, MulawInputIsABuildErrorThatSaysWhatToAdd) {
  ProcessorHarness h("- type: Resampler\n  rate: 16000\n", StreamFormat::Mulaw(8000));
  ASSERT_FALSE(h.status().ok());
  EXPECT_NE(h.status().message().find("<harness>:1: Resampler cannot take mu-law 8000 Hz mono from the pipeline's "
                                      "input: expects PCM s16le audio; put a MulawDecoder before it"),
            std::string::npos)
      << h.status().message();
}

TEST(ResamplerTest, OptionsAreValidated) {
  ProcessorHarness missing("- type: Resampler\n", StreamFormat::Pcm16(8000));
  EXPECT_NE(missing.status().message().find("missing required option 'rate'"), std::string::npos);
  ProcessorHarness misspelt("- type: Resampler\n  rate: 8000\n  qualty: high\n", StreamFormat::Pcm16(8000));
  EXPECT_NE(misspelt.status().message().find("<harness>:3: unknown option 'qualty' (did you mean 'quality'?)"),
            std::string::npos)
      << misspelt.status().message();
}

// The FIR engine against its definition: insert L - 1 zeros after every input
// sample, convolve with the filter (in double), keep every M-th sample from the
// group delay on, round. Chunking must not matter, so the input arrives in
// random pieces, down to none or one frame at a time.
struct Ratio {
  int in_rate, out_rate, channels;
};

class PolyphaseResamplerRatioTest : public ::testing::TestWithParam<Ratio> {};
INSTANTIATE_TEST_SUITE_P(Ratios, PolyphaseResamplerRatioTest,
                         ::testing::Values(Ratio{8000, 16000, 1}, Ratio{24000, 8000, 1}, Ratio{16000, 8000, 1},
                                           Ratio{8000, 24000, 1}, Ratio{16000, 24000, 1}, Ratio{44100, 48000, 1},
                                           Ratio{8000, 16000, 2}, Ratio{48000, 16000, 2}),
                         [](const auto& info) {
                           return std::to_string(info.param.in_rate) + "to" + std::to_string(info.param.out_rate) +
                                  "x" + std::to_string(info.param.channels);
                         });

std::vector<int16_t> DirectConvolution(const std::vector<int16_t>& input, int in_rate, int out_rate, int channels,
                                       const std::vector<float>& h) {
  int g = std::gcd(in_rate, out_rate);
  const int64_t L = out_rate / g, M = in_rate / g;
  const int64_t frames = int64_t(input.size()) / channels;
  const int64_t delay = int64_t(h.size() - 1) / 2;
  const int64_t outputs = (frames * L + M / 2) / M;
  std::vector<int16_t> out(outputs * channels);
  for (int64_t t = 0; t < outputs; ++t) {
    for (int c = 0; c < channels; ++c) {
      const int64_t position = delay + t * M;  // at the filter rate
      double sum = 0;
      // Only every L-th sample of the stuffed signal is non-zero.
      for (int64_t j = position % L; j < int64_t(h.size()) && j <= position; j += L) {
        int64_t n = (position - j) / L;
        if (n < frames) sum += double(h[j]) * input[n * channels + c];
      }
      out[t * channels + c] = static_cast<int16_t>(std::clamp(std::lround(sum), -32768L, 32767L));
    }
  }
  return out;
}

TEST_P(PolyphaseResamplerRatioTest, MatchesDirectConvolutionWhateverTheChunking) {
  auto [in_rate, out_rate, channels] = GetParam();
  auto fir = PolyphaseResampler::Create(in_rate, out_rate, channels);
  ASSERT_NE(fir, nullptr);
  std::mt19937 random(in_rate + out_rate + channels);
  // Two streams on one resampler: Flush() must leave nothing behind. The
  // second is loud enough to clip.
  for (double level : {4000.0, 30000.0}) {
    std::normal_distribution<double> noise(0, level);
    std::vector<int16_t> input(static_cast<size_t>(in_rate * 0.15) * channels);
    for (auto& v : input) v = static_cast<int16_t>(std::clamp(std::lround(noise(random)), -32768L, 32767L));
    std::vector<int16_t> output;
    for (size_t at = 0; at < input.size();) {
      size_t frames = std::uniform_int_distribution<size_t>(0, random() % 4 == 0 ? 2 : 700)(random);
      size_t n = std::min(frames * channels, input.size() - at);
      fir->Process(std::span(input).subspan(at, n), output);
      at += n;
    }
    fir->Flush(output);
    auto expected = DirectConvolution(input, in_rate, out_rate, channels, fir->impulse_response());
    ASSERT_EQ(output.size(), expected.size());
    int worst = 0;
    for (size_t i = 0; i < output.size(); ++i) worst = std::max(worst, std::abs(output[i] - expected[i]));
    EXPECT_LE(worst, 1) << "LSB, at level " << level;  // float sums in a different order
  }
}

TEST(PolyphaseResamplerTest, ImpracticalRatiosAreRefused) {
  EXPECT_EQ(PolyphaseResampler::Create(48000, 44099, 1), nullptr);  // L = 44099 branches
  EXPECT_EQ(PolyphaseResampler::Create(8000, 0, 1), nullptr);
  EXPECT_NE(PolyphaseResampler::Create(44100, 8000, 1), nullptr);  // 25413 taps
}

}  // namespace
}  // namespace voxpipe
