// weft/status.h — the one error type. Every fallible call returns Status or
// Result<T>; the message names the likely cause and the remedy. No exceptions
// cross any weft boundary.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace weft {

enum class Code : int {
  kOk = 0,
  kInvalidArgument,   // the caller passed something that can never work
  kResourceExhausted, // a queue, window or budget is full: retry after progress
  kNotFound,          // unknown key, id or name
  kAlreadyExists,     // duplicate registration
  kFailedPrecondition,// the object is in the wrong state (closed, connecting)
  kPeerFailed,        // the remote side stopped answering or misbehaved
  kRejected,          // the peer refused (token, version)
  kTimeout,           // a deadline passed
  kClosed,            // closed by the local user or the peer
  kRemoteAccess,      // a one-sided write fell outside the target region
  kTruncated,         // the message was larger than the posted receive
  kIoError,           // the operating system refused (errno in the text)
  kUnavailable,       // a feature this host or build does not have
  kInternal,          // a weft bug: please report it
};

std::string_view code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "PeerFailed: peer 127.0.0.1:5000 silent for 3000 ms ..."
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }

  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Status status() const { return is_ok() ? Status{} : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace weft

// Propagate a failed Status from an expression. Visible `return`, one place.
#define WEFT_RETURN_IF_ERROR(expr)        \
  do {                                    \
    ::weft::Status weft_s_ = (expr);      \
    if (!weft_s_.is_ok()) return weft_s_; \
  } while (0)
