// congestion/plugin_loader.h — user-written algorithms from a shared object.
//
// Spec: "plugin:/path/libmycc.so[:k=v,...]" (a target containing '/' is a
// path) or "plugin:name[:k=v,...]", which looks for libweft_cc_<name>.so in,
// in order: Context::plugin_path, $WEFT_CC_PLUGIN_PATH (both ':'-separated),
// then WEFT_CC_PLUGIN_DEFAULT_DIR (set by the build; /usr/local/lib/weft/cc
// when installed). Paths containing ':' cannot be named in a spec.
//
// Loading checks, in this order, and refuses with cause and remedy: dlopen
// (dlerror text), the entry symbol, a non-NULL table, abi_version (found vs
// expected), struct_size, the name, and every function pointer (by field
// name). The plugin's `create` may refuse its parameters with its own text.
//
// The adapter (PluginCc) never trusts the plugin's outputs: after every
// event it reads window and rate once, replaces a window <= 0 by one MSS
// (and one above 2^40 bytes by 2^40), a NaN, infinite or negative rate by
// the last valid one, and counts each replacement in
// counters().invalid_outputs. The shared object stays loaded while any
// controller made from it lives.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "congestion/registry.h"
#include "weft/cc_plugin.h"

namespace weft::cc {

// One dlopen'ed plugin; shared by the controllers made from it.
class PluginLibrary {
 public:
  // `path` is a file path, or a bare name searched as described above.
  static Result<std::shared_ptr<PluginLibrary>> open(std::string_view path_or_name, const Context& ctx);
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const weft_cc_plugin_v1& table() const { return *table_; }
  const std::string& path() const { return path_; }

  // A controller for one connection; `params` go to the plugin's create().
  static Result<CcPtr> instantiate(std::shared_ptr<PluginLibrary> lib, std::string_view params, const Context& ctx);

 private:
  PluginLibrary(void* handle, const weft_cc_plugin_v1* table, std::string path)
      : handle_(handle), table_(table), path_(std::move(path)) {}
  void* handle_;
  const weft_cc_plugin_v1* table_;
  std::string path_;
};

// The registry entry "plugin" (its args: "target[:k=v,...]").
Algorithm plugin_algorithm();

}  // namespace weft::cc
