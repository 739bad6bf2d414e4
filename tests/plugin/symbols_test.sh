#!/bin/sh
# The plugin must export exactly ncclNetPlugin_v6..v12 as data objects (NCCL
# dlsym()s them; anything else exported could clash with the application's
# own weft/fmt/libstdc++ symbols) and carry its file name as SONAME.
set -eu
lib="$1"
want="ncclNetPlugin_v10 ncclNetPlugin_v11 ncclNetPlugin_v12 ncclNetPlugin_v6 ncclNetPlugin_v7 ncclNetPlugin_v8 ncclNetPlugin_v9"
got=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$got" != "$want" ]; then
  echo "FAIL: exported symbols differ"
  echo "  want: $want"
  echo "  got:  $got"
  exit 1
fi
# Each must be a data object ('D' or 'R'), not a function.
bad=$(nm -D --defined-only "$lib" | awk '$2 !~ /^[DdRr]$/ {print $3 " (" $2 ")"}')
if [ -n "$bad" ]; then
  echo "FAIL: not data symbols: $bad"
  exit 1
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libnccl-net-weft.so" ]; then
  echo "FAIL: SONAME is '$soname', want libnccl-net-weft.so"
  exit 1
fi
echo "ok: $got; SONAME $soname"
