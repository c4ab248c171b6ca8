// Value-or-errors result type used wherever emp-telemetry can fail without
// throwing: configuration finalization and client construction. It carries
// either a value or the complete list of problems found, never both, so a
// caller can report every problem at once instead of fixing them one by one.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace emp::telemetry {

// One problem. `subject` names what was wrong (usually an environment
// variable such as "FLUENTD_PORT"), `message` says which rule it broke and
// with which value (secrets already shown as "***").
struct Error {
  std::string subject;
  std::string message;

  // "SUBJECT: message", the form every tool prints.
  std::string to_string() const {
    return subject.empty() ? message : subject + ": " + message;
  }
};

using Errors = std::vector<Error>;

template <typename T>
class Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}          // NOLINT: implicit by design
  Expected(Errors errors) : state_(std::move(errors)) {}    // NOLINT: implicit by design
  Expected(Error error) : state_(Errors{std::move(error)}) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Precondition: ok(). Calling these on an error is a programming bug and
  // aborts rather than throwing.
  T& value() & noexcept { check(); return std::get<0>(state_); }
  const T& value() const& noexcept { check(); return std::get<0>(state_); }
  T&& value() && noexcept { check(); return std::get<0>(std::move(state_)); }
  T* operator->() noexcept { return &value(); }
  const T* operator->() const noexcept { return &value(); }
  T& operator*() & noexcept { return value(); }

  // Empty when ok().
  const Errors& errors() const noexcept {
    static const Errors kNone;
    return ok() ? kNone : std::get<1>(state_);
  }

 private:
  void check() const noexcept {
    if (!ok()) std::abort();
  }
  std::variant<T, Errors> state_;
};

}  // namespace emp::telemetry
