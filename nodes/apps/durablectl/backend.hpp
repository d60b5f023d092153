#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/nodes/http/requests.hpp"
#include "durable/status.hpp"
#include "durable/time.hpp"

/// durablectl's view of where executions live: a node over HTTP, or the
/// PostgreSQL database directly. Every command goes through this interface,
/// so that both answer in the shapes of the HTTP API (docs/http-api.md).
namespace durablectl {

using durable::nodes::http::query_params;
using nlohmann::json;

/// Exit codes (documented in docs/http-api.md, "durablectl").
enum exit_code : int {
  exit_ok = 0,
  exit_failure = 1,      ///< the node or database failed or is unreachable
  exit_usage = 2,        ///< a bad command line or a request the node refused
  exit_not_found = 3,    ///< no such task or execution
  exit_unauthorized = 4, ///< missing or wrong token
  exit_unfinished = 5,   ///< a waited-for execution did not complete
};

/// A failed command: what to print and how to exit.
class cli_error : public std::runtime_error {
public:
  cli_error(int code, std::string message)
    : std::runtime_error(std::move(message)), code_(code) {}

  int code() const noexcept {
    return code_;
  }

private:
  int code_;
};

/// What `durablectl prune` removes: trees whose root ended in one of
/// `statuses` more than `older_than` ago (by the store's clock), of `task`
/// only if given.
struct prune_args {
  std::vector<durable::execution_status> statuses;
  durable::millis older_than{0};
  std::optional<std::string> task;
  bool dry_run = false;
};

/// Where commands go. A command a backend cannot serve throws cli_error
/// (usage) saying which flag it needs.
class backend {
public:
  virtual ~backend();

  /// `{"execution_id", "task_id"}`.
  virtual json enqueue(const std::string& task_id, const json& body);

  /// The execution with its children summary.
  virtual json get(const std::string& id) = 0;

  /// The execution once finished (first) or at the deadline.
  virtual std::pair<bool, json> wait(const std::string& id,
                                     durable::millis timeout);

  virtual json
  tree(const std::string& id, std::size_t max_depth, std::size_t max_nodes)
    = 0;

  virtual json list(const query_params& query) = 0;

  virtual json cancel(const std::string& id) = 0;

  virtual json wake(const std::string& task_id, const json& body);

  virtual json stats(const query_params& query) = 0;

  /// `POST /v1/executions/{action}` (`cancel` or `retry`) with `query`:
  /// the executions a filter chooses (docs/http-api.md).
  virtual json bulk(const std::string& action, const query_params& query);

  /// `{"applied": n, "version": v}`.
  virtual json migrate();

  /// `{"roots": n, "rows": m, "dry_run": b}`: every matching tree removed
  /// (or counted), in bounded batches (store::prune).
  virtual json prune(const prune_args& args);
};

} // namespace durablectl
