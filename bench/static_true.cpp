// SPDX-License-Identifier: Apache-2.0
// The program the spawn benchmarks run: exits 0 at once. Linked statically
// (target ward_static_true) so that what is measured is process creation,
// exec and exit, not the dynamic loader.
//
// With any argument it first reads one byte from stdin: bench/cgroup.cpp
// holds the child there until it has been moved into a cgroup through
// cgroup.procs, as a runtime without CLONE_INTO_CGROUP must (a child that
// runs, or has even exited, before the write is not in the cgroup: the
// kernel accepts the pid of an exiting process and moves nothing).
#include <unistd.h>

int main(int argc, char**) {
  if (argc > 1) {
    char c;
    if (read(0, &c, 1) != 1) return 1;
  }
  return 0;
}
