#!/usr/bin/env bash
# weft across real kernel drops: two testbed hosts (namespaces, veth, tbf at
# 2 Gb/s, nftables dropping 2 % of UDP on input; 1472-byte datagrams so
# nothing fragments, a 512 KiB fixed window so tbf does not overflow), weft-perf --serve on h1 and
# --peer on h0. Passes when every message arrives intact in both recovery
# modes and selective repeat actually had to retransmit (the drops were real).
# Needs root and nftables; exits 77 (skipped) without them.
set -euo pipefail
PERF=${1:?usage: weft_testbed_test.sh path/to/weft-perf}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB=$HERE/../../tools/weft-testbed/weft-testbed
skip() { echo "SKIP: $*"; exit 77; }
((EUID == 0)) || skip "needs root (network namespaces)"
command -v nft >/dev/null || skip "nft not found (apt-get install nftables)"
command -v tc >/dev/null || skip "tc not found (apt-get install iproute2)"
ip netns add "wft$$probe" 2>/dev/null || skip "'ip netns add' does not work here"
ip netns del "wft$$probe"

P=wft$$
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"; "$TB" down --prefix "$P" >/dev/null 2>&1 || true' EXIT

"$TB" run --hosts 2 --rate 2gbit --loss 0.02 --prefix "$P" -- bash -c "
  set -e
  ip netns exec $P-h1 '$PERF' p2p --serve 198.18.0.2:7000 > '$OUT/serve.log' 2>&1 &
  ip netns exec $P-h0 '$PERF' p2p --peer 198.18.0.2:7000 --bind 198.18.0.1 --no-raw \
      --sizes 64K,1M --loss 0 --mode sr,gbn --seconds 1 --mtu 1472 --window-kib 512 --csv '$OUT/p2p.csv'
  wait
"
cat "$OUT/p2p.csv"
# Columns: mode,loss,size,messages,goodput_gbps,...,retransmits(12),rtos,spurious,wrong(15),note
awk -F, 'NR > 1 {
  if ($4 == 0) { print "FAIL: no messages for " $1 " " $3; bad = 1 }
  if ($15 != 0) { print "FAIL: wrong messages for " $1 " " $3; bad = 1 }
  if ($1 == "sr") sr_retx += $12
} END {
  if (sr_retx == 0) { print "FAIL: no retransmissions: the kernel drops did not happen"; bad = 1 }
  exit bad
}' "$OUT/p2p.csv"
echo "PASS: weft delivered every message intact across 2 % kernel drops"
