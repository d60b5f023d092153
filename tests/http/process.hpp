#pragma once

#include <string>
#include <utility>
#include <vector>

/// Runs a program as a real child process, as a user's shell would, and
/// collects what it printed and how it exited.
namespace durable::test::http {

struct process_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `exe` with `args` and the environment of this process minus the
/// `DURABLE_*` variables, plus `env`. Kills it (and fails the test) if it
/// is still running after the hang guard.
process_result
run_process(const std::string& exe, const std::vector<std::string>& args,
            const std::vector<std::pair<std::string, std::string>>& env = {});

} // namespace durable::test::http
