#include "plugin/core/config.h"

#include <cstdlib>
#include <cstring>



namespace weft::nccl {

namespace {
const char* env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

Result<long> env_int(const char* name, long lo, long hi, long fallback) {
  const char* v = env(name);
  if (v == nullptr) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < lo || x > hi)
    return Status(Code::kInvalidArgument, std::string(name) + "=" + v + " is not an integer in [" + std::to_string(lo) +
                                              ", " + std::to_string(hi) + "]: unset it or pick a value in range");
  return x;
}
}  // namespace

Result<Config> config_from_env() {
  Config c;
  if (const char* v = env("WEFT_IFNAME")) c.ifname = v;

  if (const char* v = env("WEFT_RECOVERY")) {
    if (std::strcmp(v, "sr") == 0) {
      c.recovery = Recovery::kSelectiveRepeat;
    } else if (std::strcmp(v, "gbn") == 0) {
      c.recovery = Recovery::kGoBackN;
    } else {
      return Status(Code::kInvalidArgument,
                    std::string("WEFT_RECOVERY=") + v + " is unknown: use sr (selective repeat) or gbn (go-back-N)");
    }
  }
  auto paths = env_int("WEFT_PATHS", 1, 64, 8);
  if (!paths) return paths.status();
  c.paths = c.recovery == Recovery::kGoBackN ? 1 : static_cast<uint16_t>(*paths);

  if (const char* v = env("WEFT_CC")) c.cc = v;
  if (c.cc == "fixed") c.cc.clear();  // the engine's own fixed window, sized for this host
  // Refused now, at init, with the registry's list of algorithms and keys,
  // rather than at the first connect.
  DeviceParams probe;
  probe.engine.cc = c.cc;
  if (Status s = Device::validate(probe); !s.is_ok())
    return Status(Code::kInvalidArgument, "WEFT_CC: " + s.message());

  auto timeout = env_int("WEFT_PEER_TIMEOUT_MS", 100, 3600 * 1000, 3000);
  if (!timeout) return timeout.status();
  c.peer_timeout = millis(*timeout);

  auto busy = env_int("WEFT_BUSY_POLL", 0, 1, 0);
  if (!busy) return busy.status();
  c.busy_poll = *busy == 1;

  auto debug = env_int("WEFT_DEBUG", 0, 4, 0);
  if (debug) {
    c.debug = static_cast<int>(*debug);
  } else if (env("WEFT_DEBUG") != nullptr) {
    c.debug = 1;  // a level name ("info", "debug"): common/log.h parses those itself
  }
  return c;
}

}  // namespace weft::nccl
