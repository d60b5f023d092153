#include "support/mysql_fixture.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <unistd.h>

#include <doctest/doctest.h>

#include "durable/error.hpp"
#include "durable/storage/mysql/connection.hpp"

namespace durable::test::mysql {

namespace {

namespace detail = durable::storage::mysql_detail;

std::mutex admin_mutex;
std::unique_ptr<detail::connection> admin;

} // namespace

std::string url() {
  const char* env = std::getenv("DURABLE_MYSQL_URL");
  if (env == nullptr || *env == '\0')
    FAIL("DURABLE_MYSQL_URL is not set: start a server with "
         "scripts/mysql-start.sh and export DURABLE_MYSQL_URL=<the URL it "
         "prints>");
  return env;
}

std::string unique_database() {
  static std::atomic<int> counter{0};
  static const auto salt = std::random_device{}();
  return "durable_t_" + std::to_string(::getpid()) + "_"
         + std::to_string(salt % 100000) + "_"
         + std::to_string(counter.fetch_add(1));
}

std::string url_for(const std::string& database) {
  auto u = url();
  auto q = u.find('?');
  auto query = q == std::string::npos ? std::string{} : u.substr(q);
  auto base = u.substr(0, q);
  auto slash = base.find('/', base.find("://") + 3);
  return base.substr(0, slash) + "/" + database + query;
}

void exec_admin(const std::string& sql) {
  std::lock_guard guard{admin_mutex};
  for (int attempt = 0;; ++attempt) {
    try {
      if (!admin || !admin->healthy()) {
        admin.reset();
        durable::storage::mysql_options o;
        admin = std::make_unique<detail::connection>(detail::parse_url(url()),
                                                     o);
      }
      admin->exec(sql);
      return;
    } catch (const detail::mysql_error& e) {
      admin.reset();
      if (attempt >= 2 || !detail::is_connection_error(e.code()))
        FAIL("MySQL admin statement failed: " << std::string{e.what()});
    }
  }
}

durable::storage::mysql_options options(const std::string& database) {
  exec_admin("CREATE DATABASE IF NOT EXISTS `" + database
             + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
  durable::storage::mysql_options o;
  o.url = url_for(database);
  return o;
}

std::shared_ptr<durable::store> make_store(std::function<timestamp()> clock) {
  auto database = unique_database();
  auto opts = options(database);
  if (clock)
    opts.clock = std::move(clock);
  std::unique_ptr<durable::storage::mysql_store> s;
  try {
    s = std::make_unique<durable::storage::mysql_store>(std::move(opts));
  } catch (const durable::error& e) {
    FAIL("cannot open a MySQL store at DURABLE_MYSQL_URL: "
         << std::string{e.what()});
  }
  // Close the store's connection first, then drop its database.
  return std::shared_ptr<durable::store>(s.release(),
                                         [database](durable::store* p) {
                                           delete p;
                                           try {
                                             exec_admin("DROP DATABASE IF "
                                                        "EXISTS `"
                                                        + database + "`");
                                           } catch (...) {
                                           }
                                         });
}

} // namespace durable::test::mysql
