#pragma once

/// Small helpers shared by the parent, executor, backpressure and scenario
/// integration tests: executor options sized for a small machine, hang
/// guards and a store that records the claims the engine makes.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#include "support/store_factory.hpp"

namespace engine_test {

using namespace std::chrono_literals;

/// The longest any test waits for something before it calls it a hang.
inline constexpr durable::millis hang_guard{30'000};

/// Executor options for tests: fast polling, few threads.
inline durable::executor_options test_options() {
  durable::executor_options o;
  o.poll_interval = durable::millis{50};
  o.supervisor_recheck_interval = durable::millis{200};
  o.worker_threads = 8;
  o.scheduler_threads = 2;
  return o;
}

/// Waits for the end of an execution; fails the test on a hang.
template <class Out>
durable::finished<Out>
await(const durable::handle<Out>& h, durable::millis timeout = hang_guard) {
  auto r = h.wait_for(timeout);
  REQUIRE_MESSAGE(r.has_value(),
                  "execution did not finish: " << h.execution_id());
  return std::move(*r);
}

/// Polls `pred` every few milliseconds until it holds or `timeout` passed.
inline bool eventually(const std::function<bool()>& pred,
                       durable::millis timeout = hang_guard) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Waits until the stored execution has `status`.
inline bool reaches(durable::executor& exec, const std::string& id,
                    durable::execution_status status) {
  return eventually([&] { return exec.get(id).status == status; });
}

/// Blocks the calling body until `flag` is set or its run should stop.
inline void block_until(const std::atomic<bool>& flag,
                        const durable::task_context& ctx) {
  auto deadline = std::chrono::steady_clock::now() + hang_guard;
  while (!flag.load() && !ctx.stop_requested()
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(2ms);
}

/// Task "held" (int to int, returns its input): its body sets `started`,
/// then runs until `release` is set or its run should stop. Declare both
/// flags before the executor: the body may still run while it stops.
inline durable::task_ref<int, int> held_task(durable::executor& exec,
                                             std::atomic<bool>& started,
                                             const std::atomic<bool>& release) {
  return exec.task<int, int>({.id = "held", .timeout = 20s},
                             [&started, &release](durable::task_context& ctx,
                                                  int x) {
                               started = true;
                               block_until(release, ctx);
                               return x;
                             });
}

/// The suite's store (or a given one), recording every claim request, how
/// many rows each claim returned and which, every transition it applied,
/// and its reads of children; its
/// children reads and the writes that store children
/// can be made slow, and it can tell its subscribers to resync.
class recording_store final : public durable::store {
public:
  struct claim_call {
    std::size_t limit = 0;
    std::size_t claimed = 0;
  };

  /// One transition that applied: the row it moved and the rows it
  /// inserted, with the statuses they were stored in.
  struct applied_write {
    struct row {
      std::string id;
      durable::execution_status status;
    };
    row moved;
    std::vector<row> inserted;
  };

  recording_store() : inner_(durable::test::make_store()) {}

  /// Records the calls made through this object to `inner` (which others
  /// may share).
  explicit recording_store(std::shared_ptr<durable::store> inner)
    : inner_(std::move(inner)) {}

  /// How many children_of() calls have read (their delay may still run).
  int children_reads() const {
    return children_reads_.load();
  }

  /// From now on children_of() reads, then waits `delay` before it answers
  /// (a slow reply to a read that was taken early).
  void delay_children_reads(durable::millis delay) {
    children_delay_ms_ = delay.count();
  }

  /// From now on apply() waits `delay` after storing a batch that inserts
  /// children before it answers (their announcements come first).
  void delay_child_inserts(durable::millis delay) {
    insert_delay_ms_ = delay.count();
  }

  /// From now on announcements reach those subscribed through this object
  /// without the finished rows (store_event::row), as another process's
  /// commits do: a parent then has to read its children back.
  void drop_event_rows() {
    drop_rows_ = true;
  }

  /// From now on announcements reach those subscribed through this object
  /// without their `finished` events, as if a NOTIFY or another process's
  /// commit had been lost without a resync: only a re-read finds the end.
  void drop_finished_events() {
    drop_finished_ = true;
  }

  /// Tells everyone subscribed through this object that announcements may
  /// have been lost (store_event::type::resync).
  void announce_resync() {
    std::vector<durable::store_listener> ls;
    {
      std::lock_guard guard{mtx_};
      for (const auto& [token, l] : listeners_)
        ls.push_back(l);
    }
    durable::store_event resync;
    resync.kind = durable::store_event::type::resync;
    for (auto& l : ls)
      l({resync});
  }

  std::vector<claim_call> claims() {
    std::lock_guard guard{mtx_};
    return claims_;
  }

  /// Every transition that applied, in order.
  std::vector<applied_write> writes() {
    std::lock_guard guard{mtx_};
    return writes_;
  }

  /// The applied transitions that moved the row `id`.
  std::vector<applied_write> writes_of(const std::string& id) {
    auto all = writes();
    std::erase_if(all, [&](const auto& w) { return w.moved.id != id; });
    return all;
  }

  /// The ids of every row a claim returned, in order.
  std::vector<std::string> claimed_ids() {
    std::lock_guard guard{mtx_};
    return claimed_ids_;
  }

  durable::timestamp now() override {
    return inner_->now();
  }

  std::vector<durable::insert_outcome>
  insert(std::vector<durable::execution_record> rows) override {
    return inner_->insert(std::move(rows));
  }

  std::vector<durable::write_outcome>
  apply(std::vector<durable::transition> ts) override {
    const bool spawns = std::any_of(ts.begin(), ts.end(), [](const auto& t) {
      return !t.children.empty();
    });
    std::vector<applied_write> seen;
    for (const auto& t : ts) {
      applied_write w{{t.next.id, t.next.status}, {}};
      for (const auto& c : t.children)
        w.inserted.push_back({c.id, c.status});
      seen.push_back(std::move(w));
    }
    // Recorded before the inner store commits: it announces the commit
    // (and a test waiting for it may read writes()) before it returns.
    // One apply at a time, so that the ones that did not apply are taken
    // back from where they were put.
    std::lock_guard one_at_a_time{apply_mtx_};
    std::size_t first = 0;
    {
      std::lock_guard guard{mtx_};
      first = writes_.size();
      for (auto& w : seen)
        writes_.push_back(std::move(w));
    }
    std::vector<durable::write_outcome> out;
    try {
      out = inner_->apply(std::move(ts));
    } catch (...) {
      std::lock_guard guard{mtx_};
      writes_.resize(first);
      throw;
    }
    {
      std::lock_guard guard{mtx_};
      for (std::size_t i = seen.size(); i-- > 0;)
        if (i >= out.size() || out[i].status != durable::write_status::applied)
          writes_.erase(writes_.begin()
                        + static_cast<std::ptrdiff_t>(first + i));
    }
    if (auto ms = insert_delay_ms_.load(); spawns && ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return out;
  }

  durable::claim_result claim(const durable::claim_request& req) override {
    auto res = inner_->claim(req);
    std::lock_guard guard{mtx_};
    claims_.push_back({req.limit, res.claimed.size()});
    for (const auto& r : res.claimed)
      claimed_ids_.push_back(r.id);
    return res;
  }

  std::vector<std::string> renew_leases(const std::string& owner,
                                        durable::millis lease) override {
    return inner_->renew_leases(owner, lease);
  }

  bool try_lead(const std::string& role, const std::string& owner,
                durable::millis lease) override {
    return inner_->try_lead(role, owner, lease);
  }

  std::size_t release_leases(const std::string& owner) override {
    return inner_->release_leases(owner);
  }

  std::optional<durable::execution_record> get(const std::string& id) override {
    return inner_->get(id);
  }

  std::optional<durable::execution_record>
  get_by_sleeping_id(const std::string& sleeping_id) override {
    return inner_->get_by_sleeping_id(sleeping_id);
  }

  std::vector<durable::execution_record>
  children_of(const std::string& parent_id) override {
    auto kids = inner_->children_of(parent_id);
    ++children_reads_;
    if (auto ms = children_delay_ms_.load(); ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return kids;
  }

  durable::list_page list(const durable::list_request& req) override {
    return inner_->list(req);
  }

  durable::status_counts
  count_by_status(const durable::execution_filter& f) override {
    return inner_->count_by_status(f);
  }

  std::vector<durable::ready_backlog_entry> ready_backlog() override {
    return inner_->ready_backlog();
  }

  durable::sleeper_scan scan_sleepers(std::size_t limit) override {
    return inner_->scan_sleepers(limit);
  }

  std::optional<durable::execution_record>
  watch(const std::string& id) override {
    return inner_->watch(id);
  }

  bool erase(const std::string& id) override {
    return inner_->erase(id);
  }

  durable::prune_result prune(const durable::prune_request& req) override {
    return inner_->prune(req);
  }

  void report_node(const durable::node_report& r) override {
    inner_->report_node(r);
  }

  std::vector<durable::node_info> nodes() override {
    return inner_->nodes();
  }

  std::vector<durable::finished_count>
  finished_by_minute(durable::timestamp from, durable::timestamp to) override {
    return inner_->finished_by_minute(from, to);
  }

  std::uint64_t subscribe(durable::store_listener listener) override {
    listener = [this, l = std::move(listener)](
                 std::vector<durable::store_event> events) {
      if (drop_rows_)
        for (auto& e : events)
          e.row.reset();
      if (drop_finished_)
        std::erase_if(events, [](const durable::store_event& e) {
          return e.kind == durable::store_event::type::finished;
        });
      if (events.empty())
        return;
      l(std::move(events));
    };
    auto token = inner_->subscribe(listener);
    std::lock_guard guard{mtx_};
    listeners_.emplace_back(token, std::move(listener));
    return token;
  }

  void unsubscribe(std::uint64_t token) override {
    inner_->unsubscribe(token);
    std::lock_guard guard{mtx_};
    std::erase_if(listeners_,
                  [token](const auto& l) { return l.first == token; });
  }

private:
  std::shared_ptr<durable::store> inner_;
  std::mutex mtx_;
  std::vector<claim_call> claims_;
  std::vector<std::string> claimed_ids_;
  std::vector<applied_write> writes_;
  std::mutex apply_mtx_;
  std::vector<std::pair<std::uint64_t, durable::store_listener>> listeners_;
  std::atomic<std::int64_t> children_delay_ms_{0};
  std::atomic<std::int64_t> insert_delay_ms_{0};
  std::atomic<int> children_reads_{0};
  std::atomic<bool> drop_rows_{false};
  std::atomic<bool> drop_finished_{false};
};

/// The message of an API error thrown by `f`, or "" if it threw none.
template <class F>
std::string thrown_message(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

/// The kind of the durable::error thrown by `f`, if it threw one.
template <class F>
std::optional<durable::error_kind> thrown_kind(F&& f) {
  try {
    f();
  } catch (const durable::error& e) {
    return e.kind();
  } catch (...) {
  }
  return std::nullopt;
}

} // namespace engine_test
