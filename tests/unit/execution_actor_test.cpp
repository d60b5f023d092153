// One execution actor between a scripted storage actor and a scripted
// dispatcher, on CAF's deterministic coordinator: every request the actor
// sends waits until the test answers it, so a message can be made to
// arrive exactly while a write, a read or a take is in flight
// (support/scripted_actor.hpp).
#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include <doctest/doctest.h>

#include "durable/actors/execution_actor.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/timer_service.hpp"
#include "durable/store_rules.hpp"
#include "durable/transitions.hpp"
#include "support/deterministic_fixture.hpp"
#include "support/scripted_actor.hpp"

using namespace std::chrono_literals;

namespace durable::test {

namespace {

using namespace durable::actors;

/// A blocking body that holds until released, and says whether its cancel
/// token fired.
struct held_body {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  std::atomic<int> started{0};
  std::atomic<bool> saw_stop{false};

  task_definition::run_fn fn() {
    return [this](task_context& ctx, const std::string&) {
      ++started;
      while (opened.wait_for(1ms) != std::future_status::ready)
        if (ctx.cancel_token.stop_requested())
          break;
      saw_stop = ctx.cancel_token.stop_requested();
      return std::string{"\"fin\""};
    };
  }
};

task_definition inline_task(std::string id) {
  task_definition def;
  def.kind = task_kind::task;
  def.options.id = std::move(id);
  def.options.timeout = 10s;
  def.options.may_block = false;
  def.run = [](task_context&, const std::string& in) { return in; };
  return def;
}

/// A parent (inline) that spawns `n` children of task "child".
task_definition fan_out(std::string id, int n) {
  task_definition def;
  def.kind = task_kind::parent;
  def.options.id = std::move(id);
  def.options.timeout = 10s;
  def.options.may_block = false;
  def.run_parent = [n](task_context&, const std::string&) {
    parent_run pr{"\"spawned\"", {}};
    for (int i = 0; i < n; ++i)
      pr.children.push_back({"child", std::to_string(i), {}});
    return pr;
  };
  return def;
}

/// The engine's clock from a deterministic fixture, and one
/// execution actor whose storage actor and dispatcher are scripted. The
/// test answers their requests from `db`, a memory store of its own.
struct actor_fixture {
  deterministic_fixture f;
  std::shared_ptr<storage::memory_store> db;
  std::shared_ptr<inbox> storage = std::make_shared<inbox>();
  std::shared_ptr<inbox> dispatcher = std::make_shared<inbox>();
  runtime_ptr rt = std::make_shared<runtime>();
  caf::actor actor;

  actor_fixture() {
    db = std::make_shared<storage::memory_store>(
      [this] { return f.db->now(); });
    rt->db = db;
    rt->tasks = std::make_shared<task_registry>();
    rt->options = deterministic_fixture::fast_options();
    rt->incarnation = "node_test";
    rt->workers = f.rt->workers;
    rt->detached_io = false;
    // A timer service of its own: timer tokens are counted per runtime,
    // and the fixture's engine sets timers too.
    rt->timers = f.sys.spawn(timer_service);
    rt->storage = f.sys.spawn(scripted, storage);
    rt->dispatcher = f.sys.spawn(scripted, dispatcher);
    f.run();
  }

  ~actor_fixture() {
    caf::anon_send_exit(rt->storage, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(rt->dispatcher, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(rt->timers, caf::exit_reason::user_shutdown);
    f.run();
  }

  void add(task_definition def) {
    rt->tasks->add(std::move(def));
  }

  /// Stores an execution of `task_id` claimed by this node and spawns its
  /// actor.
  execution_record start(const std::string& task_id,
                         execution_status status = execution_status::running) {
    auto def = rt->tasks->find(task_id);
    REQUIRE(def != nullptr);
    auto row = make_execution(task_id, def->kind, def->options, "null",
                              db->now());
    REQUIRE(db->insert({row}).front().result == insert_outcome::kind::inserted);
    row = *db->get(row.id);
    auto claimed = row;
    store_rules::claim(claimed, db->now(), rt->incarnation, 600s);
    claimed.status = status;
    REQUIRE(
      db->apply({transition{claimed, row.version, {}, false}}).front().status
      == write_status::applied);
    row = *db->get(row.id);
    spawn(row);
    return row;
  }

  void spawn(execution_record row) {
    auto out = std::make_shared<caf::actor>();
    auto lease = caf::make_counted<row_lease>(row.lease_expires_at);
    f.sys.spawn([out, rt = rt, row, lease](caf::event_based_actor* self) {
      *out = spawn_execution(self, rt, row, lease);
    });
    f.run();
    actor = *out;
    REQUIRE(actor);
  }

  /// The transition of a pending `apply` to `box`.
  static transition& transition_of(inbox::call& c) {
    return c.msg.get_mutable_as<transition>(1);
  }

  /// Answers a pending `apply` with what `db` makes of it.
  void answer_apply(inbox::call c) {
    auto out = db->apply({transition_of(c)});
    c.answer(std::move(out.front()));
    f.run();
  }

  /// Answers a pending children read from `db`.
  void answer_children(inbox::call c) {
    c.answer(db->children_of(c.msg.get_as<std::string>(1)));
    f.run();
  }

  /// Completes child `id` in `db`; returns its finished row.
  finished_row complete_child(const std::string& id, std::string output) {
    auto row = *db->get(id);
    auto out = db->apply(
      {transitions::complete(row, std::move(output), db->now())});
    REQUIRE(out.front().status == write_status::applied);
    return std::make_shared<const execution_record>(*out.front().current);
  }

  /// `child` as it would be stored once completed with `output`.
  static finished_row finished_copy(execution_record child,
                                    std::string output) {
    child.status = execution_status::completed;
    child.output = std::move(output);
    return std::make_shared<const execution_record>(std::move(child));
  }

  void announce(const std::string& id, finished_row row) {
    caf::anon_send(actor, child_done_atom::value, id, std::move(row));
    f.run();
  }

  /// Runs a parent of one child whose finalize task "fin" runs `body`,
  /// with local claims, up to the take of that finalize (returned, not
  /// answered): the children's write answered, the parent's slot freed
  /// and taken off the dispatcher's inbox, the child ended.
  inbox::call until_finalize_take(held_body& body) {
    rt->local_claims = true;
    add(inline_task("child"));
    task_definition fin;
    fin.kind = task_kind::task;
    fin.options.id = "fin";
    fin.options.timeout = 10s;
    fin.run = body.fn();
    add(fin);
    auto parent = fan_out("fan", 1);
    parent.finalize_task = "fin";
    add(parent);
    start("fan");
    // With local claims, a write storing ready children goes through the
    // dispatcher.
    auto write = dispatcher->take(apply_atom::value);
    REQUIRE(write);
    auto kids = children_of(*write);
    answer_apply(std::move(*write));
    REQUIRE(dispatcher->take(slot_free_atom::value)); // the parent's body's
    announce(kids[0], complete_child(kids[0], "1"));
    auto take = dispatcher->take(take_atom::value);
    REQUIRE(take);
    return std::move(*take);
  }

  /// The row a pending `take` asks for, as the dispatcher would answer it:
  /// claimed by this node.
  execution_record claimed_here(inbox::call& take) {
    auto row = take.msg.get_as<execution_record>(1);
    row.status = execution_status::running;
    row.owner = rt->incarnation;
    row.lease_expires_at = db->now() + 600s;
    return row;
  }

  /// The ids of the children the transition of `c` stores.
  static std::vector<std::string> children_of(inbox::call& c) {
    std::vector<std::string> ids;
    for (const auto& k : transition_of(c).children)
      ids.push_back(k.id);
    return ids;
  }
};

} // namespace

TEST_SUITE("actors.execution_actor") {
  TEST_CASE("a child's end announced during the children's write is not "
            "awaited again") {
    actor_fixture x;
    x.add(inline_task("child"));
    x.add(fan_out("fan", 2));
    auto parent = x.start("fan");
    auto write = x.storage->take(apply_atom::value);
    REQUIRE(write);
    auto kids = actor_fixture::children_of(*write);
    REQUIRE(kids.size() == 2);
    // The write is still in flight when the first child's end is
    // announced (claimed on insert, it ran at once), without its row.
    x.announce(kids[0], nullptr);
    CHECK(x.storage->calls.empty()); // nothing read while the write is out
    x.answer_apply(std::move(*write));
    x.complete_child(kids[0], "10");
    // Applied: only the second child is awaited, so its end alone moves the
    // parent on (the first child was counted during the write).
    CHECK(x.storage->calls.empty());
    x.complete_child(kids[1], "11");
    x.announce(kids[1], nullptr);
    auto read = x.storage->take(children_atom::value);
    REQUIRE(read); // ends without rows: one read of all children
    x.answer_children(std::move(*read));
    auto end = x.storage->take(apply_atom::value);
    REQUIRE(end);
    CHECK(actor_fixture::transition_of(*end).next.status
          == execution_status::completed);
    x.answer_apply(std::move(*end));
    CHECK(x.db->get(parent.id)->status == execution_status::completed);
    CHECK(x.dispatcher->count(gone_atom::value) == 1);
  }

  TEST_CASE("children announced with their rows need no read at all") {
    actor_fixture x;
    x.add(inline_task("child"));
    x.add(fan_out("fan", 2));
    auto parent = x.start("fan");
    auto write = x.storage->take(apply_atom::value);
    REQUIRE(write);
    auto kids = actor_fixture::children_of(*write);
    auto second = actor_fixture::transition_of(*write).children[1];
    x.announce(kids[1], actor_fixture::finished_copy(second, "11"));
    x.answer_apply(std::move(*write)); // the announcement came during it
    x.announce(kids[0], x.complete_child(kids[0], "10"));
    CHECK(x.storage->count(children_atom::value) == 0);
    CHECK(x.storage->count(fetch_atom::value) == 0);
    auto end = x.storage->take(apply_atom::value);
    REQUIRE(end);
    CHECK(actor_fixture::transition_of(*end).next.status
          == execution_status::completed);
    x.answer_apply(std::move(*end));
    auto done = *x.db->get(parent.id);
    CHECK(done.output->find("\"output\":10") != std::string::npos);
  }

  TEST_CASE("a resync during the children's write makes the parent read them "
            "after it") {
    actor_fixture x;
    x.add(inline_task("child"));
    x.add(fan_out("fan", 2));
    x.start("fan");
    auto write = x.storage->take(apply_atom::value);
    REQUIRE(write);
    auto kids = actor_fixture::children_of(*write);
    caf::anon_send(x.actor, resync_atom::value);
    x.f.run();
    CHECK(x.storage->calls.empty());
    x.answer_apply(std::move(*write));
    // No end was announced, yet announcements may have been lost.
    auto read = x.storage->take(children_atom::value);
    REQUIRE(read);
    x.complete_child(kids[0], "1");
    x.complete_child(kids[1], "2");
    x.answer_children(std::move(*read));
    auto end = x.storage->take(apply_atom::value);
    REQUIRE(end);
    CHECK(actor_fixture::transition_of(*end).next.status
          == execution_status::completed);
  }

  TEST_CASE("a child's end announced during a read is not awaited again") {
    actor_fixture x;
    x.add(inline_task("child"));
    x.add(fan_out("fan", 2));
    // A parent adopted while it waits: its children are stored, it reads.
    auto parent = x.start("fan");
    auto write = x.storage->take(apply_atom::value);
    REQUIRE(write);
    auto kids = actor_fixture::children_of(*write);
    x.answer_apply(std::move(*write));
    caf::anon_send_exit(x.actor, caf::exit_reason::user_shutdown);
    x.f.run();
    x.spawn(*x.db->get(parent.id));
    auto read = x.storage->take(children_atom::value);
    REQUIRE(read);
    x.complete_child(kids[1], "2");
    // The read sees child 0 unfinished; its end is announced meanwhile.
    auto reply = x.db->children_of(read->msg.get_as<std::string>(1));
    x.complete_child(kids[0], "1");
    x.announce(kids[0], nullptr);
    read->answer(std::move(reply));
    x.f.run();
    // Not waiting for an end that came: it reads again at once.
    auto again = x.storage->take(children_atom::value);
    REQUIRE(again);
    x.answer_children(std::move(*again));
    auto end = x.storage->take(apply_atom::value);
    REQUIRE(end);
    CHECK(actor_fixture::transition_of(*end).next.status
          == execution_status::completed);
  }

  TEST_CASE("a cancel during the take of a finalize run here gives the slot "
            "back and runs nothing") {
    held_body fin_body;
    actor_fixture x;
    auto take = x.until_finalize_take(fin_body);
    caf::anon_send(x.actor, cancel_atom::value);
    x.f.run();
    // The actor waits for the take's reply: it may hold a slot.
    CHECK(x.dispatcher->count(gone_atom::value) == 0);
    take.answer(maybe_record{x.claimed_here(take)});
    x.f.run();
    CHECK(x.dispatcher->count(slot_free_atom::value) == 1);
    REQUIRE(x.dispatcher->count(gone_atom::value) == 1);
    auto gone = x.dispatcher->take(gone_atom::value);
    CHECK_FALSE(gone->msg.get_as<bool>(3)); // its slot was freed already
    x.f.settle();
    CHECK(fin_body.started == 0);
    CHECK(x.storage->count(apply_atom::value) == 0);
    CHECK(x.dispatcher->count(apply_atom::value) == 0);
  }

  TEST_CASE("a lease lost during a finalize run here stops it and writes "
            "nothing") {
    held_body fin_body; // outlives the fixture, whose worker may run it
    actor_fixture x;
    auto take = x.until_finalize_take(fin_body);
    take.answer(maybe_record{x.claimed_here(take)});
    x.f.run();
    for (int i = 0; i < 5000 && fin_body.started == 0; ++i)
      std::this_thread::sleep_for(1ms);
    REQUIRE(fin_body.started == 1);
    // Another node took the parent over.
    caf::anon_send(x.actor, lost_atom::value);
    x.f.run();
    for (int i = 0; i < 5000 && !fin_body.saw_stop; ++i)
      std::this_thread::sleep_for(1ms);
    CHECK(fin_body.saw_stop);
    x.f.settle();
    // Ended without a write; the slot is freed once, by the last of the
    // actor and the worker to let go of it.
    CHECK(x.dispatcher->count(gone_atom::value) == 1);
    int freed = x.dispatcher->count(slot_free_atom::value);
    auto gone = x.dispatcher->take(gone_atom::value);
    freed += gone->msg.get_as<bool>(3) ? 1 : 0;
    CHECK(freed == 1);
    CHECK(x.storage->count(apply_atom::value) == 0);
    CHECK(x.dispatcher->count(apply_atom::value) == 0);
  }

} // TEST_SUITE

} // namespace durable::test
