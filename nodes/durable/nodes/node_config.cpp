#include "durable/nodes/node_config.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <unistd.h>

#include <fmt/format.h>

#include "durable/duration_text.hpp"
#include "durable/error.hpp"
#include "durable/nodes/cli_numbers.hpp"
#include "durable/nodes/gateway.hpp"
#include "durable/storage/memory_store.hpp"
#ifdef DURABLE_WITH_MYSQL
#include "durable/storage/mysql_store.hpp"
#endif
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/sqlite_store.hpp"

namespace durable::nodes {

namespace {

constexpr auto max_count = std::numeric_limits<std::int64_t>::max();

/// A whole number of milliseconds, 0 or more.
const CLI::Validator milliseconds = whole_number(0, max_count, "milliseconds");

/// A duration flag in milliseconds that writes into a `millis` field.
void add_ms(CLI::App& app, const std::string& flag, const std::string& env,
            millis& target, const std::string& help) {
  app
    .add_option_function<std::int64_t>(
      flag, [&target](std::int64_t ms) { target = millis{ms}; },
      help + fmt::format(" (default {})", target.count()))
    ->envname(env)
    ->check(milliseconds);
}

/// A `--log-level` or `--log-format` flag: one of `names`, refused in words.
template <class T, class Parse>
void add_choice(CLI::App& app, const std::string& flag, const std::string& env,
                T& target, Parse parse, std::string_view names,
                const std::string& help) {
  app
    .add_option_function<std::string>(
      flag,
      [&target, parse](const std::string& text) { target = *parse(text); },
      fmt::format("{}: {} (default {})", help, names, to_string(target)))
    ->envname(env)
    ->type_name("WORD")
    ->check(CLI::Validator{[parse, names](std::string& text) -> std::string {
                             if (parse(text))
                               return {};
                             return fmt::format("{} is not one of {}", text,
                                                names);
                           },
                           ""});
}

/// Accepts what parse_duration() reads (`90s`, `15m`, `24h`, `7d`, `2w`,
/// `0`).
const CLI::Validator duration_text{
  [](std::string& text) -> std::string {
    if (parse_duration(text))
      return {};
    return fmt::format("{} is not a duration such as 90s, 15m, 24h, 7d or 2w "
                       "(at most a year; 0 keeps forever)",
                       text);
  },
  "DURATION"};

/// A duration flag with a unit that writes into a `millis` field.
void add_duration(CLI::App& app, const std::string& flag,
                  const std::string& env, millis& target,
                  const std::string& help) {
  app
    .add_option_function<std::string>(
      flag,
      [&target](const std::string& text) {
        target = parse_duration(text).value_or(target);
      },
      help + fmt::format(" (default {})", format_duration(target)))
    ->envname(env)
    ->check(duration_text);
}

/// One `--retain-task` value: TASK=DURATION (every final status of the
/// task) or TASK:STATUS=DURATION.
struct retain_task_value {
  std::string task;
  std::optional<execution_status> status;
  millis keep{0};
};

/// The final status `name` names (`timed-out` or `timed_out`).
std::optional<execution_status> final_status(std::string_view name) {
  std::string text{name};
  std::replace(text.begin(), text.end(), '-', '_');
  auto s = parse_status(text);
  if (s && is_finished(*s))
    return s;
  return std::nullopt;
}

/// Reads a `--retain-task` value into `out`; the error (empty if none)
/// names the value.
std::string read_retain_task(const std::string& text, retain_task_value& out) {
  const auto eq = text.find('=');
  if (eq == std::string::npos)
    return fmt::format("{} is not TASK=DURATION or TASK:STATUS=DURATION", text);
  std::string_view head{text.data(), eq};
  const auto colon = head.find(':');
  out.task = std::string{head.substr(0, colon)};
  if (auto why = task_id_problem(out.task))
    return fmt::format("{}: {}", text, *why);
  out.status.reset();
  if (colon != std::string_view::npos) {
    out.status = final_status(head.substr(colon + 1));
    if (!out.status)
      return fmt::format("{}: {} is not one of completed, failed, timed-out, "
                         "finalize-failed, cancelled",
                         text, head.substr(colon + 1));
  }
  auto keep = parse_duration(text.substr(eq + 1));
  if (!keep)
    return fmt::format("{}: {} is not a duration such as 90s, 15m, 24h or 7d "
                       "(0 keeps forever)",
                       text, text.substr(eq + 1));
  out.keep = *keep;
  return {};
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

} // namespace

void add_node_options(CLI::App& app, node_config& cfg) {
  app.set_config("--config", "", "Read settings from an INI or TOML file")
    ->envname("DURABLE_CONFIG");
  // A key the node does not know is a typo (`http_port` for `http-port`):
  // refused by name rather than ignored, which started a node without
  // what the file asked for.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.add_option("--name", cfg.name, "Node name for logs (default: host name)")
    ->envname("DURABLE_NODE_NAME");
  app
    .add_option("--store", cfg.store,
                has_mysql_store() ? "Store: sqlite:PATH, postgres, mysql or "
                                    "memory"
                                  : "Store: sqlite:PATH, postgres or memory")
    ->envname("DURABLE_STORE")
    ->capture_default_str();
  app.add_option("--pg-url", cfg.pg_url, "PostgreSQL URL (postgres store)")
    ->envname("DURABLE_PG_URL");
  app.add_option("--pg-schema", cfg.pg_schema, "PostgreSQL schema")
    ->envname("DURABLE_PG_SCHEMA")
    ->capture_default_str();
  app.add_option("--pg-pool", cfg.pg_pool, "PostgreSQL connections")
    ->envname("DURABLE_PG_POOL")
    ->check(whole_number(1, 64))
    ->capture_default_str();
  app
    .add_flag("--pg-no-listen", cfg.pg_no_listen,
              "Poll only: no LISTEN (behind transaction poolers)")
    ->envname("DURABLE_PG_NO_LISTEN");
  if (has_mysql_store())
    app
      .add_option("--mysql-url", cfg.mysql_url,
                  "MySQL/MariaDB URL mysql://user[:password]@host[:port]/db "
                  "(mysql store)")
      ->envname("DURABLE_MYSQL_URL");
  app
    .add_option("--gateway-port", cfg.gateway_port,
                "Publish the CAF gateway for C++ clients on this port "
                "(0: any free port; off when not given)")
    ->envname("DURABLE_GATEWAY_PORT")
    ->check(whole_number(0, 65535));
  app
    .add_option("--gateway-bind", cfg.gateway_bind,
                "Gateway address (loopback only)")
    ->envname("DURABLE_GATEWAY_BIND")
    ->capture_default_str();
  app
    .add_option("--http-port", cfg.http_port,
                "Serve the HTTP/JSON API on this port (0: any free port; "
                "off when not given)")
    ->envname("DURABLE_HTTP_PORT")
    ->check(whole_number(0, 65535));
  app.add_option("--http-bind", cfg.http_bind, "HTTP API address")
    ->envname("DURABLE_HTTP_BIND")
    ->capture_default_str();
  app
    .add_option("--http-token", cfg.http_token,
                "Bearer token the HTTP API requires (required beyond "
                "loopback; prefer the environment variable)")
    ->envname("DURABLE_HTTP_TOKEN");
  app
    .add_flag("--http-public-probes", cfg.http_public_probes,
              "GET /v1/health and /v1/health/ready answer without the "
              "bearer token (for load balancers)")
    ->envname("DURABLE_HTTP_PUBLIC_PROBES");
  app
    .add_option("--http-console", cfg.http_console,
                "Serve the web console under /ui/ with the HTTP API (its "
                "pages need no token; the API it calls does)")
    ->envname("DURABLE_HTTP_CONSOLE")
    ->check(true_or_false())
    ->capture_default_str();
  auto& e = cfg.executor;
  app
    .add_option("--max-concurrent", e.max_concurrent, "Bodies running at once")
    ->envname("DURABLE_MAX_CONCURRENT")
    ->check(whole_number())
    ->capture_default_str();
  app
    .add_option("--worker-threads", e.worker_threads,
                "Threads for blocking bodies at most (started as bodies need "
                "them; idle ones exit after 30 s)")
    ->envname("DURABLE_WORKER_THREADS")
    ->check(whole_number())
    ->capture_default_str();
  app
    .add_option("--max-queued-blocking", e.max_queued_blocking,
                "Claimed blocking executions that may wait for a worker "
                "thread (0: claim no more than there are threads)")
    ->envname("DURABLE_MAX_QUEUED_BLOCKING")
    ->check(whole_number())
    ->capture_default_str();
  app
    .add_option("--scheduler-threads", e.scheduler_threads,
                "CAF scheduler threads (0: one per core)")
    ->envname("DURABLE_SCHEDULER_THREADS")
    ->check(whole_number())
    ->capture_default_str();
  app
    .add_option("--claim-on-insert", e.claim_on_insert,
                "Store new rows this node can start at once already claimed "
                "by it (false: every new row waits for a claim, which "
                "spreads bursts across the cluster)")
    ->envname("DURABLE_CLAIM_ON_INSERT")
    ->check(true_or_false())
    ->capture_default_str();
  app
    .add_option("--max-recoveries", e.max_recoveries,
                "Recoveries before an execution fails")
    ->envname("DURABLE_MAX_RECOVERIES")
    ->check(whole_number())
    ->capture_default_str();
  add_ms(app, "--lease-ms", "DURABLE_LEASE_MS", e.lease_duration,
         "Lease duration in ms");
  add_ms(app, "--renew-ms", "DURABLE_RENEW_MS", e.lease_renew_interval,
         "Lease renewal interval in ms");
  add_ms(app, "--poll-ms", "DURABLE_POLL_MS", e.poll_interval,
         "Safety-net poll interval in ms");
  add_ms(app, "--grace-ms", "DURABLE_GRACE_MS", e.shutdown_grace,
         "How long a drain waits for running bodies, in ms");
  add_choice(app, "--log-level", "DURABLE_LOG_LEVEL", cfg.log.level,
             parse_log_level, "trace, debug, info, warning, error",
             "Lowest level of the lines logged on stderr");
  add_choice(app, "--log-format", "DURABLE_LOG_FORMAT", cfg.log.format,
             parse_log_format, "text, json",
             "Log lines as text or as one JSON object per line");
  auto& r = e.retention;
  const std::string keep = "How long finished executions are kept when ";
  add_duration(app, "--retain-completed", "DURABLE_RETAIN_COMPLETED",
               r.completed, keep + "their root completed; 0 keeps forever");
  add_duration(app, "--retain-failed", "DURABLE_RETAIN_FAILED", r.failed,
               keep + "their root failed; 0 keeps forever");
  add_duration(app, "--retain-timed-out", "DURABLE_RETAIN_TIMED_OUT",
               r.timed_out, keep + "their root timed out; 0 keeps forever");
  add_duration(app, "--retain-finalize-failed",
               "DURABLE_RETAIN_FINALIZE_FAILED", r.finalize_failed,
               keep + "their root's finalize failed; 0 keeps forever");
  add_duration(app, "--retain-cancelled", "DURABLE_RETAIN_CANCELLED",
               r.cancelled, keep + "their root was cancelled; 0 keeps forever");
  app
    .add_option_function<std::vector<std::string>>(
      "--retain-task",
      [&r](const std::vector<std::string>& values) {
        // Later values win: `t=30d` then `t:failed=0`.
        for (const auto& text : values) {
          retain_task_value v;
          if (!read_retain_task(text, v).empty())
            continue; // refused by the check below
          auto& t = r.tasks[v.task];
          if (v.status)
            t.set(*v.status, v.keep);
          else
            t.set_all(v.keep);
        }
      },
      "How long the trees of one root task are kept, instead of the "
      "--retain-<status> durations: TASK=DURATION for every final status, "
      "TASK:STATUS=DURATION for one (completed, failed, timed-out, "
      "finalize-failed, cancelled); statuses not given keep the general "
      "duration, 0 keeps forever. Repeatable, or comma-separated")
    ->envname("DURABLE_RETAIN_TASK")
    ->type_name("TASK[:STATUS]=DURATION")
    ->allow_extra_args(false)
    ->delimiter(',')
    ->check(CLI::Validator{[](std::string& text) -> std::string {
                             retain_task_value v;
                             return read_retain_task(text, v);
                           },
                           ""});
}

std::string describe_retention(const retention_options& r) {
  constexpr std::array finals{
    execution_status::completed, execution_status::failed,
    execution_status::timed_out, execution_status::finalize_failed,
    execution_status::cancelled,
  };
  auto name = [](execution_status s) {
    std::string text{to_string(s)};
    std::replace(text.begin(), text.end(), '_', '-');
    return text;
  };
  std::string out;
  for (auto s : finals)
    out += fmt::format("{}{}={}", out.empty() ? "" : ",", name(s),
                       format_duration(r.for_status(s)));
  out += " retain-task=";
  if (r.tasks.empty())
    return out + "none";
  bool first = true;
  for (const auto& [task, t] : r.tasks)
    for (auto s : finals)
      if (auto d = t.for_status(s)) {
        out += fmt::format("{}{}:{}={}", first ? "" : ",", task, name(s),
                           format_duration(*d));
        first = false;
      }
  return out;
}

executor_options node_executor_defaults() {
  using namespace std::chrono_literals;
  executor_options e;
  e.retention.completed = 24h;
  e.retention.cancelled = 24h;
  e.retention.failed = 7 * 24h;
  e.retention.timed_out = 7 * 24h;
  e.retention.finalize_failed = 7 * 24h;
  return e;
}

void finish_config(node_config& cfg) {
  if (cfg.name.empty()) {
    char host[256] = {};
    cfg.name = ::gethostname(host, sizeof(host) - 1) == 0 && host[0] != 0
                 ? host
                 : "node";
  }
  cfg.executor.node_name = cfg.name;
  validate(cfg.executor);
  if (cfg.gateway_port && !is_loopback_address(cfg.gateway_bind))
    throw error::non_retryable(fmt::format(
      "Invalid gateway address {:?}: only loopback addresses are allowed "
      "(CAF's network layer has no authentication)",
      cfg.gateway_bind));
  // The HTTP server refuses the same when it starts; refused here too, it
  // stops the node as bad configuration (exit code 2, which a service
  // manager does not restart) rather than as a failed start.
  if (cfg.http_port && cfg.http_token.empty()
      && !is_loopback_address(cfg.http_bind))
    throw error::non_retryable(fmt::format(
      "Invalid HTTP address {:?} without a bearer token: beyond loopback "
      "the API requires --http-token (DURABLE_HTTP_TOKEN)",
      cfg.http_bind));
  if (cfg.store == "mysql" && !has_mysql_store())
    throw error::non_retryable(
      "Invalid store \"mysql\": this durable-node was built without the "
      "MySQL store (configure with -DDURABLE_WITH_MYSQL=ON)");
  if (cfg.store != "memory" && cfg.store != "postgres" && cfg.store != "mysql"
      && !(starts_with(cfg.store, "sqlite:") && cfg.store.size() > 7))
    throw error::non_retryable(fmt::format(
      "Invalid store {:?}: expected sqlite:PATH, postgres, {}memory", cfg.store,
      has_mysql_store() ? "mysql or " : "or "));
}

bool has_mysql_store() noexcept {
#ifdef DURABLE_WITH_MYSQL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<store> open_store(const node_config& cfg) {
  if (cfg.store == "memory")
    return storage::memory();
  if (cfg.store == "postgres") {
    storage::pg::pg_options o;
    o.url = cfg.pg_url;
    o.schema = cfg.pg_schema;
    o.pool_size = cfg.pg_pool;
    o.listen = !cfg.pg_no_listen;
    o.application_name = "durable-node " + cfg.name;
    return storage::pg::postgres(std::move(o));
  }
#ifdef DURABLE_WITH_MYSQL
  if (cfg.store == "mysql") {
    storage::mysql_options o;
    o.url = cfg.mysql_url;
    return storage::mysql(std::move(o));
  }
#endif
  return storage::sqlite(cfg.store.substr(7));
}

std::string describe_store(const node_config& cfg) {
  if (cfg.store == "mysql") {
    // The store reads DURABLE_MYSQL_URL itself when no URL is given.
    auto url = cfg.mysql_url;
    if (const char* env = std::getenv("DURABLE_MYSQL_URL");
        url.empty() && env != nullptr)
      url = env;
    // pg::redact masks the password of any scheme://user:password@ URL.
    return fmt::format("mysql {}", url.empty() ? std::string{"(no URL)"}
                                               : storage::pg::redact(url));
  }
  if (cfg.store != "postgres")
    return cfg.store;
  storage::pg::pg_options o;
  o.url = cfg.pg_url;
  return fmt::format("postgres {} schema={}{}",
                     storage::pg::redact(storage::pg::resolve_url(o)),
                     cfg.pg_schema, cfg.pg_no_listen ? " poll-only" : "");
}

} // namespace durable::nodes
