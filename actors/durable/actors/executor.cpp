#include "durable/actors/executor.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <caf/all.hpp>

#include <fmt/format.h>

#include "durable/actors/caf_threads.hpp"
#include "durable/actors/engine.hpp"
#include "durable/actors/executor_actor.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/requests.hpp"
#include "durable/actors/scheduler.hpp"
#include "durable/actors/wire_errors.hpp"
#include "durable/ids.hpp"

namespace durable {

namespace {

constexpr auto release_timeout = std::chrono::seconds{10};
constexpr auto stop_timeout = std::chrono::seconds{10};

/// A scoped actor for one blocking call from the caller's thread, which
/// leaves no reference to the logger behind (actors::release_thread_logger()).
class blocking_call {
public:
  explicit blocking_call(caf::actor_system& sys) : self_(sys) {}

  caf::scoped_actor& self() noexcept {
    return self_;
  }

private:
  /// Declared first, so destroyed after the scoped actor.
  actors::thread_logger_release release_;
  caf::scoped_actor self_;
};

} // namespace

struct executor::impl {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> own_sys;
  caf::actor_system* sys = nullptr;
  actors::runtime_ptr rt;
  actors::executor_actor actor;
  std::uint64_t listener = 0;
  std::atomic<bool> shut{false};
  std::mutex shutdown_mtx;

  /// Threads inside wait(): shutdown() lets them leave before it destroys
  /// the actor system their scoped actors live in (and before ~executor()
  /// frees what they read). Guarded by `waits_mtx`.
  std::mutex waits_mtx;
  std::condition_variable waits_left;
  std::size_t waits_in_progress = 0;
  bool waits_closed = false;

  /// A thread's pass through wait(); empty once shutdown began.
  class wait_pass {
  public:
    explicit wait_pass(impl& x) {
      std::lock_guard guard{x.waits_mtx};
      if (x.waits_closed)
        return;
      ++x.waits_in_progress;
      owner_ = &x;
    }

    ~wait_pass() {
      if (!owner_)
        return;
      // Notified under the lock: once it is released, shutdown() may go on
      // and free `owner_`; nothing here touches it afterwards.
      std::lock_guard guard{owner_->waits_mtx};
      --owner_->waits_in_progress;
      owner_->waits_left.notify_all();
    }

    wait_pass(const wait_pass&) = delete;
    wait_pass& operator=(const wait_pass&) = delete;

    explicit operator bool() const noexcept {
      return owner_ != nullptr;
    }

  private:
    impl* owner_ = nullptr;
  };

  /// Refuses new waits, then waits up to `limit` for those in progress to
  /// leave (they were answered when the dispatcher stopped).
  void close_waits(std::chrono::seconds limit) {
    std::unique_lock guard{waits_mtx};
    waits_closed = true;
    waits_left.wait_for(guard, limit,
                        [this] { return waits_in_progress == 0; });
  }

  void start(std::shared_ptr<store> db, executor_options opts) {
    if (!db)
      throw error::non_retryable("Invalid options: store must not be null");
    rt = std::make_shared<actors::runtime>();
    rt->db = std::move(db);
    rt->tasks = std::make_shared<actors::task_registry>();
    rt->options = std::move(opts);
    rt->incarnation = make_incarnation_id();
    rt->workers = std::make_shared<actors::worker_pool>(
      rt->options.worker_threads);
    listener = actors::start_engine(*sys, rt);
    actor = actors::spawn_executor_actor(*sys, rt);
  }

  /// The dispatcher's counters (blocks on one round trip).
  actors::engine_stats stats() {
    blocking_call call{*sys};
    auto& self = call.self();
    actors::engine_stats out;
    self->request(rt->dispatcher, caf::infinite, actors::stats_atom::value)
      .receive([&](actors::engine_stats& s) { out = s; },
               [&](caf::error& err) {
                 throw actors::engine_failure(*sys, err);
               });
    return out;
  }
};

executor::executor(std::shared_ptr<store> db, executor_options opts)
  : impl_(std::make_unique<impl>()) {
  validate(opts);
  impl_->cfg = std::make_unique<caf::actor_system_config>();
  auto threads = opts.scheduler_threads != 0
                   ? opts.scheduler_threads
                   : std::max(1u, std::thread::hardware_concurrency());
  impl_->cfg->set("scheduler.max-threads", threads);
  actors::use_engine_scheduler(*impl_->cfg);
  impl_->own_sys = std::make_unique<caf::actor_system>(*impl_->cfg);
  // The system pinned its logger to this thread; shutdown() may run on
  // another one.
  actors::release_thread_logger();
  impl_->sys = impl_->own_sys.get();
  impl_->start(std::move(db), std::move(opts));
}

executor::executor(caf::actor_system& sys, std::shared_ptr<store> db,
                   executor_options opts)
  : impl_(std::make_unique<impl>()) {
  validate(opts);
  impl_->sys = &sys;
  impl_->start(std::move(db), std::move(opts));
}

executor::~executor() {
  shutdown();
}

void executor::add(task_definition def) {
  if (impl_->shut.load())
    throw error::non_retryable("Durable executor shutdown");
  validate(def.options);
  if (def.kind == task_kind::sequence && def.steps.empty())
    throw error::non_retryable("No tasks provided");
  for (const auto& step : def.steps)
    actors::find_task(*impl_->rt, step);
  if (!def.finalize_task.empty()
      && actors::find_task(*impl_->rt, def.finalize_task)->kind
           == task_kind::sleeping)
    throw error::non_retryable("Finalize task cannot be a sleeping task");
  impl_->rt->tasks->add(std::move(def));
  // A new task may have work waiting in the store already.
  caf::anon_send(impl_->rt->dispatcher, actors::poll_atom::value);
}

std::vector<std::string> executor::enqueue_raw(const std::string& task_id,
                                               std::vector<std::string> inputs,
                                               const enqueue_options& opts) {
  return enqueue_raw_async(task_id, std::move(inputs), opts).get();
}

std::future<std::vector<std::string>>
executor::enqueue_raw_async(const std::string& task_id,
                            std::vector<std::string> inputs,
                            const enqueue_options& opts) {
  return enqueue_payloads(task_id, std::move(inputs), opts, true);
}

std::future<std::vector<std::string>>
executor::enqueue_payloads(const std::string& task_id,
                           std::vector<std::string> inputs,
                           const enqueue_options& opts, bool check_inputs) {
  auto rows = actors::make_enqueue_rows(*impl_->rt, task_id, std::move(inputs),
                                        opts, check_inputs);
  auto promise = std::make_shared<std::promise<std::vector<std::string>>>();
  auto future = promise->get_future();
  auto names = actors::names_of(rows);
  actors::insert_callback cb = [promise, names](actors::insert_reply reply) {
    try {
      promise->set_value(actors::enqueued_ids(names, reply));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  };
  caf::anon_send(impl_->rt->new_rows_sink(), actors::insert_atom::value,
                 std::move(rows), std::move(cb));
  return future;
}

execution_record executor::get(const std::string& execution_id) {
  std::optional<execution_record> row;
  if (impl_->shut.load()) {
    // Handles keep working after shutdown: they read the store directly.
    return actors::found_record(
      actors::read_execution(*impl_->rt->db, execution_id), execution_id);
  }
  blocking_call call{*impl_->sys};
  auto& self = call.self();
  self
    ->request(impl_->rt->storage, caf::infinite, actors::fetch_atom::value,
              execution_id)
    .receive([&](actors::maybe_record& r) { row = std::move(r.record); },
             [&](caf::error& err) {
               throw actors::engine_failure(*impl_->sys, err);
             });
  return actors::found_record(std::move(row), execution_id);
}

std::optional<execution_record> executor::wait(const std::string& execution_id,
                                               std::optional<millis> timeout) {
  impl::wait_pass pass{*impl_};
  if (!pass) {
    // After shutdown nothing would announce the end: answer from the store.
    auto row = actors::found_record(
      actors::read_execution(*impl_->rt->db, execution_id), execution_id);
    if (row.is_finished())
      return row;
    throw actors::shut_down_while_waiting(execution_id);
  }
  // Not-found before waiting; a finished execution is returned at once,
  // whatever the timeout (even zero). Read from the store on this thread,
  // not through the storage actor: a timed wait must not queue behind
  // commits that take long (a slow disk, a lock, a large batch).
  try {
    auto current = actors::found_record(
      actors::read_execution(*impl_->rt->db, execution_id), execution_id);
    if (current.is_finished())
      return current;
  } catch (const error& e) {
    if (e.kind() != error_kind::not_found && impl_->shut.load())
      throw actors::shut_down_while_waiting(execution_id);
    throw;
  }
  blocking_call call{*impl_->sys};
  auto& self = call.self();
  std::optional<execution_record> row;
  bool timed_out = false;
  // A timed wait tells the dispatcher its deadline, so that a wait that
  // gives up leaves nothing behind.
  auto t = timeout ? caf::duration{*timeout} : caf::infinite;
  auto msg = timeout
               ? caf::make_message(actors::watch_atom::value, execution_id,
                                   caf::timespan{*timeout})
               : caf::make_message(actors::watch_atom::value, execution_id);
  self->request(impl_->rt->dispatcher, t, std::move(msg))
    .receive([&](actors::maybe_record& r) { row = std::move(r.record); },
             [&](caf::error& err) {
               if (err == caf::sec::request_timeout) {
                 timed_out = true;
                 return;
               }
               // Not found, or the dispatcher's answer at shutdown.
               if (auto e = actors::from_caf_error(err))
                 throw *e;
               // The dispatcher stopped before this wait reached it.
               if (impl_->shut.load())
                 throw actors::shut_down_while_waiting(execution_id);
               throw actors::engine_failure(*impl_->sys, err);
             });
  if (timed_out)
    return std::nullopt;
  return actors::found_record(std::move(row), execution_id);
}

execution_record executor::cancel(const std::string& execution_id) {
  blocking_call call{*impl_->sys};
  auto& self = call.self();
  std::optional<execution_record> row;
  self
    ->request(impl_->rt->storage, caf::infinite, actors::cancel_atom::value,
              execution_id)
    .receive([&](actors::maybe_record& r) { row = std::move(r.record); },
             [&](caf::error& err) {
               throw actors::engine_failure(*impl_->sys, err);
             });
  return actors::found_record(std::move(row), execution_id);
}

execution_record executor::wake_raw(const std::string& task_id,
                                    const std::string& sleeping_id,
                                    std::optional<std::string> output,
                                    const std::string& error_message) {
  auto req = actors::make_wake_request(*impl_->rt, task_id, sleeping_id,
                                       std::move(output), error_message);
  blocking_call call{*impl_->sys};
  auto& self = call.self();
  actors::wake_reply reply;
  self
    ->request(impl_->rt->storage, caf::infinite, actors::wake_atom::value,
              std::move(req))
    .receive([&](actors::wake_reply& r) { reply = std::move(r); },
             [&](caf::error& err) {
               throw actors::engine_failure(*impl_->sys, err);
             });
  return actors::woken_record(std::move(reply), sleeping_id);
}

void executor::check_handle(const std::string& task_id,
                            const std::string& execution_id) {
  actors::check_running(*impl_->rt);
  actors::find_task(*impl_->rt, task_id);
  auto row = get(execution_id);
  if (row.task_id != task_id)
    throw error::not_found(
      fmt::format("Task execution belongs to another task [executionId={}] "
                  "[taskId={}] [actualTaskId={}]",
                  execution_id, task_id, row.task_id));
}

void executor::shutdown() {
  std::lock_guard guard{impl_->shutdown_mtx};
  if (impl_->shut.exchange(true) || !impl_->rt)
    return;
  auto& rt = impl_->rt;
  auto& sys = *impl_->sys;
  rt->shutdown.request_stop();
  caf::anon_send_exit(impl_->actor, caf::exit_reason::user_shutdown);
  impl_->actor = nullptr;
  {
    blocking_call call{sys};
    auto& self = call.self();
    auto grace = caf::duration{rt->options.shutdown_grace};
    self->request(rt->dispatcher, grace, actors::drain_atom::value)
      .receive([](bool) {}, [](caf::error&) {});
    self
      ->request(rt->storage, caf::duration{release_timeout},
                actors::release_atom::value)
      .receive([](std::size_t) {}, [](caf::error&) {});
    std::vector<caf::actor> services{rt->dispatcher,   rt->janitor,
                                     rt->lease_keeper, rt->storage,
                                     rt->inserter,     rt->claimer,
                                     rt->timers};
    if (rt->pruner)
      services.push_back(rt->pruner);
    for (auto& a : services)
      self->monitor(a);
    actors::stop_engine(rt, impl_->listener);
    std::size_t down = 0;
    bool waiting = true;
    while (waiting && down < services.size())
      self->receive([&](caf::down_msg&) { ++down; },
                    caf::after(stop_timeout) >> [&] { waiting = false; });
  }
  // The dispatcher answered every wait as it stopped; their threads leave
  // now. Our actor system's destructor would wait for their scoped actors.
  impl_->close_waits(stop_timeout);
  // Bodies first: their jobs hold execution actors, which hold the storage
  // actor; a detached actor's thread ends only once nothing refers to it.
  rt->workers->close();
  rt->storage = nullptr;
  rt->inserter = nullptr;
  rt->claimer = nullptr;
  rt->pruner = nullptr;
  rt->lease_keeper = nullptr;
  impl_->own_sys.reset(); // joins every actor of our own system
}

bool executor::is_shut_down() const noexcept {
  return impl_->shut.load();
}

std::size_t executor::running_count() {
  return impl_->stats().running_bodies;
}

std::size_t executor::waiter_count() {
  return impl_->stats().waiters;
}

std::vector<std::string> executor::task_ids() const {
  auto ids = impl_->rt->tasks->ids();
  std::sort(ids.begin(), ids.end());
  return ids;
}

const std::string& executor::incarnation() const noexcept {
  return impl_->rt->incarnation;
}

const executor_options& executor::options() const noexcept {
  return impl_->rt->options;
}

const actors::executor_actor& executor::actor() const noexcept {
  return impl_->actor;
}

caf::actor_system& executor::system() noexcept {
  return *impl_->sys;
}

const std::shared_ptr<store>& executor::storage() const noexcept {
  return impl_->rt->db;
}

} // namespace durable
