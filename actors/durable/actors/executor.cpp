#include "durable/actors/executor.hpp"

#include <mutex>
#include <thread>

#include <caf/all.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/actors/engine.hpp"
#include "durable/actors/messages.hpp"
#include "durable/ids.hpp"

namespace durable {

namespace {

constexpr std::size_t max_sleeping_id_length = 255;
constexpr auto release_timeout = std::chrono::seconds{10};
constexpr auto stop_timeout = std::chrono::seconds{10};

[[noreturn]] void throw_caf(caf::actor_system& sys, const caf::error& err) {
  throw error::internal(sys.render(err), true);
}

std::string sleeping_id_of(const std::string& task_id,
                           const std::string& input) {
  auto j = nlohmann::json::parse(input, nullptr, false);
  if (!j.is_string() || j.get<std::string>().empty()
      || j.get<std::string>().size() > max_sleeping_id_length)
    throw error::non_retryable(fmt::format(
      "Invalid sleeping task unique id for task {}: must be a non-empty "
      "string of at most 255 characters",
      task_id));
  return j.get<std::string>();
}

} // namespace

struct executor::impl {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> own_sys;
  caf::actor_system* sys = nullptr;
  actors::runtime_ptr rt;
  std::uint64_t listener = 0;
  std::atomic<bool> shut{false};
  std::mutex shutdown_mtx;

  void start(std::shared_ptr<store> db, executor_options opts) {
    if (!db)
      throw error::non_retryable("Invalid options: store must not be null");
    rt = std::make_shared<actors::runtime>();
    rt->db = std::move(db);
    rt->tasks = std::make_shared<actors::task_registry>();
    rt->options = std::move(opts);
    rt->incarnation = make_incarnation_id();
    rt->workers
      = std::make_shared<actors::worker_pool>(rt->options.worker_threads);
    listener = actors::start_engine(*sys, rt);
  }

  /// Builds the rows of new executions, validating everything first so that
  /// a refused call stores nothing.
  std::vector<execution_record> make_rows(const std::string& task_id,
                                          std::vector<std::string> inputs,
                                          const enqueue_options& o) {
    if (shut.load())
      throw error::non_retryable("Durable executor shutdown");
    auto def = rt->tasks->find(task_id);
    if (!def)
      throw error::not_found(
        fmt::format("Task not found [taskId={}]", task_id));
    auto opts = merge(def->options, o);
    auto now = rt->db->now();
    std::vector<execution_record> rows;
    rows.reserve(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      auto& input = inputs[i];
      if (input.size() > rt->options.max_input_bytes)
        throw error::non_retryable(fmt::format(
          "Serialized data size exceeds maximum allowed size [size={}] "
          "[maxSize={}]",
          input.size(), rt->options.max_input_bytes));
      std::optional<std::string> sleeping_id;
      if (def->kind == task_kind::sleeping) {
        sleeping_id = sleeping_id_of(task_id, input);
        input = "null";
      }
      auto row = make_execution(task_id, def->kind, opts, std::move(input),
                                now);
      row.sleeping_id = std::move(sleeping_id);
      if (o.idempotency_key)
        row.idempotency_key = inputs.size() == 1
                                ? *o.idempotency_key
                                : fmt::format("{}:{}", *o.idempotency_key, i);
      rows.push_back(std::move(row));
    }
    return rows;
  }

  static std::vector<std::string>
  ids_of(const std::vector<execution_record>& rows,
         const actors::insert_reply& reply) {
    if (!reply.error.empty())
      throw error::internal("Storage error: " + reply.error, true);
    std::vector<std::string> ids;
    ids.reserve(reply.outcomes.size());
    for (std::size_t i = 0; i < reply.outcomes.size(); ++i) {
      const auto& o = reply.outcomes[i];
      switch (o.result) {
        case insert_outcome::kind::inserted:
        case insert_outcome::kind::duplicate_key:
          ids.push_back(o.execution_id);
          break;
        case insert_outcome::kind::duplicate_sleeping_id:
          throw error::non_retryable(fmt::format(
            "Sleeping task unique id already exists "
            "[sleepingTaskUniqueId={}]",
            rows[i].sleeping_id.value_or("")));
        case insert_outcome::kind::duplicate_id:
          throw error::internal(
            fmt::format("Duplicate execution id [executionId={}]",
                        o.execution_id));
      }
    }
    return ids;
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
  impl_->own_sys = std::make_unique<caf::actor_system>(*impl_->cfg);
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
    if (!impl_->rt->tasks->find(step))
      throw error::not_found(fmt::format("Task not found [taskId={}]", step));
  if (!def.finalize_task.empty() && !impl_->rt->tasks->find(def.finalize_task))
    throw error::not_found(
      fmt::format("Task not found [taskId={}]", def.finalize_task));
  if (!def.finalize_task.empty()
      && impl_->rt->tasks->find(def.finalize_task)->kind
           == task_kind::sleeping)
    throw error::non_retryable("Finalize task cannot be a sleeping task");
  impl_->rt->tasks->add(std::move(def));
  // A new task may have work waiting in the store already.
  caf::anon_send(impl_->rt->dispatcher, actors::poll_atom::value);
}

std::vector<std::string>
executor::enqueue_raw(const std::string& task_id,
                      std::vector<std::string> inputs,
                      const enqueue_options& opts) {
  return enqueue_raw_async(task_id, std::move(inputs), opts).get();
}

std::future<std::vector<std::string>>
executor::enqueue_raw_async(const std::string& task_id,
                            std::vector<std::string> inputs,
                            const enqueue_options& opts) {
  auto rows = impl_->make_rows(task_id, std::move(inputs), opts);
  auto promise = std::make_shared<std::promise<std::vector<std::string>>>();
  auto future = promise->get_future();
  auto sleeping_ids = std::make_shared<std::vector<execution_record>>();
  for (const auto& r : rows) {
    execution_record light;
    light.sleeping_id = r.sleeping_id;
    sleeping_ids->push_back(std::move(light));
  }
  actors::insert_callback cb = [promise, sleeping_ids](
                                 actors::insert_reply reply) {
    try {
      promise->set_value(impl::ids_of(*sleeping_ids, reply));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  };
  caf::anon_send(impl_->rt->storage, actors::insert_atom::value,
                 std::move(rows), std::move(cb));
  return future;
}

execution_record executor::get(const std::string& execution_id) {
  std::optional<execution_record> row;
  if (impl_->shut.load()) {
    // Handles keep working after shutdown: they read the store directly.
    row = impl_->rt->db->get(execution_id);
    if (!row)
      throw error::not_found(fmt::format(
        "Task execution not found [executionId={}]", execution_id));
    return std::move(*row);
  }
  caf::scoped_actor self{*impl_->sys};
  self
    ->request(impl_->rt->storage, caf::infinite, actors::fetch_atom::value,
              execution_id)
    .receive([&](actors::maybe_record& r) { row = std::move(r.record); },
             [&](caf::error& err) { throw_caf(*impl_->sys, err); });
  if (!row)
    throw error::not_found(fmt::format(
      "Task execution not found [executionId={}]", execution_id));
  return std::move(*row);
}

std::optional<execution_record>
executor::wait(const std::string& execution_id,
               std::optional<millis> timeout) {
  // Not-found before waiting; a finished execution is returned at once,
  // whatever the timeout (even zero).
  if (auto current = get(execution_id); current.is_finished())
    return current;
  caf::scoped_actor self{*impl_->sys};
  std::optional<execution_record> row;
  bool timed_out = false;
  auto t = timeout ? caf::duration{*timeout} : caf::infinite;
  self
    ->request(impl_->rt->dispatcher, t, actors::watch_atom::value,
              execution_id)
    .receive([&](actors::maybe_record& r) { row = std::move(r.record); },
             [&](caf::error& err) {
               if (err == caf::sec::request_timeout) {
                 timed_out = true;
                 return;
               }
               throw error::not_found(fmt::format(
                 "Task execution not found [executionId={}]", execution_id));
             });
  if (timed_out)
    return std::nullopt;
  if (!row)
    throw error::not_found(fmt::format(
      "Task execution not found [executionId={}]", execution_id));
  return row;
}

execution_record executor::cancel(const std::string& execution_id) {
  caf::scoped_actor self{*impl_->sys};
  std::optional<execution_record> row;
  self
    ->request(impl_->rt->storage, caf::infinite, actors::cancel_atom::value,
              execution_id)
    .receive([&](actors::maybe_record& r) { row = std::move(r.record); },
             [&](caf::error& err) { throw_caf(*impl_->sys, err); });
  if (!row)
    throw error::not_found(fmt::format(
      "Task execution not found [executionId={}]", execution_id));
  return std::move(*row);
}

execution_record executor::wake_raw(const std::string& task_id,
                                    const std::string& sleeping_id,
                                    std::optional<std::string> output,
                                    const std::string& error_message) {
  if (impl_->shut.load())
    throw error::non_retryable("Durable executor shutdown");
  auto def = impl_->rt->tasks->find(task_id);
  if (!def)
    throw error::not_found(
      fmt::format("Task not found [taskId={}]", task_id));
  if (def->kind != task_kind::sleeping)
    throw error::non_retryable(
      fmt::format("Task is not a sleeping task [taskId={}]", task_id));
  if (output && output->size() > impl_->rt->options.max_output_bytes)
    throw error::non_retryable(fmt::format(
      "Serialized data size exceeds maximum allowed size [size={}] "
      "[maxSize={}]",
      output->size(), impl_->rt->options.max_output_bytes));
  caf::scoped_actor self{*impl_->sys};
  actors::wake_reply reply;
  self
    ->request(impl_->rt->storage, caf::infinite, actors::wake_atom::value,
              actors::wake_request{task_id, sleeping_id, std::move(output),
                                   error_message})
    .receive([&](actors::wake_reply& r) { reply = std::move(r); },
             [&](caf::error& err) { throw_caf(*impl_->sys, err); });
  if (reply.error)
    throw error{*reply.error};
  if (!reply.record || !reply.record->is_finished())
    throw error::internal(fmt::format(
      "Sleeping task execution could not be woken [sleepingTaskUniqueId={}]",
      sleeping_id));
  return std::move(*reply.record);
}

void executor::check_handle(const std::string& task_id,
                            const std::string& execution_id) {
  if (impl_->shut.load())
    throw error::non_retryable("Durable executor shutdown");
  if (!impl_->rt->tasks->find(task_id))
    throw error::not_found(
      fmt::format("Task not found [taskId={}]", task_id));
  auto row = get(execution_id);
  if (row.task_id != task_id)
    throw error::not_found(fmt::format(
      "Task execution belongs to another task [executionId={}] "
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
  {
    caf::scoped_actor self{sys};
    auto grace = caf::duration{rt->options.shutdown_grace};
    self->request(rt->dispatcher, grace, actors::drain_atom::value)
      .receive([](bool) {}, [](caf::error&) {});
    self->request(rt->storage, caf::duration{release_timeout},
                  actors::release_atom::value)
      .receive([](std::size_t) {}, [](caf::error&) {});
    std::vector<caf::actor> services{rt->dispatcher, rt->janitor,
                                     rt->lease_keeper, rt->storage,
                                     rt->timers};
    for (auto& a : services)
      self->monitor(a);
    actors::stop_engine(rt, impl_->listener);
    std::size_t down = 0;
    bool waiting = true;
    while (waiting && down < services.size())
      self->receive([&](caf::down_msg&) { ++down; },
                    caf::after(stop_timeout) >> [&] { waiting = false; });
  }
  // Bodies first: their jobs hold execution actors, which hold the storage
  // actor; a detached actor's thread ends only once nothing refers to it.
  rt->workers->close();
  rt->storage = nullptr;
  rt->lease_keeper = nullptr;
  impl_->own_sys.reset(); // joins every actor of our own system
}

bool executor::is_shut_down() const noexcept {
  return impl_->shut.load();
}

std::size_t executor::running_count() {
  caf::scoped_actor self{*impl_->sys};
  std::size_t n = 0;
  self
    ->request(impl_->rt->dispatcher, caf::infinite, actors::stats_atom::value)
    .receive([&](actors::engine_stats& s) { n = s.running_bodies; },
             [&](caf::error& err) { throw_caf(*impl_->sys, err); });
  return n;
}

const std::string& executor::incarnation() const noexcept {
  return impl_->rt->incarnation;
}

const executor_options& executor::options() const noexcept {
  return impl_->rt->options;
}

caf::actor_system& executor::system() noexcept {
  return *impl_->sys;
}

const std::shared_ptr<store>& executor::storage() const noexcept {
  return impl_->rt->db;
}

} // namespace durable
