#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "durable/store.hpp"

/// What this process knows of the owner lease floors it stored.
/// Internal to storage/pg.
///
/// `<schema>.owner_leases` (migration 6) keeps per owner a **floor**: no
/// active row of that owner has a lease that expires before it. A claim
/// looks for expired leases only among the rows of owners whose floor
/// passed, so every write that gives a row an owner must keep that owner's
/// floor at or below the row's lease. Claims and renewals do it in their own
/// statement. Inserts and transitions store rows a node claimed for itself
/// (executor_options::claim_on_insert); for them this cache tells when the
/// stored floor is low enough already, which it is for a node's own rows
/// while it renews, so that they need no extra statement.
///
/// The cache holds, per owner, a value at or above the stored floor: a row
/// whose lease is not earlier needs no write. Only writes through this
/// store lower or raise a floor it knows of, which holds because an owner
/// is one process's incarnation: rows already claimed by an owner come
/// from that owner's node, or name an owner that no longer renews.
///
/// One other writer removes floors: a take-over deletes the floor of an
/// owner whose floor passed an hour ago and that holds no active row (an
/// owner gone for good). A node frozen that long comes back with a cache
/// that names a floor no longer stored; rows it then stored already
/// claimed would have no floor, and would never be taken over if it died
/// before its next renewal. So an entry is trusted only for `trusted_for`
/// (half that hour) after this store last learned it, by the store's
/// clock: a node that renews learns its floor at every renewal, and one
/// that did not for that long writes its floor again before such rows.
///
/// **Threading.** Safe to call from any thread.
namespace durable::storage::pg {

class owner_floors {
public:
  explicit owner_floors(std::int64_t trusted_for_us)
    : trusted_for_us_(trusted_for_us) {}

  /// One floor to write: the owner, and the earliest lease of its rows in
  /// microseconds since the epoch.
  struct floor {
    std::string owner;
    std::int64_t at;
  };

  /// The floors to lower before `rows` are inserted at `now_us` (sorted
  /// by owner: the write locks them in that order).
  std::vector<floor> needed(const std::vector<execution_record>& rows,
                            std::int64_t now_us) const;

  /// The floors to lower before `ts` apply: their children's, and those of
  /// the owners of `next` rows this store wrote no floor for. A transition
  /// that keeps the row's owner cannot move its lease back (store.hpp), so
  /// only a new owner can need its floor lowered.
  std::vector<floor> needed(const std::vector<transition>& ts,
                            std::int64_t now_us) const;

  /// `owner`'s floor was stored as `at` (after a write at `now_us` that
  /// returned it).
  void remember(const std::string& owner, std::int64_t at, std::int64_t now_us);

  /// Nothing is known of `owner`'s floor any more (it was lowered behind
  /// the cache's back, e.g. by release_leases).
  void forget(const std::string& owner);

private:
  using floors = std::unordered_map<std::string, std::int64_t>;

  struct known_floor {
    std::int64_t at;
    /// When this store last learned it (the store's clock).
    std::int64_t learned_us;
  };

  /// Adds `r`'s owner and lease to `out` if the row holds a lease that
  /// `known_` does not cover at `now_us`; `owner_only`: if its owner is not
  /// in `known_` at all, whatever the lease (a transition's `next`, see
  /// needed()).
  void add(const execution_record& r, bool owner_only, std::int64_t now_us,
           floors& out) const;

  static std::vector<floor> sorted(floors f);

  const std::int64_t trusted_for_us_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, known_floor> known_;
};

} // namespace durable::storage::pg
