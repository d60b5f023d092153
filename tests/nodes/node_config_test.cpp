// durable-node's configuration as its command line and environment give it.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <CLI/CLI.hpp>
#include <doctest/doctest.h>

#include "durable/nodes/cli_numbers.hpp"
#include "durable/nodes/node_config.hpp"

namespace {

/// Parses `args` (without the program name) as durable-node would.
durable::nodes::node_config parse(std::vector<std::string> args) {
  CLI::App app{"durable-node"};
  durable::nodes::node_config cfg;
  durable::nodes::add_node_options(app, cfg);
  std::vector<const char*> argv{"durable-node"};
  for (const auto& a : args)
    argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return cfg;
}

/// Sets an environment variable for the lifetime of this object.
struct scoped_env {
  std::string name;
  scoped_env(std::string n, const char* value) : name(std::move(n)) {
    ::setenv(name.c_str(), value, 1);
  }
  ~scoped_env() {
    ::unsetenv(name.c_str());
  }
};

} // namespace

TEST_SUITE("nodes.config") {
  TEST_CASE(
    "new rows are stored already claimed unless the node is told not to") {
    CHECK(parse({}).executor.claim_on_insert);
    CHECK_FALSE(parse({"--claim-on-insert", "false"}).executor.claim_on_insert);
    CHECK(parse({"--claim-on-insert", "true"}).executor.claim_on_insert);
    scoped_env env{"DURABLE_CLAIM_ON_INSERT", "0"};
    CHECK_FALSE(parse({}).executor.claim_on_insert);
  }

  TEST_CASE(
    "a claim-on-insert value that is not a boolean is refused by name") {
    // CLI11 alone reads any number as a flag value: -5 was taken.
    for (const char* value : {"sometimes", "-5", "2", ""}) {
      INFO("value " << value);
      try {
        parse({"--claim-on-insert", value});
        FAIL("the value was accepted");
      } catch (const CLI::ParseError& e) {
        CHECK(std::string{e.what()}.find("--claim-on-insert")
              != std::string::npos);
      }
    }
    CHECK_FALSE(parse({"--claim-on-insert", "off"}).executor.claim_on_insert);
  }

  TEST_CASE("the web console is served unless the node is told not to") {
    CHECK(parse({}).http_console);
    CHECK_FALSE(parse({"--http-console", "false"}).http_console);
    CHECK(parse({"--http-console", "true"}).http_console);
    {
      scoped_env env{"DURABLE_HTTP_CONSOLE", "false"};
      CHECK_FALSE(parse({}).http_console);
    }
    CHECK_THROWS_AS(parse({"--http-console", "maybe"}), CLI::ParseError);
  }

  TEST_CASE("engine flags reach the executor options") {
    auto cfg = parse({"--max-concurrent", "7", "--lease-ms", "2500"});
    CHECK(cfg.executor.max_concurrent == 7);
    CHECK(cfg.executor.lease_duration == durable::millis{2500});
  }

  TEST_CASE("a duration that is not a whole number of milliseconds is refused "
            "in words") {
    for (const char* bad : {"abc", "-5", "1.5", "99999999999999999999"}) {
      INFO("value: " << bad);
      try {
        parse({"--lease-ms", bad});
        FAIL("the value was accepted");
      } catch (const CLI::ParseError& e) {
        const std::string what = e.what();
        CHECK(what.find(std::string{bad}
                        + " is not a whole number of "
                          "milliseconds (0 or more)")
              != std::string::npos);
        CHECK(what.size() < 200);
      }
    }
  }

  TEST_CASE("a config file key the node does not know is refused by name") {
    const std::string path = "node_config_test_typo.ini";
    {
      std::ofstream f{path};
      f << "store = memory\nhttp_port = 8080\n";
    }
    try {
      parse({"--config", path});
      FAIL("the unknown key was accepted");
    } catch (const CLI::ParseError& e) {
      CHECK(std::string{e.what()}.find("http_port") != std::string::npos);
    }
    {
      std::ofstream f{path};
      f << "store = memory\nhttp-port = 8080\n";
    }
    auto cfg = parse({"--config", path});
    CHECK(cfg.store == "memory");
    CHECK(cfg.http_port == 8080);
    std::remove(path.c_str());
  }

  TEST_CASE("the log level and format come from flags, environment and file") {
    using durable::nodes::log_format;
    using durable::nodes::log_level;
    auto defaults = parse({});
    CHECK(defaults.log.level == log_level::info);
    CHECK(defaults.log.format == log_format::text);
    auto flags = parse({"--log-level", "debug", "--log-format", "json"});
    CHECK(flags.log.level == log_level::debug);
    CHECK(flags.log.format == log_format::json);
    {
      scoped_env level{"DURABLE_LOG_LEVEL", "error"};
      scoped_env format{"DURABLE_LOG_FORMAT", "json"};
      auto env = parse({});
      CHECK(env.log.level == log_level::error);
      CHECK(env.log.format == log_format::json);
      // A flag wins over the environment.
      CHECK(parse({"--log-level", "trace"}).log.level == log_level::trace);
    }
    const std::string path = "node_config_test_log.toml";
    {
      std::ofstream f{path};
      f << "log-level = \"warning\"\nlog-format = \"json\"\n";
    }
    auto file = parse({"--config", path});
    std::remove(path.c_str());
    CHECK(file.log.level == log_level::warning);
    CHECK(file.log.format == log_format::json);
  }

  TEST_CASE("a log level or format the node does not know is refused in "
            "words") {
    struct refused_word {
      const char* flag;
      const char* bad;
      const char* names;
    };
    // Members, not a structured binding: clang 14 cannot capture a binding
    // in the lambda INFO() makes.
    for (const auto& [flag, bad, names] :
         {refused_word{"--log-level", "verbose",
                       "trace, debug, info, warning, error"},
          refused_word{"--log-format", "yaml", "text, json"}}) {
      const char* const flag_name = flag;
      const char* const bad_value = bad;
      INFO(flag_name << " " << bad_value);
      try {
        parse({flag, bad});
        FAIL("the value was accepted");
      } catch (const CLI::ParseError& e) {
        const std::string what = e.what();
        CHECK(what.find(std::string{bad} + " is not one of " + names)
              != std::string::npos);
      }
    }
  }

  TEST_CASE("a node keeps finished executions 24 h or 7 d unless told") {
    using namespace std::chrono_literals;
    auto r = parse({}).executor.retention;
    CHECK(r.completed == 24h);
    CHECK(r.cancelled == 24h);
    CHECK(r.failed == 7 * 24h);
    CHECK(r.timed_out == 7 * 24h);
    CHECK(r.finalize_failed == 7 * 24h);
    // An embedded executor keeps everything.
    CHECK_FALSE(durable::executor_options{}.retention.enabled());
  }

  TEST_CASE("retention flags environment variables and config keys take "
            "durations with units") {
    using namespace std::chrono_literals;
    auto r = parse({"--retain-completed", "90s", "--retain-failed", "15m",
                    "--retain-timed-out", "2h", "--retain-finalize-failed",
                    "3d", "--retain-cancelled", "0"})
               .executor.retention;
    CHECK(r.completed == 90s);
    CHECK(r.failed == 15min);
    CHECK(r.timed_out == 2h);
    CHECK(r.finalize_failed == 3 * 24h);
    CHECK(r.cancelled == 0ms);
    {
      scoped_env env{"DURABLE_RETAIN_CANCELLED", "12h"};
      CHECK(parse({}).executor.retention.cancelled == 12h);
    }
    const std::string path = "node_config_test_retention.ini";
    {
      std::ofstream f{path};
      f << "retain-failed = 1d\nretain-completed = 0\n";
    }
    auto cfg = parse({"--config", path});
    std::remove(path.c_str());
    CHECK(cfg.executor.retention.failed == 24h);
    CHECK(cfg.executor.retention.completed == 0ms);
    CHECK(cfg.executor.retention.cancelled == 24h);
  }

  TEST_CASE("a retention value without a unit is refused by name") {
    for (auto bad : {"24", "1y", "53w", "-1d", "soon"}) {
      try {
        parse({"--retain-completed", bad});
        FAIL("accepted " << bad);
      } catch (const CLI::ParseError& e) {
        std::string what = e.what();
        CHECK(what.find("--retain-completed") != std::string::npos);
        CHECK(what.find("is not a duration") != std::string::npos);
      }
    }
  }

  TEST_CASE("retain-task overrides one task's durations from flags the "
            "environment and the config file") {
    using namespace std::chrono_literals;
    using durable::execution_status;
    auto r = parse({"--retain-completed", "1h", "--retain-task", "billing=30d",
                    "--retain-task", "billing:failed=0", "--retain-task",
                    "scratch:timed-out=15m,scratch:finalize_failed=2h"})
               .executor.retention;
    CHECK(r.completed == 1h);
    REQUIRE(r.tasks.size() == 2);
    // Later values win; statuses not given fall back to the general ones.
    CHECK(r.for_task("billing", execution_status::completed) == 30 * 24h);
    CHECK(r.for_task("billing", execution_status::cancelled) == 30 * 24h);
    CHECK(r.for_task("billing", execution_status::failed) == 0ms);
    CHECK(r.for_task("scratch", execution_status::timed_out) == 15min);
    CHECK(r.for_task("scratch", execution_status::finalize_failed) == 2h);
    CHECK(r.for_task("scratch", execution_status::completed) == 1h);
    CHECK(r.for_task("scratch", execution_status::failed) == 7 * 24h);
    CHECK(parse({}).executor.retention.tasks.empty());
    CHECK(durable::nodes::describe_retention(r).find(
            "retain-task=billing:completed=30d,")
          != std::string::npos);
    {
      scoped_env env{"DURABLE_RETAIN_TASK", "audit=0,report:failed=1d"};
      auto e = parse({}).executor.retention;
      REQUIRE(e.tasks.size() == 2);
      CHECK(e.for_task("audit", execution_status::completed) == 0ms);
      CHECK(e.for_task("report", execution_status::failed) == 24h);
      CHECK(e.for_task("report", execution_status::completed) == 24h);
    }
    const std::string path = "node_config_test_retain_task.ini";
    {
      std::ofstream f{path};
      f << "retain-task = billing=90d\nretain-task = audit:cancelled=1h\n";
    }
    auto cfg = parse({"--config", path});
    std::remove(path.c_str());
    CHECK_NOTHROW(durable::nodes::finish_config(cfg));
    const auto& c = cfg.executor.retention;
    REQUIRE(c.tasks.size() == 2);
    CHECK(c.for_task("billing", execution_status::failed) == 90 * 24h);
    CHECK(c.for_task("audit", execution_status::cancelled) == 1h);
    CHECK(c.for_task("audit", execution_status::completed) == 24h);
  }

  TEST_CASE("a bad retain-task value is refused naming the value") {
    for (auto bad :
         {"billing", "billing=24", "billing=soon", "bil ling=1d", "=1d",
          "billing:running=1d", "billing:done=1d", "billing:=1d"}) {
      INFO("value " << bad);
      try {
        parse({"--retain-task", bad});
        FAIL("accepted " << bad);
      } catch (const CLI::ParseError& e) {
        std::string what = e.what();
        CHECK(what.find("--retain-task") != std::string::npos);
        CHECK(what.find(bad) != std::string::npos);
      }
    }
  }

  TEST_CASE("a count or port out of its range is refused with a readable "
            "range") {
    struct bad_value {
      const char* flag;
      const char* value;
      const char* range;
    };
    for (auto [flag, value, range] :
         {bad_value{"--pg-pool", "abc", "(1 to 64)"},
          bad_value{"--pg-pool", "65", "(1 to 64)"},
          bad_value{"--pg-pool", "0", "(1 to 64)"},
          bad_value{"--max-concurrent", "-5", "(0 or more)"},
          bad_value{"--worker-threads", "many", "(0 or more)"},
          bad_value{"--max-recoveries", "1.5", "(0 or more)"},
          bad_value{"--http-port", "70000", "(0 to 65535)"},
          bad_value{"--gateway-port", "-1", "(0 to 65535)"}}) {
      const char* const flag_name = flag; // INFO cannot capture a binding
      const char* const given = value;
      INFO(flag_name << " " << given);
      try {
        parse({flag, value});
        FAIL("the value was accepted");
      } catch (const CLI::ParseError& e) {
        const std::string what = e.what();
        CHECK(what.find(std::string{flag} + ": " + value
                        + " is not a whole number " + range)
              != std::string::npos);
        CHECK(what.size() < 120);
      }
    }
    CHECK(parse({"--pg-pool", "64"}).pg_pool == 64);
    CHECK(parse({"--http-port", "0"}).http_port == 0);
  }

  TEST_CASE("an HTTP API beyond loopback without a token is bad "
            "configuration") {
    auto open = parse({"--http-port", "8080", "--http-bind", "0.0.0.0"});
    try {
      durable::nodes::finish_config(open);
      FAIL("the configuration was accepted");
    } catch (const std::exception& e) {
      CHECK(std::string{e.what()}.find("--http-token") != std::string::npos);
    }
    auto with_token = parse({"--http-port", "8080", "--http-bind", "0.0.0.0",
                             "--http-token", "secret"});
    CHECK_NOTHROW(durable::nodes::finish_config(with_token));
    auto loopback = parse({"--http-port", "8080"});
    CHECK_NOTHROW(durable::nodes::finish_config(loopback));
    // Without the API, its address is not checked.
    auto no_api = parse({"--http-bind", "0.0.0.0"});
    CHECK_NOTHROW(durable::nodes::finish_config(no_api));
  }

  TEST_CASE("the mysql store is accepted only in a build that has it") {
    using durable::nodes::finish_config;
    using durable::nodes::has_mysql_store;
    auto cfg = parse({"--store", "mysql"});
    CHECK(cfg.store == "mysql");
    if (has_mysql_store()) {
      CHECK_NOTHROW(finish_config(cfg));
    } else {
      try {
        finish_config(cfg);
        FAIL("the mysql store was accepted without it");
      } catch (const std::exception& e) {
        CHECK(std::string{e.what()}.find("DURABLE_WITH_MYSQL")
              != std::string::npos);
      }
    }
    // A store the node does not know is refused, listing what it knows.
    auto bad = parse({"--store", "oracle"});
    try {
      finish_config(bad);
      FAIL("an unknown store was accepted");
    } catch (const std::exception& e) {
      const std::string what = e.what();
      CHECK(what.find("postgres") != std::string::npos);
      CHECK((what.find("mysql") != std::string::npos) == has_mysql_store());
    }
  }

  TEST_CASE("the mysql URL comes from the flag, the environment or the file "
            "and is never described whole") {
    if (!durable::nodes::has_mysql_store()) {
      // Without the store there is no flag: a typo-proof refusal.
      CHECK_THROWS(parse({"--mysql-url", "mysql://u@h/db"}));
      return;
    }
    CHECK(parse({"--mysql-url", "mysql://u@h/db"}).mysql_url
          == "mysql://u@h/db");
    {
      scoped_env env{"DURABLE_MYSQL_URL", "mysql://env@h:3307/db"};
      CHECK(parse({}).mysql_url == "mysql://env@h:3307/db");
      // The flag wins over the environment.
      CHECK(parse({"--mysql-url", "mysql://flag@h/db"}).mysql_url
            == "mysql://flag@h/db");
    }
    const auto path = std::string{"node-config-mysql-test.toml"};
    {
      std::ofstream f{path};
      f << "store = \"mysql\"\nmysql-url = \"mysql://file@h/db\"\n";
    }
    auto from_file = parse({"--config", path});
    std::remove(path.c_str());
    CHECK(from_file.store == "mysql");
    CHECK(from_file.mysql_url == "mysql://file@h/db");

    auto cfg = parse({"--store", "mysql", "--mysql-url",
                      "mysql://durable:s3cret@db.example:3306/jobs"});
    const auto described = durable::nodes::describe_store(cfg);
    CHECK(described == "mysql mysql://durable:***@db.example:3306/jobs");
    CHECK(described.find("s3cret") == std::string::npos);
  }

  TEST_CASE("a range reads as words") {
    using durable::nodes::describe_range;
    CHECK(describe_range(1, 64) == "1 to 64");
    CHECK(describe_range(0, std::numeric_limits<std::int64_t>::max())
          == "0 or more");
  }

} // TEST_SUITE
