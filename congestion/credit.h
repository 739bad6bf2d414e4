// congestion/credit.h — receiver-driven credits (EQDS / UEC RCCC style).
//
// The receiver, which sees every sender of an incast, decides who sends:
// it grants credit (PULLs) at slightly under its line rate, round-robin over
// the senders that asked for some. A sender may have in flight only what it
// was granted, plus a speculative window at the start so the first RTT is
// not wasted (Handley et al., NDP, SIGCOMM'17; Olteanu et al., EQDS,
// NSDI'22; UEC 1.0 RCCC as modelled in uet-htsim `UecPullPacer`).
//
// Sender (class Credit), credit in bytes:
//   start:               credit = speculative window (spec_bdp × BDP), speculating
//   first ACK/grant/trim/loss: speculation ends, positive unused credit → 0
//   send b bytes:        credit −= b       (a packet goes out while credit > 0)
//   grant g:             credit += g
//   timeout:             credit ← max(credit, MSS) — a lost grant must not
//                        stall the flow forever (weft's choice)
//   window = inflight + max(credit, MSS if credit > 0 else 0); unpaced (the
//   receiver paces the grants).
//   credit_request(backlog) = cumulative bytes asked for
//                           = granted so far + min(backlog, max_request) − credit held
//
// Receiver (class CreditGranter): one per receiving NIC, shared by all its
// flows. Senders' cumulative requests arrive with their packets; the pacer
// emits at most one grant per slot: up to grant_bytes (4 MSS, UEC default)
// but never past a sender's request, and the next slot opens after the
// granted bytes' wire time at pacer_fraction (0.99) of the line rate.
//
// States: sender {speculating, granted}; granter is a round-robin pacer.
#pragma once

#include <optional>
#include <vector>

#include "congestion/registry.h"

namespace weft::cc {

class Credit final : public CongestionControl {
 public:
  struct Params {
    double spec_bdp = 1.0;       // speculative window at start, BDPs
    double max_request_bdp = 1.5;  // most outstanding request, BDPs (RCCC maxwnd)
  };

  Credit(Params p, const Context& ctx);

  std::string_view name() const override { return "credit"; }
  void on_send(const SendEvent& e) override;
  void on_ack(const AckSample& a) override;
  void on_loss(const LossEvent& e) override { end_speculation(); }
  void on_timeout(const TimeoutEvent& e) override;
  void on_credit(const CreditEvent& e) override;
  void on_trim(const TrimEvent& e) override { end_speculation(); }
  Bytes cwnd() const override;
  BitsPerSec pacing_rate() const override { return BitsPerSec(0); }
  Needs needs() const override { return {.receiver_credits = true, .trims = true}; }
  Bytes credit_request(Bytes backlog) const override;

  int64_t credit() const { return credit_; }
  bool speculating() const { return speculating_; }

 private:
  void end_speculation();

  Params p_;
  int64_t mss_;
  int64_t max_request_;
  int64_t credit_;           // bytes; may dip below zero by less than a packet
  uint64_t granted_total_ = 0;
  uint64_t inflight_ = 0;
  bool speculating_ = true;
};

class CreditGranter {
 public:
  struct Params {
    BitsPerSec link_rate = gbps(100);  // receiver NIC rate
    Bytes grant_bytes = Bytes(16384);  // most per grant: 4 MSS of 4 KiB (UEC default)
    Bytes min_slot_bytes = Bytes(1024);  // a slot lasts at least this many bytes' wire time
    double pacer_fraction = 0.99;      // grants at 99 % of line rate leave room for ACKs
  };
  struct Grant {
    uint32_t sender;
    Bytes credit;
  };

  // Senders are numbered 0 .. max_senders−1 by the transport. Allocates here
  // only; the per-packet calls below do not.
  CreditGranter(Params p, uint32_t max_senders);

  // A packet from `sender` carried its cumulative request (credit_request()).
  // Requests only grow; an older, smaller one (reordering) is ignored.
  void on_request(uint32_t sender, Bytes cumulative_request);
  // The next grant if the pacer has a slot open at `now` and someone waits.
  std::optional<Grant> poll(Nanos now);
  // When the next slot opens (for the transport's timer).
  Nanos next_slot() const { return next_slot_; }
  // Whether any sender has an ungranted request (else next_slot() is moot).
  bool waiting() const { return queued_ > 0; }
  Bytes backlog(uint32_t sender) const;

 private:
  struct Peer {
    uint64_t requested = 0;
    uint64_t granted = 0;
    bool queued = false;
  };
  // Round robin is a FIFO of waiting senders, so poll() is O(1) however
  // many senders the table holds.
  void enqueue(uint32_t sender);
  Params p_;
  std::vector<Peer> peers_;
  std::vector<uint32_t> ring_;  // capacity max_senders: each sender is queued at most once
  uint32_t head_ = 0, queued_ = 0;
  Nanos next_slot_{0};
};

Algorithm credit_algorithm();

}  // namespace weft::cc
