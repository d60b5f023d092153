#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#include "mysql/mysql_backend.hpp"
#include "storage_conformance/conformance.hpp"
#include "support/mysql_fixture.hpp"

/// MySQL stores for the MySQL store's own cases and for the cases it
/// shares with the SQLite store (tests/sql_stores/).
namespace durable::test::mysql_rows {

using conformance::fake_clock;

/// A store on a database of its own, on a fake clock, dropped afterwards.
struct database {
  std::string name = mysql::unique_database();
  fake_clock clock;
  std::shared_ptr<storage::mysql_store> store;

  database() {
    auto o = mysql::options(name);
    o.clock = clock.function();
    store = std::make_shared<storage::mysql_store>(std::move(o));
  }

  ~database() {
    store.reset();
    mysql::exec_admin("DROP DATABASE IF EXISTS `" + name + "`");
  }

  execution_record row(std::string id, std::string task = "task_a") const {
    task_options opts;
    opts.id = task;
    opts.timeout = std::chrono::seconds{10};
    auto r = make_execution(std::move(task), task_kind::task, opts, "null",
                            clock.now());
    r.id = std::move(id);
    r.root = {r.task_id, r.id};
    return r;
  }

  void put(std::vector<execution_record> rows) {
    auto n = rows.size();
    auto out = store->insert(std::move(rows));
    REQUIRE(out.size() == n);
    for (const auto& o : out)
      REQUIRE(o.result == insert_outcome::kind::inserted);
  }
};

/// The fixture of tests/sql_stores/.
struct fixture : database {
  /// Makes stores for a conformance::fixture.
  using backend = conformance::mysql_backend;

  std::vector<std::string> table_columns() const {
    storage::mysql_options o;
    storage::mysql_detail::connection c{
      storage::mysql_detail::parse_url(mysql::url_for(name)), o};
    auto q = c.prepare("SELECT column_name FROM information_schema.columns "
                       "WHERE table_schema = DATABASE() AND table_name = "
                       "'executions' ORDER BY ordinal_position");
    std::vector<std::string> out;
    while (q.step())
      out.push_back(q.text(0));
    return out;
  }
};

} // namespace durable::test::mysql_rows

TYPE_TO_STRING_AS("mysql", durable::test::mysql_rows::fixture);
