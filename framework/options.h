// Typed options: a processor's settings as a plain struct, declared once and
// parsed and validated from YAML before any call starts.
//
//   struct ResamplerOptions {
//     int rate = 16000;
//     std::string quality = "high";
//     static void Declare(Schema<ResamplerOptions>& s) {
//       s.Field("rate", &ResamplerOptions::rate, "Output sample rate in Hz").Range(1000, 384000);
//       s.Field("quality", &ResamplerOptions::quality, "libsoxr quality").OneOf({"low", "high"});
//     }
//   };
//
// The same declaration serves `voxpipe processors NAME` (names, types,
// defaults taken from a default-constructed struct) so docs cannot drift.
// Supported member types: bool, int, int64_t, double, std::string,
// std::chrono::milliseconds ("20ms", "1.5s", "2m"), std::vector<std::string>,
// std::map<std::string, std::string>, nlohmann::json (any YAML subtree),
// std::optional<T>, and nested structs (or vectors of them) with Declare().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "framework/config.h"
#include "framework/status.h"

namespace voxpipe {

// What `voxpipe processors` prints about one option.
struct OptionInfo {
  std::string name;
  std::string type;
  std::string default_value;  // "" when required or empty
  std::string description;
  bool required = false;
  std::vector<std::string> choices;
  std::string range;                 // "[1000, 384000]" or ""
  std::vector<OptionInfo> fields;    // for nested structs
};

template <typename S>
class Schema;

namespace options_detail {

template <typename T, typename = void>
struct HasDeclare : std::false_type {};
template <typename T>
struct HasDeclare<T, std::void_t<decltype(T::Declare(std::declval<Schema<T>&>()))>> : std::true_type {};

template <typename T> struct IsVector : std::false_type {};
template <typename T> struct IsVector<std::vector<T>> : std::true_type { using Item = T; };
template <typename T> struct IsOptional : std::false_type {};
template <typename T> struct IsOptional<std::optional<T>> : std::true_type { using Item = T; };

Status ParseBool(const ConfigNode& node, bool& out);
Status ParseInt(const ConfigNode& node, int64_t& out);
Status ParseDouble(const ConfigNode& node, double& out);
Status ParseDuration(const ConfigNode& node, std::chrono::milliseconds& out);
Status ParseJson(const ConfigNode& node, nlohmann::json& out);
std::string FormatDuration(std::chrono::milliseconds value);

template <typename T>
std::string TypeName() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_integral_v<T>) return "int";
  else if constexpr (std::is_floating_point_v<T>) return "number";
  else if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) return "duration";
  else if constexpr (std::is_same_v<T, nlohmann::json>) return "yaml";
  else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) return "map";
  else if constexpr (IsOptional<T>::value) return TypeName<typename IsOptional<T>::Item>();
  else if constexpr (IsVector<T>::value) return "list of " + TypeName<typename IsVector<T>::Item>();
  else return "object";
}

template <typename T>
std::string FormatValue(const T& value) {
  if constexpr (std::is_same_v<T, bool>) return value ? "true" : "false";
  else if constexpr (std::is_arithmetic_v<T>) return fmt::format("{}", value);
  else if constexpr (std::is_same_v<T, std::string>) return value;
  else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) return FormatDuration(value);
  else if constexpr (std::is_same_v<T, nlohmann::json>) return value.is_null() ? "" : value.dump();
  else if constexpr (IsOptional<T>::value) return value ? FormatValue(*value) : "";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return value.empty() ? "" : "[" + fmt::format("{}", fmt::join(value, ", ")) + "]";
  } else return "";
}

template <typename T>
double AsNumber(const T& value) {
  if constexpr (std::is_arithmetic_v<T>) return static_cast<double>(value);
  else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) return static_cast<double>(value.count());
  else if constexpr (IsOptional<T>::value) return value ? AsNumber(*value) : 0.0;
  else return 0.0;
}

template <typename T>
Status ParseValue(const ConfigNode& node, T& out);

template <typename T>
Status ParseScalarString(const ConfigNode& node, T& out) {
  if (!node.IsScalar()) return node.Error("expected a string");
  auto text = node.Scalar();
  if (!text.ok()) return text.status();
  out = *text;
  return OkStatus();
}

template <typename T>
Status ParseValue(const ConfigNode& node, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    return ParseBool(node, out);
  } else if constexpr (std::is_integral_v<T>) {
    int64_t v = 0;
    if (auto s = ParseInt(node, v); !s.ok()) return s;
    if (v < int64_t(std::numeric_limits<T>::min()) || v > int64_t(std::numeric_limits<T>::max())) {
      return node.Error(fmt::format("{} is out of range", v));
    }
    out = static_cast<T>(v);
    return OkStatus();
  } else if constexpr (std::is_floating_point_v<T>) {
    double v = 0;
    if (auto s = ParseDouble(node, v); !s.ok()) return s;
    out = static_cast<T>(v);
    return OkStatus();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return ParseScalarString(node, out);
  } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
    return ParseDuration(node, out);
  } else if constexpr (std::is_same_v<T, nlohmann::json>) {
    return ParseJson(node, out);
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
    if (!node.IsMap()) return node.Error("expected a mapping of names to values");
    out.clear();
    for (const auto& kv : node.yaml()) {
      std::string value;
      if (auto s = ParseScalarString(node.Child(kv.second), value); !s.ok()) return s;
      out[kv.first.Scalar()] = value;
    }
    return OkStatus();
  } else if constexpr (IsOptional<T>::value) {
    typename IsOptional<T>::Item item{};
    if (auto s = ParseValue(node, item); !s.ok()) return s;
    out = std::move(item);
    return OkStatus();
  } else if constexpr (IsVector<T>::value) {
    if (!node.IsSequence()) return node.Error("expected a list");
    out.clear();
    for (const auto& item_node : node.Items()) {
      typename IsVector<T>::Item item{};
      if (auto s = ParseValue(item_node, item); !s.ok()) return s;
      out.push_back(std::move(item));
    }
    return OkStatus();
  } else {
    static_assert(HasDeclare<T>::value, "option type needs a static Declare(Schema<T>&)");
    auto parsed = Schema<T>::Get().Parse(node);
    if (!parsed.ok()) return parsed.status();
    out = std::move(parsed).value();
    return OkStatus();
  }
}

// Applies `expand` to every string an option holds (for per-call values);
// returns how many replacements it made.
using StringExpander = std::function<int(std::string&)>;

template <typename T>
int ExpandStrings(T& value, const StringExpander& expand) {
  if constexpr (std::is_same_v<T, std::string>) {
    return expand(value);
  } else if constexpr (IsOptional<T>::value) {
    return value ? ExpandStrings(*value, expand) : 0;
  } else if constexpr (IsVector<T>::value) {
    int n = 0;
    for (auto& item : value) n += ExpandStrings(item, expand);
    return n;
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
    int n = 0;
    for (auto& [key, item] : value) n += expand(item);
    return n;
  } else if constexpr (HasDeclare<T>::value) {
    return Schema<T>::Get().ExpandStrings(value, expand);
  } else {
    return 0;
  }
}

template <typename T>
std::vector<OptionInfo> NestedInfo() {
  if constexpr (IsVector<T>::value) return NestedInfo<typename IsVector<T>::Item>();
  else if constexpr (IsOptional<T>::value) return NestedInfo<typename IsOptional<T>::Item>();
  else if constexpr (HasDeclare<T>::value) return Schema<T>::Get().Describe();
  else return {};
}

}  // namespace options_detail

// The declared fields of an options struct S.
template <typename S>
class Schema {
 public:
  struct FieldSpec {
    OptionInfo info;
    std::function<Status(const ConfigNode&, S&)> parse;
    std::function<int(S&, const options_detail::StringExpander&)> expand;
    std::function<double(const S&)> number;  // for Range checks
    std::optional<double> min, max;
  };

  // The schema of S, built once from S::Declare.
  static const Schema& Get() {
    static const Schema schema = [] {
      Schema s;
      S::Declare(s);
      return s;
    }();
    return schema;
  }

  template <typename M>
  Schema& Field(std::string name, M S::*member, std::string description) {
    using options_detail::FormatValue;
    FieldSpec f;
    f.info.name = std::move(name);
    f.info.type = options_detail::TypeName<M>();
    f.info.default_value = FormatValue(S{}.*member);
    f.info.description = std::move(description);
    f.info.fields = options_detail::NestedInfo<M>();
    f.parse = [member](const ConfigNode& node, S& out) { return options_detail::ParseValue(node, out.*member); };
    f.expand = [member](S& out, const options_detail::StringExpander& expand) {
      return options_detail::ExpandStrings(out.*member, expand);
    };
    f.number = [member](const S& s) { return options_detail::AsNumber(s.*member); };
    fields_.push_back(std::move(f));
    return *this;
  }
  // Modifiers for the field declared last.
  Schema& Required() {
    fields_.back().info.required = true;
    fields_.back().info.default_value.clear();
    return *this;
  }
  Schema& Range(double min, double max) {
    fields_.back().min = min;
    fields_.back().max = max;
    fields_.back().info.range = fmt::format("[{}, {}]", min, max);
    return *this;
  }
  // The processor fills a call's values ({date}, {call_sid}...) into this
  // field itself when it uses it, so binding a call leaves it as written
  // (and a placeholder here alone costs no per-call copy of the options).
  Schema& ExpandedByProcessor() {
    fields_.back().expand = [](S&, const options_detail::StringExpander&) { return 0; };
    return *this;
  }
  Schema& OneOf(std::vector<std::string> choices) {
    fields_.back().info.choices = std::move(choices);
    return *this;
  }
  // A check across fields after parsing; returns "" when fine, else the
  // problem, reported at the struct's line.
  Schema& Check(std::function<std::string(const S&)> check) {
    checks_.push_back(std::move(check));
    return *this;
  }
  // Keys that belong to the surrounding structure (e.g. "type", "name") and
  // are skipped rather than reported as unknown.
  Schema& Ignore(std::string key) {
    ignored_.insert(std::move(key));
    return *this;
  }

  Result<S> Parse(const ConfigNode& node, const std::set<std::string>& also_ignore = {}) const {
    S out{};
    if (node.IsNull()) return Finish(node, std::move(out), {});
    if (!node.IsMap()) return node.Error("expected a mapping of option names to values");
    std::set<std::string> seen;
    for (const auto& kv : node.yaml()) {
      const std::string key = kv.first.Scalar();
      if (ignored_.count(key) || also_ignore.count(key)) continue;
      ConfigNode value = node.Child(kv.second);
      const FieldSpec* field = Find(key);
      if (!field) {
        return node.Child(kv.first).Error(fmt::format("unknown option '{}'{}", key, DidYouMean(key, Names())));
      }
      if (auto s = field->parse(value, out); !s.ok()) return Status::Error(fmt::format("{} (option '{}')", s.message(), key));
      if (auto s = CheckField(*field, value, out); !s.ok()) return s;
      seen.insert(key);
    }
    return Finish(node, std::move(out), seen);
  }

  // Applies `expand` to every string option of `s`; returns the replacements made.
  int ExpandStrings(S& s, const options_detail::StringExpander& expand) const {
    int n = 0;
    for (const auto& f : fields_) n += f.expand(s, expand);
    return n;
  }

  std::vector<OptionInfo> Describe() const {
    std::vector<OptionInfo> infos;
    for (const auto& f : fields_) infos.push_back(f.info);
    return infos;
  }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    for (const auto& f : fields_) names.push_back(f.info.name);
    return names;
  }

 private:
  const FieldSpec* Find(const std::string& key) const {
    for (const auto& f : fields_) {
      if (f.info.name == key) return &f;
    }
    return nullptr;
  }

  Status CheckField(const FieldSpec& field, const ConfigNode& node, const S& out) const {
    if (field.min) {
      double v = field.number(out);
      if (v < *field.min || v > *field.max) {
        return node.Error(fmt::format("option '{}' must be within {}, got {}", field.info.name, field.info.range, v));
      }
    }
    if (!field.info.choices.empty()) {
      auto scalar = node.Scalar();
      std::string value = scalar.ok() ? *scalar : "";
      bool found = false;
      for (const auto& c : field.info.choices) found = found || c == value;
      if (!found) {
        return node.Error(fmt::format("option '{}' must be one of {}, got '{}'{}", field.info.name,
                                      fmt::join(field.info.choices, ", "), value,
                                      DidYouMean(value, field.info.choices)));
      }
    }
    return OkStatus();
  }

  Result<S> Finish(const ConfigNode& node, S out, const std::set<std::string>& seen) const {
    for (const auto& f : fields_) {
      if (f.info.required && !seen.count(f.info.name)) {
        return node.Error(fmt::format("missing required option '{}' ({})", f.info.name, f.info.description));
      }
    }
    for (const auto& check : checks_) {
      if (std::string problem = check(out); !problem.empty()) return node.Error(problem);
    }
    return out;
  }

  std::vector<FieldSpec> fields_;
  std::vector<std::function<std::string(const S&)>> checks_;
  std::set<std::string> ignored_;
};

// Options for processors that have none.
struct NoOptions {
  static void Declare(Schema<NoOptions>&) {}
};

}  // namespace voxpipe
