#include "durablectl/mysql_backend.hpp"

#include "durable/storage/mysql_store.hpp"
#include "durablectl/store_backend.hpp"

namespace durablectl {

namespace {

namespace st = durable::storage;

/// The database of `mysql://user@host:port/database?query` (empty if the
/// URL has no path), for the migrate report.
std::string database_of(const std::string& url) {
  auto scheme = url.find("://");
  auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos)
    return {};
  auto end = url.find('?', slash);
  return url.substr(slash + 1, end == std::string::npos ? std::string::npos
                                                        : end - slash - 1);
}

class mysql_backend final : public store_backend {
public:
  explicit mysql_backend(std::string url) : url_(std::move(url)) {}

  json migrate() override {
    // Opening the store migrates it (under GET_LOCK, as every node does).
    auto& s = static_cast<st::mysql_store&>(store());
    return {{"database", database_of(url_)},
            {"version", s.stored_schema_version()}};
  }

protected:
  std::unique_ptr<durable::store> open_store() override {
    st::mysql_options opts;
    opts.url = url_;
    return std::make_unique<st::mysql_store>(std::move(opts));
  }

private:
  std::string url_;
};

} // namespace

std::unique_ptr<backend> make_mysql_backend(const std::string& url) {
  return std::make_unique<mysql_backend>(url);
}

} // namespace durablectl
