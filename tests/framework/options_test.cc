#include "framework/options.h"

#include <gtest/gtest.h>

namespace voxpipe {
namespace {

struct Tool {
  std::string name;
  nlohmann::json parameters;
  static void Declare(Schema<Tool>& s) {
    s.Field("name", &Tool::name, "Tool name").Required();
    s.Field("parameters", &Tool::parameters, "JSON schema");
  }
};

struct Sample {
  int rate = 16000;
  bool realtime = true;
  double gain = 1.0;
  std::string quality = "high";
  std::chrono::milliseconds timeout{250};
  std::vector<std::string> tags;
  std::map<std::string, std::string> params;
  std::optional<int> limit;
  std::vector<Tool> tools;
  static void Declare(Schema<Sample>& s) {
    s.Field("rate", &Sample::rate, "Rate in Hz").Range(1000, 192000);
    s.Field("realtime", &Sample::realtime, "Pace in real time");
    s.Field("gain", &Sample::gain, "Linear gain");
    s.Field("quality", &Sample::quality, "Quality").OneOf({"low", "high"});
    s.Field("timeout", &Sample::timeout, "Timeout");
    s.Field("tags", &Sample::tags, "Tags");
    s.Field("params", &Sample::params, "Parameters");
    s.Field("limit", &Sample::limit, "Optional limit");
    s.Field("tools", &Sample::tools, "Tools");
    s.Check([](const Sample& v) { return v.gain > 10 ? "gain above 10 would clip" : ""; });
  }
};

Result<Sample> ParseSample(std::string_view yaml) {
  auto node = ConfigNode::Parse(yaml, "opts.yaml");
  EXPECT_TRUE(node.ok());
  return Schema<Sample>::Get().Parse(*node);
}

TEST(OptionsTest, DefaultsWhenEmpty) {
  auto s = ParseSample("{}");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rate, 16000);
  EXPECT_TRUE(s->realtime);
  EXPECT_EQ(s->timeout, std::chrono::milliseconds(250));
  EXPECT_FALSE(s->limit.has_value());
}

TEST(OptionsTest, ParsesEveryType) {
  setenv("VOXPIPE_TEST_RATE", "8000", 1);
  auto s = ParseSample(R"(
rate: ${VOXPIPE_TEST_RATE}
realtime: no
gain: 0.5
quality: low
timeout: 1.5s
tags: [a, b]
params: {From: "+1", To: x}
limit: 3
tools:
  - name: lookup
    parameters: {type: OBJECT, properties: {id: {type: STRING}}, required: [id], count: 2, quoted: "2"}
)");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->rate, 8000);
  EXPECT_FALSE(s->realtime);
  EXPECT_DOUBLE_EQ(s->gain, 0.5);
  EXPECT_EQ(s->quality, "low");
  EXPECT_EQ(s->timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(s->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s->params.at("From"), "+1");
  EXPECT_EQ(s->limit, 3);
  ASSERT_EQ(s->tools.size(), 1u);
  EXPECT_EQ(s->tools[0].name, "lookup");
  EXPECT_EQ(s->tools[0].parameters["properties"]["id"]["type"], "STRING");
  EXPECT_EQ(s->tools[0].parameters["count"], 2);
  EXPECT_EQ(s->tools[0].parameters["quoted"], "2");
}

void ExpectError(std::string_view yaml, std::string_view expected) {
  auto s = ParseSample(yaml);
  ASSERT_FALSE(s.ok()) << yaml;
  EXPECT_NE(s.message().find(expected), std::string::npos) << s.message();
}

TEST(OptionsTest, ErrorsNameLineAndField) {
  ExpectError("rate: 16000\nrte: 8000\n", "opts.yaml:2: unknown option 'rte' (did you mean 'rate'?)");
  ExpectError("rate: fast\n", "opts.yaml:1: expected an integer, got 'fast' (option 'rate')");
  ExpectError("\nrate: 100\n", "opts.yaml:2: option 'rate' must be within [1000, 192000], got 100");
  ExpectError("quality: hgih\n", "option 'quality' must be one of low, high, got 'hgih' (did you mean 'high'?)");
  ExpectError("timeout: 20\n", "expected a duration such as 20ms, 1.5s or 2m, got '20'");
  ExpectError("realtime: maybe\n", "expected true or false, got 'maybe'");
  ExpectError("tags: a\n", "expected a list");
  ExpectError("tools:\n  - parameters: {}\n", "opts.yaml:2: missing required option 'name'");
  ExpectError("gain: 20\n", "gain above 10 would clip");
  ExpectError("- 1\n", "expected a mapping of option names to values");
}

TEST(OptionsTest, DescribeGivesDefaultsAndNestedFields) {
  auto info = Schema<Sample>::Get().Describe();
  ASSERT_EQ(info.size(), 9u);
  EXPECT_EQ(info[0].name, "rate");
  EXPECT_EQ(info[0].type, "int");
  EXPECT_EQ(info[0].default_value, "16000");
  EXPECT_EQ(info[0].range, "[1000, 192000]");
  EXPECT_EQ(info[4].default_value, "250ms");
  EXPECT_EQ(info[8].type, "list of object");
  ASSERT_EQ(info[8].fields.size(), 2u);
  EXPECT_TRUE(info[8].fields[0].required);
}

struct Paths {
  std::string greeting;
  std::string log_file;
  static void Declare(Schema<Paths>& s) {
    s.Field("greeting", &Paths::greeting, "Said first");
    s.Field("log_file", &Paths::log_file, "Where to write").ExpandedByProcessor();
  }
};

TEST(OptionsTest, BindingLeavesFieldsTheProcessorExpandsItself) {
  Paths paths{.greeting = "Hello {caller}", .log_file = "logs/{date}.jsonl"};
  int replaced = Schema<Paths>::Get().ExpandStrings(paths, [](std::string& text) {
    auto at = text.find('{');
    if (at == std::string::npos) return 0;
    text.replace(at, text.find('}', at) - at + 1, "X");
    return 1;
  });
  EXPECT_EQ(replaced, 1);
  EXPECT_EQ(paths.greeting, "Hello X");
  EXPECT_EQ(paths.log_file, "logs/{date}.jsonl");
}

}  // namespace
}  // namespace voxpipe
