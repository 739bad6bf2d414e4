// common/log.h — leveled logging. The level is a parameter; only edges (tools,
// plugin, bootstrap) turn WEFT_DEBUG into one with level_from_env().
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <string_view>

namespace weft::log {

enum class Level : int { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

// The process-wide threshold lives in one atomic so hot paths test it cheaply.
// It is configuration, set once at an edge, not mutable state shared by modules.
Level threshold();
void set_threshold(Level l);
// Parses WEFT_DEBUG: unset/0 -> warn, 1/"info", 2/"debug", 3/"trace", "error".
Level level_from_env();
void write(Level l, std::string_view msg);

template <typename... Args>
void emit(Level l, fmt::format_string<Args...> f, Args&&... args) {
  if (static_cast<int>(l) > static_cast<int>(threshold())) return;
  write(l, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace weft::log

#define WEFT_LOG(level, ...) ::weft::log::emit(::weft::log::Level::level, __VA_ARGS__)
