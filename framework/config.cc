#include "framework/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

namespace voxpipe {

namespace {

thread_local LenientVariables* lenient = nullptr;

// YAML indents with spaces; a tab there gives yaml-cpp's "illegal block entry".
Status CheckIndentation(std::string_view text, const std::string& file) {
  int line = 1;
  bool at_start = true;
  for (char c : text) {
    if (c == '\n') {
      ++line;
      at_start = true;
    } else if (at_start && c == '\t') {
      return Status::Error(fmt::format("{}:{}: a tab in the indentation (YAML indents with spaces only)", file, line));
    } else if (c != ' ') {
      at_start = false;
    }
  }
  return OkStatus();
}

// Walks the document as a tree — an alias counts each time it is used —
// within the node and depth budgets, and refuses duplicate keys.
class DocumentCheck {
 public:
  explicit DocumentCheck(const std::string& file) : file_(file) {}

  Status Walk(const YAML::Node& node, int depth) {
    if (++nodes_ > kMaxConfigNodes) {
      return Error(node, fmt::format("the document expands to more than {} nodes (aliases of aliases?)", kMaxConfigNodes));
    }
    if (depth > kMaxConfigDepth) return Error(node, fmt::format("nested more than {} levels deep", kMaxConfigDepth));
    if (node.IsSequence()) {
      for (const auto& item : node) {
        if (Status s = Walk(item, depth + 1); !s.ok()) return s;
      }
    } else if (node.IsMap()) {
      std::map<std::string, int> lines;
      for (const auto& kv : node) {
        if (kv.first.IsScalar()) {
          int line = kv.first.Mark().line + 1;
          auto [it, inserted] = lines.emplace(kv.first.Scalar(), line);
          if (!inserted) {
            return Error(kv.first, fmt::format("key '{}' is given twice in one mapping (first on line {})",
                                               kv.first.Scalar(), it->second));
          }
        }
        if (Status s = Walk(kv.first, depth + 1); !s.ok()) return s;
        if (Status s = Walk(kv.second, depth + 1); !s.ok()) return s;
      }
    }
    return OkStatus();
  }

 private:
  Status Error(const YAML::Node& node, const std::string& message) const {
    auto mark = node.Mark();
    return mark.is_null() ? Status::Error(fmt::format("{}: {}", file_, message))
                          : Status::Error(fmt::format("{}:{}: {}", file_, mark.line + 1, message));
  }

  const std::string& file_;
  size_t nodes_ = 0;
};

}  // namespace

Result<ConfigNode> ConfigNode::Parse(std::string_view text, std::string file) {
  if (text.size() > kMaxConfigBytes) {
    return Status::Error(fmt::format("{}: larger than {} KiB; not a pipeline file", file, kMaxConfigBytes / 1024));
  }
  if (Status s = CheckIndentation(text, file); !s.ok()) return s;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::Error(fmt::format("{}:{}: YAML syntax error: {}", file, e.mark.line + 1, e.msg));
  }
  if (Status s = DocumentCheck(file).Walk(root, 0); !s.ok()) return s;
  return ConfigNode(std::move(root), std::make_shared<const std::string>(file));
}

Result<ConfigNode> ConfigNode::LoadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::Error(fmt::format("{}: is a directory, not a file", path));
  std::ifstream in(path);
  if (!in) return Status::Error(fmt::format("{}: cannot open file ({})", path, std::strerror(errno)));
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) break;  // Parse says why
  }
  return Parse(text, path);
}

int ConfigNode::line() const {
  if (!node_.IsDefined()) return 0;
  auto mark = node_.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

std::string ConfigNode::where() const {
  int l = line();
  return l > 0 ? fmt::format("{}:{}", file(), l) : file();
}

Status ConfigNode::Error(std::string_view message) const {
  return Status::Error(fmt::format("{}: {}", where(), message));
}

ConfigNode ConfigNode::operator[](std::string_view key) const {
  if (!node_.IsMap()) return ConfigNode(YAML::Node(YAML::NodeType::Undefined), file_);
  for (const auto& kv : node_) {
    if (kv.first.Scalar() == key) return ConfigNode(kv.second, file_);
  }
  return ConfigNode(YAML::Node(YAML::NodeType::Undefined), file_);
}

std::vector<ConfigNode> ConfigNode::Items() const {
  std::vector<ConfigNode> items;
  if (node_.IsSequence()) {
    for (const auto& item : node_) items.emplace_back(item, file_);
  }
  return items;
}

namespace {

// The '}' closing a "${" whose name starts at `from`: braces in a default
// pair up, so ${MESSAGES_FILE:-messages/{date}.jsonl} is one reference.
size_t ClosingBrace(std::string_view text, size_t from) {
  int depth = 0;
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] == '{') {
      ++depth;
    } else if (text[i] == '}' && depth-- == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

Result<std::string> ConfigNode::Scalar() const {
  if (!lenient) {
    auto expanded = ExpandVariables(node_.Scalar());
    if (!expanded.ok()) return Error(expanded.message());
    return expanded;
  }
  // Each unset variable (without a default) becomes "${NAME:-}" for the
  // expansion and a note of where it was.
  std::string text = node_.Scalar();
  std::string lenient_text;
  for (size_t i = 0; i < text.size();) {
    size_t open = text.find("${", i);
    if (open == std::string::npos || (open > 0 && text[open - 1] == '$')) {
      lenient_text += text.substr(i, open == std::string::npos ? std::string::npos : open + 2 - i);
      if (open == std::string::npos) break;
      i = open + 2;
      continue;
    }
    size_t close = ClosingBrace(text, open + 2);
    if (close == std::string::npos) {
      lenient_text += text.substr(i);
      break;
    }
    std::string inner = text.substr(open + 2, close - open - 2);
    lenient_text += text.substr(i, open - i);
    if (inner.find(":-") == std::string::npos) {
      const char* value = std::getenv(inner.c_str());
      if (!value || !*value) lenient->Add(inner, where());
      lenient_text += "${" + inner + ":-}";
    } else {
      lenient_text += "${" + inner + "}";
    }
    i = close + 1;
  }
  auto expanded = ExpandVariables(lenient_text);
  if (!expanded.ok()) return Error(expanded.message());
  return expanded;
}

LenientVariables::LenientVariables() : previous_(lenient) { lenient = this; }

LenientVariables::~LenientVariables() { lenient = previous_; }

void LenientVariables::Add(std::string name, std::string where) {
  for (const auto& u : unset_) {
    if (u.name == name) return;
  }
  unset_.push_back({std::move(name), std::move(where)});
}

Result<std::string> ExpandVariables(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (text[i + 1] != '{') {
      out += '$';
      continue;
    }
    size_t close = ClosingBrace(text, i + 2);
    if (close == std::string_view::npos) {
      return Status::Error(fmt::format("unterminated '${{' in \"{}\"", text));
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (size_t sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
    if (!valid) return Status::Error(fmt::format("bad variable reference '${{{}}}'", inner));
    const char* value = std::getenv(std::string(name).c_str());
    if (value && *value) {
      out += value;
    } else if (fallback) {
      out += *fallback;
    } else {
      return Status::Error(fmt::format(
          "environment variable {} is not set (set it, put it in .env, or write ${{{}:-default}})", name, name));
    }
    i = close;
  }
  return out;
}

Status LoadDotEnv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return OkStatus();  // .env is optional
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    line = line.substr(first);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::Error(fmt::format("{}:{}: expected KEY=VALUE", path, number));
    }
    std::string key = line.substr(0, eq);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(eq + 1);
    auto value_start = value.find_first_not_of(" \t");
    value = value_start == std::string::npos ? "" : value.substr(value_start);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    } else if (auto hash = value.find(" #"); hash != std::string::npos) {
      value = value.substr(0, hash);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.pop_back();
    setenv(key.c_str(), value.c_str(), /*overwrite=*/0);
  }
  return OkStatus();
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    size_t d = EditDistance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = ClosestMatch(word, candidates);
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

}  // namespace voxpipe
