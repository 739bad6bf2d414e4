#include "common/log.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace weft::log {
namespace {
std::atomic<int>& level_ref() {
  static std::atomic<int> level{static_cast<int>(Level::kWarn)};
  return level;
}
constexpr const char* kNames[] = {"error", "warn", "info", "debug", "trace"};
}  // namespace

Level threshold() { return static_cast<Level>(level_ref().load(std::memory_order_relaxed)); }
void set_threshold(Level l) { level_ref().store(static_cast<int>(l), std::memory_order_relaxed); }

Level level_from_env() {
  const char* v = std::getenv("WEFT_DEBUG");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "0") == 0) return Level::kWarn;
  for (int i = 0; i < 5; ++i)
    if (strcasecmp(v, kNames[i]) == 0) return static_cast<Level>(i);
  int n = std::atoi(v);
  if (n >= 3) return Level::kTrace;
  if (n == 2) return Level::kDebug;
  return Level::kInfo;
}

void write(Level l, std::string_view msg) {
  std::fprintf(stderr, "weft %s: %.*s\n", kNames[static_cast<int>(l)], static_cast<int>(msg.size()), msg.data());
}

}  // namespace weft::log
