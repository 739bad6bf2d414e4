// Loading and sandboxing user-written CC plugins: see plugin_loader.h.
#include "congestion/plugin_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <vector>

namespace weft::cc {

#ifndef WEFT_CC_PLUGIN_DEFAULT_DIR
#define WEFT_CC_PLUGIN_DEFAULT_DIR "/usr/local/lib/weft/cc"
#endif

namespace {

constexpr int64_t kMaxWindow = int64_t{1} << 40;  // 1 TiB: far beyond any BDP

void split_dirs(std::string_view list, std::vector<std::string>* out) {
  while (!list.empty()) {
    size_t c = list.find(':');
    std::string_view d = list.substr(0, c);
    if (!d.empty()) out->emplace_back(d);
    if (c == std::string_view::npos) break;
    list = list.substr(c + 1);
  }
}

Status check_table(const weft_cc_plugin_v1* t, const std::string& path) {
  const std::string where = "CC plugin '" + path + "'";
  if (t == nullptr) {
    return Status(Code::kInvalidArgument, where + ": " WEFT_CC_PLUGIN_ENTRY_SYMBOL
                                                  "() returned NULL; return the address of a static weft_cc_plugin_v1");
  }
  if (t->abi_version != WEFT_CC_PLUGIN_ABI_VERSION) {
    return Status(Code::kRejected, where + " has ABI version " + std::to_string(t->abi_version) +
                                       ", this weft expects " + std::to_string(WEFT_CC_PLUGIN_ABI_VERSION) +
                                       "; rebuild the plugin against this weft's include/weft/cc_plugin.h");
  }
  if (t->struct_size < sizeof(weft_cc_plugin_v1)) {
    return Status(Code::kRejected, where + " declares struct_size " + std::to_string(t->struct_size) +
                                       ", smaller than weft_cc_plugin_v1 (" + std::to_string(sizeof(weft_cc_plugin_v1)) +
                                       "); set struct_size = sizeof(weft_cc_plugin_v1) and rebuild");
  }
  if (t->name == nullptr || t->name[0] == '\0') {
    return Status(Code::kInvalidArgument, where + " has no name; set the table's name field");
  }
  struct Ptr {
    const char* field;
    bool present;
  };
  const Ptr ptrs[] = {
      {"create", t->create != nullptr},         {"destroy", t->destroy != nullptr},
      {"on_send", t->on_send != nullptr},       {"on_ack", t->on_ack != nullptr},
      {"on_loss", t->on_loss != nullptr},       {"on_timeout", t->on_timeout != nullptr},
      {"on_credit", t->on_credit != nullptr},   {"on_trim", t->on_trim != nullptr},
      {"cwnd_bytes", t->cwnd_bytes != nullptr}, {"pacing_rate_bps", t->pacing_rate_bps != nullptr},
  };
  for (const Ptr& p : ptrs) {
    if (!p.present) {
      return Status(Code::kInvalidArgument, where + ": function pointer '" + p.field +
                                                "' is NULL; every field must be set (point unused events at a "
                                                "function that does nothing)");
    }
  }
  return Status::ok();
}

// The adapter: C++ events in, C events out, outputs checked.
class PluginCc final : public CongestionControl {
 public:
  PluginCc(std::shared_ptr<PluginLibrary> lib, void* state, const Context& ctx)
      : lib_(std::move(lib)), t_(lib_->table()), state_(state), mss_(static_cast<int64_t>(ctx.mss.count())) {
    name_ = std::string("plugin:") + t_.name;
    refresh();
  }
  ~PluginCc() override { t_.destroy(state_); }

  std::string_view name() const override { return name_; }
  void on_send(const SendEvent& e) override {
    const weft_cc_send c{e.now.count(), e.bytes.count(), e.inflight.count(), e.path, e.retransmit ? 1u : 0u};
    t_.on_send(state_, &c);
    refresh();
  }
  void on_ack(const AckSample& a) override {
    // INT records are converted into a fixed buffer: no allocation per ACK.
    weft_cc_int_hop hops[kMaxHops];
    const size_t n = std::min(a.int_hops.size(), kMaxHops);
    for (size_t i = 0; i < n; ++i) {
      const IntHop& h = a.int_hops[i];
      hops[i] = {h.queue_len.count(), h.tx_bytes.count(), h.timestamp.count(), h.link_rate.count()};
    }
    const weft_cc_ack c{a.now.count(),      a.acked_bytes.count(), a.ecn_bytes.count(), a.rtt.count(),
                        a.min_rtt.count(),  a.inflight.count(),    a.path,              a.hops,
                        a.host_delay.count(), n ? hops : nullptr,  static_cast<uint32_t>(n), 0};
    t_.on_ack(state_, &c);
    refresh();
  }
  void on_loss(const LossEvent& e) override {
    const weft_cc_loss c{e.now.count(), e.lost_bytes.count(), e.inflight.count(), e.path, 0};
    t_.on_loss(state_, &c);
    refresh();
  }
  void on_timeout(const TimeoutEvent& e) override {
    const weft_cc_timeout c{e.now.count(), e.consecutive, 0, e.bytes.count()};
    t_.on_timeout(state_, &c);
    refresh();
  }
  void on_credit(const CreditEvent& e) override {
    const weft_cc_credit c{e.now.count(), e.credit.count()};
    t_.on_credit(state_, &c);
    refresh();
  }
  void on_trim(const TrimEvent& e) override {
    const weft_cc_trim c{e.now.count(), e.trimmed_bytes.count(), e.path, 0};
    t_.on_trim(state_, &c);
    refresh();
  }
  Bytes cwnd() const override { return Bytes(static_cast<uint64_t>(cwnd_)); }
  BitsPerSec pacing_rate() const override { return BitsPerSec(static_cast<uint64_t>(rate_)); }
  Counters counters() const override { return {.invalid_outputs = invalid_}; }

 private:
  static constexpr size_t kMaxHops = 16;

  void refresh() {
    int64_t w = t_.cwnd_bytes(state_);
    if (w <= 0) {
      w = mss_;
      ++invalid_;
    } else if (w > kMaxWindow) {
      w = kMaxWindow;
      ++invalid_;
    }
    cwnd_ = w;
    const double r = t_.pacing_rate_bps(state_);
    if (std::isfinite(r) && r >= 0 && r < 1.8e19) {
      rate_ = r;
    } else {
      ++invalid_;  // keep the last valid rate
    }
  }

  std::shared_ptr<PluginLibrary> lib_;  // keeps the code mapped while we live
  const weft_cc_plugin_v1& t_;
  void* state_;
  int64_t mss_;
  std::string name_;
  int64_t cwnd_ = 0;
  double rate_ = 0;
  uint64_t invalid_ = 0;
};

}  // namespace

Result<std::shared_ptr<PluginLibrary>> PluginLibrary::open(std::string_view target, const Context& ctx) {
  std::string path;
  if (target.find('/') != std::string_view::npos) {
    path = std::string(target);
  } else {
    if (target.empty()) {
      return Status(Code::kInvalidArgument,
                    "empty plugin name; write plugin:/path/libmycc.so or plugin:mycc (finds libweft_cc_mycc.so)");
    }
    std::vector<std::string> dirs;
    split_dirs(ctx.plugin_path, &dirs);
    if (const char* env = std::getenv("WEFT_CC_PLUGIN_PATH")) split_dirs(env, &dirs);
    dirs.emplace_back(WEFT_CC_PLUGIN_DEFAULT_DIR);
    const std::string file = "libweft_cc_" + std::string(target) + ".so";
    std::string searched;
    for (const std::string& d : dirs) {
      std::string candidate = d + "/" + file;
      if (::access(candidate.c_str(), R_OK) == 0) {
        path = candidate;
        break;
      }
      searched += (searched.empty() ? "" : ", ") + d;
    }
    if (path.empty()) {
      return Status(Code::kNotFound, "CC plugin '" + std::string(target) + "': no " + file + " in " + searched +
                                         "; put it there, add its directory to WEFT_CC_PLUGIN_PATH, or give a "
                                         "path (plugin:/path/" + file + ")");
    }
  }
  dlerror();
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* why = dlerror();
    return Status(Code::kUnavailable, "cannot load CC plugin '" + path + "': " + (why ? why : "unknown dlopen error") +
                                          "; check that the file exists, is a shared object for this machine "
                                          "(built with -shared -fPIC) and that its dependencies resolve (ldd)");
  }
  dlerror();
  void* sym = ::dlsym(h, WEFT_CC_PLUGIN_ENTRY_SYMBOL);
  if (sym == nullptr) {
    const char* err = dlerror();
    const std::string why = err ? err : "symbol is NULL";  // copied: dlclose frees dlerror's buffer
    ::dlclose(h);
    return Status(Code::kNotFound, "CC plugin '" + path + "' does not export '" WEFT_CC_PLUGIN_ENTRY_SYMBOL "' (" + why +
                                       "); define it with C linkage and default visibility, see docs/cc-plugin-abi.md");
  }
  auto entry = reinterpret_cast<weft_cc_plugin_entry_fn>(sym);
  const weft_cc_plugin_v1* table = entry();
  if (Status s = check_table(table, path); !s.is_ok()) {
    ::dlclose(h);
    return s;
  }
  return std::shared_ptr<PluginLibrary>(new PluginLibrary(h, table, path));
}

PluginLibrary::~PluginLibrary() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

Result<CcPtr> PluginLibrary::instantiate(std::shared_ptr<PluginLibrary> lib, std::string_view params, const Context& ctx) {
  const weft_cc_context c{ctx.mss.count(), ctx.link_rate.count(), ctx.base_rtt.count(), ctx.hops,
                          (ctx.int_telemetry ? WEFT_CC_CTX_INT_TELEMETRY : 0u) | (ctx.trimming ? WEFT_CC_CTX_TRIMMING : 0u)};
  const std::string p(params);
  char err[512] = {0};
  void* state = nullptr;
  const int rc = lib->table().create(&c, p.c_str(), &state, err, sizeof err - 1);
  err[sizeof err - 1] = '\0';
  if (rc != 0) {
    return Status(Code::kInvalidArgument, "CC plugin '" + std::string(lib->table().name) + "' (" + lib->path() +
                                              ") refused parameters '" + p + "': " + (err[0] ? err : "no reason given"));
  }
  if (state == nullptr) {
    return Status(Code::kInternal, "CC plugin '" + std::string(lib->table().name) +
                                       "' create() returned 0 but no state; it must set *state");
  }
  return CcPtr(std::make_unique<PluginCc>(std::move(lib), state, ctx));
}

namespace {

Result<CcPtr> make_plugin(std::string_view args, const Context& ctx) {
  if (args.empty()) {
    return Status(Code::kInvalidArgument,
                  "plugin needs a target: plugin:/path/libmycc.so or plugin:mycc[:key=value,...]");
  }
  const size_t colon = args.find(':');
  const std::string_view target = args.substr(0, colon);
  const std::string_view params = colon == std::string_view::npos ? std::string_view() : args.substr(colon + 1);
  auto lib = PluginLibrary::open(target, ctx);
  if (!lib) return lib.status();
  return PluginLibrary::instantiate(std::move(*lib), params, ctx);
}

}  // namespace

Algorithm plugin_algorithm() {
  return {"plugin", "a user-written algorithm loaded from a shared object (docs/cc-plugin-abi.md)",
          "  plugin:/path/libmycc.so[:k=v,...] or plugin:name[:k=v,...]; parameters go to the plugin\n", make_plugin};
}

}  // namespace weft::cc
