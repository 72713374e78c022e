// ConfigNode: a YAML node together with the file it came from, so every
// configuration error can name the file, the line and the field.
//
// Parsing refuses what YAML would take silently or at great cost: a key
// given twice in one mapping (both lines named), a tab in the indentation,
// files over kMaxConfigBytes, and documents whose aliases expand to more
// than kMaxConfigNodes nodes or kMaxConfigDepth levels (a few hundred bytes
// of nested aliases can otherwise stand for billions of nodes).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "framework/status.h"

namespace voxpipe {

inline constexpr size_t kMaxConfigBytes = 1 << 20;
inline constexpr size_t kMaxConfigNodes = 100'000;
inline constexpr int kMaxConfigDepth = 64;

class ConfigNode {
 public:
  ConfigNode() = default;
  ConfigNode(YAML::Node node, std::shared_ptr<const std::string> file)
      : node_(std::move(node)), file_(std::move(file)) {}

  // Parses YAML text; `file` names it in errors.
  static Result<ConfigNode> Parse(std::string_view text, std::string file);
  static Result<ConfigNode> LoadFile(const std::string& path);

  const YAML::Node& yaml() const { return node_; }
  const std::string& file() const { return *file_; }
  // 1-based line of this node, 0 when unknown.
  int line() const;
  // "file:line" (or "file" when the line is unknown).
  std::string where() const;
  // "file:line: message".
  Status Error(std::string_view message) const;

  bool IsMap() const { return node_.IsMap(); }
  bool IsSequence() const { return node_.IsSequence(); }
  bool IsScalar() const { return node_.IsScalar(); }
  bool IsNull() const { return !node_.IsDefined() || node_.IsNull(); }
  // Child of a mapping; an undefined node when absent.
  ConfigNode operator[](std::string_view key) const;
  ConfigNode Child(const YAML::Node& child) const { return ConfigNode(child, file_); }
  std::vector<ConfigNode> Items() const;  // elements of a sequence

  // The scalar with ${VAR} and ${VAR:-default} expanded.
  Result<std::string> Scalar() const;
  // True for 'quoted' and "quoted" scalars, which stay strings in JSON.
  bool IsQuoted() const { return node_.Tag() == "!"; }

 private:
  YAML::Node node_;
  std::shared_ptr<const std::string> file_ = std::make_shared<const std::string>("<config>");
};

// Expands ${VAR} and ${VAR:-default} from the environment. An unset variable
// without a default is an error that names it; `$$` is a literal dollar.
Result<std::string> ExpandVariables(std::string_view text);

// While one of these lives on a thread, unset variables there expand to ""
// and are collected instead of being errors: `voxpipe check` and `graph`
// validate a file without its secrets and warn about what is unset.
class LenientVariables {
 public:
  struct Unset {
    std::string name;
    std::string where;  // "file:line"
  };
  LenientVariables();
  ~LenientVariables();
  LenientVariables(const LenientVariables&) = delete;
  LenientVariables& operator=(const LenientVariables&) = delete;
  // Each variable once, in the order first met.
  const std::vector<Unset>& unset() const { return unset_; }

 private:
  friend class ConfigNode;
  void Add(std::string name, std::string where);
  LenientVariables* previous_;
  std::vector<Unset> unset_;
};

// Reads KEY=VALUE lines (comments, blank lines, `export ` and quotes allowed)
// into the environment without overriding variables already set.
Status LoadDotEnv(const std::string& path);

// The candidate closest to `word` by edit distance, or "" when none is close.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace voxpipe
