#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "storage_conformance/conformance.hpp"
#include "storage_sqlite/sqlite_backend.hpp"
#include "support/temp_dir.hpp"

/// SQLite stores for the SQLite store's own cases and for the cases it
/// shares with the MySQL store (tests/sql_stores/).
namespace durable::test::sqlite_rows {

using conformance::fake_clock;

/// A database file in a fresh directory, opened on demand on a fake clock.
struct db_file {
  std::string dir = durable::test::make_temp_dir("durable-sqlite-");
  std::string path = dir + "/store.db";
  fake_clock clock;

  std::shared_ptr<storage::sqlite_store>
  open(storage::sqlite_options opts = {}) const {
    opts.clock = clock.function();
    return std::make_shared<storage::sqlite_store>(path, std::move(opts));
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
};

/// The fixture of tests/sql_stores/: a fresh file, opened.
struct fixture {
  /// Makes stores for a conformance::fixture.
  using backend = conformance::sqlite_backend;

  db_file file;
  fake_clock clock = file.clock;
  std::shared_ptr<storage::sqlite_store> store = file.open();

  execution_record row(std::string id, std::string task = "task_a") const {
    return file.row(std::move(id), std::move(task));
  }

  void put(std::vector<execution_record> rows) {
    auto n = rows.size();
    auto out = store->insert(std::move(rows));
    REQUIRE(out.size() == n);
    for (const auto& o : out)
      REQUIRE(o.result == insert_outcome::kind::inserted);
  }

  std::vector<std::string> table_columns() const {
    storage::sqlite_detail::connection c{file.path, storage::sqlite_options{}};
    auto q = c.prepare("SELECT name FROM pragma_table_info('executions') "
                       "ORDER BY cid");
    std::vector<std::string> out;
    while (q.step())
      out.push_back(q.text(0));
    return out;
  }
};

} // namespace durable::test::sqlite_rows

TYPE_TO_STRING_AS("sqlite", durable::test::sqlite_rows::fixture);
