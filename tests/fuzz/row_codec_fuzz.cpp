// libFuzzer target: the PostgreSQL store's row decoder on any column texts.
//
// Input: the texts of the 46 columns of `executions`, separated by NUL
// bytes; `\N` is NULL, and missing trailing columns are NULL. A damaged row
// (a corrupted table, a manual UPDATE) must make decode() throw, never read
// out of bounds or overflow. What it accepts must survive a round trip:
// encoding the record and decoding the texts again gives the same texts,
// and its doubles are finite (CAF 0.17's serializer hangs on infinity).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "durable/storage/pg/row_codec.hpp"

namespace pgs = durable::storage::pg;

namespace {

/// Collects what encode() produces, as owned texts.
struct collector : pgs::column_visitor {
  std::array<std::optional<std::string>, pgs::column_count> texts;

  void value(std::size_t i, std::string_view text) override {
    texts[i] = std::string{text};
  }

  void null(std::size_t i) override {
    texts[i].reset();
  }

  pgs::column_texts view() const {
    pgs::column_texts out;
    for (std::size_t i = 0; i < texts.size(); ++i)
      if (texts[i])
        out[i] = std::string_view{*texts[i]};
    return out;
  }
};

collector encode_all(const durable::execution_record& r) {
  collector c;
  pgs::column_set all;
  all.set();
  pgs::encode(r, all, c);
  return c;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  pgs::column_texts row;
  for (std::size_t i = 0; i < pgs::column_count && !in.empty(); ++i) {
    auto pos = in.find('\0');
    auto text = in.substr(0, pos);
    if (text != "\\N")
      row[i] = text;
    in.remove_prefix(pos == std::string_view::npos ? in.size() : pos + 1);
  }
  durable::execution_record r;
  try {
    r = pgs::decode(row);
  } catch (const std::exception&) {
    return 0; // rejected: what the store reports as a corrupt row
  }
  if (!std::isfinite(r.retry.multiplier))
    std::abort();
  auto first = encode_all(r);
  durable::execution_record again;
  try {
    again = pgs::decode(first.view());
  } catch (const std::exception&) {
    std::abort(); // the store could not read back what it wrote
  }
  if (encode_all(again).texts != first.texts)
    std::abort();
  return 0;
}
