#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

namespace {

using namespace durable::test::common;

struct signup {
  std::string name;
  int age = 0;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(signup, name, age)

} // namespace

TEST_SUITE("integration.examples") {
  TEST_CASE("example sync task says hello") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto hello = exec.task<std::string, std::string>(
      {.id = "say_hello", .timeout = 1s},
      [](durable::task_context&, const std::string& name) {
        return "Hello, " + name + "!";
      });
    auto r = finish(exec.enqueue(hello, std::string{"world"}));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "Hello, world!");
  }

  TEST_CASE("example async task awaits its work") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto hello = exec.task<std::string, std::string>(
      {.id = "say_hello_async", .timeout = 1s},
      [](durable::task_context&, const std::string& name) {
        auto work = std::async(std::launch::async, [name] {
          std::this_thread::sleep_for(10ms);
          return "Hello, " + name + "!";
        });
        return work.get();
      });
    auto r = finish(exec.enqueue(hello, std::string{"async"}));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "Hello, async!");
  }

  TEST_CASE(
    "example validate input accepts good names and rejects empty ones") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto hello = exec.task_with_validation<std::string, std::string>(
      {.id = "validated_hello", .timeout = 1s},
      [&](durable::task_context&, const std::string& name) {
        ++runs;
        return "Hello, " + name + "!";
      },
      [](std::string name) {
        if (name.empty())
          throw std::invalid_argument("Name must not be empty");
        return name;
      });
    auto ok = finish(exec.enqueue(hello, std::string{"ada"}));
    CHECK(ok.output == "Hello, ada!");
    auto bad = finish(exec.enqueue(hello, std::string{}));
    CHECK(st(bad.status()) == "failed");
    CHECK(bad.error()->message
          == "Invalid input to task validated_hello: Name must not be empty");
    CHECK(runs == 1);
  }

  TEST_CASE("example input schema parses a structured input") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto greet = exec.task<signup, std::string>(
      {.id = "schema_hello", .timeout = 1s},
      [](durable::task_context&, const signup& s) {
        return s.name + " is " + std::to_string(s.age);
      });
    auto r = finish(exec.enqueue(greet, signup{"bob", 30}));
    CHECK(r.output == "bob is 30");
    // An untyped enqueue (JSON text, as HTTP sends) is refused at once.
    CHECK_THROWS_WITH_AS(
      exec.enqueue_raw("schema_hello", {R"({"name":"bob"})"}),
      doctest::Contains("Invalid input to task schema_hello"), durable::error);
  }

  TEST_CASE("example retries make three attempts in total") {
    durable::executor exec{durable::test::make_store(), fast()};
    std::atomic<int> runs{0};
    auto flaky = exec.task<int, std::string>(
      {.id = "flaky_example", .timeout = 1s, .retry = {.max_attempts = 2}},
      [&](durable::task_context& ctx, int) {
        ++runs;
        if (ctx.attempt < 2)
          throw std::runtime_error("Failed attempt "
                                   + std::to_string(ctx.attempt));
        return std::string{"Success on attempt "} + std::to_string(ctx.attempt);
      });
    auto r = finish(exec.enqueue(flaky, 0));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "Success on attempt 2");
    CHECK(runs == 3);
  }

  TEST_CASE("example run context shows attempt zero and a te id") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto info = exec.task<int, nlohmann::json>(
      {.id = "context_info", .timeout = 1s},
      [](durable::task_context& ctx, int) {
        return nlohmann::json{{"attempt", ctx.attempt},
                              {"execution_id", ctx.execution_id},
                              {"task_id", ctx.task_id}};
      });
    auto h = exec.enqueue(info, 0);
    auto r = finish(h);
    REQUIRE(r.output.has_value());
    CHECK((*r.output)["attempt"] == 0);
    auto id = (*r.output)["execution_id"].get<std::string>();
    CHECK(id.rfind("te_", 0) == 0);
    CHECK(id == h.execution_id());
    CHECK((*r.output)["task_id"] == "context_info");
  }

  TEST_CASE("example parallel children run at the same time") {
    durable::executor exec{durable::test::make_store(), fast()};
    // Each child waits until all three run: that only ends if they overlap.
    auto arrived = std::make_shared<std::atomic<int>>(0);
    auto child = exec.task<int, int>(
      {.id = "parallel_child", .timeout = 60s},
      [arrived](durable::task_context&, int x) {
        ++*arrived;
        auto until = std::chrono::steady_clock::now() + guard;
        while (arrived->load() < 3 && std::chrono::steady_clock::now() < until)
          std::this_thread::sleep_for(1ms);
        if (arrived->load() < 3)
          throw durable::error::non_retryable("children did not overlap");
        return x * 10;
      });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parallel_parent", .timeout = 1s},
      [&](durable::task_context&, int n) {
        durable::parent_output<std::string> out{.output = "spawned"};
        for (int i = 1; i <= n; ++i)
          out.children.add(child, i);
        return out;
      });
    auto r = finish(exec.enqueue(parent, 3));
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.output.has_value());
    CHECK(r.output->output == "spawned");
    REQUIRE(r.output->children.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(r.output->children[i].ok());
      CHECK(r.output->children[i].output()
            == nlohmann::json(static_cast<int>(i + 1) * 10));
    }
  }

  TEST_CASE("example combined output merges every child in a finalize") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto fetch_name = exec.task<int, std::string>(
      {.id = "fetch_name", .timeout = 1s}, [](durable::task_context&, int id) {
        return "user" + std::to_string(id);
      });
    auto fetch_score = exec.task<int, int>({.id = "fetch_score", .timeout = 1s},
                                           [](durable::task_context&, int id) {
                                             return id * 7;
                                           });
    auto profile = exec.parent_task<int, int>(
      {.id = "profile", .timeout = 1s},
      [&](durable::task_context&, int id) {
        durable::parent_output<int> out{.output = id};
        out.children.add(fetch_name, id);
        out.children.add(fetch_score, id);
        return out;
      },
      durable::finalize([](const durable::finalize_input<int>& in) {
        return in.children.at(0).output()->get<std::string>() + ":"
               + std::to_string(in.children.at(1).output()->get<int>()) + ":"
               + std::to_string(in.output);
      }));
    auto r = finish(exec.enqueue(profile, 6));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "user6:42:6");
  }

  TEST_CASE("example fail if any child fails ends the parent finalize_failed") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto maybe = exec.task<int, int>({.id = "maybe_fails", .timeout = 1s},
                                     [](durable::task_context&, int x) -> int {
                                       if (x == 2)
                                         throw durable::error::non_retryable(
                                           "child 2 failed");
                                       return x;
                                     });
    auto all = exec.parent_task<int, int>(
      {.id = "all_or_nothing", .timeout = 1s},
      [&](durable::task_context&, int n) {
        durable::parent_output<int> out{.output = n};
        for (int i = 1; i <= n; ++i)
          out.children.add(maybe, i);
        return out;
      },
      durable::finalize([](const durable::finalize_input<int, int>& in) {
        int sum = 0;
        for (const auto& c : in.children) {
          if (!c.ok())
            throw std::runtime_error("A child failed: " + c.error->message);
          sum += *c.output();
        }
        return sum;
      }));
    auto r = finish(exec.enqueue(all, 3));
    CHECK(st(r.status()) == "finalize_failed");
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message == "A child failed: child 2 failed");
    CHECK_FALSE(r.error()->retryable);
    CHECK(st(finish(exec.enqueue(all, 1)).status()) == "completed");
  }

  TEST_CASE("example partial success counts successes and failures") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto odd_only = exec.task<int, int>(
      {.id = "odd_only", .timeout = 1s},
      [](durable::task_context&, int x) -> int {
        if (x % 2 == 0)
          throw durable::error::non_retryable("even " + std::to_string(x));
        return x;
      });
    auto partial = exec.parent_task<int, int>(
      {.id = "partial", .timeout = 1s},
      [&](durable::task_context&, int n) {
        durable::parent_output<int> out{.output = n};
        for (int i = 1; i <= n; ++i)
          out.children.add(odd_only, i);
        return out;
      },
      durable::finalize([](const durable::finalize_input<int, int>& in) {
        nlohmann::json summary{{"ok", 0}, {"failed", 0}, {"errors", {}}};
        for (const auto& c : in.children) {
          if (c.ok()) {
            summary["ok"] = summary["ok"].get<int>() + 1;
          } else {
            summary["failed"] = summary["failed"].get<int>() + 1;
            summary["errors"].push_back(c.error->message);
          }
        }
        return summary;
      }));
    auto r = finish(exec.enqueue(partial, 5));
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.output.has_value());
    CHECK((*r.output)["ok"] == 3);
    CHECK((*r.output)["failed"] == 2);
    CHECK((*r.output)["errors"] == nlohmann::json::array({"even 2", "even 4"}));
  }

  TEST_CASE("example sequential helper runs steps in order") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto fetch = exec.task<std::string, int>(
      {.id = "fetch_user", .timeout = 1s},
      [](durable::task_context&, const std::string& name) {
        return static_cast<int>(name.size());
      });
    auto score = exec.task<int, int>({.id = "score_user", .timeout = 1s},
                                     [](durable::task_context&, int x) {
                                       return x * 100;
                                     });
    auto report = exec.task<int, std::string>(
      {.id = "report_user", .timeout = 1s}, [](durable::task_context&, int x) {
        return "score=" + std::to_string(x);
      });
    auto pipeline = exec.sequence("user_pipeline", fetch, score, report);
    auto r = finish(exec.enqueue(pipeline, std::string{"alice"}));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "score=500");
  }

  TEST_CASE("example manual sequence chains parents through finalize tasks") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto add_one = exec.task<int, int>({.id = "manual_add_one", .timeout = 1s},
                                       [](durable::task_context&, int x) {
                                         return x + 1;
                                       });
    auto times_two = exec.task<int, int>(
      {.id = "manual_times_two", .timeout = 1s},
      [](durable::task_context&, int x) { return x * 2; });
    using stage_in = durable::finalize_input<std::string, int>;
    auto stage2 = exec.parent_task<stage_in, std::string>(
      {.id = "manual_stage2", .timeout = 1s},
      [&](durable::task_context&, const stage_in& prev) {
        durable::parent_output<std::string> out{.output = "stage2"};
        out.children.add(times_two, prev.children.at(0).output().value());
        return out;
      },
      durable::finalize(
        [](const durable::finalize_input<std::string, int>& in) {
          return in.children.at(0).output().value();
        }));
    auto stage1 = exec.parent_task<int, std::string>(
      {.id = "manual_stage1", .timeout = 1s},
      [&](durable::task_context&, int x) {
        durable::parent_output<std::string> out{.output = "stage1"};
        out.children.add(add_one, x);
        return out;
      },
      stage2);
    auto r = finish(exec.enqueue(stage1, 3));
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 8);
  }

  TEST_CASE("example multiple parents run one after another in a sequence") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto inc = exec.task<int, int>({.id = "multi_inc", .timeout = 1s},
                                   [](durable::task_context&, int x) {
                                     return x + 1;
                                   });
    auto sum_of = [&](const std::string& id, int fan) {
      return exec.parent_task<int, int>(
        {.id = id, .timeout = 1s},
        [&inc, fan](durable::task_context&, int x) {
          durable::parent_output<int> out{.output = x};
          for (int i = 0; i < fan; ++i)
            out.children.add(inc, x);
          return out;
        },
        durable::finalize([](const durable::finalize_input<int, int>& in) {
          int s = 0;
          for (const auto& c : in.children)
            s += c.output().value_or(0);
          return s;
        }));
    };
    auto first = sum_of("sum_two", 2);
    auto second = sum_of("sum_three", 3);
    auto both = exec.sequence("parents_in_sequence", first, second);
    auto h = exec.enqueue(both, 1);
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    // first: 2 * (1 + 1) = 4; second: 3 * (4 + 1) = 15.
    CHECK(r.output == 15);
    auto row = h.get();
    REQUIRE(row.children.size() == 2);
    auto p1 = exec.get(row.children[0].execution_id);
    auto p2 = exec.get(row.children[1].execution_id);
    REQUIRE(p1.finished_at.has_value());
    CHECK(p2.created_at >= *p1.finished_at);
  }

  TEST_CASE("example task tree mixes parallel parents and sequences") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto leaf = exec.task<int, int>({.id = "tree_leaf", .timeout = 1s},
                                    [](durable::task_context&, int x) {
                                      return x + 1;
                                    });
    auto chain = exec.sequence("tree_chain", leaf, leaf, leaf);
    auto branch = exec.parent_task<int, int>(
      {.id = "tree_branch", .timeout = 1s},
      [&](durable::task_context&, int x) {
        durable::parent_output<int> out{.output = x};
        out.children.add(leaf, x);
        out.children.add(chain, x);
        return out;
      },
      durable::finalize([](const durable::finalize_input<int, int>& in) {
        return in.children.at(0).output().value()
               + in.children.at(1).output().value();
      }));
    auto root = exec.parent_task<int, int>(
      {.id = "tree_root", .timeout = 1s},
      [&](durable::task_context&, int x) {
        durable::parent_output<int> out{.output = x};
        out.children.add(branch, x);
        out.children.add(branch, x * 10);
        out.children.add(chain, x * 100);
        return out;
      },
      durable::finalize([](const durable::finalize_input<int, int>& in) {
        int s = 0;
        for (const auto& c : in.children)
          s += c.output().value();
        return s;
      }));
    auto r = finish(exec.enqueue(root, 1));
    CHECK(st(r.status()) == "completed");
    // branch(1) = 2 + 4 = 6; branch(10) = 11 + 13 = 24; chain(100) = 103.
    CHECK(r.output == 133);
  }

  TEST_CASE("example recursive task counts to ten") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto runs = std::make_shared<std::atomic<int>>(0);
    durable::task_ref<int, int> self{"recursive_count"};
    auto counter = exec.parent_task<int, int>(
      {.id = "recursive_count", .timeout = 1s},
      [self, runs](durable::task_context&, int depth) {
        ++*runs;
        durable::parent_output<int> out{.output = depth};
        if (depth < 10)
          out.children.add(self, depth + 1);
        return out;
      },
      durable::finalize([](const durable::finalize_input<int, int>& in) {
        return in.children.empty() ? in.output
                                   : in.children.front().output().value();
      }));
    auto h = exec.enqueue(counter, 0);
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == 10);
    CHECK(*runs == 11);
    auto kids = h.get().children;
    REQUIRE(kids.size() == 1);
    CHECK(exec.get(kids[0].execution_id).root.execution_id == h.execution_id());
  }

  TEST_CASE("example looping helper polls until the value is ready") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto polls = std::make_shared<std::atomic<int>>(0);
    auto poll = exec.task<std::string, durable::loop_step<std::string>>(
      {.id = "poll_status", .timeout = 1s},
      [polls](durable::task_context&, const std::string& job) {
        if (++*polls < 3)
          return durable::loop_step<std::string>::again();
        return durable::loop_step<std::string>::finished(job + " ready");
      });
    auto loop = exec.looping_task("poll_loop", poll, 10,
                                  [](int) { return durable::millis{10}; });
    auto r = finish(exec.enqueue(loop, std::string{"job7"}));
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.output.has_value());
    CHECK(r.output->is_success);
    CHECK(r.output->output == "job7 ready");
    CHECK(*polls == 3);
  }

  TEST_CASE("example manual loop is a parent that respawns itself") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto polls = std::make_shared<std::atomic<int>>(0);
    durable::task_ref<int, nlohmann::json> self{"manual_loop"};
    auto loop = exec.parent_task<int, nlohmann::json>(
      {.id = "manual_loop", .timeout = 1s},
      [self, polls](durable::task_context&, int attempt) {
        durable::parent_output<nlohmann::json> out;
        if (++*polls >= 3) {
          out.output = {{"done", true}, {"attempt", attempt}};
        } else {
          out.output = {{"done", false}};
          out.children.add(self, attempt + 1, {.sleep_before_run = 10ms});
        }
        return out;
      },
      durable::finalize(
        [](const durable::finalize_input<nlohmann::json, nlohmann::json>& in) {
          return in.children.empty() ? in.output
                                     : in.children.front().output().value();
        }));
    auto r = finish(exec.enqueue(loop, 0));
    CHECK(st(r.status()) == "completed");
    REQUIRE(r.output.has_value());
    CHECK((*r.output)["done"] == true);
    CHECK((*r.output)["attempt"] == 2);
    CHECK(*polls == 3);
  }

  TEST_CASE("example parent with a sleeping child waits for its wake up") {
    durable::executor exec{durable::test::make_store(), fast()};
    auto approval = exec.sleeping_task<std::string>(
      {.id = "await_approval", .timeout = 60s});
    auto request = exec.parent_task<std::string, std::string>(
      {.id = "request_approval", .timeout = 1s},
      [&](durable::task_context&, const std::string& doc) {
        durable::parent_output<std::string> out{.output = doc};
        out.children.add(approval, "approval_" + doc);
        return out;
      },
      durable::finalize(
        [](const durable::finalize_input<std::string, std::string>& in) {
          auto& c = in.children.at(0);
          if (!c.ok())
            throw std::runtime_error("not approved: " + c.error->message);
          return in.output + " " + c.output().value();
        }));
    auto h = exec.enqueue(request, std::string{"doc1"});
    REQUIRE(eventually([&] {
      return exec.storage()->get_by_sleeping_id("approval_doc1").has_value();
    }));
    CHECK_FALSE(h.wait_for(20ms).has_value());
    CHECK(st(h.get().status) == "waiting_for_children");
    exec.wake(approval, "approval_doc1",
              durable::completed(std::string{"approved"}));
    auto r = finish(h);
    CHECK(st(r.status()) == "completed");
    CHECK(r.output == "doc1 approved");

    auto h2 = exec.enqueue(request, std::string{"doc2"});
    REQUIRE(eventually([&] {
      return exec.storage()->get_by_sleeping_id("approval_doc2").has_value();
    }));
    exec.wake(approval, "approval_doc2", durable::failed("denied"));
    auto r2 = finish(h2);
    CHECK(st(r2.status()) == "finalize_failed");
    CHECK(r2.error()->message == "not approved: denied");
  }

} // TEST_SUITE
