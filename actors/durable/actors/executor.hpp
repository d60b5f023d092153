#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/fwd.hpp>

#include "durable/actors/executor_actor.hpp"
#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/options.hpp"
#include "durable/store.hpp"
#include "durable/task_definition.hpp"
#include "durable/typed.hpp"

namespace durable {

class executor;

/// A typed handle on one execution. Cheap to copy; valid while its executor
/// lives. Every call reads or writes the store, so it sees what any node did.
template <class Out>
class handle {
public:
  /// A handle on `execution_id` of `task_id`, served by `exec`. Built by
  /// executor::enqueue() and executor::get_handle() (which checks that the
  /// execution belongs to the task); nothing is checked here.
  handle(executor* exec, std::string task_id, std::string execution_id)
    : exec_(exec),
      task_id_(std::move(task_id)),
      execution_id_(std::move(execution_id)) {}

  /// The id of the execution's task.
  const std::string& task_id() const noexcept {
    return task_id_;
  }

  /// The execution's id (`te_…`).
  const std::string& execution_id() const noexcept {
    return execution_id_;
  }

  /// The execution as stored now. Throws not-found if it is gone.
  execution_record get() const;

  /// Blocks until the execution finished and returns it.
  ///
  /// **When it returns.** Usually pushed: the waiting thread is woken by
  /// the store's announcement of the end, within milliseconds. Where no
  /// announcement comes (a PostgreSQL store with `listen = false` waiting
  /// on another node's work, a lost NOTIFY), the executor re-reads the
  /// executions waited on every `poll_interval`, 100 per round: a wait
  /// returns within `poll_interval × ceil(E / 100)` plus one store read
  /// after the end, E being the executions this executor waits on at once
  /// (one `poll_interval`, 500 ms by default, up to 100 of them). An idle
  /// executor (nobody waiting) reads nothing for this.
  ///
  /// @throws durable::error not-found if the execution does not exist (or
  ///         is erased while waited on); a generic non-retryable
  ///         "Executor shut down while waiting [executionId=…]" if the
  ///         executor shuts down first (see executor::shutdown()).
  finished<Out> wait() const;

  /// Like wait() (same bound, same errors), but gives up after `timeout`
  /// and returns nullopt, also while the engine's commits hang: its first
  /// read (not found, or finished already) goes to the store from the
  /// calling thread, and only that read can take longer than `timeout`.
  std::optional<finished<Out>> wait_for(millis timeout) const;

  /// Cancels the execution and its unfinished descendants. A no-op on a
  /// finished execution; safe to repeat and to race.
  void cancel() const;

private:
  executor* exec_;
  std::string task_id_;
  std::string execution_id_;
};

/// The executor: registers tasks, enqueues executions, runs them.
///
/// It owns an actor system (or joins the caller's), starts its engine at
/// construction, and claims only the tasks registered with it. Tasks may be
/// registered at any time; registration is what makes a node run a task.
///
/// Threading: every member function is safe to call from any thread except
/// from inside the executor's own actors (blocking calls there would wait
/// on the very scheduler they need). Task bodies may call enqueue().
///
/// Errors: refused calls throw durable::error with the reference's
/// messages; a refused call never changes a stored execution.
class executor {
public:
  // -- construction -----------------------------------------------------------

  /// An executor with an actor system of its own (scheduler threads from
  /// `opts.scheduler_threads`, default one per core).
  explicit executor(std::shared_ptr<store> db, executor_options opts = {});

  /// An executor spawned inside the caller's actor system.
  executor(caf::actor_system& sys, std::shared_ptr<store> db,
           executor_options opts = {});

  /// Shuts down (see shutdown()).
  ~executor();

  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  // -- task definitions -------------------------------------------------------

  /// A plain task: `body(task_context&, const In&) -> Out`.
  template <class In, class Out, class F>
  task_ref<In, Out> task(task_options opts, F body) {
    return task_with_validation<In, Out>(std::move(opts), std::move(body),
                                         nullptr);
  }

  /// A plain task whose input passes `validate` (which may transform it)
  /// before the body runs; a throw fails the execution, non-retryable, with
  /// "Invalid input to task <id>: <message>".
  template <class In, class Out, class F>
  task_ref<In, Out> task_with_validation(task_options opts, F body,
                                         std::function<In(In)> validate) {
    task_definition def;
    def.kind = task_kind::task;
    def.options = std::move(opts);
    def.run = [body = std::move(body), validate = std::move(validate),
               id = def.options.id](task_context& ctx,
                                    const std::string& input) {
      auto in = parse_input<In>(id, input, validate);
      return to_payload(body(ctx, in));
    };
    def.check_input = input_check<In>(def.options.id);
    auto id = def.options.id;
    add(std::move(def));
    return task_ref<In, Out>{id};
  }

  /// A parent task without finalize: its output is every child's result in
  /// order, with its own output (`parent_result<O>`).
  template <class In, class O, class F>
  task_ref<In, parent_result<O>> parent_task(task_options opts, F body) {
    auto def = parent_definition<In, O>(std::move(opts), std::move(body));
    auto id = def.options.id;
    add(std::move(def));
    return task_ref<In, parent_result<O>>{id};
  }

  /// A parent task with an inline finalize function `(const
  /// finalize_input<O, C>&) -> Out`; C is taken from the function.
  template <class In, class O, class F, class Fin>
  auto parent_task(task_options opts, F body, finalize_function<Fin> fin) {
    using input_t = std::decay_t<typename first_arg<Fin>::type>;
    using out_t = std::decay_t<std::invoke_result_t<Fin&, const input_t&>>;
    auto def = parent_definition<In, O>(std::move(opts), std::move(body));
    def.finalize_function = [fn = std::move(fin.fn)](const std::string& in) {
      return to_payload(fn(from_payload<input_t>(in)));
    };
    auto id = def.options.id;
    add(std::move(def));
    return task_ref<In, out_t>{id};
  }

  /// A parent task whose finalize is another task (or parent task) taking
  /// `finalize_input<O, C>`; the parent's output is the finalize's output.
  template <class In, class O, class F, class FinIn, class Out>
  task_ref<In, Out>
  parent_task(task_options opts, F body, const task_ref<FinIn, Out>& fin) {
    auto def = parent_definition<In, O>(std::move(opts), std::move(body));
    def.finalize_task = fin.id();
    auto id = def.options.id;
    add(std::move(def));
    return task_ref<In, Out>{id};
  }

  /// A sleeping task: no body; enqueued with a unique id (the input) and
  /// woken from outside with wake(), or timed out after `opts.timeout`.
  template <class Out>
  task_ref<std::string, Out> sleeping_task(task_options opts) {
    task_definition def;
    def.kind = task_kind::sleeping;
    def.options = std::move(opts);
    auto id = def.options.id;
    add(std::move(def));
    return task_ref<std::string, Out>{id};
  }

  /// A chain of tasks: each output is the next input (checked at compile
  /// time); the output is the last step's output. A step that does not
  /// complete ends the chain `finalize_failed`.
  template <class In, class Mid, class... Rest>
  auto sequence(std::string id, const task_ref<In, Mid>& first,
                const Rest&... rest) {
    using out_t = typename chain<Mid, Rest...>::output;
    task_definition def;
    def.kind = task_kind::sequence;
    def.options = {std::move(id), sequence_timeout};
    def.steps = {first.id(), rest.id()...};
    auto tid = def.options.id;
    add(std::move(def));
    return task_ref<In, out_t>{tid};
  }

  /// A loop: runs `iteration` (which returns loop_step<T>) until it reports
  /// done or `max_iterations` ran, pausing `pause(k)` before iteration k.
  template <class In, class T>
  task_ref<In, loop_result<T>>
  looping_task(std::string id, const task_ref<In, loop_step<T>>& iteration,
               int max_iterations, std::function<millis(int)> pause = nullptr) {
    if (max_iterations <= 0)
      throw error::non_retryable("Invalid max attempts for looping task " + id
                                 + ": must be >= 1");
    task_definition def;
    def.kind = task_kind::loop;
    def.options = {std::move(id), sequence_timeout};
    def.iteration_task = iteration.id();
    def.max_iterations = max_iterations;
    def.iteration_pause = std::move(pause);
    auto tid = def.options.id;
    add(std::move(def));
    return task_ref<In, loop_result<T>>{tid};
  }

  /// A task whose body is a CAF actor: the input is sent as a request and
  /// the reply (of type Out) is the output (defined in
  /// "durable/actors/actor_task.hpp", which includes CAF).
  template <class In, class Out>
  task_ref<In, Out> actor_task(task_options opts, caf::actor worker);

  // -- enqueue ----------------------------------------------------------------

  /// Persists a new execution and returns its handle. Throws for an unknown
  /// task, invalid overrides, oversize input or after shutdown.
  template <class In, class Out>
  handle<Out> enqueue(const task_ref<In, Out>& t, const In& input,
                      enqueue_options opts = {}) {
    auto ids = enqueue_payloads(t.id(), {to_payload(input)}, opts, false).get();
    return handle<Out>{this, t.id(), std::move(ids.front())};
  }

  /// Persists many executions of one task in one batch.
  template <class In, class Out>
  std::vector<handle<Out>> enqueue_many(const task_ref<In, Out>& t,
                                        const std::vector<In>& inputs,
                                        enqueue_options opts = {}) {
    std::vector<std::string> payloads;
    payloads.reserve(inputs.size());
    for (const auto& x : inputs)
      payloads.push_back(to_payload(x));
    auto ids = enqueue_payloads(t.id(), std::move(payloads), opts, false).get();
    std::vector<handle<Out>> result;
    result.reserve(ids.size());
    for (auto& id : ids)
      result.emplace_back(this, t.id(), std::move(id));
    return result;
  }

  /// Like enqueue(), without blocking: the future holds the handle once the
  /// execution is stored, or the error.
  template <class In, class Out>
  std::future<handle<Out>> enqueue_async(const task_ref<In, Out>& t,
                                         const In& input,
                                         enqueue_options opts = {}) {
    auto ids = enqueue_payloads(t.id(), {to_payload(input)}, opts, false);
    return std::async(std::launch::deferred,
                      [this, id = t.id(), ids = std::move(ids)]() mutable {
                        auto v = ids.get();
                        return handle<Out>{this, id, std::move(v.front())};
                      });
  }

  /// Rebuilds a handle; throws not-found if the task is not registered, the
  /// execution does not exist, or it belongs to another task.
  template <class In, class Out>
  handle<Out>
  get_handle(const task_ref<In, Out>& t, const std::string& execution_id) {
    check_handle(t.id(), execution_id);
    return handle<Out>{this, t.id(), execution_id};
  }

  /// Completes a sleeping execution; returns it as finished. Waking an
  /// execution that already finished returns it unchanged.
  template <class Out>
  execution_record wake(const task_ref<std::string, Out>& t,
                        const std::string& sleeping_id,
                        wake_completed<Out> outcome) {
    return wake_raw(t.id(), sleeping_id, to_payload(outcome.output), {});
  }

  /// Fails a sleeping execution with a non-retryable error.
  template <class Out>
  execution_record wake(const task_ref<std::string, Out>& t,
                        const std::string& sleeping_id, wake_failed outcome) {
    return wake_raw(t.id(), sleeping_id, std::nullopt, outcome.message);
  }

  // -- untyped API (JSON text payloads; for gateways and tools) ---------------

  /// Enqueues executions of `task_id`, one per input; returns their ids in
  /// order (for a repeated idempotency key, the first execution's id). An
  /// input that does not parse into a typed task's input type is refused
  /// here (task_definition::check_input), not failed when it runs.
  std::vector<std::string> enqueue_raw(const std::string& task_id,
                                       std::vector<std::string> inputs,
                                       const enqueue_options& opts = {});

  /// Like enqueue_raw(), without blocking for the store: the future holds
  /// the ids once the executions are stored, or the store's error. A
  /// refusal found before the write (unknown task, invalid options or
  /// input, oversize input) throws here.
  std::future<std::vector<std::string>>
  enqueue_raw_async(const std::string& task_id, std::vector<std::string> inputs,
                    const enqueue_options& opts = {});

  /// The stored execution; throws not-found.
  execution_record get(const std::string& execution_id);

  /// Waits for the end of an execution (nullopt on timeout); when it
  /// returns and what it throws: handle::wait(). After shutdown() it
  /// answers from the store: a finished execution is returned, an
  /// unfinished one refused with "Executor shut down while waiting".
  std::optional<execution_record> wait(const std::string& execution_id,
                                       std::optional<millis> timeout = {});

  /// Cancels; returns the execution as stored afterwards.
  execution_record cancel(const std::string& execution_id);

  /// Wakes a sleeping execution with an output (JSON text) or an error.
  execution_record
  wake_raw(const std::string& task_id, const std::string& sleeping_id,
           std::optional<std::string> output, const std::string& error_message);

  /// Throws not-found unless `execution_id` exists and belongs to `task_id`.
  void check_handle(const std::string& task_id,
                    const std::string& execution_id);

  /// Registers a definition built by hand (the typed functions use this).
  void add(task_definition def);

  // -- lifecycle and introspection --------------------------------------------

  /// Stops claiming, fires the shutdown token of running bodies, waits up
  /// to `shutdown_grace` for them, hands this node's leases back so that
  /// anything unfinished is recovered at once, and stops every actor of the
  /// executor. Idempotent; may run on any thread (not only the one that
  /// built the executor), and so may the destructor.
  ///
  /// Waits in progress never hold it up: a facade wait() still waiting
  /// when the engine stops (after the grace, so an end within it is still
  /// returned) throws "Executor shut down while waiting [executionId=…]"
  /// on its thread, and shutdown() returns once those threads left the
  /// executor (which they do at once). Waits sent to actor() get the same
  /// error, as soon as shutdown begins.
  void shutdown();

  /// Whether shutdown() has begun (true from its first call on, also while
  /// it still waits for running bodies). Any thread.
  bool is_shut_down() const noexcept;

  /// Bodies running on this node now.
  std::size_t running_count();

  /// Callers of wait() / wait_for() (local or through the executor actor)
  /// waiting now. A timed wait stops counting when it gives up.
  std::size_t waiter_count();

  /// The ids of the tasks added to this executor (add() and the typed
  /// registrations), sorted. Any thread.
  std::vector<std::string> task_ids() const;

  /// This start's incarnation id (the owner of its leases).
  const std::string& incarnation() const noexcept;

  /// The options the executor was built with, as validated.
  const executor_options& options() const noexcept;

  /// The actor system the executor's actors run in (the constructor's
  /// `sys`).
  caf::actor_system& system() noexcept;

  /// The executor as a typed actor (executor_actor.hpp): the same calls as
  /// the untyped API above, as messages, for CAF programs and the gateway.
  /// Null after shutdown().
  const actors::executor_actor& actor() const noexcept;

  /// The store this executor uses.
  const std::shared_ptr<store>& storage() const noexcept;

private:
  /// Sequences and loops have no body of their own; their run timeout only
  /// bounds the (instant) move to the first step.
  static constexpr millis sequence_timeout{30'000};

  /// @cond INTERNAL
  /// The parameter type of a one-argument callable (a non-generic lambda).
  template <class F>
  struct first_arg : first_arg<decltype(&F::operator())> {};

  template <class R, class C, class A>
  struct first_arg<R (C::*)(A) const> {
    using type = A;
  };

  template <class R, class C, class A>
  struct first_arg<R (C::*)(A)> {
    using type = A;
  };

  template <class R, class A>
  struct first_arg<R (*)(A)> {
    using type = A;
  };
  /// @endcond

  template <class Prev, class... Rest>
  struct chain {
    using output = Prev;
  };

  template <class Prev, class In, class Out, class... Rest>
  struct chain<Prev, task_ref<In, Out>, Rest...> {
    static_assert(std::is_same_v<Prev, In>,
                  "sequence: a step's input type must equal the previous "
                  "step's output type");
    using output = typename chain<Out, Rest...>::output;
  };

  template <class In>
  static In parse_input(const std::string& id, const std::string& input,
                        const std::function<In(In)>& validate) {
    In in;
    try {
      in = nlohmann::json::parse(input).get<In>();
    } catch (const std::exception& e) {
      throw error::non_retryable("Invalid input to task " + id + ": "
                                 + e.what());
    }
    if (!validate)
      return in;
    try {
      return validate(std::move(in));
    } catch (const std::exception& e) {
      throw error::non_retryable("Invalid input to task " + id + ": "
                                 + e.what());
    }
  }

  template <class In, class O, class F>
  static task_definition parent_definition(task_options opts, F body) {
    task_definition def;
    def.kind = task_kind::parent;
    def.options = std::move(opts);
    def.run_parent = [body = std::move(body), id = def.options.id](
                       task_context& ctx, const std::string& input) {
      auto in = parse_input<In>(id, input, nullptr);
      parent_output<O> out = body(ctx, in);
      return parent_run{to_payload(out.output),
                        std::move(out.children.items())};
    };
    def.check_input = input_check<In>(def.options.id);
    return def;
  }

  /// task_definition::check_input for input type `In`: the parse of
  /// parse_input(), without the task's own validation (which may do more
  /// than parse and runs with the body).
  template <class In>
  static task_definition::input_check_fn input_check(std::string id) {
    return [id = std::move(id)](const std::string& input) {
      (void)parse_input<In>(id, input, nullptr);
    };
  }

  /// enqueue_raw_async(), with `check_inputs` false for the typed enqueues,
  /// whose payloads were serialized from the input type just before.
  std::future<std::vector<std::string>>
  enqueue_payloads(const std::string& task_id, std::vector<std::string> inputs,
                   const enqueue_options& opts, bool check_inputs);

  struct impl;
  std::unique_ptr<impl> impl_;
};

// -- handle members -----------------------------------------------------------

template <class Out>
execution_record handle<Out>::get() const {
  auto r = exec_->get(execution_id_);
  return r;
}

template <class Out>
finished<Out> handle<Out>::wait() const {
  return make_finished<Out>(*exec_->wait(execution_id_));
}

template <class Out>
std::optional<finished<Out>> handle<Out>::wait_for(millis timeout) const {
  auto r = exec_->wait(execution_id_, timeout);
  if (!r)
    return std::nullopt;
  return make_finished<Out>(std::move(*r));
}

template <class Out>
void handle<Out>::cancel() const {
  exec_->cancel(execution_id_);
}

} // namespace durable
