// bench/transport/wire_bench.cc — packet encode/decode (transport/core/wire.h).
//
// encode() and decode() both run CRC32C over headers *and* payload, so a DATA
// packet with an 8876-byte payload (a 9000-byte jumbo frame) mostly measures
// the CRC; the 0-byte payload isolates the cost of the header fields. The ACK
// carries the maximum 32 SACK ranges (header only, 328 bytes). Every
// benchmark reports items/s (packets); the DATA ones also bytes/s (datagram
// bytes, header + payload).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "transport/core/wire.h"
#include "tests/support/pattern.h"

namespace {

namespace wire = weft::core::wire;

std::vector<uint8_t> pattern(size_t n) { return weft::testing::pattern(n, 2); }

wire::Packet data_packet(size_t payload_len) {
  wire::Packet p;
  p.h.type = wire::Type::kData;
  p.h.flags = 0;
  p.h.payload_len = static_cast<uint16_t>(payload_len);
  p.h.dst_conn = 3;
  p.h.conn_tag = 0xC0FFEE;
  p.h.psn = 123456789;
  p.h.ts_val = 1'000'000'001;
  p.h.entropy = 5;
  p.data.msg_id = 42;
  p.data.op = wire::Op::kSend;
  p.data.key = 7;
  p.data.msg_len = 1 << 20;
  p.data.offset = 64 * 8876;
  p.data.aux = 9;
  return p;
}

// An ACK with every range used: holes at every 128th PSN of a 4096 window.
wire::Packet ack_packet() {
  wire::Packet p;
  p.h.type = wire::Type::kAck;
  p.h.dst_conn = 3;
  p.h.conn_tag = 0xC0FFEE;
  p.h.ts_val = 1'000'050'001;
  p.h.ts_ecr = 1'000'000'001;
  p.h.entropy = 5;
  p.ack.cum_ack = 1000;
  p.ack.rwnd = 16384;
  p.ack.ce_bytes = 0;
  p.ack.nranges = wire::kMaxSackRanges;
  for (uint32_t i = 0; i < wire::kMaxSackRanges; ++i) p.ack.ranges[i] = {i * 128 + 1, 127};
  return p;
}

bool same_data(const wire::Packet& a, const wire::Packet& b) {
  return a.h.type == b.h.type && a.h.psn == b.h.psn && a.h.payload_len == b.h.payload_len && a.h.conn_tag == b.h.conn_tag &&
         a.data.msg_id == b.data.msg_id && a.data.offset == b.data.offset && a.data.msg_len == b.data.msg_len;
}

void BM_EncodeData(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto payload = pattern(n);
  const wire::Packet p = data_packet(n);
  std::vector<uint8_t> out(wire::kDataHeaderSize + n);
  // Once, untimed: the encoding must decode back to the same packet.
  {
    const size_t h = wire::encode(p, payload, out.data());
    std::memcpy(out.data() + h, payload.data(), n);
    wire::Packet back;
    if (h != wire::kDataHeaderSize || wire::decode(out, back) != wire::DecodeError::kOk || !same_data(p, back)) {
      state.SkipWithError("encoded DATA packet does not decode back");
      return;
    }
  }
  for (auto _ : state) {
    size_t h = wire::encode(p, payload, out.data());
    benchmark::DoNotOptimize(h);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * out.size()));
  state.SetLabel(n == 0 ? "header only" : "header + CRC over payload");
}

void BM_DecodeData(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto payload = pattern(n);
  const wire::Packet p = data_packet(n);
  std::vector<uint8_t> bytes(wire::kDataHeaderSize + n);
  const size_t h = wire::encode(p, payload, bytes.data());
  std::memcpy(bytes.data() + h, payload.data(), n);
  wire::Packet out;
  if (wire::decode(bytes, out) != wire::DecodeError::kOk || !same_data(p, out) ||
      std::memcmp(out.payload.data(), payload.data(), n) != 0) {
    state.SkipWithError("DATA packet does not decode");
    return;
  }
  for (auto _ : state) {
    wire::DecodeError e = wire::decode(bytes, out);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes.size()));
  state.SetLabel(n == 0 ? "header only" : "header + CRC over payload");
}

void BM_EncodeAck32(benchmark::State& state) {
  const wire::Packet p = ack_packet();
  std::vector<uint8_t> out(wire::kMaxHeaderSize);
  {
    const size_t h = wire::encode(p, {}, out.data());
    wire::Packet back;
    if (h != wire::kMaxHeaderSize || wire::decode(out, back) != wire::DecodeError::kOk || back.ack.nranges != 32 ||
        back.ack.ranges[31].start != p.ack.ranges[31].start) {
      state.SkipWithError("encoded ACK does not decode back with 32 ranges");
      return;
    }
  }
  for (auto _ : state) {
    size_t h = wire::encode(p, {}, out.data());
    benchmark::DoNotOptimize(h);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel("32 SACK ranges, 328 B");
}

void BM_DecodeAck32(benchmark::State& state) {
  const wire::Packet p = ack_packet();
  std::vector<uint8_t> bytes(wire::kMaxHeaderSize);
  wire::encode(p, {}, bytes.data());
  wire::Packet out;
  if (wire::decode(bytes, out) != wire::DecodeError::kOk || out.ack.nranges != 32) {
    state.SkipWithError("ACK does not decode with 32 ranges");
    return;
  }
  for (auto _ : state) {
    wire::DecodeError e = wire::decode(bytes, out);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel("32 SACK ranges, 328 B");
}

}  // namespace

BENCHMARK(BM_EncodeData)->Arg(0)->Arg(8876);
BENCHMARK(BM_DecodeData)->Arg(0)->Arg(8876);
BENCHMARK(BM_EncodeAck32);
BENCHMARK(BM_DecodeAck32);
