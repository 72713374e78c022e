#include "framework/config.h"

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

namespace voxpipe {
namespace {

TEST(ExpandVariablesTest, SubstitutesSetVariablesAndDefaults) {
  setenv("VOXPIPE_TEST_PORT", "9000", 1);
  unsetenv("VOXPIPE_TEST_UNSET");
  EXPECT_EQ(*ExpandVariables("port ${VOXPIPE_TEST_PORT}"), "port 9000");
  EXPECT_EQ(*ExpandVariables("${VOXPIPE_TEST_UNSET:-8091}"), "8091");
  EXPECT_EQ(*ExpandVariables("${VOXPIPE_TEST_UNSET:-}"), "");
  EXPECT_EQ(*ExpandVariables("${VOXPIPE_TEST_PORT:-1}"), "9000");
  EXPECT_EQ(*ExpandVariables("cost $$5 and $HOME"), "cost $5 and $HOME");
}

// A default may hold a per-call value such as {date}: its braces pair up
// and do not end the reference (the shipped MESSAGES_FILE default).
TEST(ExpandVariablesTest, BracesInADefaultStayInTheDefault) {
  unsetenv("VOXPIPE_TEST_UNSET");
  setenv("VOXPIPE_TEST_FILE", "/var/lib/messages.jsonl", 1);
  EXPECT_EQ(*ExpandVariables("${VOXPIPE_TEST_UNSET:-messages/{date}.jsonl}"), "messages/{date}.jsonl");
  EXPECT_EQ(*ExpandVariables("${VOXPIPE_TEST_FILE:-messages/{date}.jsonl}"), "/var/lib/messages.jsonl");
  EXPECT_EQ(*ExpandVariables("${VOXPIPE_TEST_UNSET:-{a}/{b}}/x"), "{a}/{b}/x");
  EXPECT_FALSE(ExpandVariables("${VOXPIPE_TEST_UNSET:-{date}").ok()) << "unterminated";
  auto node = ConfigNode::Parse("file: ${VOXPIPE_TEST_FILE:-messages/{date}.jsonl}\n", "x.yaml");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(*(*node)["file"].Scalar(), "/var/lib/messages.jsonl");
  LenientVariables lenient;
  EXPECT_EQ(*(*node)["file"].Scalar(), "/var/lib/messages.jsonl");
}

TEST(ExpandVariablesTest, UnsetVariableWithoutDefaultNamesIt) {
  unsetenv("VOXPIPE_TEST_UNSET");
  auto r = ExpandVariables("key=${VOXPIPE_TEST_UNSET}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("VOXPIPE_TEST_UNSET is not set"), std::string::npos);
  EXPECT_FALSE(ExpandVariables("${unterminated").ok());
  EXPECT_FALSE(ExpandVariables("${bad name}").ok());
}

TEST(ConfigNodeTest, ErrorsNameFileAndLine) {
  auto node = ConfigNode::Parse("a: 1\nb:\n  c: ${VOXPIPE_TEST_UNSET}\n", "x.yaml");
  ASSERT_TRUE(node.ok());
  unsetenv("VOXPIPE_TEST_UNSET");
  auto c = (*node)["b"]["c"].Scalar();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.message().rfind("x.yaml:3: ", 0), 0u) << c.message();
}

TEST(ConfigNodeTest, SyntaxErrorNamesLine) {
  auto node = ConfigNode::Parse("a: 1\nb: [1, 2\n", "bad.yaml");
  ASSERT_FALSE(node.ok());
  EXPECT_EQ(node.message().rfind("bad.yaml:", 0), 0u) << node.message();
  EXPECT_NE(node.message().find("YAML syntax error"), std::string::npos);
}

TEST(ConfigNodeTest, ADuplicateKeyNamesBothLines) {
  auto r = ConfigNode::Parse("pipeline:\n  - type: A\n    rate: 1\n    rate: 2\n", "d.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "d.yaml:4: key 'rate' is given twice in one mapping (first on line 3)");
}

TEST(ConfigNodeTest, ATabInTheIndentationIsNamed) {
  auto r = ConfigNode::Parse("pipeline:\n  - type: A\n\t  rate: 1\n", "t.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "t.yaml:3: a tab in the indentation (YAML indents with spaces only)");
  // A tab inside a value is only text.
  EXPECT_TRUE(ConfigNode::Parse("greeting: \"a\tb\"\n", "t.yaml").ok());
}

TEST(ConfigNodeTest, AnAliasBombIsRefusedQuicklyAndWithLittleMemory) {
  // Nine levels of ten aliases each: a billion nodes from a few hundred bytes.
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int level = 1; level <= 9; ++level) {
    yaml += "a" + std::to_string(level) + ": &a" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) yaml += (i ? ", *a" : "*a") + std::to_string(level - 1);
    yaml += "]\n";
  }
  auto r = ConfigNode::Parse(yaml, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("expands to more than 100000 nodes"), std::string::npos) << r.message();
}

TEST(ConfigNodeTest, DeepNestingAndHugeFilesAreRefused) {
  std::string deep = std::string(100, '[') + std::string(100, ']');
  auto r = ConfigNode::Parse(deep, "deep.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("nested more than 64 levels"), std::string::npos) << r.message();
  auto huge = ConfigNode::Parse(std::string(kMaxConfigBytes + 1, '#'), "huge.yaml");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.message().find("huge.yaml: larger than 1024 KiB"), std::string::npos) << huge.message();
}

TEST(LenientVariablesTest, UnsetVariablesBecomeEmptyAndAreCollected) {
  unsetenv("VOXPIPE_TEST_UNSET");
  unsetenv("VOXPIPE_TEST_UNSET_2");
  auto root = ConfigNode::Parse("a: ${VOXPIPE_TEST_UNSET}\nb: x${VOXPIPE_TEST_UNSET_2}y\nc: ${VOXPIPE_TEST_UNSET:-d}\n",
                                "v.yaml");
  ASSERT_TRUE(root.ok());
  EXPECT_FALSE((*root)["a"].Scalar().ok()) << "strict outside a LenientVariables";
  LenientVariables lenient;
  EXPECT_EQ(*(*root)["a"].Scalar(), "");
  EXPECT_EQ(*(*root)["b"].Scalar(), "xy");
  EXPECT_EQ(*(*root)["c"].Scalar(), "d");
  ASSERT_EQ(lenient.unset().size(), 2u);
  EXPECT_EQ(lenient.unset()[0].name, "VOXPIPE_TEST_UNSET");
  EXPECT_EQ(lenient.unset()[0].where, "v.yaml:1");
  EXPECT_EQ(lenient.unset()[1].where, "v.yaml:2");
}

TEST(LoadDotEnvTest, SetsOnlyUnsetVariables) {
  std::string path = ::testing::TempDir() + "/voxpipe_test.env";
  {
    std::ofstream out(path);
    out << "# comment\n\nVOXPIPE_DOTENV_A=alpha\nexport VOXPIPE_DOTENV_B=\"two words\"\nVOXPIPE_DOTENV_C=set # note\n";
  }
  unsetenv("VOXPIPE_DOTENV_A");
  unsetenv("VOXPIPE_DOTENV_B");
  setenv("VOXPIPE_DOTENV_C", "from-env", 1);
  ASSERT_TRUE(LoadDotEnv(path).ok());
  EXPECT_STREQ(getenv("VOXPIPE_DOTENV_A"), "alpha");
  EXPECT_STREQ(getenv("VOXPIPE_DOTENV_B"), "two words");
  EXPECT_STREQ(getenv("VOXPIPE_DOTENV_C"), "from-env");
  EXPECT_TRUE(LoadDotEnv("/nonexistent/.env").ok());
}

TEST(LoadDotEnvTest, MalformedLineIsAnError) {
  std::string path = ::testing::TempDir() + "/voxpipe_bad.env";
  std::ofstream(path) << "GOOD=1\nno equals sign\n";
  auto s = LoadDotEnv(path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(":2:"), std::string::npos) << s.message();
}

TEST(ClosestMatchTest, SuggestsNearNamesOnly) {
  std::vector<std::string> names = {"MulawDecoder", "MulawEncoder", "Resampler"};
  EXPECT_EQ(ClosestMatch("MulawDecodr", names), "MulawDecoder");
  EXPECT_EQ(ClosestMatch("resampler", names), "Resampler");
  EXPECT_EQ(ClosestMatch("Gemini", names), "");
  EXPECT_EQ(DidYouMean("Resampeler", names), " (did you mean 'Resampler'?)");
}

}  // namespace
}  // namespace voxpipe
