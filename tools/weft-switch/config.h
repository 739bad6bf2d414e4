// tools/weft-switch/config.h — parsing the command line's quantities (tc-like
// rates and sizes) and formatting the counters. Pure, so tests cover them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tools/weft-switch/switch_core.h"
#include "weft/units.h"

namespace weft::sw {

// "1gbit", "100mbit", "2.5gbit", "125mbps" (bytes/s), "10g" (bits), "1gibit"
// (1024^3), "none"/"0" (unlimited). As tc spells them.
std::optional<BitsPerSec> parse_rate(std::string_view s);
// "65536", "64k"/"64K"/"64KiB" (1024), "1m"/"1MiB", "100kb" (1000). Bytes.
std::optional<Bytes> parse_bytes(std::string_view s);

// One line per port, key=value, then one per host ingress:
//   port=h1 node=s1 kind=host rate_mbps=100 forwarded=.. forwarded_bytes=.. marked=..
//     trimmed=.. dropped=.. drop_tail=.. drop_prio=.. drop_loss=..
//     int_stamped=.. max_queue=.. queue=..
//   ingress=h0 rx_pkts=.. rx_bytes=.. flooded=..
std::string format_counters(const SwitchCore& core);

}  // namespace weft::sw
