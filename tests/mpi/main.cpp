// The MPI tests' main: one MPI session around the Catch run. Every rank runs every test (the
// tests split the roles by rank), so the ranks stay in step; a failed check fails the rank's
// exit code, and so mpiexec's.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "dude/mpi.hpp"

int main(int argc, char** argv) {
  const dude::mpi::Session session;
  return Catch::Session().run(argc, argv);
}
