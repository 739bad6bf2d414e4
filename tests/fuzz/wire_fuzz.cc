// libFuzzer target for the wire decoder and the engine's receive path.
//
// (a) Whatever decodes must survive a round trip: decode(encode(decode(x)))
//     equals decode(x) field by field, and encoding is a fixed point.
// (b) The bytes are fed to an Engine that already holds an established
//     connection (id 1, accepted from a handshake INIT) with a posted send, a
//     posted receive and a registered region, both as they are and as a copy
//     aimed at that connection (dst_conn 1, its conn_tag, payload_len and CRC
//     fixed up) so mutations get past the demultiplexer and the checksum.
//     Every packet the engine then sends must itself decode.
//
// Built with -fsanitize=fuzzer (WEFT_FUZZ=ON, clang) this is `wire_fuzz`;
// without, replay_main.cc drives it over the corpus (`wire_fuzz_replay`).
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "common/crc32c.h"
#include "common/log.h"
#include "transport/core/engine.h"
#include "transport/core/netaddr.h"
#include "transport/core/wire.h"

namespace {

using namespace weft;
using namespace weft::core;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "wire_fuzz: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

// ---------------------------------------------------------------- (a) round trip

void check_same(const wire::Packet& a, const wire::Packet& b) {
  check(a.h.type == b.h.type, "type changed in round trip");
  check(a.h.flags == b.h.flags, "flags changed in round trip");
  check(a.h.version == b.h.version, "version changed in round trip");
  check(a.h.payload_len == b.h.payload_len, "payload_len changed in round trip");
  check(a.h.dst_conn == b.h.dst_conn, "dst_conn changed in round trip");
  check(a.h.conn_tag == b.h.conn_tag, "conn_tag changed in round trip");
  check(a.h.psn == b.h.psn, "psn changed in round trip");
  check(a.h.ts_val == b.h.ts_val, "ts_val changed in round trip");
  check(a.h.ts_ecr == b.h.ts_ecr, "ts_ecr changed in round trip");
  check(a.h.entropy == b.h.entropy, "entropy changed in round trip");
  switch (a.h.type) {
    case wire::Type::kData:
      check(a.data.msg_id == b.data.msg_id, "data.msg_id changed in round trip");
      check(a.data.op == b.data.op, "data.op changed in round trip");
      check(a.data.key == b.data.key, "data.key changed in round trip");
      check(a.data.msg_len == b.data.msg_len, "data.msg_len changed in round trip");
      check(a.data.offset == b.data.offset, "data.offset changed in round trip");
      check(a.data.aux == b.data.aux, "data.aux changed in round trip");
      check(a.data.imm == b.data.imm, "data.imm changed in round trip");
      // The encoder computes the payload CRC; it matches only a sound payload.
      check(!wire::payload_ok(a) || a.data.payload_crc == b.data.payload_crc, "payload CRC changed in round trip");
      break;
    case wire::Type::kAck:
      check(a.ack.cum_ack == b.ack.cum_ack, "ack.cum_ack changed in round trip");
      check(a.ack.rwnd == b.ack.rwnd, "ack.rwnd changed in round trip");
      check(a.ack.nranges == b.ack.nranges, "ack.nranges changed in round trip");
      check(a.ack.ce_bytes == b.ack.ce_bytes, "ack.ce_bytes changed in round trip");
      check(a.ack.nranges <= wire::kMaxSackRanges, "decoded more SACK ranges than allowed");
      for (size_t i = 0; i < a.ack.nranges; ++i) {
        check(a.ack.ranges[i].start == b.ack.ranges[i].start, "ack range start changed in round trip");
        check(a.ack.ranges[i].len == b.ack.ranges[i].len, "ack range len changed in round trip");
      }
      break;
    case wire::Type::kNack:
      check(a.nack.psn == b.nack.psn, "nack.psn changed in round trip");
      check(a.nack.msg_id == b.nack.msg_id, "nack.msg_id changed in round trip");
      check(a.nack.reason == b.nack.reason, "nack.reason changed in round trip");
      check(a.nack.cum_ack == b.nack.cum_ack, "nack.cum_ack changed in round trip");
      break;
    case wire::Type::kCredit:
      check(a.credit.credit == b.credit.credit, "credit changed in round trip");
      break;
    case wire::Type::kHandshake:
      check(a.hs.kind == b.hs.kind, "hs.kind changed in round trip");
      check(a.hs.mode == b.hs.mode, "hs.mode changed in round trip");
      check(a.hs.reject == b.hs.reject, "hs.reject changed in round trip");
      check(a.hs.src_conn == b.hs.src_conn, "hs.src_conn changed in round trip");
      check(a.hs.job_token == b.hs.job_token, "hs.job_token changed in round trip");
      check(a.hs.nonce == b.hs.nonce, "hs.nonce changed in round trip");
      check(a.hs.mss == b.hs.mss, "hs.mss changed in round trip");
      check(a.hs.rwnd == b.hs.rwnd, "hs.rwnd changed in round trip");
      check(a.hs.max_ops == b.hs.max_ops, "hs.max_ops changed in round trip");
      break;
    case wire::Type::kKeepalive:
      break;
    case wire::Type::kClose:
      check(a.close.kind == b.close.kind, "close.kind changed in round trip");
      break;
  }
  check(a.payload.size() == b.payload.size(), "payload size changed in round trip");
  check(a.payload.empty() || std::memcmp(a.payload.data(), b.payload.data(), a.payload.size()) == 0,
        "payload bytes changed in round trip");
}

std::vector<uint8_t> encode_datagram(const wire::Packet& p) {
  std::vector<uint8_t> out(wire::kMaxHeaderSize + p.payload.size());
  const size_t hlen = wire::encode(p, p.payload, out.data());
  check(hlen <= wire::kMaxHeaderSize, "encode wrote more than kMaxHeaderSize");
  if (!p.payload.empty()) std::memcpy(out.data() + hlen, p.payload.data(), p.payload.size());
  out.resize(hlen + p.payload.size());
  return out;
}

void check_round_trip(std::span<const uint8_t> in) {
  wire::Packet p;
  if (wire::decode(in, p) != wire::DecodeError::kOk) return;
  const bool trimmed = p.h.net_flags & wire::net_flag::kTrimmed;
  check(p.payload.size() == (trimmed ? 0 : p.h.payload_len), "payload span disagrees with payload_len");
  check(p.int_raw.size() == size_t{p.h.int_hops} * wire::kIntHopSize, "INT span disagrees with int_hops");
  check(p.int_raw.empty() || p.int_raw.data() + p.int_raw.size() == in.data() + in.size(),
        "INT records do not end the datagram");
  check(p.payload.empty() || (p.payload.data() >= in.data() &&
                              p.payload.data() + p.payload.size() == in.data() + in.size() - p.int_raw.size()),
        "payload does not end where the INT records start");
  for (size_t i = 0; i < p.h.int_hops; ++i) (void)p.int_record(i);
  // What switches write (trims, INT) the encoder does not: those packets end here.
  if (trimmed || p.h.int_hops != 0) return;
  const std::vector<uint8_t> once = encode_datagram(p);
  check(once.size() == in.size(), "re-encoded packet has a different size");
  wire::Packet q;
  check(wire::decode(once, q) == wire::DecodeError::kOk, "re-encoded packet does not decode");
  check_same(p, q);
  // The encoder's output is canonical: encoding what it decodes gives it back.
  const std::vector<uint8_t> twice = encode_datagram(q);
  check(twice == once, "encode(decode(encode(x))) differs from encode(x)");
}

// ---------------------------------------------------------------- (b) engine

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Fixes the checksums, where hlen = byte5 * 8 and the datagram is long
// enough: a DATA header's payload CRC (bytes 92..95) over the payload
// `plen` bytes after the header, then the header CRC (44..47) over
// [0,42) + [48,hlen).
void reseal(std::vector<uint8_t>& b, size_t plen) {
  if (b.size() < wire::kCommonSize) return;
  const size_t hlen = size_t{b[5]} * 8;
  if (hlen < wire::kCommonSize || hlen > b.size()) return;
  if (hlen >= wire::kDataHeaderSize && b[3] == static_cast<uint8_t>(wire::Type::kData) && plen <= b.size() - hlen)
    put32(b.data() + 92, crc32c(0, b.data() + hlen, plen));
  uint32_t c = crc32c(0, b.data(), 42);
  c = crc32c(c, b.data() + 48, hlen - 48);
  put32(b.data() + 44, c);
}

NetAddr peer_addr() {
  NetAddr a;
  a.family = 0xFF;
  a.bytes[0] = 7;
  a.port = 4000;
  return a;
}

std::vector<uint8_t> handshake_init() {
  wire::Packet p;
  p.h.type = wire::Type::kHandshake;
  p.hs.kind = wire::HandshakeKind::kInit;
  p.hs.job_token = 0;
  p.hs.src_conn = 1;
  p.hs.nonce = 1;
  p.hs.mss = 1000;
  p.hs.rwnd = 1024;
  p.hs.max_ops = 16;
  return encode_datagram(p);
}

// Moves everything the engine wants to send out of it, checking that each
// packet is one the decoder accepts. Returns the conn_tag of the last packet
// addressed to our peer's connection 1 (0 if none).
uint32_t drain(Engine& e, Nanos now) {
  std::array<TxPacket, 16> out;
  std::array<Completion, 16> done;
  std::vector<uint8_t> dgram;
  uint32_t tag = 0;
  for (int round = 0; round < 64; ++round) {
    const size_t n = e.poll_transmit(now, out);
    for (size_t i = 0; i < n; ++i) {
      const TxPacket& tx = out[i];
      check(tx.header_len >= wire::kCommonSize && tx.header_len <= wire::kMaxHeaderSize, "engine sent a bad header_len");
      check(tx.size() <= wire::kMaxPacketSize, "engine sent a packet larger than a datagram");
      check(tx.payload_len == 0 || tx.payload != nullptr, "engine sent a payload length without a payload");
      dgram.assign(tx.header, tx.header + tx.header_len);
      if (tx.payload_len > 0) dgram.insert(dgram.end(), tx.payload, tx.payload + tx.payload_len);
      wire::Packet p;
      check(wire::decode(dgram, p) == wire::DecodeError::kOk, "engine sent a packet that does not decode");
      if (p.h.dst_conn == 1 && p.h.conn_tag != 0) tag = p.h.conn_tag;
    }
    while (e.poll(done) > 0) {
    }
    if (n < out.size()) break;
  }
  return tag;
}

void run_engine(std::span<const uint8_t> in) {
  // Memory the engine points at outlives it: declared first.
  std::array<uint8_t, 3000> send_buf{};
  std::array<uint8_t, 4096> recv_buf{};
  std::array<uint8_t, 4096> region{};

  Engine engine{EngineParams{}};
  const NetAddr from = peer_addr();
  Nanos now(1000);

  const std::vector<uint8_t> init = handshake_init();
  engine.on_receive(now, init, from, false);
  const uint32_t tag = drain(engine, now);  // the ACCEPT carries the tag
  const ConnId conn = 1;
  (void)engine.post_recv(now, conn, 0, recv_buf.data(), recv_buf.size());
  (void)engine.register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
  (void)engine.post_send(now, conn, 0, send_buf.data(), send_buf.size());
  drain(engine, now);

  engine.on_receive(now, in, from, false);

  if (in.size() >= wire::kCommonSize) {
    std::vector<uint8_t> aimed(in.begin(), in.end());
    put32(aimed.data() + 8, 1);     // dst_conn
    put32(aimed.data() + 12, tag);  // conn_tag
    const size_t hlen = size_t{aimed[5]} * 8;
    const size_t int_bytes = size_t{aimed[43]} * wire::kIntHopSize;
    size_t plen = 0;
    if (hlen >= wire::kCommonSize && hlen + int_bytes <= aimed.size() && aimed.size() - hlen - int_bytes <= 0xFFFF &&
        !(aimed[42] & wire::net_flag::kTrimmed)) {
      plen = aimed.size() - hlen - int_bytes;
      aimed[6] = static_cast<uint8_t>(plen);
      aimed[7] = static_cast<uint8_t>(plen >> 8);
    }
    reseal(aimed, plen);
    check_round_trip(aimed);
    engine.on_receive(now, aimed, from, false);
    engine.on_receive(now + Nanos(10), aimed, from, true);  // a duplicate, CE-marked
  }

  engine.on_timer(now);
  drain(engine, now);
  // Later: delayed ACKs, RTOs, keepalives, then the dead-peer timeout.
  for (Nanos later : {now + millis(1), now + millis(30), now + millis(300), now + seconds(4)}) {
    engine.on_timer(later);
    drain(engine, later);
    (void)engine.next_deadline();
    (void)engine.stats(later, conn);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Millions of inputs kill the connection on purpose: keep warnings quiet
  // unless WEFT_DEBUG asks for them.
  static const bool quiet = [] {
    log::set_threshold(std::getenv("WEFT_DEBUG") != nullptr ? log::level_from_env() : log::Level::kError);
    return true;
  }();
  (void)quiet;
  if (size > wire::kMaxPacketSize) return 0;  // not a UDP datagram
  const std::span<const uint8_t> in(data, size);
  check_round_trip(in);
  run_engine(in);
  return 0;
}
