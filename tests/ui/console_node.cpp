// durable-console-node: durable-node with the example tasks and the tasks
// the web console's browser test (console_browser.py) acts on. Same flags
// as durable-node.
//
// - ui_fail: fails at once, non-retryable, with its input's `message` as
//   the error (hostile text for the XSS check; failures to bulk-retry).
// - ui_block: runs until cancelled (the cancel cascade).
// - ui_nap: a sleeping task, woken with its input as sleeping id (the big
//   tree's leaves: stored, never run).
// - ui_branch: a parent of `m` children, ui_block ones when `block`, else
//   ui_nap ones with sleeping ids `<tag>-<i>`.
// - ui_tree: a parent of `n` ui_branch children, `<tag>-<i>` each: an
//   n × m tree under one root.
#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "durable/nodes/node.hpp"
#include "example_tasks.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

void register_console_tasks(durable::executor& exec) {
  exec.task<json, int>({.id = "ui_fail", .timeout = 1min},
                       [](durable::task_context&, const json& in) -> int {
                         throw durable::error::non_retryable(
                           in.value("message", std::string{"failed"}));
                       });
  auto block = exec.task<json, int>(
    {.id = "ui_block", .timeout = 10min},
    [](durable::task_context& ctx, const json&) -> int {
      while (!ctx.cancel_token.stop_requested()
             && !ctx.shutdown_token.stop_requested())
        std::this_thread::sleep_for(10ms);
      throw durable::error::retryable("Stopped before finishing");
    });
  auto nap = exec.sleeping_task<std::string>(
    {.id = "ui_nap", .timeout = 60min});
  auto branch = exec.parent_task<json, int>(
    {.id = "ui_branch", .timeout = 60min},
    [block, nap](durable::task_context&, const json& in) {
      durable::parent_output<int> out;
      const int m = in.value("m", 0);
      const auto tag = in.value("tag", std::string{"leaf"});
      for (int i = 0; i < m; ++i)
        if (in.value("block", false))
          out.children.add(block, json::object());
        else
          out.children.add(nap, tag + "-" + std::to_string(i));
      return out;
    });
  exec.parent_task<json, int>(
    {.id = "ui_tree", .timeout = 60min},
    [branch](durable::task_context&, const json& in) {
      durable::parent_output<int> out;
      const int n = in.value("n", 0);
      const auto tag = in.value("tag", std::string{"tree"});
      for (int i = 0; i < n; ++i)
        out.children.add(branch, json{{"m", in.value("m", 0)},
                                      {"block", in.value("block", false)},
                                      {"tag", tag + "-" + std::to_string(i)}});
      return out;
    });
}

} // namespace

int main(int argc, char** argv) {
  return durable::nodes::run_node(
    argc, argv,
    {.name = "durable-console-node",
     .description = "A durable node running the example tasks and the web "
                    "console test's tasks.",
     .register_tasks = [](durable::executor& exec,
                          const durable::nodes::node_config& cfg) {
       durable::examples::register_example_tasks(exec, cfg.name);
       register_console_tasks(exec);
     }});
}
