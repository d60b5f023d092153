#include "durable/actors/wire_errors.hpp"

#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace durable::actors {

namespace {

constexpr auto max_kind = static_cast<std::uint8_t>(error_kind::cancelled);

} // namespace

caf::error to_caf_error(const error& e) {
  const auto& info = e.info();
  auto code = static_cast<std::uint8_t>(static_cast<std::uint8_t>(info.kind)
                                        + 1);
  return caf::error{code, error_category,
                    caf::make_message(info.message, info.retryable,
                                      info.internal)};
}

std::optional<error> from_caf_error(const caf::error& err) {
  if (!err || err.category() != error_category || err.code() == 0
      || err.code() - 1 > max_kind)
    return std::nullopt;
  const auto& ctx = err.context();
  if (!ctx.match_elements<std::string, bool, bool>())
    return std::nullopt;
  execution_error info;
  info.kind = static_cast<error_kind>(err.code() - 1);
  info.message = ctx.get_as<std::string>(0);
  info.retryable = ctx.get_as<bool>(1);
  info.internal = ctx.get_as<bool>(2);
  return error{std::move(info)};
}

std::string render_durable_error(std::uint8_t code, caf::atom_value category,
                                 const caf::message& context) {
  auto e = from_caf_error(caf::error{code, category, context});
  if (!e)
    return "durable: malformed error";
  return "durable: " + std::string{to_string(e->kind())} + ": " + e->what();
}

} // namespace durable::actors
