// plugin/core/state.h — the plugin's process-wide state, and why it exists.
//
// v6–v10 calls carry no context: devices(), getProperties(), listen() and
// connect() must find the device list and the shared weft Devices somewhere,
// so they live here, behind one mutex, taken only on setup calls (the data
// path reaches its Endpoint through the comm). This is state the NCCL ABI
// forces; v11's ctx is per communicator and does not own devices either.
//
// Lifetime: created by the first init, torn down by the last finalize when
// no comm is open, and in any case when the library is unloaded (a static
// destructor), so no progress thread outlives a dlclose.
#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "plugin/core/config.h"
#include "plugin/core/endpoint.h"
#include "plugin/core/netdevs.h"

namespace weft::nccl {

struct Global {
  Global() = default;
  // At unload: frees what NCCL left open (an aborted job, an abandoned
  // connect) before the Endpoints stop their threads.
  ~Global();
  std::mutex mu;
  int refs = 0;  // net_init minus net_finalize
  Config cfg;
  std::vector<NetDev> devs;
  std::vector<std::unique_ptr<Endpoint>> eps;  // parallel to devs; opened on first use
  // Every comm and listen comm handed to NCCL and not yet closed: setup
  // calls check pointers against it, so a double close or a stale handle is
  // refused with a message instead of freeing memory twice.
  std::unordered_map<const void*, CommKind> live;
};

Global& global();

// Frees a comm or listen comm that is in `live` and removes it. Caller holds g.mu.
void destroy_locked(Global& g, void* p);

// The Endpoint of `dev`, opened on first use. Caller holds global().mu.
Result<Endpoint*> endpoint_locked(Global& g, int dev);

}  // namespace weft::nccl
