#pragma once

#include <memory>
#include <string>

#include "durablectl/backend.hpp"

namespace durablectl {

/// Commands against a node's HTTP API (`--url`, `--token`). An error answer
/// becomes a cli_error with the node's message and the exit code of its
/// status (400 usage, 401 unauthorized, 404 not found, other failure).
std::unique_ptr<backend> make_http_backend(const std::string& url,
                                           const std::string& token);

} // namespace durablectl
