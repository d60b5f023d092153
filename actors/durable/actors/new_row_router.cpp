#include "durable/actors/new_row_router.hpp"

#include <caf/all.hpp>

#include "durable/actors/claim_loop.hpp"
#include "durable/actors/local_take.hpp"

namespace durable::actors {

new_row_router::~new_row_router() = default;

namespace {

/// claim_on_insert off: the dispatcher is a pass-through (and, since it
/// never sets runtime::local_claims, rarely even that).
class plain_router final : public new_row_router {
public:
  plain_router(caf::event_based_actor* self, new_row_sinks sinks)
    : self_(self), sinks_(std::move(sinks)) {}

  bool takes_new_rows(std::size_t) const noexcept override {
    return false;
  }

  void insert(std::vector<execution_record> rows,
              insert_callback done) override {
    self_->send(sinks_.inserter, insert_atom::value, std::move(rows),
                std::move(done));
  }

  caf::result<insert_reply>
  insert(std::vector<execution_record> rows) override {
    self_->delegate(sinks_.inserter, insert_atom::value, std::move(rows));
    return caf::delegated<insert_reply>{};
  }

  caf::result<write_outcome> apply(transition t) override {
    self_->delegate(sinks_.storage, apply_atom::value, std::move(t));
    return caf::delegated<write_outcome>{};
  }

  maybe_record take(execution_record) override {
    return {};
  }

private:
  caf::event_based_actor* self_;
  new_row_sinks sinks_;
};

/// claim_on_insert on: rows this node can start at once are stored claimed
/// by it (see new_row_router.hpp); what it does not take passes through as
/// in plain_router.
class local_claim_router final : public new_row_router {
public:
  local_claim_router(caf::event_based_actor* self, runtime_ptr rt,
                     new_row_sinks sinks, claim_loop& loop)
    : plain_(self, sinks),
      self_(self),
      rt_(std::move(rt)),
      sinks_(std::move(sinks)),
      loop_(loop) {}

  bool takes_new_rows(std::size_t spare_slots) const noexcept override {
    return spare_slots > 0;
  }

  void insert(std::vector<execution_record> rows,
              insert_callback done) override {
    auto taken = take_locally(rows);
    if (!taken)
      plain_.insert(std::move(rows), std::move(done));
    else
      insert_taken(std::move(rows), std::move(taken), std::move(done));
  }

  caf::result<insert_reply>
  insert(std::vector<execution_record> rows) override {
    auto taken = take_locally(rows);
    if (!taken)
      return plain_.insert(std::move(rows));
    auto rp = self_->make_response_promise<insert_reply>();
    insert_taken(std::move(rows), std::move(taken),
                 [rp](insert_reply reply) mutable {
                   rp.deliver(std::move(reply));
                 });
    return rp;
  }

  // The children this node may start at once are stored claimed by it and
  // started once the storage actor applied the transition.
  caf::result<write_outcome> apply(transition t) override {
    auto taken = take_locally(t.children);
    if (!taken)
      return plain_.apply(std::move(t));
    auto rp = self_->make_response_promise<write_outcome>();
    self_
      ->request(sinks_.storage, caf::infinite, apply_atom::value, std::move(t))
      .then(
        [this, rp, taken](write_outcome& out) mutable {
          adopt(*taken, [&](std::size_t) {
            return out.status == write_status::applied;
          });
          rp.deliver(std::move(out));
        },
        [this, rp, taken](caf::error& err) mutable {
          adopt_as_stored(taken);
          rp.deliver(std::move(err));
        });
    return rp;
  }

  // A finalize task its parent's actor would run itself before storing it
  // (execution_actor, "finalize here"): marked as claimed by this node and
  // counted as a running body if take_locally() takes it; the actor frees
  // the slot as any body does. Nothing when there is no room.
  maybe_record take(execution_record row) override {
    std::vector<execution_record> rows{std::move(row)};
    auto taken = take_locally(rows);
    if (!taken)
      return {};
    const bool blocking = taken->blocking > 0;
    auto& slots = loop_.slots();
    slots.unreserve(1, taken->blocking);
    slots.hold(blocking);
    if (blocking) {
      // The parent's actor holds this slot and frees it as its own.
      const auto& fin = taken->rows.front();
      if (fin.parent)
        if (auto* x = loop_.find(fin.parent->execution_id))
          x->blocking_slot = true;
    }
    loop_.update_hint();
    return {std::move(taken->rows.front())};
  }

private:
  using taken_ptr = std::shared_ptr<local_claims>;

  /// Takes what pick_local_claims() allows of `rows`; each taken row holds
  /// a reserved slot until adopt() learns whether it was stored. Null when
  /// it takes none.
  taken_ptr take_locally(std::vector<execution_record>& rows) {
    const auto room = loop_.spare_slots();
    if (room == 0)
      return nullptr;
    auto& slots = loop_.slots();
    const auto& opts = rt_->options;
    auto picked = pick_local_claims(
      rows, loop_.kinds(),
      take_limits{room, slots.blocking_room_for_take(), rt_->now(),
                  rt_->incarnation, opts.lease_duration});
    if (picked.empty())
      return nullptr;
    slots.reserve(picked.rows.size(), picked.blocking);
    loop_.update_hint();
    return std::make_shared<local_claims>(std::move(picked));
  }

  /// Starts the rows of `taken` that were stored (`stored(k)` for the
  /// k-th), as if a claim had returned them, and gives back every
  /// reservation.
  template <class Stored>
  void adopt(local_claims& taken, Stored stored) {
    loop_.slots().unreserve(taken.rows.size(), taken.blocking);
    taken.blocking = 0;
    const auto at = steady_nanos();
    for (std::size_t k = 0; k < taken.rows.size(); ++k)
      if (stored(k))
        loop_.start_claimed(std::move(taken.rows[k]), at);
    taken.rows.clear();
    loop_.after_adopt();
  }

  /// The write that would store `taken` failed, and whether it committed
  /// is unknown: read the rows back and start those stored as this node
  /// took them; the others give their slots back. (Left out, a stored row
  /// would stay owned by this node with no actor until the orphan sweep.)
  void adopt_as_stored(taken_ptr taken) {
    std::vector<std::string> ids;
    ids.reserve(taken->rows.size());
    for (const auto& r : taken->rows)
      ids.push_back(r.id);
    self_
      ->request(sinks_.storage, caf::infinite, fetch_atom::value,
                std::move(ids))
      .then(
        [this, taken](std::vector<maybe_record>& stored) {
          // One answer per id, in the order of taken->rows.
          adopt(*taken, [&](std::size_t k) {
            const auto& mine = taken->rows[k];
            const auto& r = k < stored.size() ? stored[k].record : std::nullopt;
            return r && r->version == mine.version && r->owner == mine.owner;
          });
        },
        [this, taken](caf::error&) {
          adopt(*taken, [](std::size_t) { return false; });
        });
  }

  /// Inserts `rows` through the inserter after take_locally() took
  /// `taken` of them; `done` gets the inserter's reply, on this actor.
  void insert_taken(std::vector<execution_record> rows, taken_ptr taken,
                    insert_callback done) {
    self_
      ->request(sinks_.inserter, caf::infinite, insert_atom::value,
                std::move(rows))
      .then(
        [this, taken, done](insert_reply& reply) {
          if (!reply.error.empty()) {
            adopt_as_stored(taken);
            done(std::move(reply));
            return;
          }
          adopt(*taken, [&](std::size_t k) {
            auto i = taken->positions[k];
            return i < reply.outcomes.size()
                   && reply.outcomes[i].result
                        == insert_outcome::kind::inserted;
          });
          done(std::move(reply));
        },
        [this, taken, done](caf::error& err) {
          adopt_as_stored(taken);
          done(insert_reply{{}, caf::to_string(err)});
        });
  }

  plain_router plain_;
  caf::event_based_actor* self_;
  runtime_ptr rt_;
  new_row_sinks sinks_;
  claim_loop& loop_;
};

} // namespace

std::unique_ptr<new_row_router>
make_new_row_router(caf::event_based_actor* self, const runtime_ptr& rt,
                    new_row_sinks sinks, claim_loop& loop) {
  if (!rt->options.claim_on_insert)
    return std::make_unique<plain_router>(self, std::move(sinks));
  return std::make_unique<local_claim_router>(self, rt, std::move(sinks), loop);
}

} // namespace durable::actors
