// Session: MPI_Init_thread at MPI_THREAD_FUNNELED (server_rank.hpp's Design says why), and
// the job's abort for the CLI's last resort.
#include <mpi.h>

#include <cstdlib>

#include "dude/errors.hpp"
#include "dude/mpi.hpp"

namespace dude::mpi {

Session::Session() {
  int started = 0;
  MPI_Initialized(&started);
  if (started) throw Error("MPI: already initialised; a process holds one dude::mpi::Session");
  int provided = MPI_THREAD_SINGLE;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    throw Error("MPI: the library gives no MPI_THREAD_FUNNELED, which the server rank needs");
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

Session::~Session() { MPI_Finalize(); }

void Session::abort(int code) const {
  MPI_Abort(MPI_COMM_WORLD, code);
  // MPI_Abort does not return; should an MPI library's do, end this process anyway.
  std::abort();
}

}  // namespace dude::mpi
