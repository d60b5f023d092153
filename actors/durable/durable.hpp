#pragma once

/// The one header users include: the executor, handles, task kinds, the
/// typed vocabulary, errors, options and the observer's events. Stores are
/// included separately ("durable/storage/memory_store.hpp", ...), and
/// actor_task() needs "durable/actors/actor_task.hpp".
#include "durable/actors/executor.hpp"
#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/observer.hpp"
#include "durable/options.hpp"
#include "durable/status.hpp"
#include "durable/task_context.hpp"
#include "durable/typed.hpp"
