#pragma once

#include "durable/store.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

namespace durable::bench {

/// A store decorator that counts the executions this process finished
/// (every applied transition whose row ends finished, and the finished rows
/// it inserts), so that the harness
/// knows when a single-node run is done without querying the store.
/// Latencies come from the rows read back after the run (readback.hpp).
/// Thread-safe: the count is atomic, every call goes to the inner store.
class counting_store final : public durable::store {
public:
  explicit counting_store(std::shared_ptr<durable::store> inner)
      : inner_(std::move(inner)) {
  }

  std::size_t finished() const {
    return finished_.load();
  }

  timestamp now() override {
    return inner_->now();
  }

  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override {
    return inner_->insert(std::move(rows));
  }

  std::vector<write_outcome> apply(std::vector<transition> ts) override {
    // A transition may insert rows that are finished already (a finalize
    // task run before its row was stored).
    std::vector<std::size_t> finished_kids(ts.size(), 0);
    for (std::size_t i = 0; i < ts.size(); ++i)
      for (const auto& c : ts[i].children)
        if (c.is_finished())
          ++finished_kids[i];
    auto out = inner_->apply(std::move(ts));
    std::size_t n = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].status != write_status::applied)
        continue;
      n += finished_kids[i];
      if (out[i].current && out[i].current->is_finished())
        ++n;
    }
    finished_ += n;
    return out;
  }

  claim_result claim(const claim_request& req) override {
    return inner_->claim(req);
  }

  std::vector<std::string> renew_leases(const std::string& owner, millis lease) override {
    return inner_->renew_leases(owner, lease);
  }

  bool try_lead(const std::string& role, const std::string& owner,

                durable::millis lease) override {

    return inner_->try_lead(role, owner, lease);

  }


  std::size_t release_leases(const std::string& owner) override {
    return inner_->release_leases(owner);
  }

  std::optional<execution_record> get(const std::string& id) override {
    return inner_->get(id);
  }

  std::optional<execution_record>
  get_by_sleeping_id(const std::string& id) override {
    return inner_->get_by_sleeping_id(id);
  }

  std::vector<execution_record>
  children_of(const std::string& parent_id) override {
    return inner_->children_of(parent_id);
  }

  list_page list(const list_request& req) override {
    return inner_->list(req);
  }

  status_counts count_by_status(const execution_filter& f) override {
    return inner_->count_by_status(f);
  }

  sleeper_scan scan_sleepers(std::size_t limit) override {
    return inner_->scan_sleepers(limit);
  }

  std::optional<execution_record> watch(const std::string& id) override {
    return inner_->watch(id);
  }

  bool erase(const std::string& id) override {
    return inner_->erase(id);
  }

  std::uint64_t subscribe(store_listener l) override {
    return inner_->subscribe(std::move(l));
  }

  void unsubscribe(std::uint64_t token) override {
    inner_->unsubscribe(token);
  }

private:
  std::shared_ptr<durable::store> inner_;
  std::atomic<std::size_t> finished_{0};
};

} // namespace durable::bench
