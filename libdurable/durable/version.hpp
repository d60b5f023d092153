#pragma once

#include <string_view>

namespace durable {

/// The version of this build: the project's version, and what
/// `git describe --always --dirty` said of the source tree when it was
/// built, if it was a git checkout ("0.1.0 (f3f8bde)"). What every
/// program prints for `--version`.
std::string_view version() noexcept;

} // namespace durable
