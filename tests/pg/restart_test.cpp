#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <unistd.h>

#include <doctest/doctest.h>

#include "durable/error.hpp"
#include "durable/storage/pg/pg_store.hpp"

using namespace std::chrono_literals;
using namespace durable;
namespace pgs = durable::storage::pg;

namespace {

/// A throwaway cluster of its own (scripts/pg-start.sh on another port and
/// folder), so that restarting it disturbs no other test.
struct private_cluster {
  std::string dir = "/tmp/durable-pg-restart-" + std::to_string(::getpid());
  std::string port;
  std::string env;
  std::string scripts = std::string{DURABLE_SOURCE_DIR} + "/scripts/";
  std::string url;

  private_cluster() {
    // A port of its own; another run may hold one, so try a few.
    for (int k = 0; k < 5; ++k) {
      port = std::to_string(5500 + (::getpid() + k * 37) % 2000);
      env = "PG_DIR=" + dir + " PG_PORT=" + port + " ";
      url = run(env + scripts + "pg-start.sh");
      if (url.rfind("postgresql://", 0) == 0)
        return;
    }
    FAIL("scripts/pg-start.sh could not start a private cluster: " << url);
  }

  ~private_cluster() {
    run(env + scripts + "pg-stop.sh --delete");
  }

  void stop() {
    run(env + scripts + "pg-stop.sh");
  }

  void start() {
    run(env + scripts + "pg-start.sh");
  }

  static std::string run(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen((cmd + " 2>&1").c_str(), "r")) {
      std::array<char, 256> buf{};
      while (std::fgets(buf.data(), buf.size(), p))
        out += buf.data();
      ::pclose(p);
    }
    while (!out.empty() && out.back() == '\n')
      out.pop_back();
    return out;
  }
};

execution_record make_row(durable::store& s, std::string id) {
  task_options opts;
  opts.id = "task_a";
  opts.timeout = 10s;
  auto r = make_execution("task_a", task_kind::task, opts, "null", s.now());
  r.id = std::move(id);
  r.root = {r.task_id, r.id};
  // Due a little in the past: now() estimates the server clock to within
  // the round trip, and claims compare with the server's now().
  r.start_at -= 1s;
  return r;
}

} // namespace

TEST_SUITE("pg.restart") {
  TEST_CASE("the store keeps working through a server restart") {
    private_cluster pg;
    pgs::pg_options opts;
    opts.url = pg.url;
    opts.schema = "restart";
    opts.pool_size = 2;
    pgs::pg_store s{opts};
    auto quick_opts = opts;
    quick_opts.reconnect_timeout = 300ms;
    pgs::pg_store quick{quick_opts};
    s.insert({make_row(s, "te_1"), make_row(s, "te_2")});
    claim_request req;
    req.owner = "owner";
    req.lease = 30s;
    req.limit = 1;
    req.task_ids = {"task_a"};
    REQUIRE(s.claim(req).claimed.size() == 1);
    REQUIRE(quick.get("te_1").has_value());

    pg.stop();
    // While the server is down, a store with a short reconnect budget gives
    // up with an error naming the server and no password.
    std::string msg;
    auto t0 = std::chrono::steady_clock::now();
    try {
      quick.get("te_1");
    } catch (const durable::error& e) {
      msg = e.what();
    }
    INFO(msg);
    CHECK(msg.find("127.0.0.1:" + pg.port) != std::string::npos);
    CHECK(msg.find("unreachable") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - t0 < 10s);

    // Lease calls of the patient store give up after half their lease (1 s
    // here), not its 30 s reconnect budget: the engine then reports the
    // failed renewal and tries again at its next one.
    for (const char* call : {"renew_leases", "try_lead"}) {
      INFO(call);
      t0 = std::chrono::steady_clock::now();
      try {
        if (std::string{call} == "renew_leases")
          s.renew_leases("owner", 2s);
        else
          s.try_lead("maintenance", "owner", 2s);
        FAIL("a lease call succeeded with the server down");
      } catch (const store_error& e) {
        CHECK(e.failure() == store_failure::unavailable);
      }
      CHECK(std::chrono::steady_clock::now() - t0 < 10s);
    }

    // The patient store waits out the restart and succeeds.
    std::thread restarter{[&] {
      std::this_thread::sleep_for(1s);
      pg.start();
    }};
    auto out = s.insert({make_row(s, "te_3")});
    restarter.join();
    REQUIRE(out.size() == 1);
    CHECK(out[0].result == insert_outcome::kind::inserted);
    req.limit = 10;
    CHECK(s.claim(req).claimed.size() == 2);
    CHECK(s.get("te_1").has_value());
    CHECK(quick.get("te_3").has_value());
  }

} // TEST_SUITE
