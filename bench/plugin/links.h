// bench/plugin/links.h — the two ways the benchmark moves messages: weft's
// Device API directly (RawLink) and libnccl-net-weft.so through NCCL's v12
// struct (PluginLink). Both run the same loops in plugin_bench.cc, so the
// difference is the plugin's cost. Tokens are what a post returns and
// done() polls: an OpId or an NCCL request.
#pragma once

#include <dlfcn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugin/abi/net_v12.h"
#include "transport/udp/udp_driver.h"

namespace weft::bench {

class Link {
 public:
  virtual ~Link() = default;
  virtual void* reg(void* buf, size_t len, bool for_send) = 0;  // registration handle (or nullptr)
  virtual void unreg(void* mh, bool for_send) = 0;
  virtual uintptr_t send(const void* buf, size_t len, void* mh) = 0;  // 0: not posted (retry)
  virtual uintptr_t recv(void* buf, size_t cap, void* mh) = 0;
  // 1 done, 0 not yet, -1 failed (sets `error`).
  virtual int done(uintptr_t token, size_t* bytes) = 0;
  std::string error;
};

// ---- weft Device, the same parameters the plugin's Endpoint uses ----
class RawLink : public Link {
 public:
  static std::unique_ptr<RawLink> open(std::string* err);
  std::string address() const { return dev_->address(); }
  bool connect(const std::string& peer);  // one side connects...
  bool accept();                          // ...the other accepts
  void* reg(void*, size_t, bool) override { return nullptr; }
  void unreg(void*, bool) override {}
  uintptr_t send(const void* buf, size_t len, void*) override;
  uintptr_t recv(void* buf, size_t cap, void*) override;
  int done(uintptr_t token, size_t* bytes) override;

 private:
  bool await_type(CompletionType t);
  std::unique_ptr<Device> dev_;
  ConnId conn_ = 0;
  // Completion flags indexed by OpId: ops complete in any order, and a
  // flat ring costs the raw side nothing per message (no hashing).
  static constexpr size_t kRing = 1 << 16;
  std::vector<uint8_t> done_ = std::vector<uint8_t>(kRing, 0);
  std::vector<uint64_t> bytes_ = std::vector<uint64_t>(kRing, 0);
};

// ---- the plugin, dlopen()ed like NCCL does ----
class PluginLink : public Link {
 public:
  static std::unique_ptr<PluginLink> open(const char* path, std::string* err);
  ~PluginLink() override;
  // Listen handle to give the peer, then poll until both directions are up.
  bool listen(char handle[128]);
  bool connect(char peer_handle[128]);
  void* reg(void* buf, size_t len, bool for_send) override;
  void unreg(void* mh, bool for_send) override;
  uintptr_t send(const void* buf, size_t len, void* mh) override;
  uintptr_t recv(void* buf, size_t cap, void* mh) override;
  int done(uintptr_t token, size_t* bytes) override;

 private:
  void* lib_ = nullptr;
  const nccl::abi::ncclNet_v12_t* net_ = nullptr;
  void* ctx_ = nullptr;
  void *listen_ = nullptr, *send_ = nullptr, *recv_ = nullptr;
};

}  // namespace weft::bench
