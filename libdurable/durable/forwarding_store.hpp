#pragma once

#include <memory>
#include <utility>

#include "durable/store.hpp"

namespace durable {

/// A store that passes every call to another one: the base of store
/// decorators (fault injection, recording, metrics), which override only
/// the calls they change.
///
/// Threading, durability and events are those of `inner`: each call is
/// forwarded on the calling thread, and listeners subscribe to `inner`
/// directly, so announcements reach them as `inner` makes them.
class forwarding_store : public store {
public:
  /// Forwards to `inner`, which must not be null.
  explicit forwarding_store(std::shared_ptr<store> inner)
    : inner_(std::move(inner)) {}

  /// The store every call goes to.
  const std::shared_ptr<store>& inner() const noexcept {
    return inner_;
  }

  timestamp now() override {
    return inner_->now();
  }

  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override {
    return inner_->insert(std::move(rows));
  }

  std::vector<write_outcome> apply(std::vector<transition> ts) override {
    return inner_->apply(std::move(ts));
  }

  claim_result claim(const claim_request& req) override {
    return inner_->claim(req);
  }

  std::vector<std::string> renew_leases(const std::string& owner,
                                        millis lease) override {
    return inner_->renew_leases(owner, lease);
  }

  std::size_t release_leases(const std::string& owner) override {
    return inner_->release_leases(owner);
  }

  bool try_lead(const std::string& role, const std::string& owner,
                millis lease) override {
    return inner_->try_lead(role, owner, lease);
  }

  std::optional<execution_record> get(const std::string& id) override {
    return inner_->get(id);
  }

  std::optional<execution_record>
  get_by_sleeping_id(const std::string& sleeping_id) override {
    return inner_->get_by_sleeping_id(sleeping_id);
  }

  std::vector<execution_record>
  children_of(const std::string& parent_id) override {
    return inner_->children_of(parent_id);
  }

  sleeper_scan scan_sleepers(std::size_t limit) override {
    return inner_->scan_sleepers(limit);
  }

  list_page list(const list_request& req) override {
    return inner_->list(req);
  }

  status_counts count_by_status(const execution_filter& f) override {
    return inner_->count_by_status(f);
  }

  std::vector<ready_backlog_entry> ready_backlog() override {
    return inner_->ready_backlog();
  }

  std::optional<execution_record> watch(const std::string& id) override {
    return inner_->watch(id);
  }

  bool erase(const std::string& id) override {
    return inner_->erase(id);
  }

  prune_result prune(const prune_request& req) override {
    return inner_->prune(req);
  }

  void report_node(const node_report& r) override {
    inner_->report_node(r);
  }

  std::vector<node_info> nodes() override {
    return inner_->nodes();
  }

  std::vector<finished_count> finished_by_minute(timestamp from,
                                                 timestamp to) override {
    return inner_->finished_by_minute(from, to);
  }

  std::uint64_t subscribe(store_listener listener) override {
    return inner_->subscribe(std::move(listener));
  }

  void unsubscribe(std::uint64_t token) override {
    inner_->unsubscribe(token);
  }

private:
  std::shared_ptr<store> inner_;
};

} // namespace durable
