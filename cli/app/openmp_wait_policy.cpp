// libgp_openmp_wait_policy.so: sets OMP_WAIT_POLICY=passive before libgomp reads its
// environment, so that geoprospect starts once (see main.cpp and cli/CMakeLists.txt).
//
// libgomp reads OMP_WAIT_POLICY (and derives its spin count from it) in its ELF constructor,
// before main. The dynamic loader runs constructors dependencies first and, among libraries
// that do not depend on each other, in the reverse of the executable's DT_NEEDED order; this
// library is linked after libgomp, so its constructor runs after the C library is set up and
// before libgomp's. (An executable's .preinit_array runs too early: the C library sets its
// environment afterwards and drops what was set there. Re-executing the program, as main.cpp
// did, costs a second load of GDAL's hundred-odd libraries.) tests/cli/e2e_test.cpp checks
// with libgomp's own OMP_DISPLAY_ENV report that it took a spin count of 0.

#include <cstdlib>

namespace {

/// setenv's last argument 0 keeps a user's own OMP_WAIT_POLICY.
[[gnu::constructor]] void prefer_passive_openmp_waiting() {
  setenv("OMP_WAIT_POLICY", "passive", 0);
}

}  // namespace

/// Referenced by main.cpp, so that the linker keeps this library as needed.
extern "C" int gp_openmp_wait_policy_linked() { return 1; }
