// weft/collectives.h — communicators and collectives over weft::Device
// (DESIGN.md §5).
//
// A Communicator is N ranks, each with its own Device, fully connected. Each
// collective compiles to a Schedule (send / recv / reduce / copy steps over
// chunk ranges of the caller's buffers, collectives/schedule.h) that one
// executor runs over the transport; plans are cached per call shape.
//
// Bootstrap: ranks meet through a small TCP rendezvous at rank 0
// (BootstrapConfig), filled from torchrun, Open MPI, PMI, Slurm or WEFT_*
// variables by bootstrap_config_from_env() — the only place that reads the
// environment. Tests use in_process_bootstraps() for thread ranks.
//
// Errors: every call returns Status. A peer that dies fails the pending and
// every later call with a message naming its rank within CommConfig::timeout
// (or the transport's dead-peer timeout, whichever comes first); ranks that
// disagree on count, datatype, reduction, root or algorithm are told so (each
// collective sends a small header to the next rank in a ring); abort() closes
// every connection so peers fail at once instead of timing out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/status.h"
#include "weft/transport.h"
#include "weft/units.h"

namespace weft::coll {

enum class DataType : uint8_t { kF32, kF64, kF16, kBF16, kI8, kU8, kI32, kU32, kI64, kU64 };
inline constexpr int kDataTypeCount = 10;
enum class RedOp : uint8_t { kSum, kProd, kMin, kMax, kAvg };
inline constexpr int kRedOpCount = 5;
enum class Algorithm : uint8_t {
  kAuto,                      // pick from the tuning table (size, rank count)
  kRing,                      // chunked, pipelined ring (chain for broadcast/reduce)
  kRecursiveHalvingDoubling,  // Rabenseifner; non-powers of two fold the extra ranks
  kDoubleBinaryTree,          // two complementary trees, half the data each (one tree for broadcast/reduce)
  kDirect,                    // all-to-all: every pair at once
};
enum class CollKind : uint8_t {
  kAllReduce, kReduceScatter, kAllGather, kBroadcast, kReduce, kAllToAll, kAllToAllV, kBarrier, kSend, kRecv
};

size_t dtype_size(DataType t);
std::string_view dtype_name(DataType t);      // "float", "double", "half", "bfloat16", "int8", ... (nccl-tests names)
std::string_view redop_name(RedOp op);        // "sum", "prod", "min", "max", "avg"
std::string_view algorithm_name(Algorithm a); // "auto", "ring", "rhd", "dbt", "direct"
std::string_view coll_name(CollKind k);
Result<DataType> parse_dtype(std::string_view s);    // also f32, f64, f16, bf16, i8, u8, i32, ...
Result<RedOp> parse_redop(std::string_view s);
Result<Algorithm> parse_algorithm(std::string_view s);

// ---- bootstrap ----

// Where and who: filled by bootstrap_config_from_env() or by hand.
struct BootstrapConfig {
  std::string master_addr = "127.0.0.1";  // rank 0 listens here
  uint16_t master_port = 29500;
  int rank = -1;
  int world_size = -1;
  int local_rank = 0;
  uint64_t job_token = 0x77656674;  // ranks of one job agree on it; strangers are refused
  Nanos timeout = seconds(30);      // for the whole rendezvous
  std::string source;               // which convention filled it ("torchrun", "ompi", ...)
};

// Reads, in order of precedence: WEFT_RANK/WEFT_WORLD_SIZE/WEFT_MASTER_ADDR/
// WEFT_MASTER_PORT/WEFT_LOCAL_RANK/WEFT_JOB_TOKEN/WEFT_BOOTSTRAP_TIMEOUT_MS,
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), Open MPI
// (OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK), PMI (PMI_RANK, PMI_SIZE), Slurm
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID). MASTER_ADDR/PORT (or WEFT_*)
// are needed for MPI/PMI/Slurm launches too; the error says so.
// `getenv` is injectable for tests.
Result<BootstrapConfig> bootstrap_config_from_env(
    const std::function<const char*(const char*)>& getenv_fn = nullptr);

// Out-of-band exchange among the ranks of a job: used once at setup.
class Bootstrap {
 public:
  virtual ~Bootstrap() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank contributes `bytes` bytes; `all` receives size()*bytes, rank order.
  virtual Status allgather(const void* mine, void* all, size_t bytes) = 0;
  Status barrier();
};

// TCP star at rank 0. Fails with a message naming the problem: wrong world
// size, duplicate or out-of-range rank, foreign job token, rendezvous
// unreachable or ranks missing after `timeout`.
Result<std::unique_ptr<Bootstrap>> tcp_bootstrap(const BootstrapConfig& cfg);
// N bootstraps sharing memory, for ranks that are threads of one process.
std::vector<std::unique_ptr<Bootstrap>> in_process_bootstraps(int n, Nanos timeout = seconds(30));

// ---- communicator ----

struct CommConfig {
  // Opens this rank's Device (UDP, loopback, lossy...); called once per
  // communicator, including those made by split().
  std::function<Result<std::unique_ptr<Device>>()> open_device;
  ConnParams conn;                 // recovery mode and paths of every connection
  Nanos timeout = seconds(30);     // a collective making no progress this long fails, naming whom it waits for
  Algorithm algorithm = Algorithm::kAuto;  // default for every call (a call's own argument wins)
  uint64_t chunk_bytes = 0;        // pipelining granularity; 0 = from the tuning table
};

class Communicator;

// A collective in flight. wait() drives the communicator until it is done;
// test() drives it once. Requests complete in the order they were issued.
class Request {
 public:
  Request() = default;
  Status wait();
  bool test();  // true when finished (then wait() returns at once)
  bool valid() const { return state_ != nullptr; }
  struct State;

 private:
  friend class Communicator;
  explicit Request(std::shared_ptr<State> s) : state_(std::move(s)) {}
  std::shared_ptr<State> state_;
};

class Communicator {
 public:
  // Opens a Device, exchanges addresses through `bs`, connects to every rank.
  static Result<std::unique_ptr<Communicator>> create(const CommConfig& cfg, Bootstrap& bs);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const;
  int size() const;
  // Ranks with the same color form a new communicator, ordered by (key, rank).
  // Collective over this communicator. color < 0: this rank joins none (nullptr).
  Result<std::unique_ptr<Communicator>> split(int color, int key);
  // Fails every pending and later call here, and closes the connections so
  // peers fail promptly (naming this rank) instead of waiting for a timeout.
  void abort(std::string_view why);
  // ok, or the error that failed this communicator.
  Status health() const;

  // Non-blocking. Buffers must stay untouched until the request completes.
  // After a call fails, the transport may still write into its receive
  // buffers (there is no cancel) until the communicator is aborted or
  // destroyed: do one of those before freeing them.
  // In-place: send == recv (all-reduce, broadcast, reduce, all-to-all);
  // reduce-scatter: send + rank*count*size == recv; all-gather: recv + rank*count*size == send.
  Result<Request> iall_reduce(const void* send, void* recv, size_t count, DataType t, RedOp op,
                              Algorithm a = Algorithm::kAuto);
  // `count` is per rank: send holds size()*count elements, recv count.
  Result<Request> ireduce_scatter(const void* send, void* recv, size_t count, DataType t, RedOp op,
                                  Algorithm a = Algorithm::kAuto);
  // `count` is per rank: send holds count, recv size()*count.
  Result<Request> iall_gather(const void* send, void* recv, size_t count, DataType t, Algorithm a = Algorithm::kAuto);
  Result<Request> ibroadcast(const void* send, void* recv, size_t count, DataType t, int root,
                             Algorithm a = Algorithm::kAuto);
  // recv is written on the root only.
  Result<Request> ireduce(const void* send, void* recv, size_t count, DataType t, RedOp op, int root,
                          Algorithm a = Algorithm::kAuto);
  // `count` per pair: send holds size()*count, block j goes to rank j.
  Result<Request> iall_to_all(const void* send, void* recv, size_t count, DataType t);
  // Counts and displacements in elements, one per rank.
  Result<Request> iall_to_allv(const void* send, std::span<const size_t> send_counts, std::span<const size_t> send_displs,
                               void* recv, std::span<const size_t> recv_counts, std::span<const size_t> recv_displs,
                               DataType t);
  Result<Request> ibarrier();
  // Point-to-point; messages between a pair with the same tag match in order.
  Result<Request> isend(const void* buf, size_t count, DataType t, int peer, uint32_t tag = 0);
  Result<Request> irecv(void* buf, size_t count, DataType t, int peer, uint32_t tag = 0);

  // Blocking wrappers.
  Status all_reduce(const void* send, void* recv, size_t count, DataType t, RedOp op, Algorithm a = Algorithm::kAuto);
  Status reduce_scatter(const void* send, void* recv, size_t count, DataType t, RedOp op, Algorithm a = Algorithm::kAuto);
  Status all_gather(const void* send, void* recv, size_t count, DataType t, Algorithm a = Algorithm::kAuto);
  Status broadcast(const void* send, void* recv, size_t count, DataType t, int root, Algorithm a = Algorithm::kAuto);
  Status reduce(const void* send, void* recv, size_t count, DataType t, RedOp op, int root, Algorithm a = Algorithm::kAuto);
  Status all_to_all(const void* send, void* recv, size_t count, DataType t);
  Status barrier();
  Status send(const void* buf, size_t count, DataType t, int peer, uint32_t tag = 0);
  Status recv(void* buf, size_t count, DataType t, int peer, uint32_t tag = 0);

  // The algorithm kAuto resolves to for this call shape (tuning table).
  Algorithm select(CollKind k, size_t bytes) const;
  // The transport's view of the connection to `peer` (retransmits, RTT...).
  Result<ConnStats> conn_stats(int peer) const;

  struct Impl;

 private:
  friend class Request;
  explicit Communicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::coll
