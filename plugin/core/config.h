// plugin/core/config.h — the WEFT_* variables, read here and nowhere else.
//
// The plugin is an edge (DESIGN.md §6): NCCL's process environment is the only
// way a user can reach it, so every knob is parsed once, at init, into this
// struct and validated with a message that names the variable and the fix.
#pragma once

#include <cstdint>
#include <string>

#include "weft/status.h"
#include "weft/transport.h"
#include "weft/units.h"

namespace weft::nccl {

struct Config {
  // WEFT_IFNAME: NCCL_SOCKET_IFNAME syntax. Comma-separated prefixes; a
  // leading '^' excludes them, a leading '=' makes them exact names.
  // Empty: every up IPv4 interface except docker*/lo, or lo if that is all.
  std::string ifname;
  Recovery recovery = Recovery::kSelectiveRepeat;  // WEFT_RECOVERY=sr|gbn
  uint16_t paths = 8;                               // WEFT_PATHS (1 under gbn)
  // WEFT_CC: congestion control as a registry spec ("swift",
  // "dcqcn:g=0.0625", "plugin:/path/libx.so"); empty or "fixed": the fixed
  // window. Handed to EngineParams::cc.
  std::string cc;
  // WEFT_PEER_TIMEOUT_MS: a silent peer fails its requests after this long.
  Nanos peer_timeout = seconds(3);
  // WEFT_BUSY_POLL=1: each Device's progress thread spins instead of
  // sleeping (lower latency, one core per NCCL device). Off by default.
  bool busy_poll = false;
  // WEFT_DEBUG also sets weft's own log threshold (common/log.h); here it
  // decides whether the plugin copies its INFO lines to NCCL's logger.
  int debug = 0;
};

// Reads the environment. Fails on a value that cannot mean anything, or
// names something weft does not have (an unknown WEFT_CC algorithm or key).
Result<Config> config_from_env();

}  // namespace weft::nccl
