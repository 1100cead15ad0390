#include "run/cluster.hpp"

#include "gp/error.hpp"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#if defined(GP_WITH_MPI)
#include <mpi.h>
#endif

namespace gp::cli::cluster {

#if defined(GP_WITH_MPI)

namespace {
bool g_started = false;
int g_rank = 0;
int g_size = 1;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw gp::error(std::string("MPI ") + what + " failed on rank " + std::to_string(g_rank) +
                    ": " + std::string(msg, static_cast<std::size_t>(len)));
  }
}

/// MPI counts are int: large buffers go in chunks.
constexpr std::size_t chunk = static_cast<std::size_t>(std::numeric_limits<int>::max() / 8);
}  // namespace

bool init(int* argc, char*** argv) {
  // Only under a launcher: a plain run must not need an MPI runtime.
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr && std::getenv("PMI_SIZE") == nullptr) {
    return false;
  }
  int inited = 0;
  MPI_Initialized(&inited);
  if (inited == 0) {
    int provided = 0;
    // The pipeline calls MPI from the main thread only.
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    g_started = true;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  return true;
}

void finalize() {
  if (g_started) {
    MPI_Finalize();
    g_started = false;
  }
}

void abort_all(int exit_code) {
  if (g_started && g_size > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

int rank() { return g_rank; }
int size() { return g_size; }

void allreduce_bor(void* data, std::size_t bytes) {
  if (g_size == 1) return;
  auto* p = static_cast<unsigned char*>(data);
  for (std::size_t off = 0; off < bytes; off += chunk) {
    const int n = static_cast<int>(bytes - off < chunk ? bytes - off : chunk);
    check(MPI_Allreduce(MPI_IN_PLACE, p + off, n, MPI_BYTE, MPI_BOR, MPI_COMM_WORLD),
          "allreduce");
  }
}

void allreduce_sum(std::uint64_t* data, std::size_t count) {
  if (g_size == 1) return;
  for (std::size_t off = 0; off < count; off += chunk) {
    const int n = static_cast<int>(count - off < chunk ? count - off : chunk);
    check(MPI_Allreduce(MPI_IN_PLACE, data + off, n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD),
          "allreduce");
  }
}

bool allreduce_and(bool flag) {
  if (g_size == 1) return flag;
  int v = flag ? 1 : 0;
  check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD), "allreduce");
  return v != 0;
}

void send_floats(const float* data, std::size_t count, int to, std::int64_t window) {
  const int tag = static_cast<int>(window % 32000);
  for (std::size_t off = 0; off < count; off += chunk) {
    const int n = static_cast<int>(count - off < chunk ? count - off : chunk);
    check(MPI_Send(data + off, n, MPI_FLOAT, to, tag, MPI_COMM_WORLD), "send");
  }
}

void recv_floats(float* data, std::size_t count, int from, std::int64_t window) {
  const int tag = static_cast<int>(window % 32000);
  for (std::size_t off = 0; off < count; off += chunk) {
    const int n = static_cast<int>(count - off < chunk ? count - off : chunk);
    check(MPI_Recv(data + off, n, MPI_FLOAT, from, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "receive");
  }
}

std::string prefix() {
  return g_size > 1 ? "rank " + std::to_string(g_rank) + "/" + std::to_string(g_size) + ": "
                    : std::string();
}

#else  // no MPI in this build: one rank

bool init(int*, char***) {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr &&
      std::string(std::getenv("OMPI_COMM_WORLD_SIZE")) != "1") {
    throw gp::config_error(
        "started by mpirun with several ranks, but this build has no MPI (install "
        "libopenmpi-dev and rebuild)");
  }
  return false;
}
void finalize() {}
void abort_all(int exit_code) { std::exit(exit_code); }
int rank() { return 0; }
int size() { return 1; }
void allreduce_bor(void*, std::size_t) {}
void allreduce_sum(std::uint64_t*, std::size_t) {}
bool allreduce_and(bool flag) { return flag; }
void send_floats(const float*, std::size_t, int, std::int64_t) {
  throw gp::error("send_floats without MPI");
}
void recv_floats(float*, std::size_t, int, std::int64_t) {
  throw gp::error("recv_floats without MPI");
}
std::string prefix() { return {}; }

#endif

}  // namespace gp::cli::cluster
