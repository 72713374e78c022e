#include "framework/config.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace voxpipe {

Result<ConfigNode> ConfigNode::Parse(std::string_view text, std::string file) {
  try {
    return ConfigNode(YAML::Load(std::string(text)), std::make_shared<const std::string>(file));
  } catch (const YAML::Exception& e) {
    return Status::Error(fmt::format("{}:{}: YAML syntax error: {}", file, e.mark.line + 1, e.msg));
  }
}

Result<ConfigNode> ConfigNode::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error(fmt::format("{}: cannot open file", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
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

Result<std::string> ConfigNode::Scalar() const {
  auto expanded = ExpandVariables(node_.Scalar());
  if (!expanded.ok()) return Error(expanded.message());
  return expanded;
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
    size_t close = text.find('}', i + 2);
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
