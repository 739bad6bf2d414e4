// bench/peers/mpi_allreduce.cc — MPI_Allreduce (float sum), the same sweep
// as weft-perf allreduce. Run under mpirun; run.sh restricts Open MPI to its
// TCP transport on the loopback interface (--mca btl tcp,self) so it is
// compared over TCP, not shared memory.
#include <mpi.h>

#include "bench/peers/peer_common.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  const peers::Sweep s = peers::parse(argc, argv);
  std::vector<float> in(s.max_bytes / 4 + 1, 1.0f), out(in.size());
  auto run = [&](uint64_t count) {
    MPI_Allreduce(in.data(), out.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  };
  auto max_all = [&](double x) {
    double y = 0;
    MPI_Allreduce(&x, &y, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return y;
  };
  peers::sweep("openmpi", rank, n, s, run, max_all);
  MPI_Finalize();
  return 0;
}
