#!/usr/bin/env bash
# End-to-end test of tools/weft-testbed: builds real namespaces, so it needs
# root, working 'ip netns' and nftables; without them it exits 77, which ctest
# reports as skipped (SKIP_RETURN_CODE 77).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB=${WEFT_TESTBED_BIN:-$HERE/../../tools/weft-testbed/weft-testbed}
# Unique per run so parallel ctest jobs (or a leftover from a killed run)
# never share namespaces.
P=wtbt$$
PREFIXES=("${P}a" "${P}b" "${P}c" "${P}d" "${P}e")

skip() { echo "SKIP: $*"; exit 77; }
((EUID == 0)) || skip "needs root (network namespaces)"
command -v ip >/dev/null || skip "ip not found (apt-get install iproute2)"
command -v tc >/dev/null || skip "tc not found (apt-get install iproute2)"
command -v nft >/dev/null || skip "nft not found (apt-get install nftables)"
command -v python3 >/dev/null || skip "python3 not found"
# A container without CAP_SYS_ADMIN has 'ip' but cannot create namespaces.
ip netns add "${P}probe" 2>/dev/null || skip "'ip netns add' does not work here"
ip netns del "${P}probe"

TMP=$(mktemp -d)
cleanup() {
    local rc=$?
    for p in "${PREFIXES[@]}"; do "$TB" down --prefix "$p" >/dev/null 2>&1 || true; done
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

ns_count() {  # namespaces whose name starts with "$1-"
    ip netns list | awk -v p="$1-" 'index($1, p) == 1' | wc -l
}
assert_gone() {  # prefix
    local n
    n=$(ns_count "$1")
    ((n == 0)) || fail "$n namespaces with prefix $1 remain: $(ip netns list | grep "^$1-" | tr '\n' ' ')"
    [[ ! -e /run/weft-testbed/$1.state ]] || fail "state file /run/weft-testbed/$1.state remains"
}

# UDP helper run inside the hosts:
#   recv PORT READYFILE   count datagrams until 2s of silence after the first
#                         (or 15s with none); print the count
#   send ADDR PORT COUNT  send COUNT small datagrams, paced so the receiver's
#                         socket buffer never overflows (only nft may drop)
#   echo PORT READYFILE   answer one datagram
#   ping ADDR PORT        send until answered (max 5s); exit 0 if answered
cat >"$TMP/udp.py" <<'EOF'
import socket, sys, time
mode = sys.argv[1]
def bound(port, ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(("0.0.0.0", int(port)))
    open(ready, "w").close()
    return s
if mode == "recv":
    s = bound(sys.argv[2], sys.argv[3])
    n, s_timeout = 0, 15.0
    while True:
        s.settimeout(s_timeout)
        try:
            s.recv(2048)
        except socket.timeout:
            break
        n, s_timeout = n + 1, 2.0
    print(n)
elif mode == "send":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[4])):
        s.sendto(b"x" * 64, (sys.argv[2], int(sys.argv[3])))
        if i % 100 == 99:
            time.sleep(0.002)
elif mode == "echo":
    s = bound(sys.argv[2], sys.argv[3])
    s.settimeout(10)
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
elif mode == "ping":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.25)
    for _ in range(20):
        s.sendto(b"ping", (sys.argv[2], int(sys.argv[3])))
        try:
            if s.recv(2048) == b"ping":
                sys.exit(0)
        except socket.timeout:
            pass
    sys.exit(1)
EOF

wait_file() { local _; for _ in {1..100}; do [[ -e $1 ]] && return 0; sleep 0.05; done; return 1; }

# Reachability from host 0 to host $2 of testbed $1: ICMP when ping exists,
# else a UDP echo (which also proves the path back).
reach() {
    local p=$1 i=$2 addr
    addr=$("$TB" addr "$i" --prefix "$p")
    if command -v ping >/dev/null; then
        "$TB" exec 0 --prefix "$p" -- ping -c 2 -W 2 -q "$addr" >/dev/null
    else
        rm -f "$TMP/echo.ready"
        "$TB" exec "$i" --prefix "$p" -- python3 "$TMP/udp.py" echo 7007 "$TMP/echo.ready" &
        local srv=$!
        wait_file "$TMP/echo.ready" || { kill "$srv"; return 1; }
        local rc=0
        "$TB" exec 0 --prefix "$p" -- python3 "$TMP/udp.py" ping "$addr" 7007 || rc=$?
        wait "$srv" || rc=1
        return "$rc"
    fi
}

step "down on a prefix that does not exist succeeds"
"$TB" down --prefix "${PREFIXES[0]}" || fail "down exited $?"
assert_gone "${PREFIXES[0]}"

step "argument validation rejects bad input and creates nothing"
for bad in "--hosts 0" "--hosts 65" "--hosts x" "--loss 1.5" "--loss -0.1" "--rate fast" "--prefix bad-name"; do
    # shellcheck disable=SC2086  # $bad is deliberately split into words
    if "$TB" up --hosts 2 --prefix "${PREFIXES[0]}" $bad 2>"$TMP/err"; then
        fail "'up $bad' succeeded"
    fi
    grep -q "invalid" "$TMP/err" || fail "'up $bad' gave no clear error: $(cat "$TMP/err")"
    echo "    up $bad -> $(head -1 "$TMP/err")"
done
assert_gone "${PREFIXES[0]}"

p=${PREFIXES[0]}
step "up --hosts 3 --loss 0 creates h0..h2 and sw, with a state file"
"$TB" up --hosts 3 --loss 0 --prefix "$p"
for ns in "$p-h0" "$p-h1" "$p-h2" "$p-sw"; do
    [[ -e /run/netns/$ns ]] || fail "namespace $ns missing"
done
(($(ns_count "$p") == 4)) || fail "expected 4 namespaces, got $(ns_count "$p")"
[[ -s /run/weft-testbed/$p.state ]] || fail "no state file"

step "addr prints 198.18.0.(i+1)"
[[ $("$TB" addr 2 --prefix "$p") == 198.18.0.3 ]] || fail "addr 2 = $("$TB" addr 2 --prefix "$p")"

step "loopback is up in every namespace"
for ns in "$p-h0" "$p-h1" "$p-h2" "$p-sw"; do
    # Capture first: `cmd | grep -q` under pipefail fails when grep exits
    # early and the writer gets SIGPIPE.
    lo=$(ip -n "$ns" link show lo)
    grep -q 'state UNKNOWN\|state UP' <<<"$lo" || fail "lo down in $ns"
done

step "host 0 reaches host 1 and host 2 ($(command -v ping >/dev/null && echo ICMP ping || echo UDP echo))"
reach "$p" 1 || fail "h0 cannot reach h1"
reach "$p" 2 || fail "h0 cannot reach h2"

step "with --loss 0 all 500 UDP datagrams h0 -> h1 arrive (control for the loss test)"
rm -f "$TMP/r.ready"
"$TB" exec 1 --prefix "$p" -- python3 "$TMP/udp.py" recv 7008 "$TMP/r.ready" >"$TMP/count0" &
rpid=$!
wait_file "$TMP/r.ready" || fail "receiver did not start"
"$TB" exec 0 --prefix "$p" -- python3 "$TMP/udp.py" send 198.18.0.2 7008 500
wait "$rpid"
echo "    received $(cat "$TMP/count0")/500"
(($(cat "$TMP/count0") == 500)) || fail "received $(cat "$TMP/count0")/500 without loss"

step "down removes every namespace and the state file; a second down is a no-op"
"$TB" down --prefix "$p"
assert_gone "$p"
"$TB" down --prefix "$p" || fail "second down exited $?"

p=${PREFIXES[1]}
step "run --hosts 2 --loss 0.5: 2000 UDP datagrams h0 -> h1, 30%..70% arrive"
# shellcheck disable=SC2016  # expanded by the inner shell, inside the testbed
"$TB" run --hosts 2 --loss 0.5 --prefix "$p" -- bash -c '
    set -euo pipefail
    py=$1 tmp=$2 p=$3
    [[ $WEFT_TESTBED_PREFIX == "$p" && $WEFT_TESTBED_HOSTS == 2 ]] ||
        { echo "bad env: $WEFT_TESTBED_PREFIX $WEFT_TESTBED_HOSTS" >&2; exit 1; }
    rules=$("$WEFT_TESTBED" exec 1 -- nft list table inet wtb)  # not piped: see "loopback is up"
    grep -q "numgen random mod 10000 < 5000 drop" <<<"$rules" ||
        { echo "nft drop rule missing in h1" >&2; exit 1; }
    "$WEFT_TESTBED" exec 1 -- python3 "$py" recv 7009 "$tmp/r2.ready" >"$tmp/count" &
    for _ in {1..100}; do [[ -e $tmp/r2.ready ]] && break; sleep 0.05; done
    "$WEFT_TESTBED" exec 0 -- python3 "$py" send "$("$WEFT_TESTBED" addr 1)" 7009 2000
    wait
' _ "$TMP/udp.py" "$TMP" "$p" || fail "run exited $?"
n=$(cat "$TMP/count")
echo "    received $n/2000 ($((n * 100 / 2000))%)"
((n >= 600 && n <= 1400)) || fail "received $n/2000, outside 30%..70%"

step "run tore the testbed down after the command"
assert_gone "$p"

p=${PREFIXES[2]}
step "run propagates a failing command's exit status (7) and still tears down"
rc=0
"$TB" run --hosts 2 --prefix "$p" -- sh -c 'exit 7' 2>/dev/null || rc=$?
((rc == 7)) || fail "run exited $rc, want 7"
assert_gone "$p"

p=${PREFIXES[3]}
step "run tears down when it gets SIGTERM while the command runs"
"$TB" run --hosts 2 --prefix "$p" -- sleep 60 2>/dev/null &
tbpid=$!
for _ in {1..100}; do [[ -e /run/netns/$p-h1 ]] && break; sleep 0.05; done
[[ -e /run/netns/$p-h1 ]] || fail "testbed never came up"
sleep 0.3
kill -TERM "$tbpid"
rc=0
wait "$tbpid" || rc=$?
((rc == 143)) || fail "run exited $rc after SIGTERM, want 143"
assert_gone "$p"

p=${PREFIXES[4]}
step "down cleans up after a crashed up (namespaces left, state file present)"
"$TB" up --hosts 2 --prefix "$p" >/dev/null
"$TB" exec 1 --prefix "$p" -- sleep 60 &
sleep 0.3  # a process still inside a namespace, as after a crash
"$TB" down --prefix "$p"
wait || true
assert_gone "$p"

step "up replaces a stale testbed with the same prefix"
"$TB" up --hosts 3 --prefix "$p" >/dev/null
"$TB" up --hosts 2 --prefix "$p" >/dev/null
(($(ns_count "$p") == 3)) || fail "expected 3 namespaces after re-up with 2 hosts, got $(ns_count "$p")"
"$TB" down --prefix "$p" >/dev/null
assert_gone "$p"
