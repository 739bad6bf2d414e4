/* weft/cc_plugin.h — the C ABI for user-written congestion control.
 *
 * A plugin is a shared object that exports ONE symbol:
 *
 *     const weft_cc_plugin_v1* weft_cc_plugin_entry(void);
 *
 * returning a pointer to a static table (below) whose `abi_version` is
 * WEFT_CC_PLUGIN_ABI_VERSION and whose every function pointer is non-NULL
 * (point unused events at a function that does nothing). weft checks the
 * version, the table size and every pointer when it loads the plugin and
 * refuses it, naming the field, otherwise. Select it with
 *
 *     WEFT_CC=plugin:/path/libmycc.so            (by path)
 *     WEFT_CC=plugin:mycc:key=value,key=value    (by name: libweft_cc_mycc.so
 *                                                 on the plugin search path)
 *
 * Rules for the plugin (full text: docs/cc-plugin-abi.md):
 *  - Plain C, no exceptions or longjmp across the boundary.
 *  - One state object per connection, created by `create`; events for one
 *    state never run concurrently, different states may run on different
 *    threads at once, so keep no unsynchronised globals.
 *  - Times are int64 nanoseconds on one monotonic clock (only differences
 *    mean anything), sizes uint64 bytes, rates bits per second.
 *  - `on_ack` is on the per-packet path: no allocation, lock or syscall.
 *  - Outputs are not trusted: a window <= 0 or a NaN/infinite/negative rate
 *    is replaced (by one MSS, or the last valid rate) and counted.
 *
 * Versioning: a new version adds a new struct (weft_cc_plugin_v2) and a new
 * constant; weft keeps an adapter for each old version it still accepts.
 */
#ifndef WEFT_CC_PLUGIN_H
#define WEFT_CC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_CC_PLUGIN_ABI_VERSION 1u
#define WEFT_CC_PLUGIN_ENTRY_SYMBOL "weft_cc_plugin_entry"

/* What the transport knows about the path (weft::cc::Context). */
typedef struct weft_cc_context {
  uint64_t mss_bytes;      /* payload bytes per packet */
  uint64_t link_rate_bps;  /* sender NIC rate */
  int64_t base_rtt_ns;     /* unloaded RTT hint */
  uint32_t hops;           /* forward hop count hint, 0 = unknown */
  uint32_t flags;          /* WEFT_CC_CTX_* */
} weft_cc_context;

#define WEFT_CC_CTX_INT_TELEMETRY 1u /* ACKs carry INT hop records */
#define WEFT_CC_CTX_TRIMMING 2u      /* switches trim instead of dropping */

typedef struct weft_cc_int_hop {
  uint64_t queue_bytes;
  uint64_t tx_bytes;       /* egress byte counter (wraps) */
  int64_t timestamp_ns;
  uint64_t link_rate_bps;
} weft_cc_int_hop;

typedef struct weft_cc_send {
  int64_t now_ns;
  uint64_t bytes;
  uint64_t inflight_bytes; /* after this send */
  uint32_t path;
  uint32_t retransmit;     /* 0 or 1 */
} weft_cc_send;

typedef struct weft_cc_ack {
  int64_t now_ns;
  uint64_t acked_bytes;
  uint64_t ecn_bytes;      /* of those, CE-marked */
  int64_t rtt_ns;          /* 0: no sample on this ACK */
  int64_t min_rtt_ns;
  uint64_t inflight_bytes; /* after this ACK */
  uint32_t path;
  uint32_t hops;           /* 0: unknown */
  int64_t host_delay_ns;   /* receiver part of rtt, 0: unknown */
  const weft_cc_int_hop* int_hops; /* valid during the call only */
  uint32_t int_hop_count;
  uint32_t reserved;
} weft_cc_ack;

typedef struct weft_cc_loss {
  int64_t now_ns;
  uint64_t lost_bytes;
  uint64_t inflight_bytes;
  uint32_t path;
  uint32_t reserved;
} weft_cc_loss;

typedef struct weft_cc_timeout {
  int64_t now_ns;
  uint32_t consecutive;    /* 1 for the first RTO since the last ACK */
  uint32_t reserved;
  uint64_t bytes;          /* size of the packet that timed out, 0 = one MSS */
} weft_cc_timeout;

typedef struct weft_cc_credit {
  int64_t now_ns;
  uint64_t credit_bytes;
} weft_cc_credit;

typedef struct weft_cc_trim {
  int64_t now_ns;
  uint64_t trimmed_bytes;
  uint32_t path;
  uint32_t reserved;
} weft_cc_trim;

typedef struct weft_cc_plugin_v1 {
  uint32_t abi_version;    /* WEFT_CC_PLUGIN_ABI_VERSION */
  uint32_t struct_size;    /* sizeof(weft_cc_plugin_v1) */
  const char* name;        /* [a-z0-9_]+, shown in stats and errors */

  /* Parse `params` ("key=value,key=value", may be ""), allocate the state.
   * Return 0 and set *state, or non-zero with a NUL-terminated reason (say
   * the cause and the fix) in err[0 .. err_len-1]. */
  int (*create)(const weft_cc_context* ctx, const char* params, void** state, char* err, size_t err_len);
  void (*destroy)(void* state);

  void (*on_send)(void* state, const weft_cc_send* ev);
  void (*on_ack)(void* state, const weft_cc_ack* ev);
  void (*on_loss)(void* state, const weft_cc_loss* ev);
  void (*on_timeout)(void* state, const weft_cc_timeout* ev);
  void (*on_credit)(void* state, const weft_cc_credit* ev);
  void (*on_trim)(void* state, const weft_cc_trim* ev);

  /* Read after every event. Bytes allowed in flight, > 0. */
  int64_t (*cwnd_bytes)(const void* state);
  /* Pacing rate in bits per second, finite and >= 0; 0 = unpaced. */
  double (*pacing_rate_bps)(const void* state);
} weft_cc_plugin_v1;

/* The one symbol a plugin exports. */
typedef const weft_cc_plugin_v1* (*weft_cc_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_CC_PLUGIN_H */
