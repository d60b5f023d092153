// durablectl: the operator's command line for durable. It talks to a node's
// HTTP API (--url/--token, or DURABLE_URL/DURABLE_TOKEN) and, for the read,
// cancel, stats, prune and migrate commands, to the database directly:
// PostgreSQL (--pg, or DURABLE_PG_URL) or, in a build with the MySQL store,
// MySQL/MariaDB (--mysql, or DURABLE_MYSQL_URL). Tables for people, --json
// for scripts; exit codes in durablectl/backend.hpp and docs/http-api.md.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "durable/duration_text.hpp"
#include "durable/nodes/cli_numbers.hpp"
#include "durable/status.hpp"
#include "durable/version.hpp"
#include "durablectl/backend.hpp"
#include "durablectl/http_backend.hpp"
#ifdef DURABLE_WITH_MYSQL
#include "durablectl/mysql_backend.hpp"
#endif
#include "durablectl/output.hpp"
#include "durablectl/pg_backend.hpp"
#include "durablectl/store_backend.hpp"
#include "durablectl/time_arg.hpp"

namespace {

using namespace durablectl;
using durable::nodes::whole_number;

struct global_flags {
  std::string url;
  std::string token;
  std::string pg;
  std::string schema = "durable";
  std::string mysql;
  bool json = false;
};

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string{v} : std::string{};
}

/// The environment variables that name a database, for messages.
std::string database_env() {
#ifdef DURABLE_WITH_MYSQL
  return "DURABLE_PG_URL or DURABLE_MYSQL_URL";
#else
  return "DURABLE_PG_URL";
#endif
}

/// The backend for a command: `--pg` or `--mysql` when given (or when only
/// a database is configured, PostgreSQL first), else the node.
std::unique_ptr<backend> open_backend(const global_flags& g, bool pg_allowed) {
  auto url = !g.url.empty() ? g.url : env("DURABLE_URL");
  auto pg = !g.pg.empty() ? g.pg : env("DURABLE_PG_URL");
  if (pg_allowed && !g.pg.empty() && !g.mysql.empty())
    throw cli_error(exit_usage, "--pg and --mysql name two databases: pass "
                                "one of them");
  const bool use_pg = pg_allowed && g.mysql.empty()
                      && (!g.pg.empty() || (url.empty() && !pg.empty()));
  if (use_pg)
    return make_pg_backend(pg, g.schema);
#ifdef DURABLE_WITH_MYSQL
  auto mysql = !g.mysql.empty() ? g.mysql : env("DURABLE_MYSQL_URL");
  if (pg_allowed && !mysql.empty() && (!g.mysql.empty() || url.empty()))
    return make_mysql_backend(mysql);
#endif
  if (url.empty())
    throw cli_error(exit_usage,
                    pg_allowed ? fmt::format("no node or database given: pass "
                                             "--url or {} (or set DURABLE_URL "
                                             "or {})",
                                             database_flags(), database_env())
                               : std::string{"no node given: pass --url (or "
                                             "set DURABLE_URL)"});
  auto token = !g.token.empty() ? g.token : env("DURABLE_TOKEN");
  return make_http_backend(url, token);
}

json parse_json_arg(const std::string& what, const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded())
    throw cli_error(exit_usage,
                    fmt::format("{} is not valid JSON: {}", what, text));
  return j;
}

/// Turns a time as durablectl accepts it (durablectl/time_arg.hpp) into
/// microseconds since the epoch, or refuses it in words.
CLI::Validator time_arg(std::chrono::system_clock::time_point now) {
  return CLI::Validator{[now](std::string& text) -> std::string {
                          try {
                            text = std::to_string(parse_time_arg(text, now));
                            return {};
                          } catch (const std::invalid_argument& e) {
                            return e.what();
                          }
                        },
                        ""};
}

void print_json(const json& j) {
  fmt::print("{}\n", j.dump(2));
}

/// Long-polls until the execution finished; returns it.
json wait_until_finished(backend& b, const std::string& id) {
  for (;;) {
    auto [finished, e] = b.wait(id, durable::millis{30'000});
    if (finished)
      return e;
  }
}

/// `completed,failed`: final statuses by name; all five when empty.
std::vector<durable::execution_status>
parse_final_statuses(const std::string& text) {
  using durable::execution_status;
  if (text.empty())
    return {execution_status::completed, execution_status::failed,
            execution_status::timed_out, execution_status::finalize_failed,
            execution_status::cancelled};
  std::vector<execution_status> out;
  std::size_t pos = 0;
  for (;;) {
    auto comma = text.find(',', pos);
    auto name = text.substr(pos, comma == std::string::npos ? std::string::npos
                                                            : comma - pos);
    auto s = durable::parse_status(name);
    if (!s || !durable::is_finished(*s))
      throw cli_error(exit_usage,
                      fmt::format("--status {}: {:?} is not a final status "
                                  "(completed, failed, timed_out, "
                                  "finalize_failed, cancelled)",
                                  text, name));
    out.push_back(*s);
    if (comma == std::string::npos)
      return out;
    pos = comma + 1;
  }
}

int finished_exit_code(const json& e) {
  return e.value("status", "") == "completed" ? exit_ok : exit_unfinished;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"durablectl: drive durable nodes and inspect executions"};
  app.require_subcommand(1);
  app.add_flag_callback(
    "--version",
    [] {
      fmt::print("durablectl {}\n", durable::version());
      throw CLI::Success{};
    },
    "Print the version and exit");
  global_flags g;
  app.add_option("--url", g.url,
                 "node URL, e.g. http://127.0.0.1:8080 "
                 "(env DURABLE_URL)");
  app.add_option("--token", g.token,
                 "bearer token of the node "
                 "(env DURABLE_TOKEN)");
  app.add_option("--pg", g.pg,
                 "PostgreSQL URL, for show, list, cancel, "
                 "stats, prune and migrate (env DURABLE_PG_URL)");
  app.add_option("--schema", g.schema, "PostgreSQL schema (with --pg)")
    ->capture_default_str();
#ifdef DURABLE_WITH_MYSQL
  app.add_option("--mysql", g.mysql,
                 "MySQL/MariaDB URL mysql://user[:password]@host[:port]/db, "
                 "for show, list, cancel, stats, prune and migrate (env "
                 "DURABLE_MYSQL_URL)");
#endif
  app.add_flag("--json", g.json, "print the answer as JSON");
  app.fallthrough();

  // enqueue
  auto* enq = app.add_subcommand("enqueue", "enqueue an execution of a task");
  std::string task, input = "null", key;
  std::optional<std::int64_t> timeout_ms, sleep_ms, retries, retry_delay_ms;
  bool wait_flag = false;
  enq->add_option("task", task, "task id")->required();
  enq->add_option("input", input, "input as JSON (default null)");
  enq->add_option("--timeout-ms", timeout_ms, "run timeout")
    ->check(whole_number());
  enq->add_option("--sleep-before-run-ms", sleep_ms, "delay the first run")
    ->check(whole_number());
  enq->add_option("--retries", retries, "retries after the first run")
    ->check(whole_number());
  enq->add_option("--retry-delay-ms", retry_delay_ms, "delay before a retry")
    ->check(whole_number());
  enq->add_option("--idempotency-key", key, "enqueue at most once per key");
  std::string traceparent;
  enq->add_option("--traceparent", traceparent,
                  "W3C trace context for the execution's tree");
  enq->add_flag("--wait", wait_flag, "wait for the end and print it");

  // show
  auto* show = app.add_subcommand("show", "show an execution");
  std::string id;
  bool tree_flag = false;
  std::size_t max_depth = 16, max_nodes = 1000;
  show->add_option("id", id, "execution id")->required();
  show->add_flag("--tree", tree_flag, "show the tree of its descendants");
  show->add_option("--max-depth", max_depth, "tree depth")
    ->check(whole_number())
    ->capture_default_str();
  show->add_option("--max-nodes", max_nodes, "tree size")
    ->check(whole_number())
    ->capture_default_str();

  // wait
  auto* wait = app.add_subcommand("wait", "wait for an execution to finish");
  wait->add_option("id", id, "execution id")->required();

  // list
  auto* list = app.add_subcommand("list", "list executions, newest first");
  std::string status, list_task, parent, cursor;
  std::optional<std::int64_t> since_us, before_us;
  std::size_t limit = 50;
  list->add_option("--status", status, "statuses, comma-separated");
  list->add_option("--task", list_task, "task id");
  list->add_option("--parent", parent, "parent execution id");
  // Relative times count back from one instant, so that `--created-from 2h
  // --created-before 1h` spans exactly an hour.
  const auto now = std::chrono::system_clock::now();
  list
    ->add_option("--created-from,--created-from-us", since_us,
                 fmt::format("created at or after this time: {}", time_forms))
    ->transform(time_arg(now));
  list
    ->add_option("--created-before,--created-before-us", before_us,
                 "created before this time (same forms)")
    ->transform(time_arg(now))
    ->type_name("TIME");
  // The API's bounds (docs/http-api.md).
  list->add_option("--limit", limit, "rows per page")
    ->check(whole_number(1, 1000))
    ->capture_default_str();
  list->add_option("--cursor", cursor, "the next page of an earlier list");

  // cancel and retry many: the executions a filter chooses (bulk_filter)
  std::string bulk_error;
  std::size_t bulk_limit = 1000;
  bool dry_run = false;
  auto bulk_filter = [&](CLI::App* cmd) {
    cmd->add_option("--status", status, "statuses, comma-separated");
    cmd->add_option("--task", list_task, "task id");
    cmd->add_option("--error", bulk_error, "text the error message contains");
    cmd
      ->add_option("--created-from", since_us,
                   "created at or after this time (as for list)")
      ->transform(time_arg(now));
    cmd
      ->add_option("--created-before", before_us,
                   "created before this time (as for list)")
      ->transform(time_arg(now))
      ->type_name("TIME");
    cmd->add_option("--limit", bulk_limit, "executions at most")
      ->check(whole_number(1, 10'000))
      ->capture_default_str();
    cmd->add_flag("--dry-run", dry_run, "count and name them, act on none");
  };
  const auto bulk_query = [&] {
    query_params q{{"limit", std::to_string(bulk_limit)}};
    if (!status.empty())
      q.emplace("status", status);
    if (!list_task.empty())
      q.emplace("task_id", list_task);
    if (!bulk_error.empty())
      q.emplace("error", bulk_error);
    if (since_us)
      q.emplace("created_from_us", std::to_string(*since_us));
    if (before_us)
      q.emplace("created_before_us", std::to_string(*before_us));
    if (dry_run)
      q.emplace("dry_run", "true");
    return q;
  };
  // Without an id, a filter chooses: one of its options must be given, so
  // that a bare `cancel` never cancels everything.
  const auto is_bulk = [&](const char* command) {
    if (!id.empty())
      return false;
    if (status.empty() && list_task.empty() && bulk_error.empty() && !since_us
        && !before_us)
      throw cli_error(exit_usage,
                      fmt::format("{} needs an execution id, or a filter "
                                  "(--status, --task, --error, "
                                  "--created-from, --created-before)",
                                  command));
    return true;
  };

  // cancel
  auto* cancel = app.add_subcommand("cancel", "cancel an execution and its "
                                              "unfinished descendants, or "
                                              "those a filter chooses");
  cancel->add_option("id", id, "execution id");
  bulk_filter(cancel);

  // wake
  auto* wake = app.add_subcommand("wake", "wake a sleeping execution");
  std::string sleeping_id, output, error_message;
  wake->add_option("task", task, "sleeping task id")->required();
  wake->add_option("sleeping_id", sleeping_id, "its unique id")->required();
  auto* out_opt = wake->add_option("--output", output, "output as JSON");
  auto* err_opt = wake->add_option("--error", error_message,
                                   "fail it with this message");
  out_opt->excludes(err_opt);

  // retry
  auto* retry = app.add_subcommand("retry", "enqueue a failed execution "
                                            "again with the same input, or "
                                            "those a filter chooses");
  retry->add_option("id", id, "execution id");
  bulk_filter(retry);
  retry->add_option("--idempotency-key", key, "enqueue at most once per key");
  retry->add_flag("--wait", wait_flag, "wait for the end and print it");

  // stats
  auto* stats = app.add_subcommand("stats", "count executions by status");
  stats->add_option("--task", list_task, "task id");

  // migrate
  app.add_subcommand("migrate", "apply the database schema (needs "
                                  + database_flags() + ")");

  // prune
  std::string older_than;
  std::string prune_statuses;
  std::string prune_task;
  auto* prune = app.add_subcommand(
    "prune", "remove finished executions (whole trees, by their root) that "
             "ended before a cutoff (needs "
               + database_flags() + ")");
  prune
    ->add_option("--older-than", older_than,
                 "age of the root's end: 90s, 15m, 24h, 7d")
    ->required();
  prune->add_option("--status", prune_statuses,
                    "final statuses of the root, comma-separated (default "
                    "all: completed,failed,timed_out,finalize_failed,"
                    "cancelled)");
  prune->add_option("--task", prune_task, "only roots of this task");
  prune->add_flag("--dry-run", dry_run, "count, remove nothing");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    auto code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }

  auto* cmd = app.get_subcommands().front();
  const auto name = cmd->get_name();
  try {
    if ((name == "cancel" || name == "retry") && is_bulk(name.c_str())) {
      auto b = open_backend(g, false);
      auto r = b->bulk(name, bulk_query());
      if (g.json) {
        print_json(r);
        return exit_ok;
      }
      const auto ids = r.value("execution_ids", json::array());
      const auto done = name == "cancel" ? "cancelled" : "retried";
      if (r.value("dry_run", false))
        fmt::print("{} would be {}\n", r.value("matched", 0), done);
      else
        fmt::print(
          "{} {} of {} chosen ({} skipped){}\n", done, r.value("acted", 0),
          r.value("matched", 0), r.value("skipped", 0),
          name == "retry" && !ids.empty() ? "; the new executions:" : "");
      for (const auto& x : ids)
        fmt::print("{}\n", x.get<std::string>());
      if (r.value("more", false))
        fmt::print("more executions match: run it again\n");
      return exit_ok;
    }
    if (name == "enqueue" || name == "retry") {
      auto b = open_backend(g, false);
      json body;
      std::string target_task = task;
      if (name == "retry") {
        auto e = b->get(id);
        auto st = e.value("status", "");
        auto parsed = durable::parse_status(st);
        if (!parsed || !durable::is_errored(*parsed))
          throw cli_error(exit_usage,
                          fmt::format("execution {} is {}; only failed, "
                                      "timed out, cancelled or finalize "
                                      "failed executions can be retried",
                                      id, st));
        if (e.contains("parent"))
          throw cli_error(exit_usage,
                          fmt::format("execution {} is a child; retry its "
                                      "root instead",
                                      id));
        if (e.value("kind", "") == "sleeping")
          throw cli_error(exit_usage,
                          fmt::format("execution {} is a sleeping execution; "
                                      "its unique id stays taken, enqueue a "
                                      "new one instead",
                                      id));
        target_task = e.at("task_id").get<std::string>();
        body["input"] = e.value("input", json(nullptr));
      } else {
        body["input"] = parse_json_arg("input", input);
        json options = json::object();
        if (timeout_ms)
          options["timeout_ms"] = *timeout_ms;
        if (sleep_ms)
          options["sleep_before_run_ms"] = *sleep_ms;
        if (retries)
          options["retry"] = {{"max_attempts", *retries},
                              {"base_delay_ms", retry_delay_ms.value_or(0)}};
        body["options"] = options;
      }
      if (!key.empty())
        body["options"]["idempotency_key"] = key;
      if (!traceparent.empty())
        body["options"]["traceparent"] = traceparent;
      auto ref = b->enqueue(target_task, body);
      auto new_id = ref.at("execution_id").get<std::string>();
      if (!wait_flag) {
        if (g.json)
          print_json(ref);
        else
          fmt::print("{}\n", new_id);
        return exit_ok;
      }
      auto e = wait_until_finished(*b, new_id);
      g.json ? print_json(e) : print_execution(stdout, e);
      return finished_exit_code(e);
    }
    if (name == "show") {
      auto b = open_backend(g, true);
      if (tree_flag) {
        auto t = b->tree(id, max_depth, max_nodes);
        g.json ? print_json(t) : print_tree(stdout, t);
      } else {
        auto e = b->get(id);
        g.json ? print_json(e) : print_execution(stdout, e);
      }
      return exit_ok;
    }
    if (name == "wait") {
      auto b = open_backend(g, false);
      auto e = wait_until_finished(*b, id);
      g.json ? print_json(e) : print_execution(stdout, e);
      return finished_exit_code(e);
    }
    if (name == "list") {
      auto b = open_backend(g, true);
      query_params q{{"limit", std::to_string(limit)}};
      if (!status.empty())
        q.emplace("status", status);
      if (!list_task.empty())
        q.emplace("task_id", list_task);
      if (!parent.empty())
        q.emplace("parent_id", parent);
      if (since_us)
        q.emplace("created_from_us", std::to_string(*since_us));
      if (before_us)
        q.emplace("created_before_us", std::to_string(*before_us));
      if (!cursor.empty())
        q.emplace("cursor", cursor);
      auto page = b->list(q);
      g.json ? print_json(page) : print_list(stdout, page);
      return exit_ok;
    }
    if (name == "cancel") {
      auto b = open_backend(g, true);
      auto e = b->cancel(id);
      if (g.json)
        print_json(e);
      else
        fmt::print("{} {}\n", id, e.value("status", "?"));
      return exit_ok;
    }
    if (name == "wake") {
      auto b = open_backend(g, false);
      json body{{"sleeping_id", sleeping_id}};
      if (*err_opt)
        body["error"] = error_message;
      else
        body["output"] = out_opt->count() > 0
                           ? parse_json_arg("--output", output)
                           : json(nullptr);
      auto e = b->wake(task, body);
      g.json ? print_json(e) : print_execution(stdout, e);
      return exit_ok;
    }
    if (name == "stats") {
      auto b = open_backend(g, true);
      query_params q;
      if (!list_task.empty())
        q.emplace("task_id", list_task);
      auto counts = b->stats(q);
      g.json ? print_json(counts) : print_stats(stdout, counts);
      return exit_ok;
    }
    if (name == "prune") {
      prune_args args;
      auto age = durable::parse_duration(older_than);
      if (!age || age->count() == 0)
        throw cli_error(exit_usage,
                        fmt::format("--older-than {} is not a duration such "
                                    "as 90s, 15m, 24h or 7d",
                                    older_than));
      args.older_than = *age;
      args.statuses = parse_final_statuses(prune_statuses);
      if (!prune_task.empty())
        args.task = prune_task;
      args.dry_run = dry_run;
      auto b = open_backend(g, true);
      auto r = b->prune(args);
      if (g.json)
        print_json(r);
      else
        fmt::print("{} {} execution(s) in {} tree(s)\n",
                   dry_run ? "would remove" : "removed", r["rows"].dump(),
                   r["roots"].dump());
      return exit_ok;
    }
    if (name == "migrate") {
      if (g.pg.empty() && env("DURABLE_PG_URL").empty() && g.mysql.empty()
#ifdef DURABLE_WITH_MYSQL
          && env("DURABLE_MYSQL_URL").empty()
#endif
      )
        throw cli_error(exit_usage,
                        fmt::format("migrate needs the database: pass {} (or "
                                    "set {})",
                                    database_flags(), database_env()));
      auto b = open_backend(g, true);
      auto r = b->migrate();
      if (g.json)
        print_json(r);
      else if (r.contains("database"))
        fmt::print("database {} at version {}\n",
                   r["database"].get<std::string>(), r["version"].dump());
      else
        fmt::print("schema {} at version {} ({} migration(s) applied)\n",
                   r["schema"].get<std::string>(), r["version"].dump(),
                   r["applied"].dump());
      return exit_ok;
    }
    throw cli_error(exit_usage, "unknown command " + name);
  } catch (const cli_error& e) {
    fmt::print(stderr, "durablectl: {}\n", e.what());
    return e.code();
  } catch (const std::exception& e) {
    // Store errors name the operation and SQLSTATE, never SQL or passwords.
    fmt::print(stderr, "durablectl: {}\n", e.what());
    return exit_failure;
  }
}
