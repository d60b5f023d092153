#include "durablectl/pg_backend.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "durable/error.hpp"
#include "durable/nodes/http/views.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durable/transitions.hpp"

namespace durablectl {

namespace {

namespace dh = durable::nodes::http;
namespace pg = durable::storage::pg;

/// Version conflicts a cancel rides out (another writer got there first).
constexpr int max_cancel_attempts = 16;

class pg_backend final : public backend {
public:
  pg_backend(std::string url, std::string schema)
    : url_(std::move(url)), schema_(std::move(schema)) {}

  json get(const std::string& id) override {
    auto& s = store();
    return dh::execution_with_children_json(s, must_get(s, id));
  }

  json tree(const std::string& id, std::size_t max_depth,
            std::size_t max_nodes) override {
    auto& s = store();
    return dh::tree_json(s, must_get(s, id), {max_depth, max_nodes});
  }

  json list(const query_params& query) override {
    auto page = store().list(dh::parse_list(query));
    auto rows = json::array();
    for (const auto& r : page.rows)
      rows.push_back(dh::summary_json(r));
    json out{{"executions", std::move(rows)}};
    out["next_cursor"] = page.next_cursor.empty() ? json(nullptr)
                                                  : json(page.next_cursor);
    return out;
  }

  json cancel(const std::string& id) override {
    auto& s = store();
    auto row = must_get(s, id);
    for (int i = 0; i < max_cancel_attempts && !row.is_finished(); ++i) {
      auto out = s.apply({durable::transitions::cancel(row, s.now())});
      if (!out.at(0).current)
        throw cli_error(exit_not_found, not_found(id));
      row = std::move(*out[0].current);
    }
    if (!row.is_finished())
      throw cli_error(exit_failure,
                      fmt::format("execution {} kept changing; cancel it "
                                  "again",
                                  id));
    return dh::execution_json(row);
  }

  json stats(const query_params& query) override {
    return dh::counts_json(store().count_by_status(dh::parse_filter(query)));
  }

  json migrate() override {
    pqxx::connection c{url_};
    auto applied = pg::migrate(c, schema_);
    return {{"schema", schema_},
            {"applied", applied},
            {"version", pg::schema_version(c, schema_)}};
  }

  json prune(const prune_args& args) override {
    auto& s = store();
    durable::prune_request req;
    req.statuses = args.statuses;
    req.finished_before = s.now() - args.older_than;
    req.task_id = args.task;
    req.dry_run = args.dry_run;
    durable::prune_result total;
    // One batch per transaction, so that autovacuum can follow and no
    // transaction holds many locks; a dry run counts in one statement.
    for (;;) {
      auto r = s.prune(req);
      total.roots += r.roots;
      total.rows += r.rows;
      if (req.dry_run || r.roots < req.limit)
        break;
    }
    return {
      {"roots", total.roots}, {"rows", total.rows}, {"dry_run", args.dry_run}};
  }

private:
  static std::string not_found(const std::string& id) {
    return fmt::format("Task execution not found [executionId={}]", id);
  }

  durable::store& store() {
    if (!store_) {
      pg::pg_options opts;
      opts.url = url_;
      opts.pool_size = 1;
      opts.schema = schema_;
      opts.application_name = "durablectl";
      // Only `migrate` changes the schema.
      opts.migrate = false;
      store_ = std::make_unique<pg::pg_store>(std::move(opts));
    }
    return *store_;
  }

  static durable::execution_record must_get(durable::store& s,
                                            const std::string& id) {
    auto row = s.get(id);
    if (!row)
      throw cli_error(exit_not_found, not_found(id));
    return std::move(*row);
  }

  std::string url_;
  std::string schema_;
  std::unique_ptr<pg::pg_store> store_;
};

} // namespace

std::unique_ptr<backend> make_pg_backend(const std::string& url,
                                         const std::string& schema) {
  return std::make_unique<pg_backend>(url, schema);
}

} // namespace durablectl
