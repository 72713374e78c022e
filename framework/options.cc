#include "framework/options.h"

#include <charconv>
#include <cmath>

namespace voxpipe::options_detail {
namespace {

Result<std::string> ScalarText(const ConfigNode& node, std::string_view expected) {
  if (!node.IsScalar()) return node.Error(fmt::format("expected {}", expected));
  return node.Scalar();
}

}  // namespace

Status ParseBool(const ConfigNode& node, bool& out) {
  auto text = ScalarText(node, "true or false");
  if (!text.ok()) return text.status();
  static const std::vector<std::string> kTrue = {"true", "yes", "on", "1"};
  static const std::vector<std::string> kFalse = {"false", "no", "off", "0"};
  for (const auto& t : kTrue) if (*text == t) return out = true, OkStatus();
  for (const auto& f : kFalse) if (*text == f) return out = false, OkStatus();
  return node.Error(fmt::format("expected true or false, got '{}'", *text));
}

Status ParseInt(const ConfigNode& node, int64_t& out) {
  auto text = ScalarText(node, "an integer");
  if (!text.ok()) return text.status();
  const char* begin = text->data();
  const char* end = begin + text->size();
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (ec != std::errc() || ptr != end) return node.Error(fmt::format("expected an integer, got '{}'", *text));
  return OkStatus();
}

Status ParseDouble(const ConfigNode& node, double& out) {
  auto text = ScalarText(node, "a number");
  if (!text.ok()) return text.status();
  const char* begin = text->data();
  const char* end = begin + text->size();
  auto [ptr, ec] = std::from_chars(begin, end, out);
  if (ec != std::errc() || ptr != end || !std::isfinite(out)) {
    return node.Error(fmt::format("expected a number, got '{}'", *text));
  }
  return OkStatus();
}

Status ParseDuration(const ConfigNode& node, std::chrono::milliseconds& out) {
  auto text = ScalarText(node, "a duration such as 20ms, 1.5s or 2m");
  if (!text.ok()) return text.status();
  const char* begin = text->data();
  const char* end = begin + text->size();
  double value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  std::string_view unit(ptr, end - ptr);
  double scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m" || unit == "min") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  if (ec != std::errc() || scale == 0 || value < 0 || !std::isfinite(value)) {
    return node.Error(fmt::format("expected a duration such as 20ms, 1.5s or 2m, got '{}'", *text));
  }
  out = std::chrono::milliseconds(std::llround(value * scale));
  return OkStatus();
}

std::string FormatDuration(std::chrono::milliseconds value) {
  auto ms = value.count();
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms != 0 && ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

Status ParseJson(const ConfigNode& node, nlohmann::json& out) {
  const YAML::Node& y = node.yaml();
  if (node.IsNull()) {
    out = nullptr;
  } else if (y.IsScalar()) {
    auto text = node.Scalar();
    if (!text.ok()) return text.status();
    out = *text;
    if (!node.IsQuoted()) {
      const char* begin = text->data();
      const char* end = begin + text->size();
      int64_t i = 0;
      double d = 0;
      if (auto r = std::from_chars(begin, end, i); r.ec == std::errc() && r.ptr == end) out = i;
      else if (auto r = std::from_chars(begin, end, d); r.ec == std::errc() && r.ptr == end) out = d;
      else if (*text == "true" || *text == "false") out = *text == "true";
      else if (*text == "null" || *text == "~") out = nullptr;
    }
  } else if (y.IsSequence()) {
    out = nlohmann::json::array();
    for (const auto& item : node.Items()) {
      nlohmann::json element;
      if (auto s = ParseJson(item, element); !s.ok()) return s;
      out.push_back(std::move(element));
    }
  } else if (y.IsMap()) {
    out = nlohmann::json::object();
    for (const auto& kv : y) {
      nlohmann::json element;
      if (auto s = ParseJson(node.Child(kv.second), element); !s.ok()) return s;
      out[kv.first.Scalar()] = std::move(element);
    }
  }
  return OkStatus();
}

}  // namespace voxpipe::options_detail
