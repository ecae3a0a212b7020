// SPDX-License-Identifier: Apache-2.0
// The least any sandboxing tool can do for ward-box's sandbox, as a row of
// bench/run_box.sh: clone3 into new user, pid, mount, net, ipc and uts
// namespaces, exec the program as the namespaces' pid 1, wait for it. No
// id maps, no mounts, no pivot_root, no loopback, no filter: what is left
// is the kernel's part of the work (creating the namespaces, exec, exit and
// the namespaces' teardown), which ward-box, bubblewrap and firejail all
// pay on top of their own. bench/README.md uses it to say how far a
// ratio between two such tools can go.
//
//   ward_ns_floor PROGRAM [ARGS...]
#include <linux/sched.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: ward_ns_floor PROGRAM [ARGS...]\n");
    return 2;
  }
  clone_args a{};
  a.flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  a.exit_signal = SIGCHLD;
  // Without CLONE_VM the child returns from clone3 like fork(2)'s, on its
  // own copy of our memory, and only execs.
  long pid = ::syscall(SYS_clone3, &a, sizeof a);
  if (pid < 0) {
    std::perror("ward_ns_floor: clone3");
    return 1;
  }
  if (pid == 0) {
    ::execv(argv[1], argv + 1);
    _exit(127);
  }
  int st = 0;
  if (::waitpid(static_cast<pid_t>(pid), &st, 0) < 0) return 1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
