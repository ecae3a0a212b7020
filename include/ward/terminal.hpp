// SPDX-License-Identifier: Apache-2.0
// Pseudo-terminal pairs for sandboxed programs (pty(7), ioctl_tty(2)).
//
// Pty::open() makes a master/peer pair the way a container runtime should:
// the master from /dev/ptmx, and the peer *from the master* with
// TIOCGPTPEER (Linux 4.13) rather than by opening /dev/pts/N. A path can be
// raced: whoever controls the mount namespace or /dev/pts between ptsname()
// and open() can hand you a different terminal, or a different file
// (the class of bugs runc and others fixed by switching to TIOCGPTPEER).
// The child side (make_controlling_terminal) is child-safe: raw system
// calls only, for the sandbox child.
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include <ward/detail/child/terminal.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)  // Linux 4.13; asm-generic value (x86, arm, riscv)
#endif

namespace ward {

// The two ends of a pseudo-terminal. The master stays with the supervisor
// (what it writes is the terminal's input, what it reads the output); the
// peer becomes the program's stdin/stdout/stderr and controlling terminal.
// Both are O_CLOEXEC and opened O_NOCTTY, so opening them never makes the
// terminal ours by accident.
struct PtyPair {
  UniqueFd master;
  UniqueFd peer;
  unsigned number = 0;        // N of /dev/pts/N (TIOCGPTN)
  bool peer_by_path = false;  // true only if the TIOCGPTPEER fallback was taken
};

// Window size helpers (TIOCSWINSZ / TIOCGWINSZ, ioctl_tty(2)). Setting the
// size through the master changes the terminal's size and sends SIGWINCH to
// its foreground process group.
inline void set_window_size(int fd, const winsize& ws) {
  if (::ioctl(fd, TIOCSWINSZ, &ws) != 0)
    detail::throw_errno(
        Step::io, "fd " + std::to_string(fd),
        "ioctl(TIOCSWINSZ) " + std::to_string(ws.ws_row) + "x" + std::to_string(ws.ws_col));
}
inline void set_window_size(int fd, unsigned short rows, unsigned short cols) {
  winsize ws{};
  ws.ws_row = rows;
  ws.ws_col = cols;
  set_window_size(fd, ws);
}
inline winsize window_size(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0)
    detail::throw_errno(Step::io, "fd " + std::to_string(fd), "ioctl(TIOCGWINSZ)");
  return ws;
}

class Pty {
 public:
  // A new pair: open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) (what
  // posix_openpt(3) does, plus O_CLOEXEC), unlockpt (TIOCSPTLCK 0), then
  // the peer with ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY |
  // O_CLOEXEC). With `size`, the window size is set (TIOCSWINSZ); without,
  // the kernel's initial 0x0 stays.
  //
  // Fallback, for kernels before 4.13 only (TIOCGPTPEER fails with EINVAL
  // or ENOTTY): open_peer_by_path(), which opens /dev/pts/N and verifies
  // it; PtyPair::peer_by_path then says so. Any other failure is an Error.
  static PtyPair open(std::optional<winsize> size = std::nullopt) {
    PtyPair p;
    p.master.reset(detail::off_stdio(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)));
    if (!p.master) detail::throw_errno(Step::io, "/dev/ptmx", "opening a pseudo-terminal master");
    int unlock = 0;
    if (::ioctl(p.master.get(), TIOCSPTLCK, &unlock) != 0)
      detail::throw_errno(Step::io, "/dev/ptmx", "ioctl(TIOCSPTLCK) (unlockpt)");
    p.number = number(p.master.get());
    int peer =
        detail::off_stdio(::ioctl(p.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (peer >= 0) {
      p.peer.reset(peer);
    } else if (errno == EINVAL || errno == ENOTTY) {
      p.peer = open_peer_by_path(p.master.get());
      p.peer_by_path = true;
    } else {
      detail::throw_errno(Step::io, "pty " + std::to_string(p.number), "ioctl(TIOCGPTPEER)");
    }
    if (size) set_window_size(p.master.get(), *size);
    return p;
  }

  // N of /dev/pts/N for a master (TIOCGPTN, what ptsname(3) uses).
  static unsigned number(int master) {
    unsigned n = 0;
    if (::ioctl(master, TIOCGPTN, &n) != 0)
      detail::throw_errno(Step::io, "fd " + std::to_string(master), "ioctl(TIOCGPTN)");
    return n;
  }

  // The pre-4.13 way, made as safe as a path can be: /dev/pts must be a
  // devpts mount (fstatfs), the entry N is opened beneath that directory
  // descriptor with O_NOFOLLOW | O_NOCTTY, and what was opened must be a
  // character device on that same devpts instance (st_dev) whose number is
  // the master's: major 136 (UNIX98_PTY_SLAVE_MAJOR; devpts numbers its
  // entries MKDEV(136, N)) and minor N. What remains is the inherent race
  // of any path: a devpts instance mounted over /dev/pts in between, with
  // its own entry N, is not told apart. Public so it can be tested on new
  // kernels; Pty::open() uses it only where TIOCGPTPEER is missing.
  static UniqueFd open_peer_by_path(int master) {
    const unsigned n = number(master);
    const std::string name = std::to_string(n);
    const std::string path = "/dev/pts/" + name;
    UniqueFd dir(::open("/dev/pts", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) detail::throw_errno(Step::io, "/dev/pts", "opening the devpts directory");
    constexpr long devpts_magic = 0x1cd1;  // DEVPTS_SUPER_MAGIC, <linux/magic.h>
    struct statfs fs {};
    if (::fstatfs(dir.get(), &fs) != 0) detail::throw_errno(Step::io, "/dev/pts", "fstatfs");
    if (static_cast<long>(fs.f_type) != devpts_magic)
      throw Error(Step::io, EXDEV, "/dev/pts", "is not a devpts mount");
    struct stat dst {};
    if (::fstat(dir.get(), &dst) != 0) detail::throw_errno(Step::io, "/dev/pts", "fstat");
    UniqueFd peer(detail::off_stdio(
        ::openat(dir.get(), name.c_str(), O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC)));
    if (!peer) detail::throw_errno(Step::io, path, "opening the pseudo-terminal peer by path");
    struct stat st {};
    if (::fstat(peer.get(), &st) != 0) detail::throw_errno(Step::io, path, "fstat");
    if (!S_ISCHR(st.st_mode) || st.st_dev != dst.st_dev || major(st.st_rdev) != 136 ||
        minor(st.st_rdev) != n)
      throw Error(Step::io, EXDEV, path,
                  "is not the peer of this master (expected character device 136:" + name +
                      " on the same devpts)");
    return peer;
  }
};

// Hands a pty master to whoever listens on `socket_path`: the console
// socket of the OCI runtime command line (runc's --console-socket), where
// conmon or the containerd shim waits for it. One SCM_RIGHTS message whose
// payload is the master's name, "/dev/ptmx", as runc sends it.
inline void send_console(const std::string& socket_path, int master) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path)
    throw Error(Step::terminal, ENAMETOOLONG, socket_path,
                "console socket path is empty or longer than sun_path");
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) detail::throw_errno(Step::terminal, socket_path, "console socket");
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    detail::throw_errno(Step::terminal, socket_path, "connect to the console socket");
  char name[] = "/dev/ptmx";
  detail::OneFdMsg m(name, sizeof name - 1);
  m.set_fd(master);
  ssize_t n;
  do n = ::sendmsg(s.get(), &m.msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) detail::throw_errno(Step::terminal, socket_path, "send the pty master");
}

// Child-safe: detail/child/terminal.hpp.
using detail::child::make_controlling_terminal;

}  // namespace ward
