#include "transport/core/wire.h"

#include <bit>
#include <cstring>
#include <type_traits>

#include "common/crc32c.h"

namespace weft::core::wire {
namespace {

// Little-endian stores and loads. On little-endian hosts (x86, Arm) they are
// one unaligned move each; the byte loop is only for big-endian hosts.
template <typename T>
void put(uint8_t* p, T v) {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, sizeof v);
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
  }
}
template <typename T>
T get(const uint8_t* p) {
  static_assert(std::is_unsigned_v<T>);
  T v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, sizeof v);
  } else {
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(p[i]) << (8 * i);
  }
  return v;
}

constexpr size_t kCrcOffset = 44;
constexpr size_t kVariantOffset = 42;  // net_flags, int_hops: outside the CRC
constexpr size_t kPayloadCrcOffset = kCommonSize + 44;

size_t ext_size(Type t, size_t nranges, size_t int_hops) {
  switch (t) {
    case Type::kData: return kDataExtSize;
    case Type::kAck: return kAckExtSize + nranges * kSackRangeSize + int_hops * kIntHopSize;
    case Type::kNack: return kNackExtSize;
    case Type::kCredit: return kCreditExtSize;
    case Type::kHandshake: return kHandshakeExtSize;
    case Type::kKeepalive: return 0;
    case Type::kClose: return kCloseExtSize;
  }
  return 0;
}

bool valid_type(uint8_t t) { return t >= 1 && t <= 7; }

void put_int_record(uint8_t* r, const IntRecord& rec) {
  put<uint64_t>(r, rec.timestamp_ns);
  put<uint64_t>(r + 8, rec.tx_bytes);
  put<uint32_t>(r + 16, rec.qlen_bytes);
  put<uint32_t>(r + 20, rec.rate_mbps);
}
IntRecord get_int_record(const uint8_t* r) {
  return {get<uint64_t>(r), get<uint64_t>(r + 8), get<uint32_t>(r + 16), get<uint32_t>(r + 20)};
}

// CRC over the headers, skipping the variant bytes and the CRC field itself.
uint32_t header_crc(const uint8_t* hdr, size_t hlen) {
  const uint32_t c = crc32c(0, hdr, kVariantOffset);
  return crc32c(c, hdr + kCrcOffset + 4, hlen - kCrcOffset - 4);
}

}  // namespace

std::string_view decode_error_name(DecodeError e) {
  switch (e) {
    case DecodeError::kOk: return "ok";
    case DecodeError::kTruncated: return "truncated";
    case DecodeError::kForeign: return "foreign";
    case DecodeError::kWrongVersion: return "wrong_version";
    case DecodeError::kBadType: return "bad_type";
    case DecodeError::kBadLength: return "bad_length";
    case DecodeError::kBadChecksum: return "bad_checksum";
    case DecodeError::kMalformed: return "malformed";
    case DecodeError::kCount: break;
  }
  return "unknown";
}

size_t header_size(Type type, size_t nranges, size_t int_hops) { return kCommonSize + ext_size(type, nranges, int_hops); }

size_t encode(const Packet& p, std::span<const uint8_t> payload, uint8_t* out) {
  const Common& h = p.h;
  const size_t nranges = h.type == Type::kAck ? p.ack.nranges : 0;
  const size_t echoed = h.type == Type::kAck ? p.ack.int_hops : 0;
  const bool creq = h.type == Type::kData && (h.flags & flag::kCreditReq);
  const size_t hlen = header_size(h.type, nranges, echoed) + (creq ? kCreditReqSize : 0);
  put<uint16_t>(out + 0, kMagic);
  out[2] = h.version;
  out[3] = static_cast<uint8_t>(h.type);
  out[4] = h.flags & static_cast<uint8_t>(~flag::kEcnCe);
  out[5] = static_cast<uint8_t>(hlen / 8);
  put<uint16_t>(out + 6, static_cast<uint16_t>(payload.size()));
  put<uint32_t>(out + 8, h.dst_conn);
  put<uint32_t>(out + 12, h.conn_tag);
  put<uint64_t>(out + 16, h.psn);
  put<uint64_t>(out + 24, h.ts_val);
  put<uint64_t>(out + 32, h.ts_ecr);
  put<uint16_t>(out + 40, h.entropy);
  put<uint16_t>(out + 42, 0);
  uint8_t* e = out + kCommonSize;
  switch (h.type) {
    case Type::kData:
      put<uint32_t>(e + 0, p.data.msg_id);
      e[4] = static_cast<uint8_t>(p.data.op);
      e[5] = e[6] = e[7] = 0;
      put<uint64_t>(e + 8, p.data.key);
      put<uint64_t>(e + 16, p.data.msg_len);
      put<uint64_t>(e + 24, p.data.offset);
      put<uint64_t>(e + 32, p.data.aux);
      put<uint32_t>(e + 40, p.data.imm);
      put<uint32_t>(e + 44, crc32c(0, payload.data(), payload.size()));
      if (creq) put<uint64_t>(e + kDataExtSize, p.data.credit_req);
      break;
    case Type::kAck:
      put<uint64_t>(e + 0, p.ack.cum_ack);
      put<uint32_t>(e + 8, p.ack.rwnd);
      put<uint16_t>(e + 12, p.ack.nranges);
      e[14] = static_cast<uint8_t>(echoed);
      e[15] = 0;
      put<uint64_t>(e + 16, p.ack.ce_bytes);
      for (size_t i = 0; i < nranges; ++i) {
        put<uint32_t>(e + kAckExtSize + i * 8, p.ack.ranges[i].start);
        put<uint32_t>(e + kAckExtSize + i * 8 + 4, p.ack.ranges[i].len);
      }
      for (size_t i = 0; i < echoed; ++i) {
        put_int_record(e + kAckExtSize + nranges * kSackRangeSize + i * kIntHopSize, p.ack.int_records[i]);
      }
      break;
    case Type::kNack:
      put<uint64_t>(e + 0, p.nack.psn);
      put<uint32_t>(e + 8, p.nack.msg_id);
      e[12] = static_cast<uint8_t>(p.nack.reason);
      e[13] = e[14] = e[15] = 0;
      put<uint64_t>(e + 16, p.nack.cum_ack);
      break;
    case Type::kCredit:
      put<uint64_t>(e + 0, p.credit.credit);
      break;
    case Type::kHandshake:
      e[0] = static_cast<uint8_t>(p.hs.kind);
      e[1] = p.hs.mode;
      e[2] = static_cast<uint8_t>(p.hs.reject);
      e[3] = 0;
      put<uint32_t>(e + 4, p.hs.src_conn);
      put<uint64_t>(e + 8, p.hs.job_token);
      put<uint32_t>(e + 16, p.hs.nonce);
      put<uint32_t>(e + 20, p.hs.mss);
      put<uint32_t>(e + 24, p.hs.rwnd);
      put<uint32_t>(e + 28, p.hs.max_ops);
      break;
    case Type::kKeepalive:
      break;
    case Type::kClose:
      e[0] = static_cast<uint8_t>(p.close.kind);
      std::memset(e + 1, 0, 7);
      break;
  }
  put<uint32_t>(out + kCrcOffset, header_crc(out, hlen));
  return hlen;
}

DecodeError decode(std::span<const uint8_t> b, Packet& out) {
  if (b.size() < 4) return DecodeError::kTruncated;
  const uint8_t* p = b.data();
  if (get<uint16_t>(p) != kMagic) return DecodeError::kForeign;
  if (p[2] != kVersion) return DecodeError::kWrongVersion;
  if (!valid_type(p[3])) return DecodeError::kBadType;
  if (b.size() < kCommonSize) return DecodeError::kTruncated;
  Common& h = out.h;
  h.version = p[2];
  h.type = static_cast<Type>(p[3]);
  h.flags = p[4] & static_cast<uint8_t>(~flag::kEcnCe);
  const size_t hlen = size_t{p[5]} * 8;
  h.payload_len = get<uint16_t>(p + 6);
  h.dst_conn = get<uint32_t>(p + 8);
  h.conn_tag = get<uint32_t>(p + 12);
  h.psn = get<uint64_t>(p + 16);
  h.ts_val = get<uint64_t>(p + 24);
  h.ts_ecr = get<uint64_t>(p + 32);
  h.entropy = get<uint16_t>(p + 40);
  h.net_flags = p[kVariantOffset];
  h.int_hops = p[kVariantOffset + 1];

  size_t nranges = 0, echoed = 0;
  if (h.type == Type::kAck) {
    if (b.size() < kCommonSize + kAckExtSize) return DecodeError::kTruncated;
    nranges = get<uint16_t>(p + kCommonSize + 12);
    echoed = p[kCommonSize + 14];
    if (nranges > kMaxSackRanges || echoed > kMaxIntHops) return DecodeError::kMalformed;
  }
  const bool creq = h.type == Type::kData && (h.flags & flag::kCreditReq);
  if (hlen != header_size(h.type, nranges, echoed) + (creq ? kCreditReqSize : 0)) return DecodeError::kMalformed;
  if (b.size() < hlen) return DecodeError::kTruncated;
  // The variant bytes are outside the CRC, so they are judged on their own:
  // switches only trim or stamp DATA, with known flags and at most 8 hops.
  if (h.type != Type::kData && (h.net_flags != 0 || h.int_hops != 0)) return DecodeError::kMalformed;
  if ((h.net_flags & ~net_flag::kTrimmed) != 0 || h.int_hops > kMaxIntHops) return DecodeError::kMalformed;
  if ((h.net_flags & net_flag::kTrimmed) && h.payload_len == 0) return DecodeError::kMalformed;  // nothing to cut
  if (h.type != Type::kData && h.payload_len != 0) return DecodeError::kBadLength;
  const size_t carried = (h.net_flags & net_flag::kTrimmed) ? 0 : h.payload_len;
  if (b.size() != hlen + carried + size_t{h.int_hops} * kIntHopSize) return DecodeError::kBadLength;
  if (get<uint32_t>(p + kCrcOffset) != header_crc(p, hlen)) return DecodeError::kBadChecksum;
  out.payload = b.subspan(hlen, carried);
  out.int_raw = b.subspan(hlen + carried, size_t{h.int_hops} * kIntHopSize);

  const uint8_t* e = p + kCommonSize;
  switch (h.type) {
    case Type::kData: {
      DataExt& d = out.data;
      d.msg_id = get<uint32_t>(e);
      if (e[4] != static_cast<uint8_t>(Op::kSend) && e[4] != static_cast<uint8_t>(Op::kWrite))
        return DecodeError::kMalformed;
      d.op = static_cast<Op>(e[4]);
      d.key = get<uint64_t>(e + 8);
      d.msg_len = get<uint64_t>(e + 16);
      d.offset = get<uint64_t>(e + 24);
      d.aux = get<uint64_t>(e + 32);
      d.imm = get<uint32_t>(e + 40);
      d.payload_crc = get<uint32_t>(e + 44);
      d.credit_req = creq ? get<uint64_t>(e + kDataExtSize) : 0;
      // The payload must lie inside the message it claims to belong to.
      if (d.msg_len > kMaxMessage || d.offset > d.msg_len || d.msg_len - d.offset < h.payload_len) return DecodeError::kMalformed;
      if ((h.flags & flag::kCancel) && h.payload_len != 0) return DecodeError::kMalformed;
      break;
    }
    case Type::kAck: {
      AckExt& a = out.ack;
      a.cum_ack = get<uint64_t>(e);
      a.rwnd = get<uint32_t>(e + 8);
      a.nranges = static_cast<uint16_t>(nranges);
      a.ce_bytes = get<uint64_t>(e + 16);
      for (size_t i = 0; i < nranges; ++i) {
        a.ranges[i].start = get<uint32_t>(e + kAckExtSize + i * 8);
        a.ranges[i].len = get<uint32_t>(e + kAckExtSize + i * 8 + 4);
        if (a.ranges[i].len == 0) return DecodeError::kMalformed;
      }
      a.int_hops = static_cast<uint8_t>(echoed);
      for (size_t i = 0; i < echoed; ++i)
        a.int_records[i] = get_int_record(e + kAckExtSize + nranges * kSackRangeSize + i * kIntHopSize);
      break;
    }
    case Type::kNack: {
      NackExt& n = out.nack;
      n.psn = get<uint64_t>(e);
      n.msg_id = get<uint32_t>(e + 8);
      if (e[12] < 1 || e[12] > 4) return DecodeError::kMalformed;
      n.reason = static_cast<NackReason>(e[12]);
      n.cum_ack = get<uint64_t>(e + 16);
      break;
    }
    case Type::kCredit:
      out.credit.credit = get<uint64_t>(e);
      break;
    case Type::kHandshake: {
      HandshakeExt& s = out.hs;
      if (e[0] < 1 || e[0] > 3 || e[1] > 1 || e[2] > 4) return DecodeError::kMalformed;
      s.kind = static_cast<HandshakeKind>(e[0]);
      s.mode = e[1];
      s.reject = static_cast<RejectReason>(e[2]);
      s.src_conn = get<uint32_t>(e + 4);
      s.job_token = get<uint64_t>(e + 8);
      s.nonce = get<uint32_t>(e + 16);
      s.mss = get<uint32_t>(e + 20);
      s.rwnd = get<uint32_t>(e + 24);
      s.max_ops = get<uint32_t>(e + 28);
      break;
    }
    case Type::kKeepalive:
      break;
    case Type::kClose:
      if (e[0] < 1 || e[0] > 2) return DecodeError::kMalformed;
      out.close.kind = static_cast<CloseKind>(e[0]);
      break;
  }
  return DecodeError::kOk;
}

bool payload_ok(const Packet& p) { return crc32c(0, p.payload.data(), p.payload.size()) == p.data.payload_crc; }

IntRecord Packet::int_record(size_t i) const { return get_int_record(int_raw.data() + i * kIntHopSize); }

}  // namespace weft::core::wire
