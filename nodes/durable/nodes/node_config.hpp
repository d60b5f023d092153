#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "durable/nodes/node_log.hpp"
#include "durable/options.hpp"
#include "durable/store.hpp"

namespace durable::nodes {

/// The engine's options as durable-node starts with them: those of
/// executor_options, except retention, which a node turns on (finished
/// trees kept 24 h when completed or cancelled, 7 d when they failed,
/// timed out or their finalize failed; see README "Retention"). An
/// embedded executor keeps them forever unless told otherwise.
executor_options node_executor_defaults();

/// What a node process is told: from flags, environment variables
/// (`DURABLE_*`) and a configuration file (`--config`, INI or TOML), in
/// that order of precedence.
///
/// Filled by add_node_options() and finish_config(); read by run_node()
/// (node.hpp) and the program's `register_tasks`.
struct node_config {
  /// A label for logs and metrics (default: the host name). Leases belong to
  /// the incarnation drawn at each start, never to this name.
  std::string name;

  /// `sqlite:PATH`, `postgres` (with `pg_url`), `mysql` (with `mysql_url`;
  /// only in a build with the MySQL store, `DURABLE_WITH_MYSQL`) or
  /// `memory`.
  std::string store = "sqlite:durable.db";

  /// `--pg-url`: the PostgreSQL connection string or URL (pg_options::url;
  /// empty: `DURABLE_PG_URL`, then libpq's defaults). Never logged whole:
  /// describe_store() redacts the password.
  std::string pg_url;
  /// `--pg-schema`: the schema that holds the tables (pg_options::schema).
  std::string pg_schema = "durable";
  /// `--pg-pool`: connections the store opens at most, 1..64
  /// (pg_options::pool_size).
  std::size_t pg_pool = 4;
  /// Poll-only mode, for connection poolers that break LISTEN.
  bool pg_no_listen = false;

  /// `--mysql-url`: `mysql://user[:password]@host[:port]/database`
  /// (mysql_options::url; empty: `DURABLE_MYSQL_URL`). Never logged
  /// whole: describe_store() redacts the password.
  std::string mysql_url;

  /// The engine's options (concurrency, leases, polls, grace, retention).
  executor_options executor = node_executor_defaults();

  /// The CAF gateway for C++ clients (durable::client): off unless a port
  /// is given (0 picks a free one); loopback addresses only.
  std::optional<std::uint16_t> gateway_port;
  /// `--gateway-bind`: the gateway's address; finish_config() refuses
  /// anything but loopback (CAF's network layer has no authentication).
  std::string gateway_bind = "127.0.0.1";

  /// The HTTP/JSON API (docs/http-api.md): off unless a port is given.
  /// Beyond loopback a bearer token is required.
  std::optional<std::uint16_t> http_port;
  /// `--http-bind`: the HTTP API's address.
  std::string http_bind = "127.0.0.1";
  /// `--http-token` (better `DURABLE_HTTP_TOKEN`, kept out of `ps`): the
  /// bearer token of the HTTP API; empty for none, which finish_config()
  /// refuses when `http_bind` is not a loopback address. Never logged.
  std::string http_token;
  /// The health and readiness probes answer without the token.
  bool http_public_probes = false;
  /// `--http-console`: the web console under `/ui/` (docs/console.md),
  /// on by default wherever the API is.
  bool http_console = true;

  /// Lowest level written and line format of the logs on stderr.
  log_options log;
};

/// Adds the node's flags (with their environment variables) to `app`,
/// writing into `cfg`. Durations are given in milliseconds, except the
/// retention flags (`--retain-<status>`), which take `90s`, `15m`, `24h`,
/// `7d` (durable/duration_text.hpp), `0` keeping forever. The repeatable
/// `--retain-task TASK=DURATION` or `TASK:STATUS=DURATION` (environment
/// `DURABLE_RETAIN_TASK`, comma-separated; config key `retain-task`,
/// repeated or an array) overrides them for the trees of one root task
/// (retention_options::tasks); later values win.
void add_node_options(CLI::App& app, node_config& cfg);

/// The retention durations as `--check-config` prints them:
/// `completed=24h,failed=7d,… retain-task=billing:completed=30d,…` (or
/// `retain-task=none`).
std::string describe_retention(const retention_options& r);

/// Fills what the flags left open (the host name) and validates.
/// @throws durable::error naming the bad setting.
void finish_config(node_config& cfg);

/// Whether this build has the MySQL store (`--store mysql`).
bool has_mysql_store() noexcept;

/// Opens the configured store. @throws durable::error naming the store.
std::shared_ptr<store> open_store(const node_config& cfg);

/// The store as named in logs (no password).
std::string describe_store(const node_config& cfg);

} // namespace durable::nodes
