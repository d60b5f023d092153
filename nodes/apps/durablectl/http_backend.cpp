#include "durablectl/http_backend.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include "durable/nodes/http/remote_task.hpp"

namespace durablectl {

namespace {

constexpr auto connect_timeout = std::chrono::seconds{10};
/// Reads wait at most this much longer than the node's longest long poll.
constexpr auto read_timeout = std::chrono::seconds{90};

/// Why a request got no answer, in words (httplib's own names are single
/// words such as "Connection").
std::string why_unanswered(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "the connection was refused or failed (is a node listening "
             "there?)";
    case httplib::Error::ConnectionTimeout:
      return fmt::format("no connection within {} s", connect_timeout.count());
    case httplib::Error::Read:
      return fmt::format("no complete answer (the node closed the connection, "
                         "or did not answer within {} s)",
                         read_timeout.count());
    case httplib::Error::Write:
      return "the request could not be sent (the node closed the connection)";
    case httplib::Error::BindIPAddress:
      return "the local address could not be bound";
    default:
      return httplib::to_string(e);
  }
}

int exit_code_of(int status) {
  switch (status) {
    case 400:
    case 405:
    case 413:
      return exit_usage;
    case 401:
      return exit_unauthorized;
    case 404:
      return exit_not_found;
    default:
      return exit_failure;
  }
}

class http_backend final : public backend {
public:
  http_backend(const std::string& url, const std::string& token) : url_(url) {
    durable::nodes::http::split_url where;
    try {
      where = durable::nodes::http::parse_url(url);
    } catch (const std::exception& e) {
      throw cli_error(exit_usage, fmt::format("--url: {}", e.what()));
    }
    prefix_ = where.target == "/" ? "" : where.target;
    while (!prefix_.empty() && prefix_.back() == '/')
      prefix_.pop_back();
    client_ = std::make_unique<httplib::Client>(where.origin);
    client_->set_connection_timeout(connect_timeout);
    client_->set_read_timeout(read_timeout);
    client_->set_tcp_nodelay(true);
    if (!token.empty())
      client_->set_bearer_token_auth(token);
  }

  json enqueue(const std::string& task_id, const json& body) override {
    return answer(
             client_->Post(path("/v1/tasks/" + task_id + "/executions").c_str(),
                           body.dump(), "application/json"))
      .second;
  }

  json get(const std::string& id) override {
    return answer(client_->Get(path("/v1/executions/" + id).c_str())).second;
  }

  std::pair<bool, json> wait(const std::string& id,
                             durable::millis timeout) override {
    auto [status, j] = answer(
      client_->Get(path(fmt::format("/v1/executions/{}/wait?timeout_ms={}", id,
                                    timeout.count()))
                     .c_str()));
    return {status == 200, std::move(j)};
  }

  json tree(const std::string& id, std::size_t max_depth,
            std::size_t max_nodes) override {
    return answer(client_->Get(
                    path(fmt::format("/v1/executions/{}/tree?max_depth={}&"
                                     "max_nodes={}",
                                     id, max_depth, max_nodes))
                      .c_str()))
      .second;
  }

  json list(const query_params& query) override {
    httplib::Params params{query.begin(), query.end()};
    return answer(client_->Get(path("/v1/executions").c_str(), params, {}))
      .second;
  }

  json cancel(const std::string& id) override {
    return answer(
             client_->Post(path("/v1/executions/" + id + "/cancel").c_str(),
                           "{}", "application/json"))
      .second;
  }

  json wake(const std::string& task_id, const json& body) override {
    return answer(client_->Post(path("/v1/tasks/" + task_id + "/wake").c_str(),
                                body.dump(), "application/json"))
      .second;
  }

  json bulk(const std::string& action, const query_params& query) override {
    httplib::Params params{query.begin(), query.end()};
    return answer(client_->Post(httplib::append_query_params(
                                  path("/v1/executions/" + action), params)
                                  .c_str(),
                                "{}", "application/json"))
      .second;
  }

  json stats(const query_params& query) override {
    httplib::Params params{query.begin(), query.end()};
    return answer(client_->Get(path("/v1/stats").c_str(), params, {})).second;
  }

private:
  std::string path(const std::string& p) const {
    return prefix_ + p;
  }

  /// The status and JSON body of a success; throws cli_error otherwise.
  std::pair<int, json> answer(const httplib::Result& r) const {
    if (!r)
      throw cli_error(exit_failure,
                      fmt::format("cannot reach the node at {}: {}", url_,
                                  why_unanswered(r.error())));
    auto j = json::parse(r->body, nullptr, false);
    if (r->status >= 400) {
      std::string message = fmt::format("HTTP {}", r->status);
      if (!j.is_discarded() && j.contains("error")
          && j["error"].contains("message"))
        message = j["error"]["message"].get<std::string>();
      throw cli_error(exit_code_of(r->status), message);
    }
    if (j.is_discarded())
      throw cli_error(exit_failure,
                      fmt::format("the node at {} answered with a body that "
                                  "is not JSON (HTTP {})",
                                  url_, r->status));
    return {r->status, std::move(j)};
  }

  std::string url_;
  std::string prefix_;
  std::unique_ptr<httplib::Client> client_;
};

} // namespace

std::unique_ptr<backend> make_http_backend(const std::string& url,
                                           const std::string& token) {
  return std::make_unique<http_backend>(url, token);
}

} // namespace durablectl
