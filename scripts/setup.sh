#!/usr/bin/env bash
# Installs the Debian packages weft builds and tests with, skipping what is
# already there. Run as root on Debian 12.
set -euo pipefail
required=(build-essential cmake ninja-build pkg-config git
          libgtest-dev libgmock-dev libbenchmark-dev libfmt-dev libcli11-dev)
# Later backends and tools: verbs, UCX, hwloc (DPDK is large; set WEFT_WITH_DPDK=1 to add it).
optional=(libibverbs-dev libhwloc-dev libucx-dev)
# The testbed and its tests: namespaces, tc, nftables.
testbed=(iproute2 nftables python3)
pkgs=("${required[@]}" "${optional[@]}" "${testbed[@]}")
[ "${WEFT_WITH_DPDK:-0}" = 1 ] && pkgs+=(dpdk-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
