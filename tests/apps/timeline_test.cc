// The picture of a call: speech found in audio, a call's record read back
// (with its WAVs, without them, cut short by a kill), and what is drawn.
#include "apps/timeline/timeline.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "framework/audio/wav_file.h"
#include "tests/common/command.h"

namespace voxpipe::timeline {
namespace {

namespace fs = std::filesystem;

// Silence with a 440 Hz tone at each [start, end) second range.
std::vector<int16_t> Tones(int rate, double seconds, std::vector<std::pair<double, double>> bursts) {
  std::vector<int16_t> samples(static_cast<size_t>(rate * seconds), 0);
  for (auto [start, end] : bursts) {
    for (size_t i = size_t(start * rate); i < size_t(end * rate) && i < samples.size(); ++i) {
      samples[i] = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * double(i) / rate));
    }
  }
  return samples;
}

class RecordDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("timeline_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

TEST(SpeechSpansTest, FindsTheBurstsAndJoinsShortGaps) {
  auto samples = Tones(16000, 4, {{0.5, 1.0}, {1.2, 1.6}, {2.6, 3.0}, {3.5, 3.54}});
  auto spans = SpeechSpans(samples, 16000, Lane::kCaller);
  ASSERT_EQ(spans.size(), 2u) << "the 200 ms gap is bridged, the 40 ms blip dropped";
  EXPECT_NEAR(spans[0].start_ms, 500, 20);
  EXPECT_NEAR(spans[0].end_ms, 1600, 20);
  EXPECT_NEAR(spans[1].start_ms, 2600, 20);
  EXPECT_NEAR(spans[1].end_ms, 3000, 20);
}

TEST_F(RecordDir, ARecordWithItsAudioIsDrawnWithTranscriptsToolsAndReplyDelays) {
  ASSERT_TRUE(wav::WritePcm((dir_ / "CAx.caller.wav").string(), 8000, Tones(8000, 6, {{2.0, 3.0}})).ok());
  ASSERT_TRUE(wav::WritePcm((dir_ / "CAx.heard.wav").string(), 8000, Tones(8000, 6, {{0.2, 1.5}, {3.6, 5.0}})).ok());
  std::string record = Write("CAx.jsonl",
      R"({"ms":0,"event":"call_start","call_id":"CAx","time":"2026-12-02T10:00:00.000+00:00"})" "\n"
      R"({"ms":200,"event":"bot_audio_start","turn":0})" "\n"
      R"({"ms":1500,"event":"bot_transcript","turn":0,"text":"Hello <caller> & welcome","interrupted":false})" "\n"
      R"({"ms":3100,"event":"user_transcript","text":"visiting hours?","final":true})" "\n"
      R"({"ms":3200,"event":"tool_call","name":"lookup_hospital_info","args":{"query":"visiting hours"}})" "\n"
      R"({"ms":3300,"event":"tool_result","name":"lookup_hospital_info","result":{"output":"9 am to 8 pm"}})" "\n"
      R"({"ms":4200,"event":"interruption","turn":1,"played_ms":600})" "\n"
      R"({"ms":5500,"event":"transfer","target":"+15550100000"})" "\n"
      R"({"ms":6000,"event":"call_end","status":"ok","reason":"","duration_ms":6000})" "\n");
  auto timeline = LoadRecordedTimeline(record);
  ASSERT_TRUE(timeline.ok()) << timeline.message();
  EXPECT_EQ(timeline->title, "Call CAx");
  EXPECT_EQ(timeline->subtitle, "2026-12-02T10:00:00.000+00:00 · ended normally");
  ASSERT_EQ(timeline->spans.size(), 3u);
  EXPECT_EQ(timeline->spans[0].text, "visiting hours?");
  EXPECT_EQ(timeline->spans[1].text, "Hello <caller> & welcome");
  auto delays = timeline->ReplyDelays();
  ASSERT_EQ(delays.size(), 1u);
  EXPECT_NEAR(delays[0].reply_start_ms - delays[0].caller_end_ms, 600, 25);

  std::string html = RenderHtml(*timeline);
  EXPECT_NE(html.find("Hello &lt;caller&gt; &amp; welcome"), std::string::npos) << "text is escaped";
  EXPECT_EQ(html.find("<caller>"), std::string::npos);
  for (const char* drawn : {"lookup_hospital_info", "barge-in", "transferred to +15550100000", "first audio",
                            "started 600 ms after the caller stopped"}) {
    EXPECT_NE(html.find(drawn), std::string::npos) << drawn;
  }
  std::string svg = RenderSvg(*timeline);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("600 ms"), std::string::npos);
}

TEST_F(RecordDir, WithoutItsAudioTheTurnsComeFromTheEvents) {
  std::string record = Write("CAy.jsonl",
      R"({"ms":0,"event":"call_start","call_id":"CAy"})" "\n"
      R"({"ms":300,"event":"bot_audio_start","turn":0})" "\n"
      R"({"ms":2300,"event":"bot_audio_end","turn":0,"played_ms":2000,"interrupted":false})" "\n");
  auto timeline = LoadRecordedTimeline(record);
  ASSERT_TRUE(timeline.ok()) << timeline.message();
  ASSERT_EQ(timeline->spans.size(), 1u);
  EXPECT_EQ(timeline->spans[0].lane, Lane::kAssistant);
  EXPECT_DOUBLE_EQ(timeline->spans[0].start_ms, 300);
  EXPECT_DOUBLE_EQ(timeline->spans[0].end_ms, 2300);
  EXPECT_NE(timeline->subtitle.find("no call_end"), std::string::npos) << timeline->subtitle;
}

TEST_F(RecordDir, AHalfWrittenLastLineIsWhereTheRecordStopsAndABadLineIsNamed) {
  auto cut = LoadRecordedTimeline(Write("CAk.jsonl", R"({"ms":0,"event":"call_start","call_id":"CAk"})" "\n"
                                                     R"({"ms":10,"event":"bot_aud)"));
  EXPECT_TRUE(cut.ok()) << cut.message();
  auto bad = LoadRecordedTimeline(Write("CAb.jsonl", "{\"ms\":0}\nnot json\n{\"ms\":1}\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("CAb.jsonl:2: not a JSON object"), std::string::npos) << bad.message();
  auto missing = LoadRecordedTimeline((dir_ / "nothing.jsonl").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("nothing.jsonl: cannot open"), std::string::npos);
}

TEST_F(RecordDir, TheCommandDrawsNextToTheRecordOrWhereItIsTold) {
  std::string record = Write("CAz.jsonl", R"({"ms":0,"event":"call_start","call_id":"CAz"})" "\n");
  auto beside = voxpipe::testing::RunCommand({voxpipe::testing::VoxpipeBinary(), "timeline", record});
  EXPECT_EQ(beside.exit_code, 0) << beside.output;
  EXPECT_TRUE(fs::exists(dir_ / "CAz.html"));
  auto svg = voxpipe::testing::RunCommand(
      {voxpipe::testing::VoxpipeBinary(), "timeline", record, "-o", (dir_ / "call.svg").string()});
  EXPECT_EQ(svg.exit_code, 0) << svg.output;
  std::ifstream in(dir_ / "call.svg");
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first.rfind("<svg", 0), 0u) << first;
  auto missing = voxpipe::testing::RunCommand({voxpipe::testing::VoxpipeBinary(), "timeline", "/no/such.jsonl"});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
}

}  // namespace
}  // namespace voxpipe::timeline
