// collectives/env.cc — the edge where launcher conventions become a
// BootstrapConfig. Nothing else in collectives/ reads the environment.
#include <cerrno>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "weft/collectives.h"

namespace weft::coll {

namespace {
Result<long long> to_int(const char* name, const char* v) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v, &end, 0);
  if (end == v || *end != '\0' || errno != 0)
    return Status(Code::kInvalidArgument, fmt::format("{}='{}' is not an integer", name, v));
  return x;
}
}  // namespace

Result<BootstrapConfig> bootstrap_config_from_env(const std::function<const char*(const char*)>& getenv_fn) {
  auto get = [&](const char* n) -> const char* { return getenv_fn ? getenv_fn(n) : std::getenv(n); };
  BootstrapConfig c;
  // (rank, size, local rank) variable names per launcher, most specific first.
  struct Source {
    const char *name, *rank, *size, *local;
  };
  static constexpr Source kSources[] = {
      {"weft", "WEFT_RANK", "WEFT_WORLD_SIZE", "WEFT_LOCAL_RANK"},
      {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
      {"ompi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
      {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"},
      {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
  };
  const Source* src = nullptr;
  for (const Source& s : kSources)
    if (get(s.rank) && get(s.size)) {
      src = &s;
      break;
    }
  if (!src)
    return Status(Code::kNotFound,
                  "no launcher variables found: run under torchrun (RANK, WORLD_SIZE), mpirun (OMPI_COMM_WORLD_*), a "
                  "PMI launcher (PMI_RANK, PMI_SIZE) or srun (SLURM_PROCID, SLURM_NTASKS), or set WEFT_RANK and "
                  "WEFT_WORLD_SIZE");
  c.source = src->name;
  auto rank = to_int(src->rank, get(src->rank));
  if (!rank) return rank.status();
  auto size = to_int(src->size, get(src->size));
  if (!size) return size.status();
  c.rank = static_cast<int>(*rank);
  c.world_size = static_cast<int>(*size);
  if (const char* l = get(src->local)) {
    auto lr = to_int(src->local, l);
    if (!lr) return lr.status();
    c.local_rank = static_cast<int>(*lr);
  }
  const char* addr = get("WEFT_MASTER_ADDR") ? get("WEFT_MASTER_ADDR") : get("MASTER_ADDR");
  const char* port = get("WEFT_MASTER_PORT") ? get("WEFT_MASTER_PORT") : get("MASTER_PORT");
  if (c.world_size > 1 && (!addr || !port))
    return Status(Code::kInvalidArgument,
                  fmt::format("{} launch found (rank {} of {}) but no rendezvous address: set MASTER_ADDR and "
                              "MASTER_PORT (or WEFT_MASTER_ADDR/WEFT_MASTER_PORT) to an address and free port of "
                              "rank 0's host",
                              c.source, c.rank, c.world_size));
  if (addr) c.master_addr = addr;
  if (port) {
    auto p = to_int("MASTER_PORT", port);
    if (!p) return p.status();
    if (*p <= 0 || *p > 65535)
      return Status(Code::kInvalidArgument, fmt::format("MASTER_PORT={} is not a TCP port", *p));
    c.master_port = static_cast<uint16_t>(*p);
  }
  if (const char* t = get("WEFT_JOB_TOKEN")) {
    auto v = to_int("WEFT_JOB_TOKEN", t);
    if (!v) return v.status();
    c.job_token = static_cast<uint64_t>(*v);
  }
  if (const char* t = get("WEFT_BOOTSTRAP_TIMEOUT_MS")) {
    auto v = to_int("WEFT_BOOTSTRAP_TIMEOUT_MS", t);
    if (!v) return v.status();
    c.timeout = millis(*v);
  }
  if (c.rank < 0 || c.world_size < 1 || c.rank >= c.world_size)
    return Status(Code::kInvalidArgument,
                  fmt::format("{}: rank {} is outside world size {}", c.source, c.rank, c.world_size));
  return c;
}

}  // namespace weft::coll
