#pragma once

#include <memory>
#include <string>

#include "durable/store.hpp"
#include "durablectl/backend.hpp"

namespace durablectl {

/// Commands straight against a database through its store (show, tree,
/// list, cancel, stats, prune), whatever the store: pg_backend.cpp and
/// mysql_backend.cpp open theirs and add migrate.
///
/// A cancel through the database takes effect in the store at once; a body
/// running on a node stops when that node next sees the row.
///
/// Threading: one thread (durablectl runs one command).
class store_backend : public backend {
public:
  json get(const std::string& id) override;

  json tree(const std::string& id, std::size_t max_depth,
            std::size_t max_nodes) override;

  json list(const query_params& query) override;

  json cancel(const std::string& id) override;

  json stats(const query_params& query) override;

  json prune(const prune_args& args) override;

protected:
  /// Opens the store, once, on the first command that needs it.
  virtual std::unique_ptr<durable::store> open_store() = 0;

  durable::store& store();

private:
  std::unique_ptr<durable::store> store_;
};

/// The flags that name a database, for messages: `--pg`, or `--pg or
/// --mysql` in a build with the MySQL store.
std::string database_flags();

} // namespace durablectl
