#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "durable/listener_set.hpp"
#include "durable/storage/huge_page_resource.hpp"
#include "durable/storage/row_table.hpp"
#include "durable/store.hpp"

namespace durable::storage {

/// A `durable::store` that keeps every execution in the memory of this
/// process.
///
/// It exists for unit and integration tests, for benchmarks that measure the
/// engine rather than a database, and for single-process deployments that do
/// not need durability. **Nothing survives the process**: when the store is
/// destroyed or the process dies, every execution is gone. Within the process
/// it honours every rule of `durable::store` (versions, leases, cascades,
/// events), so an engine that passes its tests against it behaves the same
/// against a durable backend.
///
/// **Threading.** Every member function is safe to call from any thread. One
/// mutex guards all rows and indexes, so each call is atomic as a whole
/// (stronger than the per-row atomicity the interface promises). Listeners
/// run after that mutex is released, on the calling thread, serialized by a
/// second mutex; they must not call back into the store (unsubscribe()
/// included), or they deadlock.
///
/// **Durability.** A call that returns has "committed" to memory only. A
/// call never throws after changing anything, so an exception always means
/// nothing changed.
///
/// **Children that collide.** A transition whose child reuses an existing
/// (or earlier-in-the-batch) execution id, sleeping id or idempotency key is
/// `rejected`: nothing of it is written, the rest of the batch is.
///
/// **Cost.** Rows are indexed by id, sleeping id, idempotency key, parent
/// and owner; ready rows by `(task, start_at)`, leased rows by
/// `(task, lease_expires_at)` and sleepers by deadline. Claims, renewals,
/// cascades and sleeper scans therefore touch only the rows they return or
/// change, never the whole store. Rows and index entries live in a pool
/// fed with huge-page chunks (see huge_page_resource): storing a row costs
/// no page fault of its own, and a write faults in the pages the next
/// write of its size will need after releasing the lock, so that faults
/// do not hold up the other callers. Memory freed by erase() is reused for new
/// rows and returned to the system only when the store is destroyed.
class memory_store final : public durable::store {
public:
  // -- constructors, destructors, and assignment operators -------------------

  /// Creates an empty store whose clock is `clock`. Tests inject a fake
  /// clock so that leases, start times and deadlines move without sleeping.
  /// The clock is called from any thread, but never concurrently (under a
  /// mutex of its own).
  explicit memory_store(std::function<timestamp()> clock = durable::system_now);

  ~memory_store() override;

  memory_store(const memory_store&) = delete;
  memory_store& operator=(const memory_store&) = delete;

  // -- properties -------------------------------------------------------------

  /// Replaces the clock; every later call uses it.
  void set_clock(std::function<timestamp()> clock);

  /// The number of stored executions (tests and benchmarks).
  std::size_t size();

  // -- durable::store ---------------------------------------------------------

  timestamp now() override;

  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override;

  std::vector<write_outcome> apply(std::vector<transition> ts) override;

  claim_result claim(const claim_request& req) override;

  std::vector<std::string> renew_leases(const std::string& owner,
                                        millis lease) override;

  std::size_t release_leases(const std::string& owner) override;

  bool try_lead(const std::string& role, const std::string& owner,
                millis lease) override;

  std::optional<execution_record> get(const std::string& id) override;

  std::optional<execution_record>
  get_by_sleeping_id(const std::string& sleeping_id) override;

  std::vector<execution_record>
  children_of(const std::string& parent_id) override;

  sleeper_scan scan_sleepers(std::size_t limit) override;

  /// Scans every row (or a parent's children): fine for tests and small
  /// single-process stores, not for large listings.
  list_page list(const list_request& req) override;

  status_counts count_by_status(const execution_filter& f) override;
  std::vector<ready_backlog_entry> ready_backlog() override;

  std::optional<execution_record> watch(const std::string& id) override;

  bool erase(const std::string& id) override;

  /// Finds roots through an index of finished roots per status, ordered by
  /// finished_at; reads each tree through the children index.
  prune_result prune(const prune_request& req) override;

  void report_node(const node_report& r) override;

  std::vector<node_info> nodes() override;

  std::vector<finished_count> finished_by_minute(timestamp from,
                                                 timestamp to) override;

  std::uint64_t subscribe(store_listener listener) override;

  void unsubscribe(std::uint64_t token) override;

private:
  // -- index types ------------------------------------------------------------

  /// An entry of an ordered index: a time and the row (rows live in
  /// `rows_`, where they never move while stored).
  struct entry {
    timestamp at;
    execution_record* row;
  };

  /// Orders by time, then by the row's address; also compares with a bare
  /// time, so that `upper_bound(now)` finds the first entry not yet due.
  ///
  /// Why the address and not the id: a batch of rows shares one start_at,
  /// so most comparisons are ties, and comparing ids would read two rows
  /// (and their ids' characters) scattered over the whole store, a cache
  /// miss each. Ties have no order the interface promises; the address is
  /// stable while a row is stored and roughly follows insertion.
  struct entry_less {
    using is_transparent = void;

    bool operator()(const entry& x, const entry& y) const noexcept {
      if (x.at != y.at)
        return x.at < y.at;
      return std::less<>{}(x.row, y.row);
    }

    bool operator()(const entry& x, timestamp y) const noexcept {
      return x.at < y;
    }

    bool operator()(timestamp x, const entry& y) const noexcept {
      return x < y.at;
    }
  };

  using ordered_index = std::pmr::set<entry, entry_less>;
  using row_set = std::pmr::unordered_set<execution_record*>;
  template <class T>
  using by_string = std::pmr::unordered_map<std::string, T>;

  // -- helpers (all require mutex_, except read_clock)
  // -------------------------

  /// The clock's time; takes clock_mutex_ (which nests inside mutex_).
  timestamp read_clock();

  /// Why a new row cannot be stored, if it cannot, apart from a taken id
  /// alone (which storing it finds).
  std::optional<insert_outcome> check_new_row(const execution_record& r) const;

  /// What the row table can take before it allocates, read under mutex_
  /// for stock_rows().
  struct row_room {
    std::size_t spare_rows = 0;
    std::size_t next_chunk_bytes = 0;
  };

  /// Faults in the huge pages that `rows` more rows would need beyond
  /// `room` (see huge_page_resource::stock_up). Called after a write,
  /// without mutex_, so that the next write takes its memory under the
  /// lock without a page fault.
  void stock_rows(std::size_t rows, row_room room) noexcept;

  /// Stores a row whose id, sleeping id and key are free, and indexes it.
  execution_record& put_row(execution_record&& r);

  void index_identity(execution_record& r);
  void unindex_identity(execution_record& r);

  /// Adds or removes the indexes that depend on status, times and owner.
  /// Call unindex_state() before changing those fields, index_state() after.
  void index_state(execution_record& r);
  void unindex_state(execution_record& r);

  /// Identities of the children already accepted in one apply() batch.
  struct batch_keys {
    std::unordered_set<std::string> ids;
    std::unordered_set<std::string> sleeping_ids;
    std::unordered_set<std::string> keys;
  };

  /// True if a child of `t` collides with a stored row or with a child
  /// accepted earlier in the batch; otherwise records `t`'s children.
  bool children_clash(const transition& t, batch_keys& seen) const;

  /// Cancels every unfinished descendant of `root` (recursively), adding
  /// their events to `events` unless it is null.
  void cascade(const execution_record& root, timestamp now,
               std::vector<store_event>* events);

  void notify(std::vector<store_event>&& events);

  // -- state ------------------------------------------------------------------

  std::mutex mutex_;
  std::mutex clock_mutex_;
  std::function<timestamp()> clock_;
  /// Memory of every container below (declared first, destroyed last);
  /// used under mutex_ only, hence unsynchronized.
  huge_page_resource pages_;
  std::pmr::unsynchronized_pool_resource pool_{&pages_};
  /// Its chunks are sized for huge pages already: no pool in between.
  row_table rows_{&pages_};
  by_string<execution_record*> by_sleeping_id_{&pool_};
  by_string<execution_record*> by_key_{&pool_};
  by_string<row_set> by_parent_{&pool_};
  /// Active rows with an owner, by owner (renewal and release).
  by_string<row_set> by_owner_{&pool_};

  struct leader {
    std::string owner;
    timestamp until{};
  };
  std::unordered_map<std::string, leader> leaders_;
  /// The node registry (report_node()), by incarnation.
  std::map<std::string, node_info> nodes_;
  /// Finished counts by (minute, status), summed over the nodes.
  std::map<std::pair<timestamp, execution_status>, std::uint64_t> finished_;
  /// Ready rows by task, ordered by start_at.
  by_string<ordered_index> ready_{&pool_};
  /// Rows a claim may take over once their lease expires (running bodies,
  /// waiting parents), by task, ordered by lease expiry.
  by_string<ordered_index> leased_{&pool_};
  /// Running sleepers, ordered by deadline.
  ordered_index sleepers_{&pool_};
  /// Finished roots (no parent) per final status, ordered by finished_at
  /// (prune()).
  std::map<execution_status, ordered_index> finished_roots_;

  // -- listeners --------------------------------------------------------------

  /// Its empty() lets commits skip building events nobody listens to.
  listener_set listeners_;
};

/// A new, empty memory_store on the system clock.
std::shared_ptr<durable::store> memory();

} // namespace durable::storage
