#include "congestion/registry.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "congestion/credit.h"
#include "congestion/dcqcn.h"
#include "congestion/fixed_window.h"
#include "congestion/hpcc.h"
#include "congestion/nscc.h"
#include "congestion/params.h"
#include "congestion/plugin_loader.h"
#include "congestion/swift.h"
#include "congestion/timely.h"

namespace weft::cc {

Bytes Context::bdp() const {
  return Bytes(static_cast<uint64_t>(static_cast<double>(link_rate.count()) / 8.0 *
                                     static_cast<double>(base_rtt.count()) / 1e9));
}

Result<std::vector<KeyValue>> split_args(std::string_view args) {
  std::vector<KeyValue> out;
  while (!args.empty()) {
    size_t comma = args.find(',');
    std::string_view pair = args.substr(0, comma);
    args = comma == std::string_view::npos ? std::string_view() : args.substr(comma + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status(Code::kInvalidArgument, "congestion-control parameter '" + std::string(pair) +
                                                "' is not key=value; write e.g. swift:target_delay_us=25,ai_pkts=1");
    }
    KeyValue kv{pair.substr(0, eq), pair.substr(eq + 1)};
    for (const KeyValue& seen : out) {
      if (seen.key == kv.key) {
        return Status(Code::kInvalidArgument,
                      "congestion-control parameter '" + std::string(kv.key) + "' is given twice; keep one");
      }
    }
    out.push_back(kv);
  }
  return out;
}

namespace detail {

bool parse_number(std::string_view text, double* out) {
  if (text.empty() || text.size() > 63) return false;
  char buf[64];
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(buf, &end);
  if (end != buf + text.size() || errno == ERANGE || !std::isfinite(x)) return false;
  *out = x;
  return true;
}

std::string valid_keys(std::span<const std::string_view> keys) {
  std::string s;
  for (std::string_view k : keys) {
    if (!s.empty()) s += ", ";
    s += k;
  }
  return s.empty() ? "(none)" : s;
}

}  // namespace detail

namespace {

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) {
    if (!s.empty()) s += ", ";
    s += x;
  }
  return s;
}

}  // namespace

Status Registry::add(Algorithm a) {
  if (!valid_name(a.name)) {
    return Status(Code::kInvalidArgument, "congestion-control name '" + a.name +
                                              "' is not allowed; use 1-64 characters from [a-z0-9_]");
  }
  if (a.factory == nullptr) {
    return Status(Code::kInvalidArgument, "congestion control '" + a.name + "' registered without a factory");
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& x : algos_) {
    if (x->name == a.name) {
      return Status(Code::kAlreadyExists, "congestion control '" + a.name +
                                              "' is already registered; pick another name");
    }
  }
  algos_.push_back(std::make_unique<Algorithm>(std::move(a)));
  return Status::ok();
}

std::vector<std::string> Registry::names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& x : algos_) out.push_back(x->name);
  std::sort(out.begin(), out.end());
  return out;
}

const Algorithm* Registry::find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& x : algos_) {
    if (x->name == name) return x.get();
  }
  return nullptr;
}

Result<CcPtr> Registry::make(std::string_view spec, const Context& ctx) const {
  if (ctx.mss.count() == 0 || ctx.mss.count() > (1u << 20) || ctx.link_rate.count() == 0 || ctx.base_rtt.count() <= 0) {
    return Status(Code::kInvalidArgument,
                  "congestion-control context needs mss in [1, 1 MiB], link_rate > 0 and base_rtt > 0; "
                  "fill cc::Context from the path before creating the controller");
  }
  size_t colon = spec.find(':');
  std::string_view name = spec.substr(0, colon);
  std::string_view args = colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  const Algorithm* a = find(name);
  if (a == nullptr) {
    return Status(Code::kNotFound, "no congestion control named '" + std::string(name) + "'; valid names: " +
                                       join(names()) + " (or plugin:/path/lib.so)");
  }
  return a->factory(args, ctx);
}

std::string Registry::help() const {
  std::string out = "congestion control: --cc name[:key=value,...]\n";
  for (const std::string& n : names()) {
    const Algorithm* a = find(n);
    out += "\n" + a->name + ": " + a->summary + "\n" + a->params;
  }
  return out;
}

Registry& Registry::global() {
  // An object, not a leaked pointer: weft is also loaded as a shared object
  // (the NCCL plugin) and unloaded again, and what a dlclose'd library
  // allocated must go with it.
  static Registry r;
  static const bool filled = [] {
    Status s = register_builtins(r);
    assert(s.is_ok());
    (void)s;
    return true;
  }();
  (void)filled;
  return r;
}

namespace {

const Field<FixedWindow::Params> kFixedFields[] = {
    {"window_bytes", &FixedWindow::Params::window, 1, 1e12, "bytes in flight"},
    {"rate_mbps", &FixedWindow::Params::rate, 0, 1e7, "pacing rate in Mb/s; 0 = unpaced"},
};

Result<CcPtr> make_fixed(std::string_view args, const Context&) {
  auto kvs = split_args(args);
  if (!kvs) return kvs.status();
  FixedWindow::Params p;
  WEFT_RETURN_IF_ERROR(apply_args<FixedWindow::Params>("fixed", kFixedFields, *kvs, p));
  return CcPtr(std::make_unique<FixedWindow>(p));
}

}  // namespace

Status register_builtins(Registry& r) {
  WEFT_RETURN_IF_ERROR(r.add({"fixed", "constant window and pacing rate (reference)",
                              describe<FixedWindow::Params>(kFixedFields, {}), make_fixed}));
  WEFT_RETURN_IF_ERROR(r.add(dcqcn_algorithm()));
  WEFT_RETURN_IF_ERROR(r.add(timely_algorithm()));
  WEFT_RETURN_IF_ERROR(r.add(swift_algorithm()));
  WEFT_RETURN_IF_ERROR(r.add(hpcc_algorithm()));
  WEFT_RETURN_IF_ERROR(r.add(nscc_algorithm()));
  WEFT_RETURN_IF_ERROR(r.add(credit_algorithm()));
  WEFT_RETURN_IF_ERROR(r.add(plugin_algorithm()));
  return Status::ok();
}

Result<CcPtr> make(std::string_view spec, const Context& ctx) { return Registry::global().make(spec, ctx); }

}  // namespace weft::cc
