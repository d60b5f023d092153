#include "durable/storage/mysql/connection.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <errmsg.h>
#include <fmt/format.h>
#include <mysqld_error.h>

namespace durable::storage::mysql_detail {

// -- errors -------------------------------------------------------------------

bool is_connection_error(unsigned code) noexcept {
  switch (code) {
    case CR_CONNECTION_ERROR:      // 2002
    case CR_CONN_HOST_ERROR:       // 2003
    case CR_SERVER_GONE_ERROR:     // 2006
    case CR_SERVER_LOST:           // 2013
    case CR_COMMANDS_OUT_OF_SYNC:  // 2014: the session is unusable
    case 2026:                     // CR_SSL_CONNECTION_ERROR
    case 2055:                     // CR_SERVER_LOST_EXTENDED
    case ER_SERVER_SHUTDOWN:       // 1053
    case ER_CONNECTION_KILLED:     // 1927
    case ER_NET_READ_ERROR:        // 1158
    case ER_NET_READ_INTERRUPTED:  // 1159
    case ER_NET_ERROR_ON_WRITE:    // 1160
    case ER_NET_WRITE_INTERRUPTED: // 1161
      return true;
    default:
      return false;
  }
}

store_failure failure_for(unsigned code, bool at_commit) noexcept {
  if (is_connection_error(code))
    // Before the COMMIT the server rolls the transaction back when the
    // session ends: nothing written. A COMMIT sent and not answered may
    // have committed.
    return at_commit ? store_failure::in_doubt : store_failure::unavailable;
  switch (code) {
    // InnoDB chose this transaction as a deadlock's victim (and rolled it
    // back), or a row lock was not granted in innodb_lock_wait_timeout
    // (only the statement is rolled back; the store rolls back the rest).
    case ER_LOCK_DEADLOCK:     // 1213
    case ER_LOCK_WAIT_TIMEOUT: // 1205
      return store_failure::conflict;
    case ER_CON_COUNT_ERROR:  // 1040 too many connections
    case ER_OUT_OF_RESOURCES: // 1041
    case 1203:                // ER_TOO_MANY_USER_CONNECTIONS
    case ER_LOCK_TABLE_FULL:  // 1206
      return store_failure::unavailable;
    default:
      return store_failure::fatal;
  }
}

void connection::fail(std::string_view context, bool at_commit) {
  auto code = mysql_errno(db_);
  if (is_connection_error(code))
    healthy_ = false;
  throw mysql_error(code, at_commit,
                    fmt::format("{}: {} (MySQL error {})", context,
                                ::mysql_error(db_), code));
}

void connection::fail_stmt(MYSQL_STMT* stmt, std::string_view context) {
  auto code = mysql_stmt_errno(stmt);
  if (is_connection_error(code))
    healthy_ = false;
  throw mysql_error(code, false,
                    fmt::format("{}: {} (MySQL error {})", context,
                                mysql_stmt_error(stmt), code));
}

// -- URL ----------------------------------------------------------------------

namespace {

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc{} && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

} // namespace

url_parts parse_url(const std::string& url) {
  auto bad = [](std::string_view why) {
    return durable::error(fmt::format("invalid MySQL URL: {}", why));
  };
  std::string_view s{url};
  url_parts out;
  if (s.starts_with("mysql://"))
    s.remove_prefix(8);
  else if (s.starts_with("mariadb://"))
    s.remove_prefix(10);
  else
    throw bad("it must start with mysql:// or mariadb://");
  std::string_view params;
  if (auto q = s.find('?'); q != std::string_view::npos) {
    params = s.substr(q + 1);
    s = s.substr(0, q);
  }
  auto slash = s.find('/');
  if (slash == std::string_view::npos || slash + 1 == s.size())
    throw bad("no database (mysql://user@host:port/database)");
  out.database = percent_decode(s.substr(slash + 1));
  auto authority = s.substr(0, slash);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    auto userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      out.password = percent_decode(userinfo.substr(colon + 1));
      userinfo = userinfo.substr(0, colon);
    }
    if (!userinfo.empty())
      out.user = percent_decode(userinfo);
  }
  if (auto colon = authority.rfind(':');
      colon != std::string_view::npos
      && authority.find(']') == std::string_view::npos) {
    auto port = authority.substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p == 0
        || p > 65535)
      throw bad("invalid port");
    out.port = p;
    authority = authority.substr(0, colon);
  }
  if (!authority.empty())
    out.host = std::string{authority};
  while (!params.empty()) {
    auto amp = params.find('&');
    auto kv = params.substr(0, amp);
    params = amp == std::string_view::npos ? std::string_view{}
                                           : params.substr(amp + 1);
    auto eq = kv.find('=');
    auto key = kv.substr(0, eq);
    auto val = eq == std::string_view::npos ? std::string_view{}
                                            : kv.substr(eq + 1);
    if (key == "socket")
      out.socket = percent_decode(val);
    else
      throw bad(fmt::format("unknown parameter '{}'", key));
  }
  return out;
}

// -- statement ----------------------------------------------------------------

statement::~statement() {
  if (stmt)
    mysql_stmt_close(stmt);
}

// -- query --------------------------------------------------------------------

connection::query::query(connection& db, std::shared_ptr<statement> st)
  : db_(db), st_(std::move(st)) {
  values_.resize(static_cast<std::size_t>(st_->params));
}

connection::query::~query() {
  if (has_result_)
    mysql_stmt_free_result(st_->stmt);
  if (executed_)
    mysql_stmt_reset(st_->stmt);
  st_->busy = false;
}

connection::query::value& connection::query::slot(int i) {
  if (i < 1 || i > st_->params)
    throw durable::error(
      fmt::format("MySQL statement has no parameter ?{}", i));
  return values_[static_cast<std::size_t>(i - 1)];
}

void connection::query::execute() {
  auto* stmt = st_->stmt;
  std::vector<MYSQL_BIND> binds(st_->positions.size());
  std::vector<my_bool> nulls(st_->positions.size(), 0);
  std::vector<unsigned long> lengths(st_->positions.size(), 0);
  for (std::size_t k = 0; k < st_->positions.size(); ++k) {
    auto& b = binds[k];
    std::memset(&b, 0, sizeof b);
    auto& v = values_[static_cast<std::size_t>(st_->positions[k] - 1)];
    if (auto* x = std::get_if<std::int64_t>(&v)) {
      b.buffer_type = MYSQL_TYPE_LONGLONG;
      b.buffer = x;
    } else if (auto* s = std::get_if<std::string>(&v)) {
      b.buffer_type = MYSQL_TYPE_STRING;
      b.buffer = s->data();
      b.buffer_length = s->size();
      lengths[k] = s->size();
      b.length = &lengths[k];
    } else {
      b.buffer_type = MYSQL_TYPE_NULL;
      nulls[k] = 1;
      b.is_null = &nulls[k];
    }
  }
  if (!binds.empty() && mysql_stmt_bind_param(stmt, binds.data()))
    db_.fail_stmt(stmt, "bind");
  executed_ = true;
  if (mysql_stmt_execute(stmt))
    db_.fail_stmt(stmt, "execute");
  MYSQL_RES* meta = mysql_stmt_result_metadata(stmt);
  if (!meta)
    return;
  my_bool on = 1;
  mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
  if (mysql_stmt_store_result(stmt)) {
    mysql_free_result(meta);
    db_.fail_stmt(stmt, "store result");
  }
  has_result_ = true;
  auto n = mysql_num_fields(meta);
  auto* fields = mysql_fetch_fields(meta);
  cols_.resize(n);
  result_binds_.resize(n);
  for (unsigned i = 0; i < n; ++i) {
    auto& c = cols_[i];
    c.type = fields[i].type;
    c.decimals = fields[i].decimals;
    c.buf.resize(std::max<unsigned long>(fields[i].max_length, 32) + 1);
    auto& b = result_binds_[i];
    std::memset(&b, 0, sizeof b);
    b.buffer_type = MYSQL_TYPE_STRING;
    b.buffer = c.buf.data();
    b.buffer_length = c.buf.size();
    b.length = &c.length;
    b.is_null = &c.null;
    b.error = &c.error;
  }
  mysql_free_result(meta);
  if (n > 0 && mysql_stmt_bind_result(stmt, result_binds_.data()))
    db_.fail_stmt(stmt, "bind result");
}

bool connection::query::step() {
  if (!executed_)
    execute();
  if (!has_result_)
    return false;
  auto rc = mysql_stmt_fetch(st_->stmt);
  if (rc == MYSQL_NO_DATA)
    return false;
  if (rc == 1)
    db_.fail_stmt(st_->stmt, "fetch");
  if (rc == MYSQL_DATA_TRUNCATED) {
    for (unsigned i = 0; i < cols_.size(); ++i) {
      auto& c = cols_[i];
      if (!c.error)
        continue;
      c.buf.resize(c.length + 1);
      auto& b = result_binds_[i];
      b.buffer = c.buf.data();
      b.buffer_length = c.buf.size();
      if (mysql_stmt_fetch_column(st_->stmt, &b, i, 0))
        db_.fail_stmt(st_->stmt, "fetch column");
    }
    // The next fetch writes into the grown buffers.
    if (mysql_stmt_bind_result(st_->stmt, result_binds_.data()))
      db_.fail_stmt(st_->stmt, "bind result");
  }
  return true;
}

std::size_t connection::query::run() {
  if (!executed_)
    execute();
  auto n = mysql_stmt_affected_rows(st_->stmt);
  return n == static_cast<my_ulonglong>(-1) ? 0 : static_cast<std::size_t>(n);
}

bool connection::query::is_integer(int i) const {
  const auto& c = cols_[static_cast<std::size_t>(i)];
  switch (c.type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
      return true;
    case MYSQL_TYPE_NEWDECIMAL:
    case MYSQL_TYPE_DECIMAL:
      return c.decimals == 0;
    default:
      return false;
  }
}

std::int64_t connection::query::int64(int i) const {
  const auto& c = cols_[static_cast<std::size_t>(i)];
  if (c.null)
    return 0;
  std::int64_t v = 0;
  std::from_chars(c.buf.data(), c.buf.data() + c.length, v);
  return v;
}

// -- connection ---------------------------------------------------------------

connection::connection(const url_parts& where, const mysql_options& opts) {
  db_ = mysql_init(nullptr);
  if (!db_)
    throw mysql_error(CR_OUT_OF_MEMORY, false, "mysql_init: out of memory");
  unsigned timeout = static_cast<unsigned>(
    std::max<std::int64_t>(1, (opts.connect_timeout.count() + 999) / 1000));
  mysql_optionsv(db_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  unsigned io_timeout = static_cast<unsigned>(
    std::max<std::int64_t>(1, (opts.io_timeout.count() + 999) / 1000));
  mysql_optionsv(db_, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
  mysql_optionsv(db_, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
  mysql_optionsv(db_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  my_bool off = 0;
  mysql_optionsv(db_, MYSQL_OPT_RECONNECT, &off);
  auto lock_wait = std::max<std::int64_t>(
    1, (opts.lock_wait_timeout.count() + 999) / 1000);
  // Two init commands: SET TRANSACTION combines with no other variable
  // (the same text in MariaDB and MySQL 8.0, whose isolation variables
  // have different names).
  mysql_optionsv(db_, MYSQL_INIT_COMMAND,
                 "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  auto init = fmt::format(
    "SET SESSION innodb_lock_wait_timeout = {}, SESSION sql_mode = "
    "'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION,"
    "ONLY_FULL_GROUP_BY', SESSION time_zone = '+00:00'",
    lock_wait);
  mysql_optionsv(db_, MYSQL_INIT_COMMAND, init.c_str());
  const char* host = where.socket ? nullptr : where.host.c_str();
  if (!mysql_real_connect(db_, host, where.user.c_str(),
                          where.password ? where.password->c_str() : nullptr,
                          where.database.c_str(), where.socket ? 0 : where.port,
                          where.socket ? where.socket->c_str() : nullptr,
                          CLIENT_FOUND_ROWS)) {
    auto code = mysql_errno(db_);
    std::string msg = fmt::format("cannot connect to MySQL at {}:{}/{}: {} "
                                  "(MySQL error {})",
                                  where.socket ? *where.socket : where.host,
                                  where.port, where.database,
                                  ::mysql_error(db_), code);
    mysql_close(db_);
    db_ = nullptr;
    throw mysql_error(code, false, std::move(msg));
  }
}

connection::~connection() {
  cache_.clear();
  if (db_)
    mysql_close(db_);
}

connection::query connection::prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second->busy) {
    it->second->busy = true;
    return query{*this, it->second};
  }
  auto st = std::make_shared<statement>();
  // ?n -> ?, remembering n per position.
  std::string text;
  text.reserve(sql.size());
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '?' && i + 1 < sql.size() && sql[i + 1] >= '0'
        && sql[i + 1] <= '9') {
      int n = 0;
      std::size_t j = i + 1;
      while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9')
        n = n * 10 + (sql[j++] - '0');
      st->positions.push_back(n);
      st->params = std::max(st->params, n);
      text.push_back('?');
      i = j - 1;
    } else {
      text.push_back(sql[i]);
    }
  }
  st->stmt = mysql_stmt_init(db_);
  if (!st->stmt)
    fail("mysql_stmt_init");
  if (mysql_stmt_prepare(st->stmt, text.data(), text.size()))
    fail_stmt(st->stmt, fmt::format("prepare \"{}\"", sql));
  st->busy = true;
  // Statements built from a filter vary; keep the cache bounded.
  if (it == cache_.end() && cache_.size() < 512)
    cache_.emplace(sql, st);
  return query{*this, std::move(st)};
}

void connection::exec(const std::string& sql) {
  if (mysql_real_query(db_, sql.data(), sql.size()))
    fail(sql.size() > 60 ? sql.substr(0, 60) + "..." : sql);
  if (auto* res = mysql_store_result(db_))
    mysql_free_result(res);
}

std::optional<std::string> connection::scalar(const std::string& sql) {
  if (mysql_real_query(db_, sql.data(), sql.size()))
    fail(sql);
  auto* res = mysql_store_result(db_);
  if (!res) {
    if (mysql_errno(db_))
      fail(sql);
    return std::nullopt;
  }
  std::optional<std::string> out;
  if (auto row = mysql_fetch_row(res); row && row[0]) {
    auto* lengths = mysql_fetch_lengths(res);
    out.emplace(row[0], lengths[0]);
  }
  mysql_free_result(res);
  return out;
}

void connection::commit() {
  if (mysql_real_query(db_, "COMMIT", 6))
    fail("COMMIT", true);
}

void connection::rollback_quietly() noexcept {
  if (healthy_)
    mysql_real_query(db_, "ROLLBACK", 8);
}

} // namespace durable::storage::mysql_detail
