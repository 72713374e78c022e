// Status and Result<T>: how the engine reports failures without exceptions.
//
// Configuration, network and file errors are values, not exceptions: they
// travel back to the caller with a message a user can act on ("file:line:
// field: what is wrong"). Programming invariants use assert().
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace voxpipe {

class Status {
 public:
  Status() = default;
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !message_.has_value(); }
  explicit operator bool() const { return ok(); }
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
};

inline Status OkStatus() { return {}; }

// Independent problems found in one pass (a pipeline file's stages), reported
// together: one per line, at most kLimit of them.
class StatusList {
 public:
  static constexpr size_t kLimit = 10;
  void Add(const Status& status) {
    if (status.ok()) return;
    if (messages_.size() < kLimit) {
      messages_.push_back(status.message());
    } else {
      ++more_;
    }
  }
  bool empty() const { return messages_.empty(); }
  size_t size() const { return messages_.size() + more_; }
  Status ToStatus() const {
    if (messages_.empty()) return Status();
    std::string joined;
    for (const auto& m : messages_) joined += (joined.empty() ? "" : "\n") + m;
    if (more_ > 0) joined += "\n... and " + std::to_string(more_) + " more";
    return Status::Error(std::move(joined));
  }

 private:
  std::vector<std::string> messages_;
  size_t more_ = 0;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status error) : value_(std::move(error)) { assert(!std::get<Status>(value_).ok()); }

  bool ok() const { return std::holds_alternative<T>(value_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(value_); }
  const T& value() const& { return std::get<T>(value_); }
  T&& value() && { return std::get<T>(std::move(value_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  Status status() const { return ok() ? Status() : std::get<Status>(value_); }
  const std::string& message() const { return std::get<Status>(value_).message(); }

 private:
  std::variant<T, Status> value_;
};

}  // namespace voxpipe
