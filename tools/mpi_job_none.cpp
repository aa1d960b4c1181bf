// mpi_job_none.cpp: MpiJob in a dude built without MPI (DUDE_WITH_MPI off).
#include "mpi_job.hpp"

namespace dude::cli {

std::unique_ptr<MpiJob> MpiJob::start() {
  throw ConfigError(
      "--backend mpi: this dude was built without MPI (install libopenmpi-dev and rebuild: "
      "DUDE_WITH_MPI is on when CMake finds MPI)");
}

}  // namespace dude::cli
