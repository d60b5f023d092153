#include <regex>
#include <thread>

#include <doctest/doctest.h>

#include "durable/storage/pg/pg_store.hpp"
#include "http/tcp_proxy.hpp"
#include "http/test_node.hpp"
#include "support/pg_fixture.hpp"

using namespace durable::test::http;
namespace pgt = durable::test::pg;

namespace {

/// `url` with its port replaced by `port`.
std::string with_port(const std::string& url, std::uint16_t port) {
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(url, m, std::regex{R"(:(\d+)/)"}),
                  "DURABLE_PG_URL needs host:port: ", url);
  return std::string{m.prefix()} + ":" + std::to_string(port) + "/"
         + std::string{m.suffix()};
}

std::uint16_t port_of(const std::string& url) {
  std::smatch m;
  REQUIRE(std::regex_search(url, m, std::regex{R"(:(\d+)/)"}));
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

/// GET /v1/health/ready until it answers `status`; false after the guard.
bool ready_becomes(httplib::Client& c, int status) {
  const auto until = std::chrono::steady_clock::now() + guard;
  while (std::chrono::steady_clock::now() < until) {
    auto r = c.Get("/v1/health/ready");
    if (r && r->status == status)
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

} // namespace

TEST_SUITE("pg.http.probes") {
  TEST_CASE("ready is 503 naming the store while PostgreSQL is unreachable") {
    const auto url = pgt::url();
    tcp_proxy proxy{port_of(url)};
    auto opts = pgt::options();
    const auto schema = opts.schema;
    opts.url = with_port(url, proxy.port());
    opts.reconnect_timeout = 200ms;
    {
      test_node node{{}, durable::storage::pg::postgres(opts)};
      auto c = node.client();
      auto r = c.Get("/v1/health/ready");
      REQUIRE(r);
      CHECK(r->status == 200);
      proxy.stop(); // every connection of the store is cut, none reconnects
      auto down = c.Get("/v1/health/ready");
      REQUIRE(down);
      CHECK(down->get_header_value("Retry-After") == "1");
      auto m = expect_error(down, 503, "unavailable");
      CHECK(m.starts_with("store unreachable: "));
      // Liveness does not depend on the store.
      CHECK(c.Get("/v1/health")->status == 200);
      proxy.start();
      CHECK(ready_becomes(c, 200));
    }
    pgt::drop_schema(schema);
  }
}
