#include "durable/assert.hpp"

#ifdef DURABLE_ASSERTIONS

#include <cstdio>
#include <cstdlib>

namespace durable::detail {

void assertion_failed(const char* condition, const char* what, const char* file,
                      int line) noexcept {
  std::fprintf(stderr, "%s:%d: durable invariant broken: %s (%s)\n", file, line,
               what, condition);
  std::fflush(stderr);
  std::abort();
}

} // namespace durable::detail

#endif
