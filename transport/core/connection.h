// transport/core/connection.h — the state of one reliable association.
//
// Sender: a ring of sent-packet records indexed by PSN, a ring of operations
// indexed by message id, the SACK scoreboard, RACK state, RTT, paths and CC.
// Receiver: the PSN window (duplicates, SACK), a table of messages being
// placed, the per-tag matching state and the ACK/NACK that is owed.
// Everything sized at connect time: no allocation per packet.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "congestion/cc.h"
#include "transport/core/netaddr.h"
#include "transport/core/path_set.h"
#include "transport/core/rtt.h"
#include "transport/core/seq_window.h"
#include "transport/core/wire.h"
#include "weft/transport.h"

namespace weft::core {

// The one place connection states are named. Transitions happen only in
// Engine::set_state().
enum class ConnState : uint8_t {
  kConnecting,   // INIT sent, waiting for ACCEPT
  kEstablished,  // data may flow
  kClosing,      // CLOSE sent, waiting for CLOSE_ACK
  kClosed,       // closed cleanly by either side; stays closed
  kFailed,       // peer died or refused; stays failed and says why
};

enum class PktState : uint8_t { kFree, kInflight, kLost, kAcked };

struct SentPacket {
  uint64_t psn = 0;
  Nanos xmit_ts{0};
  uint64_t offset = 0;  // within the message
  uint32_t msg_id = 0;
  uint32_t len = 0;
  uint16_t path = 0;
  PktState state = PktState::kFree;
  uint8_t retx = 0;
  bool cancelled = false;  // send as a tombstone: the op failed
  bool queued = false;     // sits in the retransmit queue
};

enum class OpKind : uint8_t { kNone, kSend, kWrite };

inline uint32_t packets_for(uint64_t len, uint32_t mss) {
  return static_cast<uint32_t>(len == 0 ? 1 : (len + mss - 1) / mss);
}

struct SendOp {
  OpKind kind = OpKind::kNone;
  OpId id = 0;
  uint32_t msg_id = 0;
  const uint8_t* buf = nullptr;
  uint64_t len = 0;
  uint64_t next_offset = 0;   // packetization cursor
  uint32_t packets = 0;       // total packets of the message
  uint32_t packets_sent = 0;  // new (first) transmissions so far
  uint32_t packets_acked = 0;
  uint64_t key = 0;  // tag or rkey
  uint64_t aux = 0;  // tag sequence or remote offset
  uint32_t imm = 0;
  bool has_imm = false;
  bool completed = false;  // its completion was delivered (success or error)
};

// A message being placed at the receiver.
struct RxMsg {
  enum class Kind : uint8_t { kFree, kRecv, kUnexpected, kWriteImm };
  Kind kind = Kind::kFree;
  uint32_t msg_id = 0;
  uint64_t msg_len = 0;
  uint64_t received = 0;  // payload bytes accounted (placed or discarded)
  uint8_t* dest = nullptr;
  uint64_t capacity = 0;
  OpId recv_op = 0;
  uint64_t tag = 0;
  uint64_t tag_seq = 0;
  uint32_t imm = 0;
  bool done = false;
};

struct PostedRecv {
  OpId id;
  uint8_t* buf;
  uint64_t capacity;
};

// A send that arrived before its receive was posted, buffered in full.
struct Unexpected {
  // Not zero-filled: every byte is written by a packet before it is read as
  // message data (zeroing a large buffer costs as much as receiving it).
  std::unique_ptr<uint8_t[]> data;
  uint64_t msg_len = 0;
  bool complete = false;
  uint32_t slot = 0;  // receiver message-table slot while incomplete
};

struct TagSeqKey {
  uint64_t tag;
  uint64_t seq;
  bool operator==(const TagSeqKey&) const = default;
};
struct TagSeqHash {
  size_t operator()(const TagSeqKey& k) const { return std::hash<uint64_t>()(k.tag * 0x9E3779B97F4A7C15ull ^ k.seq); }
};

struct PendingNack {
  uint64_t psn;
  uint32_t msg_id;
  wire::NackReason reason;
};

struct Connection {
  Connection(ConnId id, const EngineParams& ep, const ConnParams& cp, uint32_t local_max_ops);

  // identity
  ConnId id;
  ConnState state = ConnState::kConnecting;
  bool outbound = true;
  Recovery recovery = Recovery::kSelectiveRepeat;
  NetAddr peer;
  std::string peer_name;
  uint32_t peer_conn = 0;
  uint32_t tag = 0;  // per-connection value every packet must carry
  uint32_t local_nonce = 0, peer_nonce = 0;
  Status failure;    // why it closed or failed; returned by every later call
  uint32_t mss = 0;
  uint32_t max_ops = 0;  // ops in flight: min of ours and the peer's

  // timers and liveness
  Nanos last_rx{0};
  Nanos last_tx{0};
  Nanos handshake_started{0};
  Nanos handshake_next{0};  // INIT / CLOSE retransmit time
  uint32_t handshake_tries = 0;
  bool owe_accept = false;   // server: (re)send ACCEPT
  bool owe_close_ack = false;
  bool owe_keepalive_reply = false;

  // ---- sender ----
  std::vector<SentPacket> sent;  // ring indexed by psn & (size-1)
  SeqWindow acked;               // sender-side SACK scoreboard
  uint64_t snd_una = 0, snd_nxt = 0;
  uint64_t peer_cum = 0;
  uint32_t peer_rwnd = 0;
  uint64_t peer_ce_bytes = 0;
  Bytes inflight{0};
  std::vector<uint64_t> retx_q;  // PSNs to resend, FIFO ring
  uint64_t retx_head = 0, retx_tail = 0;
  std::vector<uint64_t> retx_fly; // resent PSNs in send order (RACK on retransmissions)
  uint64_t fly_head = 0, fly_tail = 0;
  uint64_t rack_scan = 0;        // first-transmission PSNs below this were judged
  Nanos rack_xmit_ts{0};         // send time of the latest-sent delivered packet
  // RACK is judged per path: each path (one UDP source port, one ECMP
  // route) is FIFO, while different paths reorder freely (GRO, ECMP), so
  // only a later packet delivered on the *same* path proves a loss.
  struct PathRack {
    uint64_t delivered_psn = 0;  // one past the newest first transmission delivered on it
    Nanos delivered_xmit{0};     // send time of that packet
  };
  std::vector<PathRack> path_rack;
  Nanos probe_xmit{0};  // send time of the outstanding RTO probe, 0 if none
  Nanos rack_rtt{0};
  Nanos rack_deadline = Nanos::max();
  Nanos rto_deadline = Nanos::max();
  uint32_t consecutive_rto = 0;
  bool timer_is_tlp = false;  // rto_deadline is the tail-loss probe's, not the RTO's
  uint64_t gbn_rewound_to = 0;
  Nanos gbn_rewind_ts{0};
  Nanos next_send_ts{0};  // pacing (and the receiver-not-ready pause)
  Bytes lost_pending{0};  // lost bytes not yet reported to CC
  uint32_t rnr_streak = 0;  // receiver-not-ready NACKs since the last ACK progress
  RttEstimator rtt;
  PathSet paths;
  std::unique_ptr<cc::CongestionControl> cc;
  bool credit_mode = false;   // receiver-driven CC: DATA carries credit requests
  uint64_t cc_repath_seen = 0;  // the controller's re-path hints already acted on
  uint64_t unsent_bytes = 0;  // posted but never transmitted (the credit backlog)

  std::vector<SendOp> ops;  // ring indexed by msg_id % size
  uint32_t op_head = 0;     // oldest msg id not yet completed
  uint32_t op_tail = 0;     // next msg id to assign
  uint32_t op_tx = 0;       // msg id being packetized
  std::unordered_map<uint64_t, uint64_t> send_tag_seq;

  // ---- receiver ----
  SeqWindow rcv;  // bit set = PSN received
  uint64_t rcv_highest = 0;  // one past the highest PSN received
  uint64_t ce_bytes = 0;
  bool ack_owed = false;
  bool ack_now = false;
  uint32_t unacked_rx = 0;
  Nanos ack_deadline = Nanos::max();
  uint64_t ack_trigger_psn = 0;
  // INT the newest DATA carried, echoed in the next ACK for the sender's CC.
  std::array<wire::IntRecord, wire::kMaxIntHops> echo_int{};
  uint8_t echo_int_hops = 0;
  uint64_t echo_ts = 0;
  uint16_t echo_entropy = 0;
  bool gbn_nacked = false;  // one sequence NACK per hole
  std::deque<PendingNack> nacks;
  std::vector<RxMsg> rx;  // indexed by msg_id % size
  std::unordered_map<uint64_t, uint64_t> recv_tag_seq;
  std::unordered_map<TagSeqKey, PostedRecv, TagSeqHash> posted;
  std::unordered_map<TagSeqKey, std::unique_ptr<Unexpected>, TagSeqHash> unexpected;

  ConnStats stats;

  SentPacket& rec(uint64_t psn) { return sent[psn & (sent.size() - 1)]; }
  SendOp& op(uint32_t msg_id) { return ops[msg_id % ops.size()]; }
  bool usable() const { return state == ConnState::kEstablished; }
  bool has_unsent_data() const { return op_tx != op_tail; }
  bool retx_pending() const { return retx_head != retx_tail; }
};

}  // namespace weft::core
