#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace durable {

/// An optional string that never changes once set, shared by its copies:
/// what a whole tree of executions carries alike (its trace context), so
/// that copying it to every descendant, and every row copy the engine
/// makes, costs a reference count, not a string. It reads like a
/// `std::optional<const std::string>`.
///
/// It is pointer-sized on purpose: every running execution holds a row
/// (execution_actor.cpp keeps the actor within one allocator size class),
/// and an empty one costs nothing more than `nullptr`.
///
/// Threading: copies may be used and dropped on any threads at once (the
/// string is immutable; the count is atomic).
class shared_text {
public:
  /// No text.
  shared_text() noexcept = default;

  /// No text, as `std::optional` spells it.
  shared_text(std::nullopt_t) noexcept {}

  /// Holds `text` (one allocation; copies share it).
  shared_text(std::string text)
    : text_(std::make_shared<const std::string>(std::move(text))) {}

  /// Holds `text`'s string, or nothing when it is empty.
  shared_text(std::optional<std::string> text) {
    if (text)
      text_ = std::make_shared<const std::string>(std::move(*text));
  }

  /// True when it holds text (possibly an empty string).
  bool has_value() const noexcept {
    return text_ != nullptr;
  }

  /// has_value().
  explicit operator bool() const noexcept {
    return has_value();
  }

  /// Requires has_value().
  const std::string& operator*() const noexcept {
    return *text_;
  }

  /// The text; null when there is none.
  const std::string* operator->() const noexcept {
    return text_.get();
  }

  /// The text, or `fallback` when there is none.
  std::string_view value_or(std::string_view fallback) const noexcept {
    return text_ ? std::string_view{*text_} : fallback;
  }

  /// A copy as a std::optional, for APIs that take one.
  std::optional<std::string> to_optional() const {
    return text_ ? std::optional<std::string>{*text_} : std::nullopt;
  }

  /// Drops the text (this copy only; others keep it).
  void reset() noexcept {
    text_.reset();
  }

  /// Equal when both are empty or both hold the same text.
  friend bool operator==(const shared_text& a, const shared_text& b) noexcept {
    if (!a.text_ || !b.text_)
      return a.text_ == b.text_;
    return a.text_ == b.text_ || *a.text_ == *b.text_;
  }

  /// True when `a` holds no text.
  friend bool operator==(const shared_text& a, std::nullopt_t) noexcept {
    return !a.text_;
  }

  /// True when `a` holds text equal to `b`.
  friend bool operator==(const shared_text& a, std::string_view b) noexcept {
    return a.text_ && *a.text_ == b;
  }

private:
  std::shared_ptr<const std::string> text_;
};

} // namespace durable
