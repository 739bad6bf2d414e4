// plugin/core/handle.h — the bytes `listen` writes into NCCL's 128-byte handle.
//
// NCCL copies the handle to the connecting rank and then calls connect() with
// the *same* buffer until it returns a comm; like NCCL's own transports we
// keep the connect state machine's pointer in the handle (`connecting`),
// which listen zeroes. The nonce names the listen comm, so the acceptor can
// route an incoming connection to the right one: one weft Device per NCCL
// device serves every listen comm on it.
#pragma once

#include <cstdint>
#include <cstring>

namespace weft::nccl {

inline constexpr uint32_t kHandleMagic = 0x77656674;  // "weft"
inline constexpr uint16_t kHandleVersion = 1;

struct ListenHandle {
  uint32_t magic;
  uint16_t version;
  uint16_t reserved;
  uint64_t nonce;       // random per listen comm; echoed by the connector's hello
  uint64_t connecting;  // SendComm* of a connect in progress; 0 from listen
  char address[64];     // the acceptor's weft Device address, "a.b.c.d:port"
};
static_assert(sizeof(ListenHandle) <= 128, "NCCL_NET_HANDLE_MAXSIZE is 128 bytes");

// First message on every connection, sent by the connector (tag kHelloTag).
struct Hello {
  uint32_t magic;
  uint32_t version;
  uint64_t nonce;
};

// NCCL tags are ints; weft tags are 64-bit. Data uses the low 32 bits, so the
// hello can never match a data receive.
inline constexpr uint64_t kHelloTag = uint64_t{1} << 63;
inline uint64_t data_tag(int nccl_tag) { return static_cast<uint32_t>(nccl_tag); }

}  // namespace weft::nccl
