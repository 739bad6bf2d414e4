# Every dependency comes from a Debian package. Required ones stop the
# configure with the package to install; optional ones are reported in the
# summary (cmake/Summary.cmake) with the package that would enable them.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

find_package(fmt QUIET)
if(NOT fmt_FOUND)
  message(FATAL_ERROR "fmt not found: apt-get install libfmt-dev")
endif()
find_package(CLI11 QUIET)
if(NOT CLI11_FOUND)
  message(FATAL_ERROR "CLI11 not found: apt-get install libcli11-dev")
endif()

if(WEFT_BUILD_TESTS)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    message(FATAL_ERROR "GoogleTest not found: apt-get install libgtest-dev libgmock-dev")
  endif()
endif()
if(WEFT_BUILD_BENCH)
  find_package(benchmark QUIET)
  if(NOT benchmark_FOUND)
    message(FATAL_ERROR "Google Benchmark not found: apt-get install libbenchmark-dev")
  endif()
endif()

# Optional: used by later backends (verbs, DPDK, UCX, topology-aware pinning).
pkg_check_modules(IBVERBS QUIET IMPORTED_TARGET libibverbs)
pkg_check_modules(DPDK QUIET IMPORTED_TARGET libdpdk)
pkg_check_modules(UCX QUIET IMPORTED_TARGET ucx)
pkg_check_modules(HWLOC QUIET IMPORTED_TARGET hwloc)
