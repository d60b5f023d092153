#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "durable/error.hpp"

/// durable::error as a caf::error, so that a refused call reaches the
/// caller (in the same process or over the network) as the same error.
///
/// The error category is `durable`; the code is the error kind plus one
/// (code 0 means "no error" to CAF); the context holds the message, the
/// retryable flag and the internal flag (a string and two bools, types every
/// CAF node knows). The category is registered with register_wire_types().
namespace durable::actors {

/// The CAF error category of durable's errors.
constexpr caf::atom_value error_category = caf::atom("durable");

/// The caf::error that carries `e` (kind, message, retryable, internal).
caf::error to_caf_error(const error& e);

/// The durable::error `err` carries, or nullopt when `err` is not of
/// durable's category (or is malformed).
std::optional<error> from_caf_error(const caf::error& err);

/// Renders an error of durable's category: "durable: <kind>: <message>".
std::string render_durable_error(std::uint8_t code, caf::atom_value category,
                                 const caf::message& context);

} // namespace durable::actors
