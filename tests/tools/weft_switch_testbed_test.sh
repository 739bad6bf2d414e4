#!/usr/bin/env bash
# weft-switch on real namespaces: weft-testbed builds a dumbbell through the
# switch (h0, h1 on the left switch, h2 on the right, one 50 Mb/s bottleneck
# link between the switches, 1 Gb/s host links), then
#   1. an ECT UDP blast h0 -> h2 overfills the bottleneck: the switch must
#      forward, mark CE (seen by the receiver) and drop at the tail;
#   2. weft-perf p2p h0 -> h2 across the same bottleneck must deliver every
#      message intact while the switch marks its ECT(0) packets and stamps
#      INT records on its DATA;
#   3. weft v2 DATA packets (crafted here: the transport may still speak v1)
#      across a dumbbell with --int --trim arrive with two INT records
#      (bottleneck, host port), trimmed ones with TRIMMED set and the
#      documented length, every other byte as sent;
#   4. a leaf-spine (2 leaves, 2 spines) forwards UDP between leaves over
#      both spines.
# Needs root, netns, tc, nftables and python3; exits 77 (skipped) without.
set -euo pipefail
SWITCH=${1:?usage: weft_switch_testbed_test.sh path/to/weft-switch path/to/weft-perf}
PERF=${2:?usage: weft_switch_testbed_test.sh path/to/weft-switch path/to/weft-perf}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB=$HERE/../../tools/weft-testbed/weft-testbed

skip() { echo "SKIP: $*"; exit 77; }
((EUID == 0)) || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "ip not found (apt-get install iproute2)"
command -v tc >/dev/null || skip "tc not found (apt-get install iproute2)"
command -v nft >/dev/null || skip "nft not found (apt-get install nftables)"
command -v python3 >/dev/null || skip "python3 not found"
ip netns add "wsw$$probe" 2>/dev/null || skip "'ip netns add' does not work here"
ip netns del "wsw$$probe"
[[ -x $SWITCH && -x $PERF ]] || { echo "FAIL: $SWITCH or $PERF is not built"; exit 1; }

P=wsw$$
L=wsl$$
TMP=$(mktemp -d)
cleanup() {
    local rc=$?
    "$TB" down --prefix "$P" >/dev/null 2>&1 || true
    "$TB" down --prefix "$L" >/dev/null 2>&1 || true
    rm -rf "$TMP"
    if ((rc == 0)); then echo "PASS"; else echo "FAIL (exit $rc)"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

STEP=""
step() { STEP=$*; echo "--- $*"; }
fail() { echo "FAIL: $STEP: $*" >&2; exit 1; }
# counter PREFIX PORT KEY: one counter from 'weft-testbed stats'
counter() {
    "$TB" stats --prefix "$1" | awk -v port="port=$2" -v key="$3=" '
        $1 == port { for (i = 2; i <= NF; i++) if (index($i, key) == 1) print substr($i, length(key) + 1) }'
}

cat >"$TMP/udp.py" <<'PY'
import socket, sys, time
mode = sys.argv[1]
if mode == "recv":   # recv PORT READY [EXPECT]: count datagrams and CE marks until EXPECT
                     # arrived or 3 s of silence (a loaded machine may pause a sender that long)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    open(sys.argv[3], "w").close()
    expect = int(sys.argv[4]) if len(sys.argv) > 4 else None
    n = ce = bad = 0
    t = 15.0
    while n != expect:
        s.settimeout(t)
        try:
            data, anc, _, _ = s.recvmsg(4096, 64)
        except socket.timeout:
            break
        n, t = n + 1, 3.0
        bad += len(data) != 1400 or data != data[:1] * 1400
        for lvl, typ, d in anc:
            if lvl == socket.IPPROTO_IP and typ == socket.IP_TOS and d[0] & 3 == 3:
                ce += 1
    print(n, ce, bad)
else:                # send ADDR PORT COUNT [FLOWS]: ECT(0) datagrams of 1400 bytes, as fast as possible,
                     # round-robin over FLOWS sockets (source ports: flows ECMP tells apart)
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(int(sys.argv[5]) if len(sys.argv) > 5 else 1)]
    for s in socks:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 2)
    for i in range(int(sys.argv[4])):
        socks[i % len(socks)].sendto(bytes([i % 251]) * 1400, (sys.argv[2], int(sys.argv[3])))
PY

cat >"$TMP/v2.py" <<'PY'
import socket, struct, sys
HLEN, PAY = 96, 1000
def packet(i):
    h = bytearray(range(HLEN))
    struct.pack_into("<HBBBBH", h, 0, 0x4657, 2, 1, 0, HLEN // 8, PAY)
    struct.pack_into("<HBB", h, 40, i & 0xffff, 0, 0)
    return bytes(h) + bytes((i + k) & 0xff for k in range(PAY))
if sys.argv[1] == "send":   # send ADDR PORT COUNT
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 2)
    for i in range(int(sys.argv[4])):
        s.sendto(packet(i), (sys.argv[2], int(sys.argv[3])))
else:                       # recv PORT READY LINK_MBPS HOST_MBPS: validate, print "n trimmed bad"
    link_mbps, host_mbps = int(sys.argv[4]), int(sys.argv[5])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    open(sys.argv[3], "w").close()
    n = trimmed = bad = 0
    t = 15.0
    while n < 1500:
        s.settimeout(t)
        try:
            d = s.recv(4096)
        except socket.timeout:
            break
        n, t = n + 1, 3.0
        i = struct.unpack_from("<H", d, 40)[0]
        want = packet(i)
        flags, hops = d[42], d[43]
        cut = flags & 1
        ok = d[:42] == want[:42] and d[44:HLEN] == want[44:HLEN] and hops == 2
        ok = ok and len(d) == HLEN + (0 if cut else PAY) + 24 * hops
        ok = ok and (cut or d[HLEN:HLEN + PAY] == want[HLEN:])
        if ok:
            recs = [struct.unpack_from("<QQII", d, len(d) - 24 * (hops - k)) for k in range(hops)]
            ok = recs[0][3] == link_mbps and recs[1][3] == host_mbps and recs[0][0] <= recs[1][0]
        trimmed += cut
        if not ok:
            bad += 1
            if bad <= 3:
                print("bad packet", i, len(d), flags, hops, file=sys.stderr)
    print(n, trimmed, bad)
PY

wait_file() { local _; for _ in {1..100}; do [[ -e $1 ]] && return 0; sleep 0.05; done; return 1; }

step "switch options are validated and a bad one creates nothing"
for bad in "--switch ring" "--switch dumbbell --left 3" "--switch leafspine --spines 0" "--links 2" \
           "--switch star --fabric-rate fast" "--switch star --mtu 70000"; do
    # shellcheck disable=SC2086  # $bad is deliberately split into words
    if "$TB" up --hosts 3 --prefix "$P" --switch-bin "$SWITCH" $bad 2>"$TMP/err"; then
        fail "'up $bad' succeeded"
    fi
    grep -q "invalid" "$TMP/err" || fail "'up $bad' gave no clear error: $(cat "$TMP/err")"
    echo "    up $bad -> $(head -1 "$TMP/err")"
done
! ip netns list | grep -q "^$P-" || fail "a refused up left namespaces"

step "run --switch star: the command sees a forwarding switch and its counters; run tears it down"
# shellcheck disable=SC2016  # expanded by the inner shell, inside the testbed
"$TB" run --hosts 2 --prefix "$P" --switch star --switch-bin "$SWITCH" -- bash -c '
    "$WEFT_TESTBED" exec 0 -- python3 "$1" send 198.18.0.2 7400 20 &&
    sleep 0.5 && "$WEFT_TESTBED" stats | grep -q "^port=h1 .* forwarded=[1-9]"' _ "$TMP/udp.py" ||
    fail "run --switch exited $?"
! ip netns list | grep -q "^$P-" || fail "run left namespaces"
[[ ! -e /run/weft-testbed/$P.run ]] || fail "run left its run dir"

step "up: dumbbell through weft-switch, 50 Mb/s bottleneck, INT on"
"$TB" up --hosts 3 --prefix "$P" --switch dumbbell --switch-bin "$SWITCH" --rate 1gbit --fabric-rate 50mbit \
    --switch-args "--queue 96K --kmin 8K --kmax 48K --pmax 0.5 --int" || fail "up exited $?"
[[ $(cat /run/weft-testbed/$P.run/switch.pid) =~ ^[0-9]+$ ]] || fail "no switch pid"
grep -q "forwarding on 3 ports" "/run/weft-testbed/$P.run/switch.log" || fail "switch log: $(cat /run/weft-testbed/$P.run/switch.log)"

step "an ECT UDP blast h0 -> h2 is forwarded, CE-marked and tail-dropped at the bottleneck"
rm -f "$TMP/r.ready"
"$TB" exec 2 --prefix "$P" -- python3 "$TMP/udp.py" recv 7100 "$TMP/r.ready" >"$TMP/udp.out" &
rpid=$!
wait_file "$TMP/r.ready" || fail "receiver did not start"
"$TB" exec 0 --prefix "$P" -- python3 "$TMP/udp.py" send 198.18.0.3 7100 4000
wait "$rpid"
read -r n ce bad <"$TMP/udp.out"
fwd=$(counter "$P" "s0>s1.0" forwarded)
marked=$(counter "$P" "s0>s1.0" marked)
dropped=$(counter "$P" "s0>s1.0" drop_tail)
maxq=$(counter "$P" "s0>s1.0" max_queue)
echo "    received $n/4000 ($ce CE, $bad corrupt); bottleneck: forwarded=$fwd marked=$marked drop_tail=$dropped max_queue=$maxq"
((n > 50)) || fail "only $n datagrams arrived"
((bad == 0)) || fail "$bad datagrams arrived corrupted"
((fwd >= n)) || fail "bottleneck forwarded $fwd < $n received"
((marked > 0 && ce > 0)) || fail "no CE marks (switch counted $marked, receiver saw $ce)"
((ce <= marked)) || fail "receiver saw $ce CE but the switch marked only $marked"
((dropped > 0)) || fail "a 4000-datagram blast into a 96 KiB queue dropped nothing"
((maxq <= 96 * 1024)) || fail "max_queue $maxq exceeds the 96 KiB bound"

step "weft-perf p2p h0 -> h2 across the bottleneck delivers every message intact"
before=$(counter "$P" "s0>s1.0" marked)
"$TB" exec 2 --prefix "$P" -- "$PERF" p2p --serve 198.18.0.3:7000 >"$TMP/serve.log" 2>&1 &
spid=$!
sleep 0.3
"$TB" exec 0 --prefix "$P" -- "$PERF" p2p --peer 198.18.0.3:7000 --bind 198.18.0.1 --no-raw \
    --sizes 64K,1M --loss 0 --mode sr --seconds 1 --mtu 1472 --window-kib 64 --csv "$TMP/p2p.csv" ||
    fail "weft-perf exited $? (server log: $(tail -5 "$TMP/serve.log"))"
wait "$spid" || true
cat "$TMP/p2p.csv"
# Columns: mode,loss,size,messages,goodput_gbps,...,wrong(15)
awk -F, 'NR > 1 {
  if ($4 == 0) { print "FAIL: no messages for " $1 " " $3; bad = 1 }
  if ($15 != 0) { print "FAIL: wrong messages for " $1 " " $3; bad = 1 }
} END { exit bad }' "$TMP/p2p.csv" || fail "weft did not deliver intact"
after=$(counter "$P" "s0>s1.0" marked)
fwd=$(counter "$P" "s0>s1.0" forwarded)
int=$(counter "$P" "s0>s1.0" int_stamped)
q2=$(counter "$P" "h2" max_queue)
echo "    bottleneck marked $((after - before)) weft packets, stamped INT on $int; forwarded $fwd in all; h2 port max_queue $q2"
((after > before)) || fail "the switch marked none of weft's ECT packets"
((int > 0)) || fail "no INT records stamped on weft (v2) DATA"
# Downstream of a 50 Mb/s link a 1 Gb/s port never queues more than a frame
# or two: frames cross internal links at their own departure times.
((q2 <= 8192)) || fail "h2 port queued $q2 bytes behind a slower link"

step "down stops the switch and removes everything"
"$TB" down --prefix "$P"
[[ ! -e /run/weft-testbed/$P.run ]] || fail "run dir remains"
! ip netns list | grep -q "^$P-" || fail "namespaces remain"

step "weft v2 DATA across --int --trim: INT records, trimmed headers, lengths, bytes intact"
"$TB" up --hosts 3 --prefix "$P" --switch dumbbell --switch-bin "$SWITCH" --rate 1gbit --fabric-rate 10mbit \
    --switch-args "--int --trim --queue 24K --prio-queue 64K" >/dev/null || fail "up exited $?"
rm -f "$TMP/r.ready"
"$TB" exec 2 --prefix "$P" -- python3 "$TMP/v2.py" recv 7300 "$TMP/r.ready" 10 1000 >"$TMP/v2.out" &
rpid=$!
wait_file "$TMP/r.ready" || fail "receiver did not start"
# Resolve ARP first (to a port nobody listens on): the kernel holds only
# ~100 packets for an unresolved neighbour.
"$TB" exec 0 --prefix "$P" -- python3 "$TMP/udp.py" send 198.18.0.3 7301 1
sleep 0.3
"$TB" exec 0 --prefix "$P" -- python3 "$TMP/v2.py" send 198.18.0.3 7300 1500
wait "$rpid"
read -r n trimmed bad <"$TMP/v2.out"
t_sw=$(counter "$P" "s0>s1.0" trimmed)
int_sw=$(counter "$P" "h2" int_stamped)
drops=$(counter "$P" "s0>s1.0" dropped)
echo "    received $n/1500 ($trimmed trimmed, $bad bad); switch: trimmed=$t_sw dropped=$drops int_stamped(h2)=$int_sw"
((bad == 0)) || fail "$bad packets arrived malformed"
((trimmed > 0 && trimmed == t_sw)) || fail "receiver saw $trimmed trimmed, switch trimmed $t_sw"
((n + drops == 1500)) || fail "$n received + $drops dropped != 1500 sent"
((int_sw >= n)) || fail "host port stamped $int_sw < $n received"
"$TB" down --prefix "$P" >/dev/null

step "leaf-spine: 4 hosts on 2 leaves, 2 spines; h0 -> h3 crosses both spines by ECMP"
"$TB" up --hosts 4 --prefix "$L" --switch leafspine --leaves 2 --spines 2 --switch-bin "$SWITCH" --rate 1gbit >/dev/null ||
    fail "up exited $?"
rm -f "$TMP/r.ready"
"$TB" exec 3 --prefix "$L" -- python3 "$TMP/udp.py" recv 7200 "$TMP/r.ready" 401 >"$TMP/ls.out" &
rpid=$!
wait_file "$TMP/r.ready" || fail "receiver did not start"
# One datagram first, so ARP is resolved before the burst (the kernel keeps
# only ~100 packets waiting for a neighbour), then 400 over 16 flows: 16
# source ports that ECMP spreads over the spines.
"$TB" exec 0 --prefix "$L" -- python3 "$TMP/udp.py" send 198.18.0.4 7200 1
sleep 0.3
"$TB" exec 0 --prefix "$L" -- python3 "$TMP/udp.py" send 198.18.0.4 7200 400 16
wait "$rpid"
read -r n _ bad <"$TMP/ls.out"
up0=$(counter "$L" "s0>s2.0" forwarded)
up1=$(counter "$L" "s0>s3.0" forwarded)
echo "    received $n/401; leaf 0 uplinks: spine s2 $up0, spine s3 $up1"
((n == 401 && bad == 0)) || fail "received $n/401 ($bad corrupt)"
((up0 > 0 && up1 > 0)) || fail "ECMP used one spine only ($up0 / $up1)"
