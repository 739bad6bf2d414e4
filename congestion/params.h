// congestion/params.h — turning "key=value,key=value" into an algorithm's
// Params struct.
//
// Every tunable is described once, in a table beside its Params struct:
// key (its unit is part of the name: `_us` microseconds, `_bytes`, `_mbps`,
// `_pkts` packets, `_mss` multiples of the MSS; no suffix: dimensionless),
// the member it sets, the accepted range and a one-line help. The same table
// drives parsing, range checks, the error message listing valid keys and the
// documentation listing (`describe`). Not on any hot path.
#pragma once

#include <cstdint>
#include <cstdio>
#include <type_traits>
#include <utility>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "weft/status.h"
#include "weft/units.h"

namespace weft::cc {

struct KeyValue {
  std::string_view key;
  std::string_view value;
};

// Splits "k=v,k=v" (empty: no pairs). Refuses a pair without '=' or with an
// empty key, and a key given twice.
Result<std::vector<KeyValue>> split_args(std::string_view args);

template <typename P>
struct Field {
  std::string_view key;
  // Nanos members are set from microseconds, BitsPerSec from Mb/s, Bytes
  // and integers from whole numbers, doubles as they are, bool from 0/1.
  std::variant<double P::*, Nanos P::*, Bytes P::*, BitsPerSec P::*, uint32_t P::*, bool P::*> member;
  double min;
  double max;
  std::string_view help;
};

namespace detail {
// Parses a finite number with nothing after it.
bool parse_number(std::string_view text, double* out);
std::string valid_keys(std::span<const std::string_view> keys);
}  // namespace detail

// Applies `kvs` to `p`. Unknown key, unparsable or out-of-range value:
// InvalidArgument naming the algorithm, the key, the range and the valid keys.
template <typename P>
Status apply_args(std::string_view algo, std::span<const Field<P>> fields, std::span<const KeyValue> kvs, P& p) {
  for (const KeyValue& kv : kvs) {
    const Field<P>* f = nullptr;
    for (const Field<P>& c : fields) {
      if (c.key == kv.key) f = &c;
    }
    if (f == nullptr) {
      std::vector<std::string_view> keys;
      for (const Field<P>& c : fields) keys.push_back(c.key);
      return Status(Code::kInvalidArgument,
                    "congestion control '" + std::string(algo) + "' has no parameter '" + std::string(kv.key) +
                        "'; valid parameters: " + detail::valid_keys(keys));
    }
    double x = 0;
    // Byte counts and counts are whole numbers: "2.5" packets-of-a-stage is a typo, not a request.
    const bool whole = std::visit(
        [](auto m) {
          using T = std::remove_cvref_t<decltype(std::declval<P&>().*m)>;
          return std::is_same_v<T, Bytes> || std::is_same_v<T, uint32_t>;
        },
        f->member);
    if (!detail::parse_number(kv.value, &x) || x < f->min || x > f->max || (whole && x != static_cast<double>(static_cast<uint64_t>(x)))) {
      return Status(Code::kInvalidArgument,
                    "congestion control '" + std::string(algo) + "': " + std::string(kv.key) + "=" +
                        std::string(kv.value) + " is not " + (whole ? "a whole number" : "a number") + " in [" + std::to_string(f->min) + ", " +
                        std::to_string(f->max) + "]; " + std::string(f->help));
    }
    std::visit(
        [&](auto m) {
          using T = std::remove_cvref_t<decltype(p.*m)>;
          if constexpr (std::is_same_v<T, double>) p.*m = x;
          else if constexpr (std::is_same_v<T, Nanos>) p.*m = Nanos(static_cast<int64_t>(x * 1000.0 + 0.5));
          else if constexpr (std::is_same_v<T, BitsPerSec>) p.*m = BitsPerSec(static_cast<uint64_t>(x * 1e6 + 0.5));
          else if constexpr (std::is_same_v<T, Bytes>) p.*m = Bytes(static_cast<uint64_t>(x + 0.5));
          else if constexpr (std::is_same_v<T, uint32_t>) p.*m = static_cast<uint32_t>(x + 0.5);
          else if constexpr (std::is_same_v<T, bool>) p.*m = x != 0;
        },
        f->member);
  }
  return Status::ok();
}

// One line per key: "  key (range): help [default]".
template <typename P>
std::string describe(std::span<const Field<P>> fields, const P& defaults) {
  std::string out;
  for (const Field<P>& f : fields) {
    double v = 0;
    std::visit(
        [&](auto m) {
          using T = std::remove_cvref_t<decltype(defaults.*m)>;
          if constexpr (std::is_same_v<T, double>) v = defaults.*m;
          else if constexpr (std::is_same_v<T, Nanos>) v = static_cast<double>((defaults.*m).count()) / 1000.0;
          else if constexpr (std::is_same_v<T, BitsPerSec>) v = static_cast<double>((defaults.*m).count()) / 1e6;
          else if constexpr (std::is_same_v<T, Bytes>) v = static_cast<double>((defaults.*m).count());
          else v = static_cast<double>(defaults.*m);
        },
        f.member);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    out += "  " + std::string(f.key) + " = " + buf + "  (" + std::string(f.help) + ")\n";
  }
  return out;
}

}  // namespace weft::cc
