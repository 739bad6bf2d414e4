// transport/core/wire.h — weft's packet format, version 2 (docs/wire-format.md).
//
// Every UDP datagram holds exactly one weft packet: a 48-byte common header,
// a type-specific extension, then payload. All integers are little-endian.
// Offsets 0..3 (magic, version, type) are frozen across versions so any
// version can recognise and count a packet from another.
//
// Version 2 splits the checksum so switches may touch a packet in flight and
// receivers may place a payload while checking it:
//  - the common header's CRC covers the headers only, and skips bytes 42..43,
//    the *variant* fields a switch writes (net_flags: TRIMMED; int_hops);
//  - a DATA header carries a second CRC over its payload, verified during
//    placement (crc32c_copy), so a payload is read once;
//  - a switch may cut a DATA payload (TRIMMED) or append INT hop records
//    after it, and the header stays valid end to end.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace weft::core::wire {

inline constexpr uint16_t kMagic = 0x4657;  // bytes 'W','F'
inline constexpr uint8_t kVersion = 2;
inline constexpr size_t kCommonSize = 48;
inline constexpr size_t kDataExtSize = 48;
inline constexpr size_t kAckExtSize = 24;
inline constexpr size_t kNackExtSize = 24;
inline constexpr size_t kHandshakeExtSize = 32;
inline constexpr size_t kCloseExtSize = 8;
inline constexpr size_t kCreditExtSize = 8;
inline constexpr size_t kMaxSackRanges = 32;
inline constexpr size_t kSackRangeSize = 8;
inline constexpr size_t kDataHeaderSize = kCommonSize + kDataExtSize;
// In-band telemetry a switch appends after a DATA payload: at most 8 hops.
inline constexpr size_t kIntHopSize = 24;
inline constexpr size_t kMaxIntHops = 8;
// Largest header any packet type can have: an ACK with every SACK range and
// a full INT echo.
inline constexpr size_t kMaxHeaderSize =
    kCommonSize + kAckExtSize + kMaxSackRanges * kSackRangeSize + kMaxIntHops * kIntHopSize;
// The largest message (1 TiB) and the smallest payload per packet that keeps
// such a message within 2^32 packets.
inline constexpr uint64_t kMaxMessage = uint64_t{1} << 40;
inline constexpr uint32_t kMinMss = 256;
// A weft packet never exceeds one UDP datagram (65507 bytes of IPv4 payload).
inline constexpr size_t kMaxPacketSize = 65507;

enum class Type : uint8_t {
  kData = 1,
  kAck = 2,
  kNack = 3,
  kCredit = 4,
  kHandshake = 5,
  kKeepalive = 6,
  kClose = 7,
};

namespace flag {
inline constexpr uint8_t kImm = 1 << 0;      // DATA(write) carries an immediate
inline constexpr uint8_t kCancel = 1 << 1;   // DATA tombstone: occupies its PSN, carries nothing
inline constexpr uint8_t kRetx = 1 << 2;     // a retransmission (statistics only)
inline constexpr uint8_t kAckNow = 1 << 3;   // receiver should ACK without delay
inline constexpr uint8_t kEcnCe = 1 << 4;    // receiver-side note: arrived CE-marked (never sent)
inline constexpr uint8_t kCreditReq = 1 << 5;  // DATA: an 8-byte credit request follows the extension
}  // namespace flag

// Variant flags (byte 42): written by switches, outside the header CRC.
namespace net_flag {
inline constexpr uint8_t kTrimmed = 1 << 0;  // a switch cut this DATA packet's payload
}  // namespace net_flag

enum class Op : uint8_t { kSend = 1, kWrite = 2 };
// kTrimmed: the receiver got a trimmed header; resend that PSN now.
enum class NackReason : uint8_t { kSequence = 1, kReceiverNotReady = 2, kRemoteAccess = 3, kTrimmed = 4 };
enum class HandshakeKind : uint8_t { kInit = 1, kAccept = 2, kReject = 3 };
enum class RejectReason : uint8_t { kNone = 0, kToken = 1, kVersion = 2, kResources = 3, kParams = 4 };
enum class CloseKind : uint8_t { kClose = 1, kCloseAck = 2 };

struct Common {
  Type type{};
  uint8_t flags = 0;
  uint8_t version = kVersion;
  uint16_t payload_len = 0;
  uint32_t dst_conn = 0;
  uint32_t conn_tag = 0;
  uint64_t psn = 0;
  uint64_t ts_val = 0;  // sender's clock, ns
  uint64_t ts_ecr = 0;  // echo of the ts_val that triggered this packet
  uint16_t entropy = 0;
  uint8_t net_flags = 0;  // variant: set by switches (decoded; encoded as 0)
  uint8_t int_hops = 0;   // variant: INT records after the payload (decoded; encoded as 0)
};

// One INT record as a switch stamps it (little-endian on the wire).
struct IntRecord {
  uint64_t timestamp_ns = 0;  // switch clock at transmit
  uint64_t tx_bytes = 0;      // cumulative bytes sent by the egress port
  uint32_t qlen_bytes = 0;    // egress queue occupancy
  uint32_t rate_mbps = 0;     // egress line rate
};

struct DataExt {
  uint32_t msg_id = 0;
  Op op = Op::kSend;
  uint64_t key = 0;        // SEND: tag; WRITE: remote memory key
  uint64_t msg_len = 0;    // whole message
  uint64_t offset = 0;     // of this payload within the message
  uint64_t aux = 0;        // SEND: per-tag sequence number; WRITE: offset in the region
  uint32_t imm = 0;
  uint32_t payload_crc = 0;  // CRC32C of the payload as sent (filled by encode)
  // With flag::kCreditReq (receiver-driven CC): the cumulative bytes this
  // sender has asked the receiver to grant. 8 more header bytes.
  uint64_t credit_req = 0;
};
inline constexpr size_t kCreditReqSize = 8;

struct SackRange {
  uint32_t start;  // first PSN received, as an offset above cum_ack
  uint32_t len;
};

struct AckExt {
  uint64_t cum_ack = 0;  // every PSN below this has been received
  uint32_t rwnd = 0;     // PSNs at or above cum_ack + rwnd will be dropped
  uint16_t nranges = 0;
  uint64_t ce_bytes = 0; // cumulative payload bytes that arrived CE-marked
  std::array<SackRange, kMaxSackRanges> ranges{};
  // INT echo: the records the triggering DATA packet carried, for HPCC.
  uint8_t int_hops = 0;
  std::array<IntRecord, kMaxIntHops> int_records{};
};

struct NackExt {
  uint64_t psn = 0;
  uint32_t msg_id = 0;
  NackReason reason = NackReason::kSequence;
  uint64_t cum_ack = 0;
};

struct HandshakeExt {
  HandshakeKind kind = HandshakeKind::kInit;
  uint8_t mode = 0;  // 0 selective repeat, 1 go-back-N
  RejectReason reject = RejectReason::kNone;
  uint32_t src_conn = 0;
  uint64_t job_token = 0;
  uint32_t nonce = 0;
  uint32_t mss = 0;
  uint32_t rwnd = 0;
  uint32_t max_ops = 0;  // messages in flight the sender of this handshake accepts
};

struct CloseExt {
  CloseKind kind = CloseKind::kClose;
};

struct CreditExt {
  uint64_t credit = 0;
};

// A decoded packet. `payload` points into the buffer that was decoded.
struct Packet {
  Common h;
  DataExt data;
  AckExt ack;
  NackExt nack;
  HandshakeExt hs;
  CloseExt close;
  CreditExt credit;
  std::span<const uint8_t> payload;  // empty when TRIMMED
  std::span<const uint8_t> int_raw;  // int_hops records of kIntHopSize bytes
  IntRecord int_record(size_t i) const;
};

// Why a datagram was not accepted by the decoder. Each is counted.
enum class DecodeError : uint8_t {
  kOk = 0,
  kTruncated,     // shorter than the headers it claims
  kForeign,       // wrong magic: not a weft packet
  kWrongVersion,  // weft, but a protocol version we do not speak
  kBadType,       // unknown packet type
  kBadLength,     // payload length disagrees with the datagram size
  kBadChecksum,   // header CRC32C mismatch: corrupted in flight
  kMalformed,     // a field out of range (too many SACK ranges, bad enum)
  kCount,
};
std::string_view decode_error_name(DecodeError e);

// Header size for a packet of `type` (ACK: with `nranges` ranges and
// `int_hops` echoed INT records).
size_t header_size(Type type, size_t nranges = 0, size_t int_hops = 0);

// Writes the headers of `p` into `out` (which must hold header_size bytes).
// For DATA it computes the payload CRC over `payload` (p.data.payload_crc is
// ignored); then the header CRC. Returns the header size.
size_t encode(const Packet& p, std::span<const uint8_t> payload, uint8_t* out);

// Parses `bytes` and verifies the header CRC. A DATA payload is NOT verified
// here: the receiver checks it while placing it (payload_ok, or
// crc32c_copy against data.payload_crc). On success `out.payload` and
// `out.int_raw` point into `bytes`.
DecodeError decode(std::span<const uint8_t> bytes, Packet& out);

// True when a decoded DATA packet's payload matches its CRC.
bool payload_ok(const Packet& p);

}  // namespace weft::core::wire
