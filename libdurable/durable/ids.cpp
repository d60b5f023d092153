#include "durable/ids.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string_view>

#include "durable/utf8.hpp"

namespace durable {

namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHJKMNPQRSTUVWXYZabcdefg"
                                      "hjkmnpqrstuvwxyz";
constexpr std::size_t execution_id_chars = 24;
constexpr std::size_t incarnation_id_chars = 16;

// Ids compare as their times do only if digits are in byte order.
static_assert(std::is_sorted(alphabet.begin(), alphabet.end()));

// 56^8 milliseconds reach past the year 5000.
constexpr std::size_t time_chars = 8;

void append_random(std::string& out, std::size_t n) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick{0, alphabet.size() - 1};
  for (std::size_t i = 0; i < n; ++i)
    out += alphabet[pick(gen)];
}

std::string random_id(std::string_view prefix, std::size_t n) {
  std::string result{prefix};
  result.reserve(prefix.size() + n);
  append_random(result, n);
  return result;
}

// `ms` in base 56, fixed width, most significant digit first.
void append_time(std::string& out, std::uint64_t ms) {
  char digits[time_chars];
  for (std::size_t i = time_chars; i-- > 0;) {
    digits[i] = alphabet[ms % alphabet.size()];
    ms /= alphabet.size();
  }
  out.append(digits, time_chars);
}

} // namespace

std::string make_execution_id() {
  using namespace std::chrono;
  const auto now = system_clock::now().time_since_epoch();
  const auto ms = duration_cast<milliseconds>(now).count();
  std::string result{"te_"};
  result.reserve(3 + execution_id_chars);
  append_time(result, ms > 0 ? static_cast<std::uint64_t>(ms) : 0);
  append_random(result, execution_id_chars - time_chars);
  return result;
}

std::string make_incarnation_id() {
  return random_id("de_", incarnation_id_chars);
}

bool may_name_execution(std::string_view id) noexcept {
  return !id.empty() && id.size() <= 255 && utf8::is_storable(id);
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
