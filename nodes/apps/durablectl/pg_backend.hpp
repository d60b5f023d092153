#pragma once

#include <memory>
#include <string>

#include "durablectl/backend.hpp"

namespace durablectl {

/// Commands straight against PostgreSQL (`--pg`, `--schema`): show, tree,
/// list, cancel, stats, prune and migrate. Opening the store applies missing
/// migrations, as a node's start does. A cancel through the database takes
/// effect in the store at once; a body running on a node stops when that
/// node next sees the row.
std::unique_ptr<backend> make_pg_backend(const std::string& url,
                                         const std::string& schema);

} // namespace durablectl
