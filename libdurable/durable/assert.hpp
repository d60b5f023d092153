#pragma once

/// DURABLE_ASSERT(cond, what): an invariant of the engine (slots, phases,
/// batches) that no input can break, only a bug.
///
/// Checked in builds with DURABLE_ASSERTIONS defined (CMake defines it for
/// Debug builds and for builds with DURABLE_SANITIZERS, so the sanitizer
/// stage of CI runs with them): a failed check prints the condition, `what`
/// and the place on stderr and aborts, so that a test fails where the
/// invariant broke instead of somewhere downstream. Compiled out otherwise:
/// release builds keep their defensive fallbacks (a slot count that
/// saturates at zero) and pay nothing.
#ifdef DURABLE_ASSERTIONS

namespace durable::detail {

[[noreturn]] void assertion_failed(const char* condition, const char* what,
                                   const char* file, int line) noexcept;

} // namespace durable::detail

#define DURABLE_ASSERT(cond, what) \
  ((cond)                          \
     ? static_cast<void>(0)        \
     : ::durable::detail::assertion_failed(#cond, what, __FILE__, __LINE__))

#else

#define DURABLE_ASSERT(cond, what) static_cast<void>(0)

#endif
