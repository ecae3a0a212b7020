// SPDX-License-Identifier: Apache-2.0
// ward_test_tiocsti: the attacker of tests/attack/tty_attack_test.cpp, run
// inside a container. `ward_test_tiocsti TEXT` pushes TEXT, byte by byte,
// into the input queue of the terminal on its fd 0 with ioctl(TIOCSTI)
// (ioctl_tty(2)), as if typed there: on the caller's own terminal, the
// caller's shell reads and runs it once the container ends. Linked
// statically (no libstdc++ or libc needed in the container's rootfs) and
// plain C calls only. Prints "tiocsti: N bytes" or "tiocsti: <errno text>";
// exits 0 when every byte went in, 1 otherwise.
#include <errno.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  // "\n" in the argument stands for a newline (busybox sh's quoting keeps
  // the test's command line simple).
  char text[512];
  std::size_t n = 0;
  for (const char* p = argv[1]; *p != '\0' && n + 1 < sizeof text; ++p) {
    if (p[0] == '\\' && p[1] == 'n') {
      text[n++] = '\n';
      ++p;
    } else {
      text[n++] = *p;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (::ioctl(0, TIOCSTI, &text[i]) != 0) {
      std::printf("tiocsti: %s\n", std::strerror(errno));
      return 1;
    }
  }
  std::printf("tiocsti: %zu bytes\n", n);
  return 0;
}
