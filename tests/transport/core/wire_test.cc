// The v1 wire format (docs/wire-format.md), specified by round trips of every
// packet type, the byte layout, and every reason the decoder refuses a datagram.
#include "transport/core/wire.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "common/crc32c.h"

namespace weft::core::wire {
namespace {

using Buf = std::vector<uint8_t>;

// ---------------------------------------------------------------- helpers

Common sample_common(Type t) {
  Common h;
  h.type = t;
  h.flags = flag::kAckNow | flag::kRetx;
  h.dst_conn = 0x11223344;
  h.conn_tag = 0x55667788;
  h.psn = 0x0102030405060708ull;
  h.ts_val = 0x1112131415161718ull;
  h.ts_ecr = 0x2122232425262728ull;
  h.entropy = 0xBEEF;
  return h;
}

// The datagram `p` becomes: headers from encode() followed by the payload.
Buf build(const Packet& p, std::span<const uint8_t> payload = {}) {
  Buf out(kMaxHeaderSize + payload.size());
  const size_t hlen = encode(p, payload, out.data());
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<ptrdiff_t>(hlen));
  out.resize(hlen + payload.size());
  return out;
}

// Decodes from an exactly-sized heap copy so that any read past the end is
// caught by AddressSanitizer builds.
DecodeError decode_copy(std::span<const uint8_t> bytes, Packet& out) {
  auto* copy = new uint8_t[bytes.size() + (bytes.empty() ? 1 : 0)];
  if (!bytes.empty()) std::memcpy(copy, bytes.data(), bytes.size());
  const DecodeError e = decode({copy, bytes.size()}, out);
  out.payload = {};  // points into `copy`
  delete[] copy;
  return e;
}
DecodeError decode_copy(std::span<const uint8_t> bytes) {
  Packet p;
  return decode_copy(bytes, p);
}

// Recomputes the CRC of a hand-edited datagram, using its own hlen byte, so
// that a test reaches the checks made after the CRC.
void reseal(Buf& b) {
  const size_t hlen = size_t{b[5]} * 8;
  ASSERT_GE(hlen, kCommonSize);
  ASSERT_LE(hlen, b.size());
  // DATA: the payload CRC first (the header CRC covers it).
  if (b[3] == static_cast<uint8_t>(Type::kData) && hlen >= 96) {
    const uint32_t pc = crc32c(0, b.data() + hlen, b.size() - hlen);
    for (int i = 0; i < 4; ++i) b[92 + i] = static_cast<uint8_t>(pc >> (8 * i));
  }
  // Header CRC: bytes 0..42 and 48..hlen; 42..43 are variant, 44..47 itself.
  uint32_t c = crc32c(0, b.data(), 42);
  c = crc32c(c, b.data() + 48, hlen - 48);
  for (int i = 0; i < 4; ++i) b[44 + i] = static_cast<uint8_t>(c >> (8 * i));
}

uint64_t get_le(const Buf& b, size_t off, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{b[off + i]} << (8 * i);
  return v;
}

void expect_common_eq(const Common& got, const Common& want) {
  EXPECT_EQ(got.type, want.type);
  EXPECT_EQ(got.flags, want.flags & static_cast<uint8_t>(~flag::kEcnCe));
  EXPECT_EQ(got.version, kVersion);
  EXPECT_EQ(got.dst_conn, want.dst_conn);
  EXPECT_EQ(got.conn_tag, want.conn_tag);
  EXPECT_EQ(got.psn, want.psn);
  EXPECT_EQ(got.ts_val, want.ts_val);
  EXPECT_EQ(got.ts_ecr, want.ts_ecr);
  EXPECT_EQ(got.entropy, want.entropy);
}

Buf pattern(size_t n, uint8_t seed) {
  Buf v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

Packet sample_data() {
  Packet p;
  p.h = sample_common(Type::kData);
  p.data.msg_id = 0xA1A2A3A4;
  p.data.op = Op::kSend;
  p.data.key = 0xB1B2B3B4B5B6B7B8ull;
  p.data.msg_len = 0x000000FFFFFFFFFFull;  // just under the 1 TiB limit
  p.data.offset = 0x000000FFFFFF0000ull;
  p.data.aux = 0xC1C2C3C4C5C6C7C8ull;
  p.data.imm = 0xD1D2D3D4;
  return p;
}

Packet sample_ack(uint16_t nranges) {
  Packet p;
  p.h = sample_common(Type::kAck);
  p.ack.cum_ack = 0x0A0B0C0D0E0F1011ull;
  p.ack.rwnd = 0x12131415;
  p.ack.nranges = nranges;
  p.ack.ce_bytes = 0x161718191A1B1C1Dull;
  for (uint16_t i = 0; i < nranges; ++i) p.ack.ranges[i] = {0x100u * i + 3, 0x10u + i};
  return p;
}

Packet sample_nack(NackReason r) {
  Packet p;
  p.h = sample_common(Type::kNack);
  p.nack.psn = 0x3132333435363738ull;
  p.nack.msg_id = 0x41424344;
  p.nack.reason = r;
  p.nack.cum_ack = 0x5152535455565758ull;
  return p;
}

Packet sample_handshake(HandshakeKind k) {
  Packet p;
  p.h = sample_common(Type::kHandshake);
  p.hs.kind = k;
  p.hs.mode = 1;
  p.hs.reject = k == HandshakeKind::kReject ? RejectReason::kResources : RejectReason::kNone;
  p.hs.src_conn = 0x61626364;
  p.hs.job_token = 0x7172737475767778ull;
  p.hs.nonce = 0x81828384;
  p.hs.mss = 8900;
  p.hs.rwnd = 8192;
  p.hs.max_ops = 0x91929394;
  return p;
}

Packet sample_simple(Type t) {
  Packet p;
  p.h = sample_common(t);
  if (t == Type::kCredit) p.credit.credit = 0xE1E2E3E4E5E6E7E8ull;
  if (t == Type::kClose) p.close.kind = CloseKind::kCloseAck;
  return p;
}

struct Sample {
  std::string name;
  Buf bytes;
};

// One valid datagram of every type and shape.
std::vector<Sample> all_samples() {
  std::vector<Sample> s;
  const Buf pay = pattern(100, 1);
  s.push_back({"data", build(sample_data(), pay)});
  Packet cancel = sample_data();
  cancel.h.flags = flag::kCancel;
  s.push_back({"data_cancel", build(cancel)});
  s.push_back({"ack0", build(sample_ack(0))});
  s.push_back({"ack1", build(sample_ack(1))});
  s.push_back({"ack32", build(sample_ack(32))});
  s.push_back({"nack", build(sample_nack(NackReason::kReceiverNotReady))});
  s.push_back({"credit", build(sample_simple(Type::kCredit))});
  s.push_back({"hs_init", build(sample_handshake(HandshakeKind::kInit))});
  s.push_back({"hs_reject", build(sample_handshake(HandshakeKind::kReject))});
  s.push_back({"keepalive", build(sample_simple(Type::kKeepalive))});
  s.push_back({"close", build(sample_simple(Type::kClose))});
  return s;
}

// ---------------------------------------------------------------- sizes

TEST(WireHeaderSize, MatchesTheDocumentedSizeOfEveryType) {
  EXPECT_EQ(header_size(Type::kData), 96u);
  EXPECT_EQ(header_size(Type::kNack), 72u);
  EXPECT_EQ(header_size(Type::kHandshake), 80u);
  EXPECT_EQ(header_size(Type::kKeepalive), 48u);
  EXPECT_EQ(header_size(Type::kClose), 56u);
  EXPECT_EQ(header_size(Type::kCredit), 56u);
  EXPECT_EQ(kDataHeaderSize, 96u);
}

TEST(WireHeaderSize, AckIs72PlusEightPerSackRangePlus24PerIntEcho) {
  for (size_t n = 0; n <= kMaxSackRanges; ++n) EXPECT_EQ(header_size(Type::kAck, n), 72 + 8 * n) << n;
  for (size_t h = 0; h <= kMaxIntHops; ++h) EXPECT_EQ(header_size(Type::kAck, 2, h), 72 + 16 + 24 * h) << h;
  EXPECT_EQ(kMaxHeaderSize, header_size(Type::kAck, kMaxSackRanges, kMaxIntHops));
  EXPECT_EQ(kMaxHeaderSize, 520u);
  EXPECT_LE(kMaxHeaderSize / 8, 255u);  // hlen fits its byte
}

TEST(WireHeaderSize, EveryHeaderIsAMultipleOfEightBytes) {
  for (uint8_t t = 1; t <= 7; ++t) EXPECT_EQ(header_size(static_cast<Type>(t)) % 8, 0u) << int(t);
}

TEST(WireEncode, ReturnsTheHeaderSizeAndRecordsItInByte5) {
  for (const Sample& s : all_samples()) {
    Packet p;
    ASSERT_EQ(decode(s.bytes, p), DecodeError::kOk) << s.name;
    const size_t hs = header_size(p.h.type, p.h.type == Type::kAck ? p.ack.nranges : 0);
    EXPECT_EQ(size_t{s.bytes[5]} * 8, hs) << s.name;
    EXPECT_EQ(s.bytes.size(), hs + p.payload.size()) << s.name;
    Buf out(kMaxHeaderSize);
    EXPECT_EQ(encode(p, p.payload, out.data()), hs) << s.name;
  }
}

// ---------------------------------------------------------------- layout

TEST(WireLayout, StartsWithMagicWFVersionAndType) {
  const Buf b = build(sample_simple(Type::kKeepalive));
  ASSERT_EQ(b.size(), 48u);
  EXPECT_EQ(b[0], 'W');
  EXPECT_EQ(b[1], 'F');
  EXPECT_EQ(b[2], 2);
  EXPECT_EQ(b[3], static_cast<uint8_t>(Type::kKeepalive));
  EXPECT_EQ(b[5], 6);  // 48 / 8
}

TEST(WireLayout, CommonFieldsAreLittleEndianAtTheirOffsets) {
  const Buf pay = pattern(10, 3);
  Packet p = sample_data();
  p.h.flags = flag::kImm;
  const Buf b = build(p, pay);
  EXPECT_EQ(b[4], flag::kImm);
  EXPECT_EQ(get_le(b, 6, 2), 10u);
  EXPECT_EQ(get_le(b, 8, 4), 0x11223344u);
  EXPECT_EQ(b[8], 0x44);  // low byte first
  EXPECT_EQ(get_le(b, 12, 4), 0x55667788u);
  EXPECT_EQ(get_le(b, 16, 8), 0x0102030405060708ull);
  EXPECT_EQ(get_le(b, 24, 8), 0x1112131415161718ull);
  EXPECT_EQ(get_le(b, 32, 8), 0x2122232425262728ull);
  EXPECT_EQ(get_le(b, 40, 2), 0xBEEFu);
  EXPECT_EQ(get_le(b, 42, 2), 0u);  // reserved
  // DATA extension at 48.
  EXPECT_EQ(get_le(b, 48, 4), 0xA1A2A3A4u);
  EXPECT_EQ(b[52], static_cast<uint8_t>(Op::kSend));
  EXPECT_EQ(get_le(b, 56, 8), 0xB1B2B3B4B5B6B7B8ull);
  EXPECT_EQ(get_le(b, 64, 8), 0x000000FFFFFFFFFFull);
  EXPECT_EQ(get_le(b, 72, 8), 0x000000FFFFFF0000ull);
  EXPECT_EQ(get_le(b, 80, 8), 0xC1C2C3C4C5C6C7C8ull);
  EXPECT_EQ(get_le(b, 88, 4), 0xD1D2D3D4u);
  EXPECT_EQ(Buf(b.begin() + 96, b.end()), pay);
}

TEST(WireLayout, HeaderCrcAtByte44SkipsTheVariantBytesAndItself) {
  const Buf pay = pattern(33, 9);
  const Buf b = build(sample_data(), pay);
  uint32_t c = crc32c(0, b.data(), 42);
  c = crc32c(c, b.data() + 48, 96 - 48);
  EXPECT_EQ(get_le(b, 44, 4), c);
  EXPECT_EQ(b[42], 0);  // net_flags and int_hops leave the sender as zero
  EXPECT_EQ(b[43], 0);
}

TEST(WireLayout, DataPayloadCrcAtByte92CoversThePayloadOnly) {
  const Buf pay = pattern(33, 9);
  const Buf b = build(sample_data(), pay);
  EXPECT_EQ(get_le(b, 92, 4), crc32c(0, pay.data(), pay.size()));
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  EXPECT_EQ(out.data.payload_crc, crc32c(0, pay.data(), pay.size()));
  EXPECT_TRUE(payload_ok(out));
}

// ---------------------------------------------------------------- round trips

TEST(WireRoundTrip, DataWithPayloadKeepsEveryField) {
  const Buf pay = pattern(1000, 5);
  const Packet in = sample_data();
  const Buf b = build(in, pay);
  ASSERT_EQ(b.size(), 96u + 1000u);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  expect_common_eq(out.h, in.h);
  EXPECT_EQ(out.h.payload_len, 1000u);
  EXPECT_EQ(out.data.msg_id, in.data.msg_id);
  EXPECT_EQ(out.data.op, Op::kSend);
  EXPECT_EQ(out.data.key, in.data.key);
  EXPECT_EQ(out.data.msg_len, in.data.msg_len);
  EXPECT_EQ(out.data.offset, in.data.offset);
  EXPECT_EQ(out.data.aux, in.data.aux);
  EXPECT_EQ(out.data.imm, in.data.imm);
  ASSERT_EQ(out.payload.size(), 1000u);
  EXPECT_EQ(out.payload.data(), b.data() + 96);  // points into the datagram, no copy
  EXPECT_TRUE(std::equal(out.payload.begin(), out.payload.end(), pay.begin()));
}

TEST(WireRoundTrip, WriteWithImmediateKeepsOpAndImm) {
  const Buf pay = pattern(64, 2);
  Packet in = sample_data();
  in.data.op = Op::kWrite;
  in.h.flags = flag::kImm | flag::kAckNow;
  in.data.msg_len = 64;
  in.data.offset = 0;
  Packet out;
  ASSERT_EQ(decode(build(in, pay), out), DecodeError::kOk);
  EXPECT_EQ(out.data.op, Op::kWrite);
  EXPECT_EQ(out.h.flags, flag::kImm | flag::kAckNow);
  EXPECT_EQ(out.data.imm, 0xD1D2D3D4u);
  EXPECT_EQ(out.data.msg_len, 64u);
  EXPECT_EQ(out.data.offset, 0u);
}

TEST(WireRoundTrip, PayloadMayEndExactlyAtTheEndOfTheMessage) {
  const Buf pay = pattern(7, 2);
  Packet in = sample_data();
  in.data.msg_len = 100;
  in.data.offset = 93;
  EXPECT_EQ(decode_copy(build(in, pay)), DecodeError::kOk);
  in.data.msg_len = kMaxMessage;
  in.data.offset = kMaxMessage - 7;
  EXPECT_EQ(decode_copy(build(in, pay)), DecodeError::kOk);
}

TEST(WireDecode, MessageLongerThanOneTebibyteIsMalformed) {
  Packet p = sample_data();
  p.data.offset = 0;
  p.data.msg_len = kMaxMessage + 1;
  EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed);
  p.data.msg_len = ~uint64_t{0};  // would overflow budget arithmetic downstream
  EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed);
}

TEST(WireRoundTrip, CancelTombstoneWithoutPayloadKeepsEveryField) {
  Packet in = sample_data();
  in.h.flags = flag::kCancel | flag::kRetx;
  const Buf b = build(in);
  ASSERT_EQ(b.size(), 96u);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  expect_common_eq(out.h, in.h);
  EXPECT_EQ(out.h.flags, flag::kCancel | flag::kRetx);
  EXPECT_EQ(out.h.payload_len, 0u);
  EXPECT_TRUE(out.payload.empty());
  EXPECT_EQ(out.data.msg_id, in.data.msg_id);
  EXPECT_EQ(out.data.key, in.data.key);
  EXPECT_EQ(out.data.msg_len, in.data.msg_len);
  EXPECT_EQ(out.data.offset, in.data.offset);
  EXPECT_EQ(out.data.aux, in.data.aux);
  EXPECT_EQ(out.data.imm, in.data.imm);
}

void check_ack_round_trip(uint16_t nranges) {
  SCOPED_TRACE("nranges=" + std::to_string(nranges));
  const Packet in = sample_ack(nranges);
  const Buf b = build(in);
  ASSERT_EQ(b.size(), 72u + 8u * nranges);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  expect_common_eq(out.h, in.h);
  EXPECT_EQ(out.ack.cum_ack, in.ack.cum_ack);
  EXPECT_EQ(out.ack.rwnd, in.ack.rwnd);
  EXPECT_EQ(out.ack.ce_bytes, in.ack.ce_bytes);
  ASSERT_EQ(out.ack.nranges, nranges);
  for (size_t i = 0; i < nranges; ++i) {
    EXPECT_EQ(out.ack.ranges[i].start, in.ack.ranges[i].start) << i;
    EXPECT_EQ(out.ack.ranges[i].len, in.ack.ranges[i].len) << i;
  }
  EXPECT_TRUE(out.payload.empty());
}

TEST(WireRoundTrip, AckWithoutSackRanges) { check_ack_round_trip(0); }
TEST(WireRoundTrip, AckWithOneSackRange) { check_ack_round_trip(1); }
TEST(WireRoundTrip, AckWithAllThirtyTwoSackRanges) { check_ack_round_trip(32); }

TEST(WireRoundTrip, AckWithExtremeRangeValues) {
  Packet in = sample_ack(2);
  in.ack.ranges[0] = {0, 1};
  in.ack.ranges[1] = {0xFFFFFFFF, 0xFFFFFFFF};
  Packet out;
  ASSERT_EQ(decode(build(in), out), DecodeError::kOk);
  EXPECT_EQ(out.ack.ranges[0].start, 0u);
  EXPECT_EQ(out.ack.ranges[0].len, 1u);
  EXPECT_EQ(out.ack.ranges[1].start, 0xFFFFFFFFu);
  EXPECT_EQ(out.ack.ranges[1].len, 0xFFFFFFFFu);
}

TEST(WireRoundTrip, NackKeepsEveryFieldForEachReason) {
  for (NackReason r : {NackReason::kSequence, NackReason::kReceiverNotReady, NackReason::kRemoteAccess, NackReason::kTrimmed}) {
    SCOPED_TRACE(static_cast<int>(r));
    const Packet in = sample_nack(r);
    const Buf b = build(in);
    ASSERT_EQ(b.size(), 72u);
    Packet out;
    ASSERT_EQ(decode(b, out), DecodeError::kOk);
    expect_common_eq(out.h, in.h);
    EXPECT_EQ(out.nack.psn, in.nack.psn);
    EXPECT_EQ(out.nack.msg_id, in.nack.msg_id);
    EXPECT_EQ(out.nack.reason, r);
    EXPECT_EQ(out.nack.cum_ack, in.nack.cum_ack);
  }
}

TEST(WireRoundTrip, CreditKeepsEveryField) {
  const Packet in = sample_simple(Type::kCredit);
  const Buf b = build(in);
  ASSERT_EQ(b.size(), 56u);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  expect_common_eq(out.h, in.h);
  EXPECT_EQ(out.credit.credit, 0xE1E2E3E4E5E6E7E8ull);
}

TEST(WireRoundTrip, HandshakeInitAcceptRejectKeepEveryFieldIncludingMaxOps) {
  for (HandshakeKind k : {HandshakeKind::kInit, HandshakeKind::kAccept, HandshakeKind::kReject}) {
    SCOPED_TRACE(static_cast<int>(k));
    const Packet in = sample_handshake(k);
    const Buf b = build(in);
    ASSERT_EQ(b.size(), 80u);
    Packet out;
    ASSERT_EQ(decode(b, out), DecodeError::kOk);
    expect_common_eq(out.h, in.h);
    EXPECT_EQ(out.hs.kind, k);
    EXPECT_EQ(out.hs.mode, 1);
    EXPECT_EQ(out.hs.reject, in.hs.reject);
    EXPECT_EQ(out.hs.src_conn, in.hs.src_conn);
    EXPECT_EQ(out.hs.job_token, in.hs.job_token);
    EXPECT_EQ(out.hs.nonce, in.hs.nonce);
    EXPECT_EQ(out.hs.mss, in.hs.mss);
    EXPECT_EQ(out.hs.rwnd, in.hs.rwnd);
    EXPECT_EQ(out.hs.max_ops, 0x91929394u);
  }
}

TEST(WireRoundTrip, HandshakeRejectKeepsEachReasonAndBothModes) {
  for (uint8_t r = 0; r <= 4; ++r) {
    for (uint8_t mode = 0; mode <= 1; ++mode) {
      Packet in = sample_handshake(HandshakeKind::kReject);
      in.hs.reject = static_cast<RejectReason>(r);
      in.hs.mode = mode;
      Packet out;
      ASSERT_EQ(decode(build(in), out), DecodeError::kOk) << int(r) << "/" << int(mode);
      EXPECT_EQ(out.hs.reject, static_cast<RejectReason>(r));
      EXPECT_EQ(out.hs.mode, mode);
    }
  }
}

TEST(WireRoundTrip, KeepaliveIsACommonHeaderOnly) {
  const Packet in = sample_simple(Type::kKeepalive);
  const Buf b = build(in);
  ASSERT_EQ(b.size(), 48u);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  expect_common_eq(out.h, in.h);
  EXPECT_TRUE(out.payload.empty());
}

TEST(WireRoundTrip, CloseAndCloseAckKeepTheirKind) {
  for (CloseKind k : {CloseKind::kClose, CloseKind::kCloseAck}) {
    Packet in = sample_simple(Type::kClose);
    in.close.kind = k;
    const Buf b = build(in);
    ASSERT_EQ(b.size(), 56u);
    Packet out;
    ASSERT_EQ(decode(b, out), DecodeError::kOk);
    expect_common_eq(out.h, in.h);
    EXPECT_EQ(out.close.kind, k);
  }
}

TEST(WireRoundTrip, EcnCeFlagIsNeitherSentNorDecoded) {
  Packet in = sample_simple(Type::kKeepalive);
  in.h.flags = flag::kEcnCe | flag::kAckNow;
  Buf b = build(in);
  EXPECT_EQ(b[4], flag::kAckNow);  // a receiver-side note, never on the wire
  // A sender that sets it anyway: the decoder drops it.
  b[4] |= flag::kEcnCe;
  reseal(b);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  EXPECT_EQ(out.h.flags, flag::kAckNow);
}

TEST(WireRoundTrip, ReservedFieldsAreIgnoredWhenTheCrcCoversThem) {
  const Buf pay = pattern(4, 1);
  Buf b = build(sample_data(), pay);
  b[48 + 5] = b[48 + 6] = b[48 + 7] = 0xAA;  // after op
  reseal(b);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  EXPECT_EQ(out.data.op, Op::kSend);
  EXPECT_EQ(out.data.imm, 0xD1D2D3D4u);
}

// ---------------------------------------------------------------- rejections

TEST(WireDecode, EveryPrefixOfAValidPacketIsRejectedWithoutCrashing) {
  for (const Sample& s : all_samples()) {
    SCOPED_TRACE(s.name);
    Packet full;
    ASSERT_EQ(decode(s.bytes, full), DecodeError::kOk);
    const size_t hlen = size_t{s.bytes[5]} * 8;
    for (size_t len = 0; len < s.bytes.size(); ++len) {
      const DecodeError e = decode_copy(std::span(s.bytes.data(), len));
      ASSERT_NE(e, DecodeError::kOk) << "prefix " << len;
      // Shorter than the headers: truncated. Inside the payload: the size
      // disagrees with payload_len.
      EXPECT_EQ(e, len < hlen ? DecodeError::kTruncated : DecodeError::kBadLength) << "prefix " << len;
    }
  }
}

TEST(WireDecode, ShorterThanFourBytesIsTruncated) {
  EXPECT_EQ(decode_copy({}), DecodeError::kTruncated);
  const uint8_t wf[] = {'W', 'F', 1};
  EXPECT_EQ(decode_copy(wf), DecodeError::kTruncated);
}

TEST(WireDecode, WrongMagicIsForeign) {
  const Buf good = build(sample_simple(Type::kKeepalive));
  for (size_t byte : {0, 1}) {
    for (int bit = 0; bit < 8; ++bit) {
      Buf b = good;
      b[byte] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_EQ(decode_copy(b), DecodeError::kForeign) << byte << ":" << bit;
    }
  }
  EXPECT_EQ(decode_copy(Buf(48, 0)), DecodeError::kForeign);
  const std::string http = "GET / HTTP/1.1\r\n";
  EXPECT_EQ(decode_copy(std::span(reinterpret_cast<const uint8_t*>(http.data()), http.size())), DecodeError::kForeign);
  // Byte-swapped magic: a big-endian writer.
  Buf swapped = good;
  std::swap(swapped[0], swapped[1]);
  EXPECT_EQ(decode_copy(swapped), DecodeError::kForeign);
}

TEST(WireDecode, OtherVersionIsWrongVersion) {
  for (const Sample& s : all_samples()) {
    for (uint8_t v : {0, 1, 3, 0x81, 0xFF}) {
      Buf b = s.bytes;
      b[2] = v;
      EXPECT_EQ(decode_copy(b), DecodeError::kWrongVersion) << s.name << " v" << int(v);
    }
  }
  // Even a header too short to hold the rest: version is judged at byte 2.
  const uint8_t v1[] = {'W', 'F', 1, 1};
  EXPECT_EQ(decode_copy(v1), DecodeError::kWrongVersion);
  Packet p = sample_simple(Type::kKeepalive);
  p.h.version = 1;
  EXPECT_EQ(decode_copy(build(p)), DecodeError::kWrongVersion);
}

TEST(WireDecode, UnknownTypeIsBadType) {
  const Buf good = build(sample_simple(Type::kKeepalive));
  for (uint8_t t : {0, 8, 9, 0x7F, 0xFF}) {
    Buf b = good;
    b[3] = t;
    EXPECT_EQ(decode_copy(b), DecodeError::kBadType) << int(t);
  }
  const uint8_t t0[] = {'W', 'F', 2, 0};
  EXPECT_EQ(decode_copy(t0), DecodeError::kBadType);
}

TEST(WireDecode, DatagramLongerThanHeaderPlusPayloadIsBadLength) {
  for (const Sample& s : all_samples()) {
    for (size_t extra : {1, 7, 8, 100}) {
      Buf b = s.bytes;
      b.insert(b.end(), extra, 0);
      EXPECT_EQ(decode_copy(b), DecodeError::kBadLength) << s.name << " +" << extra;
    }
  }
}

TEST(WireDecode, PayloadLengthLargerThanTheDatagramIsBadLength) {
  const Buf pay = pattern(20, 1);
  Buf b = build(sample_data(), pay);
  b[6] = 21;
  EXPECT_EQ(decode_copy(b), DecodeError::kBadLength);
  b[6] = 0xFF;
  b[7] = 0xFF;
  EXPECT_EQ(decode_copy(b), DecodeError::kBadLength);
}

TEST(WireDecode, PayloadOnANonDataPacketIsBadLength) {
  const Buf pay = pattern(16, 1);
  for (Type t : {Type::kAck, Type::kNack, Type::kCredit, Type::kHandshake, Type::kKeepalive, Type::kClose}) {
    Packet p = t == Type::kAck         ? sample_ack(1)
               : t == Type::kNack      ? sample_nack(NackReason::kSequence)
               : t == Type::kHandshake ? sample_handshake(HandshakeKind::kInit)
                                       : sample_simple(t);
    EXPECT_EQ(decode_copy(build(p, pay)), DecodeError::kBadLength) << static_cast<int>(t);
  }
}

TEST(WireDecode, FlippingAnyBitOfADataPayloadFailsThePayloadCheck) {
  // The header still decodes (placement needs it); the payload CRC, checked
  // while placing, catches the flip.
  const Buf pay = pattern(64, 11);
  const Buf good = build(sample_data(), pay);
  for (size_t i = 96; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Buf b = good;
      b[i] ^= static_cast<uint8_t>(1 << bit);
      Packet out;
      ASSERT_EQ(decode(b, out), DecodeError::kOk) << "byte " << i << " bit " << bit;
      ASSERT_FALSE(payload_ok(out)) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(WireDecode, FlippingAnyBitOutsideTheStructuralBytesIsBadChecksum) {
  // Bytes 0-3 (magic, version, type), 5 (hlen), 6-7 (payload_len) and the
  // variant bytes 42-43 are judged before the CRC; every other header byte,
  // flags and the CRC itself included, only by the CRC. (Payload bytes are
  // the payload CRC's, tested above.)
  const Buf pay = pattern(24, 11);
  for (const Buf& good : {build(sample_data(), pay), build(sample_ack(3)), build(sample_handshake(HandshakeKind::kAccept))}) {
    const size_t hlen = size_t{good[5]} * 8;
    for (size_t i = 4; i < hlen; ++i) {
      if (i == 5 || i == 6 || i == 7 || i == 42 || i == 43) continue;
      if (good[3] == static_cast<uint8_t>(Type::kAck) && (i == 60 || i == 61 || i == 62)) continue;  // nranges, int_hops
      for (int bit = 0; bit < 8; ++bit) {
        // DATA's CREDIT_REQ flag changes the header length: structural too.
        if (good[3] == static_cast<uint8_t>(Type::kData) && i == 4 && (1 << bit) == flag::kCreditReq) continue;
        Buf b = good;
        b[i] ^= static_cast<uint8_t>(1 << bit);
        ASSERT_EQ(decode_copy(b), DecodeError::kBadChecksum)
            << "type " << int(good[3]) << " byte " << i << " bit " << bit;
      }
    }
  }
}

TEST(WireDecode, FlippingAnySingleBitAnywhereNeverPassesBothChecks) {
  for (const Sample& s : all_samples()) {
    for (size_t i = 0; i < s.bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        Buf b = s.bytes;
        b[i] ^= static_cast<uint8_t>(1 << bit);
        Packet out;
        const bool accepted = decode(b, out) == DecodeError::kOk &&
                              (out.h.type != Type::kData || payload_ok(out));
        ASSERT_FALSE(accepted) << s.name << " byte " << i << " bit " << bit;
      }
    }
  }
}

TEST(WireDecode, TrimmedDataKeepsItsHeaderAndCarriesNoPayload) {
  // What a switch does to a packet it cannot queue: cut the payload, set
  // TRIMMED in the variant byte. The header CRC still holds.
  const Buf pay = pattern(100, 3);
  Buf b = build(sample_data(), pay);
  b.resize(96);
  b[42] = net_flag::kTrimmed;
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  EXPECT_EQ(out.h.net_flags, net_flag::kTrimmed);
  EXPECT_EQ(out.h.payload_len, 100);  // the length as sent
  EXPECT_TRUE(out.payload.empty());
  // Trimmed but still carrying bytes: the length disagrees.
  Buf full = build(sample_data(), pay);
  full[42] = net_flag::kTrimmed;
  EXPECT_EQ(decode_copy(full), DecodeError::kBadLength);
}

TEST(WireDecode, IntRecordsAfterThePayloadAreDecodedInOrder) {
  const Buf pay = pattern(40, 5);
  Buf b = build(sample_data(), pay);
  b[43] = 2;
  for (uint64_t hop = 0; hop < 2; ++hop) {
    Buf r(24);
    const uint64_t ts = 1000 + hop, tx = 5000000 + hop;
    const uint32_t q = 1500 * static_cast<uint32_t>(hop + 1), rate = 25000;
    std::memcpy(r.data(), &ts, 8);
    std::memcpy(r.data() + 8, &tx, 8);
    std::memcpy(r.data() + 16, &q, 4);
    std::memcpy(r.data() + 20, &rate, 4);
    b.insert(b.end(), r.begin(), r.end());
  }
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  ASSERT_EQ(out.h.int_hops, 2);
  EXPECT_EQ(out.payload.size(), 40u);
  EXPECT_TRUE(payload_ok(out));
  EXPECT_EQ(out.int_record(0).timestamp_ns, 1000u);
  EXPECT_EQ(out.int_record(1).tx_bytes, 5000001u);
  EXPECT_EQ(out.int_record(1).qlen_bytes, 3000u);
  EXPECT_EQ(out.int_record(0).rate_mbps, 25000u);
  // A hop count that disagrees with the datagram, or more than eight hops.
  Buf short_by_one = b;
  short_by_one.resize(b.size() - 24);
  EXPECT_EQ(decode_copy(short_by_one), DecodeError::kBadLength);
  Buf nine = b;
  nine[43] = 9;
  EXPECT_EQ(decode_copy(nine), DecodeError::kMalformed);
}

TEST(WireRoundTrip, DataWithACreditRequestCarriesEightMoreHeaderBytes) {
  const Buf pay = pattern(50, 2);
  Packet in = sample_data();
  in.h.flags |= flag::kCreditReq;
  in.data.credit_req = 0x0102030405060708ull;
  const Buf b = build(in, pay);
  EXPECT_EQ(b[5], 13);  // 104 bytes of header
  EXPECT_EQ(get_le(b, 96, 8), 0x0102030405060708ull);
  Packet out;
  ASSERT_EQ(decode(b, out), DecodeError::kOk);
  EXPECT_EQ(out.data.credit_req, 0x0102030405060708ull);
  EXPECT_EQ(Buf(out.payload.begin(), out.payload.end()), pay);
  EXPECT_TRUE(payload_ok(out));
  // The flag without the room (or the room without the flag) is malformed.
  Buf no_room = build(sample_data(), pay);
  no_room[4] |= flag::kCreditReq;
  reseal(no_room);
  EXPECT_EQ(decode_copy(no_room), DecodeError::kMalformed);
}

TEST(WireRoundTrip, AckEchoesIntRecordsAfterItsSackRanges) {
  for (size_t nranges : {size_t{0}, size_t{3}, size_t{32}}) {
    Packet in = sample_ack(nranges);
    in.ack.int_hops = 3;
    for (uint8_t h = 0; h < 3; ++h) in.ack.int_records[h] = {1000u + h, 77u * h, 1500u * h, 25000u};
    const Buf b = build(in);
    EXPECT_EQ(b.size(), 72 + 8 * nranges + 3 * 24);
    EXPECT_EQ(b[48 + 14], 3);
    Packet out;
    ASSERT_EQ(decode(b, out), DecodeError::kOk);
    ASSERT_EQ(out.ack.nranges, nranges);
    ASSERT_EQ(out.ack.int_hops, 3);
    for (uint8_t h = 0; h < 3; ++h) {
      EXPECT_EQ(out.ack.int_records[h].timestamp_ns, 1000u + h);
      EXPECT_EQ(out.ack.int_records[h].tx_bytes, 77u * h);
      EXPECT_EQ(out.ack.int_records[h].qlen_bytes, 1500u * h);
      EXPECT_EQ(out.ack.int_records[h].rate_mbps, 25000u);
    }
  }
  // More than eight echoed hops is malformed.
  Buf b = build(sample_ack(0));
  b[48 + 14] = 9;
  EXPECT_EQ(decode_copy(b), DecodeError::kMalformed);
}

TEST(WireDecode, VariantBytesOnAnythingButDataAreMalformed) {
  for (const Sample& s : all_samples()) {
    if (s.bytes[3] == static_cast<uint8_t>(Type::kData)) continue;
    Buf b = s.bytes;
    b[42] = net_flag::kTrimmed;
    EXPECT_EQ(decode_copy(b), DecodeError::kMalformed) << s.name;
    b = s.bytes;
    b[43] = 1;
    EXPECT_EQ(decode_copy(b), DecodeError::kMalformed) << s.name;
  }
  Buf d = build(sample_data(), pattern(8, 1));
  d[42] = 0x80;  // unknown net flag
  EXPECT_EQ(decode_copy(d), DecodeError::kMalformed);
}

TEST(WireDecode, AckWithThirtyThreeRangesIsMalformed) {
  // Encode the maximum, then hand-extend it by one range and reseal, so that
  // the datagram is consistent in every respect but the range count.
  Buf b = build(sample_ack(32));
  b.insert(b.end(), {1, 0, 0, 0, 1, 0, 0, 0});
  b[60] = 33;
  b[61] = 0;
  b[5] = static_cast<uint8_t>((72 + 33 * 8) / 8);
  reseal(b);
  EXPECT_EQ(decode_copy(b), DecodeError::kMalformed);
  b[60] = 0xFF;
  b[61] = 0xFF;
  EXPECT_EQ(decode_copy(b), DecodeError::kMalformed);
}

TEST(WireDecode, AckRangeOfLengthZeroIsMalformed) {
  Packet p = sample_ack(3);
  p.ack.ranges[2].len = 0;
  EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed);
}

TEST(WireDecode, HeaderLengthByteThatDisagreesWithTheTypeIsMalformed) {
  for (const Sample& s : all_samples()) {
    for (int delta : {-1, 1}) {
      Buf b = s.bytes;
      b[5] = static_cast<uint8_t>(b[5] + delta);
      EXPECT_EQ(decode_copy(b), DecodeError::kMalformed) << s.name << " " << delta;
    }
  }
  // An ACK whose nranges does not match its hlen.
  Buf b = build(sample_ack(2));
  b[60] = 3;
  EXPECT_EQ(decode_copy(b), DecodeError::kMalformed);
}

TEST(WireDecode, DataPayloadBeyondTheEndOfItsMessageIsMalformed) {
  const Buf pay = pattern(4, 1);
  Packet p = sample_data();
  p.data.msg_len = 10;
  p.data.offset = 8;  // 8 + 4 > 10
  EXPECT_EQ(decode_copy(build(p, pay)), DecodeError::kMalformed);
  p.data.offset = 11;  // offset itself past the end, even with no payload
  EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed);
  // offset + payload_len wraps around 2^64: must not pass as "small".
  p.data.msg_len = ~uint64_t{0};
  p.data.offset = ~uint64_t{0} - 1;
  EXPECT_EQ(decode_copy(build(p, pay)), DecodeError::kMalformed);
}

TEST(WireDecode, CancelWithPayloadIsMalformed) {
  const Buf pay = pattern(4, 1);
  Packet p = sample_data();
  p.h.flags = flag::kCancel;
  EXPECT_EQ(decode_copy(build(p, pay)), DecodeError::kMalformed);
}

TEST(WireDecode, DataWithUnknownOpIsMalformed) {
  for (uint8_t op : {0, 3, 0xFF}) {
    Packet p = sample_data();
    p.data.op = static_cast<Op>(op);
    EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed) << int(op);
  }
}

TEST(WireDecode, HandshakeWithUnknownKindModeOrRejectIsMalformed) {
  for (uint8_t k : {0, 4, 9}) {
    Packet p = sample_handshake(HandshakeKind::kInit);
    p.hs.kind = static_cast<HandshakeKind>(k);
    EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed) << "kind " << int(k);
  }
  Packet m = sample_handshake(HandshakeKind::kInit);
  m.hs.mode = 2;
  EXPECT_EQ(decode_copy(build(m)), DecodeError::kMalformed);
  Packet r = sample_handshake(HandshakeKind::kReject);
  r.hs.reject = static_cast<RejectReason>(5);
  EXPECT_EQ(decode_copy(build(r)), DecodeError::kMalformed);
}

TEST(WireDecode, NackWithUnknownReasonIsMalformed) {
  for (uint8_t r : {0, 5, 0xFF}) {
    Packet p = sample_nack(NackReason::kSequence);
    p.nack.reason = static_cast<NackReason>(r);
    EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed) << int(r);
  }
}

TEST(WireDecode, CloseWithUnknownKindIsMalformed) {
  for (uint8_t k : {0, 3, 0xFF}) {
    Packet p = sample_simple(Type::kClose);
    p.close.kind = static_cast<CloseKind>(k);
    EXPECT_EQ(decode_copy(build(p)), DecodeError::kMalformed) << int(k);
  }
}

TEST(WireDecode, BadEnumBehindABadCrcIsBadChecksum) {
  // Enum fields are judged only once the CRC matched.
  Packet p = sample_handshake(HandshakeKind::kInit);
  p.hs.kind = static_cast<HandshakeKind>(9);
  Buf b = build(p);
  b[44] ^= 1;
  EXPECT_EQ(decode_copy(b), DecodeError::kBadChecksum);
}

TEST(WireDecodeErrorName, NamesEveryErrorAsItsCounter) {
  EXPECT_EQ(decode_error_name(DecodeError::kOk), "ok");
  EXPECT_EQ(decode_error_name(DecodeError::kTruncated), "truncated");
  EXPECT_EQ(decode_error_name(DecodeError::kForeign), "foreign");
  EXPECT_EQ(decode_error_name(DecodeError::kWrongVersion), "wrong_version");
  EXPECT_EQ(decode_error_name(DecodeError::kBadType), "bad_type");
  EXPECT_EQ(decode_error_name(DecodeError::kBadLength), "bad_length");
  EXPECT_EQ(decode_error_name(DecodeError::kBadChecksum), "bad_checksum");
  EXPECT_EQ(decode_error_name(DecodeError::kMalformed), "malformed");
  EXPECT_EQ(decode_error_name(DecodeError::kCount), "unknown");
  std::set<std::string_view> names;
  for (int e = 0; e < static_cast<int>(DecodeError::kCount); ++e) names.insert(decode_error_name(static_cast<DecodeError>(e)));
  EXPECT_EQ(names.size(), static_cast<size_t>(DecodeError::kCount));
}

}  // namespace
}  // namespace weft::core::wire
