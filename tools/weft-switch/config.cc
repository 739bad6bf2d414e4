// tools/weft-switch/config.cc — see config.h.
#include "tools/weft-switch/config.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <string>

#include <fmt/format.h>

namespace weft::sw {
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

// Splits "2.5gbit" into 2.5 and "gbit"; false if no number leads.
bool split_number(const std::string& s, double& v, std::string& unit) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) return false;
  const auto r = std::from_chars(s.data(), s.data() + i, v);
  if (r.ec != std::errc() || r.ptr != s.data() + i || !std::isfinite(v) || v < 0) return false;
  unit = s.substr(i);
  return true;
}

}  // namespace

std::optional<BitsPerSec> parse_rate(std::string_view in) {
  const std::string s = lower(in);
  if (s == "none" || s == "0") return BitsPerSec(0);
  double v;
  std::string u;
  if (!split_number(s, v, u)) return std::nullopt;
  double mult = 1;
  size_t i = 0;
  if (!u.empty() && (u[0] == 'k' || u[0] == 'm' || u[0] == 'g' || u[0] == 't')) {
    const int e = u[0] == 'k' ? 1 : u[0] == 'm' ? 2 : u[0] == 'g' ? 3 : 4;
    // tc: "gibit" is 1024^3 bits, "gbit" 1000^3.
    const bool binary = u.size() > 1 && u[1] == 'i';
    mult = std::pow(binary ? 1024.0 : 1000.0, e);
    i = binary ? 2 : 1;
  }
  const std::string rest = u.substr(i);
  if (rest == "bps") mult *= 8;  // tc: bytes per second
  else if (!(rest.empty() || rest == "bit" || rest == "bits")) return std::nullopt;
  const double bits = v * mult;
  if (bits > 1e13) return std::nullopt;
  return BitsPerSec(static_cast<uint64_t>(std::llround(bits)));
}

std::optional<Bytes> parse_bytes(std::string_view in) {
  const std::string s = lower(in);
  double v;
  std::string u;
  if (!split_number(s, v, u)) return std::nullopt;
  double mult = 1;
  if (u.empty() || u == "b") mult = 1;
  else if (u == "k" || u == "kib") mult = 1024;
  else if (u == "kb") mult = 1000;
  else if (u == "m" || u == "mib") mult = 1024 * 1024;
  else if (u == "mb") mult = 1e6;
  else return std::nullopt;
  const double b = v * mult;
  if (b > 1e12) return std::nullopt;
  return Bytes(static_cast<uint64_t>(std::llround(b)));
}

std::string format_counters(const SwitchCore& core) {
  std::string out;
  const auto& tports = core.topology().ports();
  for (size_t i = 0; i < core.ports().size(); ++i) {
    const EgressPort& p = core.ports()[i];
    const PortCounters& c = p.counters();
    out += fmt::format(
        "port={} node=s{} kind={} rate_mbps={} forwarded={} forwarded_bytes={} marked={} trimmed={} dropped={} drop_tail={} "
        "drop_prio={} drop_loss={} int_stamped={} max_queue={} queue={}\n",
        p.name(), tports[i].node, tports[i].is_host() ? "host" : "link", p.params().rate.count() / 1000000, c.tx_pkts,
        c.tx_bytes, c.marked, c.trimmed, c.dropped(), c.drop_tail, c.drop_prio, c.drop_loss, c.int_stamped,
        c.max_queue_bytes, p.queue_bytes());
  }
  for (uint16_t h = 0; h < core.topology().hosts(); ++h) {
    const IngressCounters& in = core.ingress(h);
    out += fmt::format("ingress={} rx_pkts={} rx_bytes={} flooded={}\n", tports[h].name, in.rx_pkts, in.rx_bytes,
                       in.flooded);
  }
  return out;
}

}  // namespace weft::sw
