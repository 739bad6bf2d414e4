// congestion/registry.h — choosing a congestion-control algorithm by name.
//
// A spec is "name" or "name:key=value,key=value" (units in the key names,
// e.g. "swift:target_delay_us=25,ai_pkts=1"), or "plugin:/path/libx.so[:k=v,...]"
// / "plugin:name[:k=v,...]" for a user-written algorithm (plugin_loader.h).
// The same string comes from the public API, WEFT_CC at the edges and --cc
// on the tools. Unknown names and keys are refused with the valid ones.
//
// The registry is not on any hot path: it runs once per connection.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "congestion/cc.h"
#include "weft/status.h"
#include "weft/units.h"

namespace weft::cc {

// What the transport knows about the path when it creates a controller.
// Algorithms derive their context-dependent defaults from it (a BDP, a
// reference window, an additive-increase step per Gb/s of line rate).
struct Context {
  Bytes mss = Bytes(4096);              // payload bytes per packet
  BitsPerSec link_rate = gbps(100);     // the sender's NIC rate
  Nanos base_rtt = micros(12);          // unloaded network RTT hint
  uint8_t hops = 0;                     // forward hop count hint; 0: unknown
  bool int_telemetry = false;           // the path stamps INT (HPCC needs it)
  bool trimming = false;                // switches trim instead of dropping
  // Directories searched first for "plugin:name", ':'-separated.
  std::string plugin_path;

  // line_rate × base_rtt.
  Bytes bdp() const;
};

using CcPtr = std::unique_ptr<CongestionControl>;
// Builds one controller from the text after "name:" (may be empty).
using Factory = Result<CcPtr> (*)(std::string_view args, const Context&);

struct Algorithm {
  std::string name;     // [a-z0-9_]+
  std::string summary;  // one line
  std::string params;   // one line per key with default (params.h describe)
  Factory factory = nullptr;
};

class Registry {
 public:
  // Refuses an empty or malformed name, a null factory, or a name already present.
  Status add(Algorithm a);
  // Sorted.
  std::vector<std::string> names() const;
  // nullptr if absent.
  const Algorithm* find(std::string_view name) const;
  Result<CcPtr> make(std::string_view spec, const Context& ctx) const;
  // Every algorithm with its summary and parameters (defaults, units): the
  // text for `--cc help` on the tools.
  std::string help() const;

  // The process-wide registry with the built-ins already in it.
  static Registry& global();

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Algorithm>> algos_;  // stable addresses for find()
};

// Adds every built-in algorithm (fixed, dcqcn, timely, swift, hpcc, nscc,
// credit) and "plugin". Registry::global() calls it once.
Status register_builtins(Registry& r);

// The public entry point: Registry::global().make(spec, ctx).
Result<CcPtr> make(std::string_view spec, const Context& ctx);

}  // namespace weft::cc
