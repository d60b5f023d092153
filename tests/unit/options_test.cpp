#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durable/error.hpp"
#include "durable/options.hpp"

namespace durable::test {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

task_options valid_task() {
  task_options opts;
  opts.id = "t";
  opts.timeout = millis{1000};
  return opts;
}

/// The message of the durable::error that `f` throws; fails the test when
/// `f` throws nothing or the error is retryable.
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const error& e) {
    CHECK_EQ(e.kind(), error_kind::generic);
    CHECK_FALSE(e.is_retryable());
    return e.what();
  }
  FAIL("no durable::error thrown");
  return {};
}

bool retry_valid(const retry_options& r) {
  try {
    validate(r, "t");
    return true;
  } catch (const error& e) {
    INFO(e.what());
    CHECK(std::string_view{e.what()}.starts_with(
      "Invalid retry options for task t: "));
    CHECK_FALSE(e.is_retryable());
    return false;
  }
}

retry_options with_attempts(int n) {
  retry_options r;
  r.max_attempts = n;
  return r;
}

retry_options with_base(std::int64_t ms) {
  retry_options r;
  r.base_delay = millis{ms};
  return r;
}

retry_options with_multiplier(double m) {
  retry_options r;
  r.multiplier = m;
  return r;
}

retry_options with_delays(std::int64_t base, std::int64_t max) {
  retry_options r;
  r.base_delay = millis{base};
  r.max_delay = millis{max};
  return r;
}

bool executor_valid(const executor_options& o) {
  try {
    validate(o);
    return true;
  } catch (const error&) {
    return false;
  }
}

} // namespace

TEST_SUITE("core.options") {
  TEST_CASE("a task id has between 1 and 255 characters") {
    CHECK_FALSE(is_valid_task_id(""));
    CHECK(is_valid_task_id("a"));
    CHECK(is_valid_task_id(std::string(255, 'x')));
    CHECK_FALSE(is_valid_task_id(std::string(256, 'x')));
  }

  TEST_CASE("a task id has only ASCII letters and digits and underscores") {
    CHECK(is_valid_task_id("Send_email_2"));
    CHECK(is_valid_task_id("_"));
    CHECK(is_valid_task_id("0123456789"));
    std::vector<std::string> bad_ids{"send-email",
                                     "send email",
                                     "a.b",
                                     "a/b",
                                     "t\n",
                                     "caf\xc3\xa9",
                                     "\xe4\xbb\xbb\xe5\x8a\xa1",
                                     std::string{"a\0b", 3}};
    for (const auto& bad : bad_ids) {
      CAPTURE(bad);
      CHECK_FALSE(is_valid_task_id(bad));
    }
  }

  TEST_CASE("validate refuses an invalid task id with the reference's "
            "message for its cause") {
    auto opts = valid_task();
    opts.id = "";
    CHECK(error_of([&] { validate(opts); }) == "Task id cannot be empty");
    opts.id = std::string(256, 'x');
    CHECK(error_of([&] { validate(opts); })
          == "Task id cannot be longer than 255 characters");
    for (const char* bad : {"bad-id", "caf\xc3\xa9", "a b"}) {
      CAPTURE(bad);
      opts.id = bad;
      CHECK(error_of([&] { validate(opts); })
            == "Task id can only contain alphanumeric characters and "
               "underscores");
    }
  }

  TEST_CASE("validate requires a timeout of 1 ms to one year") {
    auto opts = valid_task();
    opts.timeout = millis{1};
    CHECK_NOTHROW(validate(opts));
    opts.timeout = millis{31'536'000'000};
    CHECK_NOTHROW(validate(opts));
    // Beyond a year: now + timeout in microseconds would overflow a store's
    // 64-bit times, or time out at once.
    for (std::int64_t ms :
         {std::int64_t{0}, std::int64_t{-1}, std::int64_t{31'536'000'001},
          std::int64_t{10'000'000'000'000},
          std::numeric_limits<std::int64_t>::max()}) {
      opts.timeout = millis{ms};
      CHECK(error_of([&] {
              validate(opts);
            }).starts_with("Invalid timeout value for task t"));
    }
  }

  TEST_CASE("validate refuses a sleep before run below 0 or above a year") {
    auto opts = valid_task();
    opts.sleep_before_run = millis{0};
    CHECK_NOTHROW(validate(opts));
    opts.sleep_before_run = millis{31'536'000'000};
    CHECK_NOTHROW(validate(opts));
    for (std::int64_t ms : {std::int64_t{-1}, std::int64_t{31'536'000'001},
                            std::numeric_limits<std::int64_t>::max()}) {
      opts.sleep_before_run = millis{ms};
      CHECK(error_of([&] {
              validate(opts);
            }).starts_with("Invalid sleep ms before run for task t"));
    }
  }

  TEST_CASE("validate reports invalid retry options with the task id") {
    auto opts = valid_task();
    opts.id = "my_task";
    opts.retry.max_attempts = -1;
    CHECK_EQ(error_of([&] { validate(opts); }),
             "Invalid retry options for task my_task: max_attempts must be in "
             "0..1000");
    CHECK_NOTHROW(validate(valid_task()));
  }

  TEST_CASE("max_attempts must be in 0..1000") {
    CHECK_FALSE(retry_valid(with_attempts(-1)));
    CHECK(retry_valid(with_attempts(0)));
    CHECK(retry_valid(with_attempts(1000)));
    CHECK_FALSE(retry_valid(with_attempts(1001)));
  }

  TEST_CASE("base_delay must be in 0..3600000 ms") {
    CHECK_FALSE(retry_valid(with_base(-1)));
    CHECK(retry_valid(with_base(0)));
    CHECK(retry_valid(with_base(3'600'000)));
    CHECK_FALSE(retry_valid(with_base(3'600'001)));
  }

  TEST_CASE("multiplier must be in 0.1..10") {
    CHECK_FALSE(retry_valid(with_multiplier(0.09)));
    CHECK(retry_valid(with_multiplier(0.1)));
    CHECK(retry_valid(with_multiplier(10.0)));
    CHECK_FALSE(retry_valid(with_multiplier(10.01)));
    CHECK_FALSE(retry_valid(with_multiplier(0.0)));
    CHECK_FALSE(retry_valid(with_multiplier(-2.0)));
  }

  TEST_CASE("a multiplier that is not finite is invalid") {
    CHECK_FALSE(retry_valid(with_multiplier(nan)));
    CHECK_FALSE(retry_valid(with_multiplier(inf)));
    CHECK_FALSE(retry_valid(with_multiplier(-inf)));
  }

  TEST_CASE("max_delay must not be below base_delay") {
    CHECK_FALSE(retry_valid(with_delays(1000, 999)));
    CHECK(retry_valid(with_delays(1000, 1000)));
    CHECK(retry_valid(with_delays(1000, 1001)));
  }

  TEST_CASE("max_delay must be in 0..86400000 ms") {
    CHECK_FALSE(retry_valid(with_delays(0, -1)));
    CHECK(retry_valid(with_delays(0, 0)));
    CHECK(retry_valid(with_delays(0, 86'400'000)));
    CHECK_FALSE(retry_valid(with_delays(0, 86'400'001)));
  }

  TEST_CASE("an unknown jitter mode is invalid") {
    retry_options r;
    r.jitter = jitter_mode::equal;
    CHECK(retry_valid(r));
    r.jitter = static_cast<jitter_mode>(3);
    CHECK_FALSE(retry_valid(r));
  }

  TEST_CASE("merge applies every override") {
    enqueue_options o;
    o.retry = with_attempts(4);
    o.sleep_before_run = millis{250};
    o.timeout = millis{9000};
    o.idempotency_key = "k";
    auto merged = merge(valid_task(), o);
    CHECK_EQ(merged.retry, with_attempts(4));
    CHECK_EQ(merged.sleep_before_run, millis{250});
    CHECK_EQ(merged.timeout, millis{9000});
  }

  TEST_CASE("merge keeps the base options that are not overridden") {
    auto base = valid_task();
    base.id = "base_task";
    base.retry = with_delays(10, 20);
    base.sleep_before_run = millis{5};
    base.may_block = false;
    enqueue_options o;
    o.timeout = millis{42};
    auto merged = merge(base, o);
    CHECK_EQ(merged.id, "base_task");
    CHECK_EQ(merged.retry, base.retry);
    CHECK_EQ(merged.sleep_before_run, millis{5});
    CHECK_EQ(merged.timeout, millis{42});
    CHECK_FALSE(merged.may_block);
  }

  TEST_CASE("merge validates the merged options") {
    auto base = valid_task();
    enqueue_options timeout;
    timeout.timeout = millis{0};
    CHECK(error_of([&] {
            merge(base, timeout);
          }).starts_with("Invalid timeout value for task t"));
    enqueue_options sleep;
    sleep.sleep_before_run = millis{-5};
    CHECK(error_of([&] {
            merge(base, sleep);
          }).starts_with("Invalid sleep ms before run for task t"));
    enqueue_options retry;
    retry.retry = with_multiplier(20.0);
    CHECK(error_of([&] {
            merge(base, retry);
          }).starts_with("Invalid retry options for task t: "));
  }

  TEST_CASE("enqueue_options round-trip through JSON with every field set") {
    enqueue_options o;
    o.retry = with_delays(100, 5000);
    o.retry->max_attempts = 3;
    o.retry->multiplier = 2.5;
    o.retry->jitter = jitter_mode::full;
    o.sleep_before_run = millis{1500};
    o.timeout = millis{30'000};
    o.idempotency_key = "order-17";
    nlohmann::json j = o;
    CHECK_EQ(j.at("sleep_before_run_ms"), 1500);
    CHECK_EQ(j.at("timeout_ms"), 30'000);
    CHECK_EQ(j.at("idempotency_key"), "order-17");
    auto back = j.get<enqueue_options>();
    CHECK_EQ(back.retry, o.retry);
    CHECK_EQ(back.sleep_before_run, o.sleep_before_run);
    CHECK_EQ(back.timeout, o.timeout);
    CHECK_EQ(back.idempotency_key, o.idempotency_key);
  }

  TEST_CASE("empty enqueue_options are an empty JSON object and back") {
    nlohmann::json j = enqueue_options{};
    CHECK_EQ(j, nlohmann::json::object());
    auto back = j.get<enqueue_options>();
    CHECK_FALSE(back.retry.has_value());
    CHECK_FALSE(back.sleep_before_run.has_value());
    CHECK_FALSE(back.timeout.has_value());
    CHECK_FALSE(back.idempotency_key.has_value());
  }

  TEST_CASE("retry_options round-trip through JSON with a max_delay") {
    retry_options r{7, millis{250}, 1.5, millis{60'000}, jitter_mode::equal};
    nlohmann::json j = r;
    CHECK_EQ(j, nlohmann::json{{"max_attempts", 7},
                               {"base_delay_ms", 250},
                               {"multiplier", 1.5},
                               {"max_delay_ms", 60'000},
                               {"jitter", 2}});
    CHECK_EQ(j.get<retry_options>(), r);
  }

  TEST_CASE("retry_options round-trip through JSON without a max_delay") {
    retry_options r{2, millis{10}, 3.0, std::nullopt, jitter_mode::none};
    nlohmann::json j = r;
    CHECK_FALSE(j.contains("max_delay_ms"));
    CHECK_EQ(j.get<retry_options>(), r);
    j["max_delay_ms"] = nullptr;
    CHECK_FALSE(j.get<retry_options>().max_delay.has_value());
  }

  TEST_CASE("retry_options JSON requires max_attempts and defaults the rest") {
    CHECK_THROWS(nlohmann::json::object().get<retry_options>());
    auto r = nlohmann::json{{"max_attempts", 5}}.get<retry_options>();
    CHECK_EQ(r, with_attempts(5));
  }

  TEST_CASE("default executor_options are valid") {
    CHECK_NOTHROW(validate(executor_options{}));
  }

  TEST_CASE("executor_options are checked at both edges of every range") {
    using setter = std::function<void(executor_options&)>;
    struct edge {
      const char* what;
      setter set;
      bool valid;
    };
    constexpr std::size_t kib = 1024;
    constexpr std::size_t mib = 1024 * kib;
    std::vector<edge> edges{
      {"max_concurrent 0", [](auto& o) { o.max_concurrent = 0; }, false},
      {"max_concurrent 1", [](auto& o) { o.max_concurrent = 1; }, true},
      {"max_concurrent 1e6", [](auto& o) { o.max_concurrent = 1'000'000; },
       true},
      {"max_concurrent 1e6+1", [](auto& o) { o.max_concurrent = 1'000'001; },
       false},
      {"claim_batch_size 0", [](auto& o) { o.claim_batch_size = 0; }, false},
      {"claim_batch_size 1", [](auto& o) { o.claim_batch_size = 1; }, true},
      {"claim_batch_size 1000", [](auto& o) { o.claim_batch_size = 1000; },
       true},
      {"claim_batch_size 1001", [](auto& o) { o.claim_batch_size = 1001; },
       false},
      {"max_children 0", [](auto& o) { o.max_children = 0; }, false},
      {"max_children 1", [](auto& o) { o.max_children = 1; }, true},
      {"max_children 1000", [](auto& o) { o.max_children = 1000; }, true},
      {"max_children 1001", [](auto& o) { o.max_children = 1001; }, false},
      {"max_input_bytes 1023", [](auto& o) { o.max_input_bytes = kib - 1; },
       false},
      {"max_input_bytes 1 KiB", [](auto& o) { o.max_input_bytes = kib; }, true},
      {"max_input_bytes 10 MiB", [](auto& o) { o.max_input_bytes = 10 * mib; },
       true},
      {"max_input_bytes 10 MiB + 1",
       [](auto& o) { o.max_input_bytes = 10 * mib + 1; }, false},
      {"max_output_bytes 1023", [](auto& o) { o.max_output_bytes = kib - 1; },
       false},
      {"max_output_bytes 1 KiB", [](auto& o) { o.max_output_bytes = kib; },
       true},
      {"max_output_bytes 10 MiB",
       [](auto& o) { o.max_output_bytes = 10 * mib; }, true},
      {"max_output_bytes 10 MiB + 1",
       [](auto& o) { o.max_output_bytes = 10 * mib + 1; }, false},
      {"worker_threads 0", [](auto& o) { o.worker_threads = 0; }, false},
      {"worker_threads 1", [](auto& o) { o.worker_threads = 1; }, true},
      {"worker_threads 4096", [](auto& o) { o.worker_threads = 4096; }, true},
      {"worker_threads 4097", [](auto& o) { o.worker_threads = 4097; }, false},
      {"max_queued_blocking 1000000",
       [](auto& o) { o.max_queued_blocking = 1'000'000; }, true},
      {"max_queued_blocking 1000001",
       [](auto& o) { o.max_queued_blocking = 1'000'001; }, false},
      {"scheduler_threads 0", [](auto& o) { o.scheduler_threads = 0; }, true},
      {"scheduler_threads 256", [](auto& o) { o.scheduler_threads = 256; },
       true},
      {"scheduler_threads 257", [](auto& o) { o.scheduler_threads = 257; },
       false},
      {"lease_duration 499",
       [](auto& o) {
         o.lease_duration = millis{499};
         o.lease_renew_interval = millis{100};
       },
       false},
      {"lease_duration 500",
       [](auto& o) {
         o.lease_duration = millis{500};
         o.lease_renew_interval = millis{100};
       },
       true},
      {"lease_duration one year",
       [](auto& o) { o.lease_duration = millis{31'536'000'000}; }, true},
      {"lease_duration one year + 1",
       [](auto& o) { o.lease_duration = millis{31'536'000'001}; }, false},
      {"lease_renew_interval 0",
       [](auto& o) { o.lease_renew_interval = millis{0}; }, false},
      {"lease_renew_interval 1",
       [](auto& o) { o.lease_renew_interval = millis{1}; }, true},
      {"poll_interval 9", [](auto& o) { o.poll_interval = millis{9}; }, false},
      {"poll_interval 10", [](auto& o) { o.poll_interval = millis{10}; }, true},
      {"poll_interval 60000", [](auto& o) { o.poll_interval = millis{60'000}; },
       true},
      {"poll_interval 60001", [](auto& o) { o.poll_interval = millis{60'001}; },
       false},
      {"supervisor_recheck_interval 9",
       [](auto& o) { o.supervisor_recheck_interval = millis{9}; }, false},
      {"supervisor_recheck_interval 10",
       [](auto& o) { o.supervisor_recheck_interval = millis{10}; }, true},
      {"max_recoveries -1", [](auto& o) { o.max_recoveries = -1; }, false},
      {"max_recoveries 0", [](auto& o) { o.max_recoveries = 0; }, true},
      {"max_recoveries 1000", [](auto& o) { o.max_recoveries = 1000; }, true},
      {"max_recoveries 1001", [](auto& o) { o.max_recoveries = 1001; }, false},
      {"shutdown_grace -1", [](auto& o) { o.shutdown_grace = millis{-1}; },
       false},
      {"shutdown_grace 0", [](auto& o) { o.shutdown_grace = millis{0}; }, true},
      {"shutdown_grace 600000",
       [](auto& o) { o.shutdown_grace = millis{600'000}; }, true},
      {"shutdown_grace 600001",
       [](auto& o) { o.shutdown_grace = millis{600'001}; }, false},
      {"node_name empty", [](auto& o) { o.node_name.clear(); }, false},
      {"node_name x", [](auto& o) { o.node_name = "x"; }, true},
    };
    for (const auto& e : edges) {
      CAPTURE(e.what);
      executor_options o;
      e.set(o);
      CHECK_EQ(executor_valid(o), e.valid);
    }
  }

  TEST_CASE("lease_renew_interval may be at most half of lease_duration") {
    executor_options o;
    o.lease_duration = millis{1000};
    o.lease_renew_interval = millis{500};
    CHECK(executor_valid(o));
    o.lease_renew_interval = millis{501};
    CHECK_FALSE(executor_valid(o));
    o.lease_duration = millis{1002};
    CHECK(executor_valid(o));
  }

  TEST_CASE("an invalid executor option throws \"Invalid options: \"") {
    executor_options o;
    o.claim_batch_size = 0;
    CHECK_EQ(error_of([&] { validate(o); }),
             "Invalid options: claim_batch_size must be in 1..1000");
    o = {};
    o.poll_interval = millis{1};
    CHECK(error_of([&] {
            validate(o);
          }).starts_with("Invalid options: poll_interval"));
  }

} // TEST_SUITE

} // namespace durable::test
