#include "framework/call_values.h"

#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "framework/frames.h"

namespace voxpipe {
namespace {

constexpr size_t kMaxValue = 64;

std::string AsIdentifier(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, kMaxValue)) {
    bool safe = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '@' || c == '.' || c == '_' || c == '-';
    out += safe ? c : '_';
  }
  for (size_t at; (at = out.find("..")) != std::string::npos;) out.replace(at, 2, "_");
  return out;
}

}  // namespace

CallValues CallValuesFor(const StartFrame& start, std::chrono::system_clock::time_point now) {
  CallValues values;
  for (const auto& [name, value] : start.metadata) values[name] = AsIdentifier(value);
  values["call_id"] = AsIdentifier(start.call_id);
  std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  localtime_r(&seconds, &local);
  values["date"] = fmt::format("{:%Y-%m-%d}", local);
  values["time"] = fmt::format("{:%H%M%S}", local);
  return values;
}

int ExpandCallValues(std::string& text, const CallValues& values) {
  if (text.find('{') == std::string::npos) return 0;
  int replaced = 0;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find('{', i);
    if (open == std::string::npos) break;
    size_t close = text.find('}', open + 1);
    if (close == std::string::npos) break;
    auto it = values.find(text.substr(open + 1, close - open - 1));
    if (it == values.end()) {
      out.append(text, i, open + 1 - i);
      i = open + 1;
      continue;
    }
    out.append(text, i, open - i);
    out += it->second;
    ++replaced;
    i = close + 1;
  }
  if (replaced == 0) return 0;
  out.append(text, i, std::string::npos);
  text = std::move(out);
  return replaced;
}

}  // namespace voxpipe
