#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

/// # Text every store can hold
///
/// Stores keep ids, payloads and error messages as text, and PostgreSQL
/// refuses a statement that carries a byte sequence that is not UTF-8
/// (SQLSTATE 22021), failing every row written by the same statement: one
/// exception message with byte 0xFF used to fail a whole group commit of
/// unrelated executions. So the engine never hands a store anything but
/// *storable text*, and applies one rule on every store (memory, SQLite,
/// PostgreSQL):
///
/// - an **error message** (an exception a body threw, a wake-up's error,
///   anything quoted into a message) keeps its text with each invalid
///   sequence replaced by U+FFFD (transitions::fail_run and finish, and
///   to_execution_error, do this);
/// - an **input**, an **idempotency key** or a **sleeping id** that is not
///   storable text is refused to its caller with a non-retryable
///   durable::error naming the problem; nothing is stored. A parent body
///   asking for such a child fails non-retryably, as for an oversize one;
/// - an **output** (of a body, a finalize, or a wake-up) that is not
///   storable text fails its own execution, non-retryably; a wake-up with
///   one is refused to its caller.
///
/// **Storable text** is well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates U+D800..U+DFFF, nothing above U+10FFFF, no truncated or
/// stray bytes) **without NUL bytes**. NUL is valid UTF-8, but no
/// PostgreSQL text value can hold it. Payloads are JSON text, which never
/// contains a raw NUL (inside a JSON string it is the escape `\u0000`, six
/// ASCII characters that every store holds), so refusing it costs nothing
/// valid; in an error message it becomes U+FFFD like an invalid byte.
///
/// Pure functions, no state: safe from any thread.
namespace durable::utf8 {

/// U+FFFD REPLACEMENT CHARACTER in UTF-8.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

/// The offset of the first byte of `s` that is not part of storable text
/// (the start of an ill-formed sequence, or a NUL), or nullopt if all of
/// `s` is storable.
std::optional<std::size_t> find_invalid(std::string_view s) noexcept;

/// Whether all of `s` is storable text.
inline bool is_storable(std::string_view s) noexcept {
  return !find_invalid(s).has_value();
}

/// `s` with every NUL and every maximal ill-formed subpart replaced by one
/// U+FFFD each: the practice Unicode recommends (chapter 3, "U+FFFD
/// Substitution of Maximal Subparts") and the WHATWG decoder, ICU and
/// Python follow. So a truncated sequence before an ASCII byte costs one
/// U+FFFD and the ASCII byte survives; an encoded surrogate (ED A0 80)
/// becomes three. Storable text comes back unchanged, without a copy.
std::string sanitize(std::string s);

/// Why `s` is not storable text, as a message that starts with `what`
/// ("Input of task t", "Output", "Idempotency key") and names the offset:
/// "<what> is not valid UTF-8 [offset=7]" or "<what> contains a NUL byte
/// [offset=7]". nullopt when `s` is storable.
std::optional<std::string> problem(std::string_view what, std::string_view s);

} // namespace durable::utf8
