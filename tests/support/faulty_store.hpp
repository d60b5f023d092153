#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "durable/forwarding_store.hpp"

namespace durable::test {

/// How a faulty_store fails a call it was told to fail.
enum class fault {
  /// Throws store_error(unavailable) before the call reaches the store:
  /// nothing is written (a server unreachable past its reconnect timeout).
  unavailable,
  /// Lets the call commit, then throws store_error(in_doubt): the writer
  /// cannot tell that it happened (a connection lost during COMMIT).
  in_doubt,
};

/// A store decorator that fails chosen calls, for tests of what the engine
/// does when a write fails, commits in doubt, or is refused for one row.
/// Thread-safe; every fault is armed for a number of calls and then gone.
class faulty_store final : public forwarding_store {
public:
  using transition_test = std::function<bool(const transition&)>;

  explicit faulty_store(std::shared_ptr<store> inner)
    : forwarding_store(std::move(inner)) {}

  /// The next `times` apply() calls whose batch holds a transition that
  /// passes `test` fail with `f`, the whole batch.
  void fail_applies(transition_test test, fault f, int times = 1) {
    std::lock_guard guard{mtx_};
    apply_test_ = std::move(test);
    apply_fault_ = f;
    apply_faults_left_ = times;
  }

  /// The next `times` insert() calls fail with `f`.
  void fail_inserts(fault f, int times = 1) {
    std::lock_guard guard{mtx_};
    insert_fault_ = f;
    insert_faults_left_ = times;
  }

  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override {
    std::optional<fault> f;
    {
      std::lock_guard guard{mtx_};
      if (insert_faults_left_ > 0) {
        --insert_faults_left_;
        ++faults_;
        f = insert_fault_;
      }
    }
    if (f == fault::unavailable)
      throw store_error(store_failure::unavailable,
                        "faulty_store: insert failed before the store");
    auto out = inner()->insert(std::move(rows));
    if (f == fault::in_doubt)
      throw store_error(store_failure::in_doubt,
                        "faulty_store: insert committed, then its reply was "
                        "lost; the outcome is in doubt");
    return out;
  }

  /// The next `times` claim() calls that take at least one row fail with
  /// `f` (an `unavailable` one takes nothing).
  void fail_claims(fault f, int times = 1) {
    std::lock_guard guard{mtx_};
    claim_fault_ = f;
    claim_faults_left_ = times;
  }

  /// From now on every transition that passes `test` is answered `status`
  /// with the stored row and not written; the others of its batch are.
  /// write_status::refused: the store cannot write it alone (its data);
  /// write_status::conflict: as if another writer always got there first.
  void refuse(transition_test test,
              write_status status = write_status::refused) {
    std::lock_guard guard{mtx_};
    refuse_test_ = std::move(test);
    refuse_status_ = status;
  }

  /// While set, renew_leases() throws store_error(unavailable): the node
  /// cannot confirm its leases (a store it cannot reach, a frozen node).
  void fail_renewals(bool on) {
    renewals_fail_ = on;
  }

  std::vector<std::string> renew_leases(const std::string& owner,
                                        millis lease) override {
    if (renewals_fail_)
      throw store_error(store_failure::unavailable,
                        "faulty_store: renewal failed");
    return inner()->renew_leases(owner, lease);
  }

  /// Listeners subscribe to the inner store, and hear this store's
  /// announce() too.
  std::uint64_t subscribe(store_listener listener) override {
    auto token = inner()->subscribe(listener);
    std::lock_guard guard{mtx_};
    listeners_.emplace_back(token, std::move(listener));
    return token;
  }

  void unsubscribe(std::uint64_t token) override {
    inner()->unsubscribe(token);
    std::lock_guard guard{mtx_};
    std::erase_if(listeners_,
                  [token](const auto& x) { return x.first == token; });
  }

  /// Calls every listener with `events`, as if the inner store had
  /// announced them (e.g. a `corrupt` row, which no memory store has).
  void announce(const std::vector<store_event>& events) {
    std::vector<store_listener> to_call;
    {
      std::lock_guard guard{mtx_};
      for (const auto& [token, l] : listeners_)
        to_call.push_back(l);
    }
    for (auto& l : to_call)
      l(events);
  }

  /// How many calls failed or transitions were refused so far.
  int faults() const {
    std::lock_guard guard{mtx_};
    return faults_;
  }

  std::vector<write_outcome> apply(std::vector<transition> ts) override {
    std::optional<fault> f;
    transition_test refuse_test;
    write_status refuse_status;
    {
      std::lock_guard guard{mtx_};
      if (apply_faults_left_ > 0
          && std::any_of(ts.begin(), ts.end(), apply_test_)) {
        --apply_faults_left_;
        ++faults_;
        f = apply_fault_;
      }
      refuse_test = refuse_test_;
      refuse_status = refuse_status_;
    }
    if (f == fault::unavailable)
      throw store_error(store_failure::unavailable,
                        "faulty_store: apply failed before the store");
    auto out = refuse_test
                 ? apply_refusing(std::move(ts), refuse_test, refuse_status)
                 : inner()->apply(std::move(ts));
    if (f == fault::in_doubt)
      throw store_error(store_failure::in_doubt,
                        "faulty_store: apply committed, then its reply was "
                        "lost; the outcome is in doubt");
    return out;
  }

  claim_result claim(const claim_request& req) override {
    std::optional<fault> f;
    {
      std::lock_guard guard{mtx_};
      if (claim_faults_left_ > 0)
        f = claim_fault_;
    }
    if (f == fault::unavailable) {
      take_claim_fault();
      throw store_error(store_failure::unavailable,
                        "faulty_store: claim failed before the store");
    }
    auto res = inner()->claim(req);
    if (f == fault::in_doubt && !res.claimed.empty() && take_claim_fault())
      throw store_error(store_failure::in_doubt,
                        "faulty_store: claim committed, then its reply was "
                        "lost; the outcome is in doubt");
    return res;
  }

private:
  bool take_claim_fault() {
    std::lock_guard guard{mtx_};
    if (claim_faults_left_ <= 0)
      return false;
    --claim_faults_left_;
    ++faults_;
    return true;
  }

  std::vector<write_outcome> apply_refusing(std::vector<transition> ts,
                                            const transition_test& test,
                                            write_status status) {
    std::vector<write_outcome> out(ts.size());
    std::vector<transition> rest;
    std::vector<std::size_t> rest_at;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      if (test(ts[i])) {
        out[i] = {status, inner()->get(ts[i].next.id),
                  status == write_status::refused
                    ? "faulty_store: refused this transition"
                    : ""};
        std::lock_guard guard{mtx_};
        ++faults_;
      } else {
        rest_at.push_back(i);
        rest.push_back(std::move(ts[i]));
      }
    }
    if (!rest.empty()) {
      auto written = inner()->apply(std::move(rest));
      for (std::size_t k = 0; k < written.size(); ++k)
        out[rest_at[k]] = std::move(written[k]);
    }
    return out;
  }

  mutable std::mutex mtx_;
  transition_test apply_test_;
  fault apply_fault_ = fault::unavailable;
  int apply_faults_left_ = 0;
  fault insert_fault_ = fault::unavailable;
  int insert_faults_left_ = 0;
  fault claim_fault_ = fault::unavailable;
  int claim_faults_left_ = 0;
  transition_test refuse_test_;
  write_status refuse_status_ = write_status::refused;
  int faults_ = 0;
  std::atomic<bool> renewals_fail_{false};
  std::vector<std::pair<std::uint64_t, store_listener>> listeners_;
};

} // namespace durable::test
