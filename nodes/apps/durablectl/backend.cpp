#include "durablectl/backend.hpp"

#include "durablectl/store_backend.hpp"

namespace durablectl {

namespace {

[[noreturn]] void needs_node(const char* command) {
  throw cli_error(exit_usage,
                  std::string{command}
                    + " needs a node: pass --url (or set DURABLE_URL)");
}

} // namespace

backend::~backend() = default;

json backend::enqueue(const std::string&, const json&) {
  needs_node("enqueue");
}

std::pair<bool, json> backend::wait(const std::string&, durable::millis) {
  needs_node("wait");
}

json backend::wake(const std::string&, const json&) {
  needs_node("wake");
}

json backend::bulk(const std::string& action, const query_params&) {
  needs_node((action + " by filter").c_str());
}

json backend::migrate() {
  throw cli_error(exit_usage, "migrate needs the database: pass "
                                + database_flags() + " (not --url)");
}

json backend::prune(const prune_args&) {
  throw cli_error(exit_usage, "prune needs the database: pass "
                                + database_flags() + " (not --url)");
}

} // namespace durablectl
