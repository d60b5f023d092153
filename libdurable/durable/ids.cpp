#include "durable/ids.hpp"

#include <random>
#include <string_view>

namespace durable {

namespace {

constexpr std::string_view alphabet
  = "0123456789ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz";
constexpr std::size_t execution_id_chars = 24;
constexpr std::size_t incarnation_id_chars = 16;

std::string random_id(std::string_view prefix, std::size_t n) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick{0, alphabet.size() - 1};
  std::string result{prefix};
  result.reserve(prefix.size() + n);
  for (std::size_t i = 0; i < n; ++i)
    result += alphabet[pick(gen)];
  return result;
}

} // namespace

std::string make_execution_id() {
  return random_id("te_", execution_id_chars);
}

std::string make_incarnation_id() {
  return random_id("de_", incarnation_id_chars);
}

bool is_execution_id(const std::string& id) noexcept {
  if (id.size() != 3 + execution_id_chars || id.rfind("te_", 0) != 0)
    return false;
  for (std::size_t i = 3; i < id.size(); ++i)
    if (alphabet.find(id[i]) == std::string_view::npos)
      return false;
  return true;
}

} // namespace durable
