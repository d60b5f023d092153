#include "durablectl/pg_backend.hpp"

#include <pqxx/pqxx>

#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durablectl/store_backend.hpp"

namespace durablectl {

namespace {

namespace pg = durable::storage::pg;

class pg_backend final : public store_backend {
public:
  pg_backend(std::string url, std::string schema)
    : url_(std::move(url)), schema_(std::move(schema)) {}

  json migrate() override {
    pqxx::connection c{url_};
    auto applied = pg::migrate(c, schema_);
    return {{"schema", schema_},
            {"applied", applied},
            {"version", pg::schema_version(c, schema_)}};
  }

protected:
  std::unique_ptr<durable::store> open_store() override {
    pg::pg_options opts;
    opts.url = url_;
    opts.pool_size = 1;
    opts.schema = schema_;
    opts.application_name = "durablectl";
    // Only `migrate` changes the schema.
    opts.migrate = false;
    return std::make_unique<pg::pg_store>(std::move(opts));
  }

private:
  std::string url_;
  std::string schema_;
};

} // namespace

std::unique_ptr<backend> make_pg_backend(const std::string& url,
                                         const std::string& schema) {
  return std::make_unique<pg_backend>(url, schema);
}

} // namespace durablectl
