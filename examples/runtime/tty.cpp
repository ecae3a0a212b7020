// SPDX-License-Identifier: Apache-2.0
// The foreground: `run` and `exec` waiting for their process, and the
// terminal they relay when process.terminal is set without a console
// socket.
//
// Such a process gets a pty of its own, from the container's devpts,
// bound on /dev/console (spawn.hpp child_terminal), as runc gives it; ward
// copies between that pty's master and its own stdin/stdout. It never
// hands the caller's terminal to the container: a process holding the
// caller's terminal as its controlling terminal can push input into it
// with ioctl(TIOCSTI) (ioctl_tty(2)), which the caller's shell then runs
// (tests/attack/tty_attack_test.cpp, "TIOCSTI from a foreground run").
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>

#include "runtime.hpp"

namespace wardrt {

namespace {

// The caller's terminal, whose window size the container's pty takes:
// the first of stdin, stdout and stderr that is one, or -1.
int caller_terminal() {
  for (int fd : {0, 1, 2})
    if (::isatty(fd)) return fd;
  return -1;
}

std::optional<winsize> caller_size() {
  int fd = caller_terminal();
  winsize ws{};
  if (fd < 0 || ::ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
    return std::nullopt;
  return ws;
}

// The signals a foreground ward passes on to the container's process, as
// runc does (it forwards all but SIGCHLD, SIGWINCH and SIGURG), plus the
// ones it handles itself: SIGWINCH (resize the pty) and SIGPIPE (a caller
// gone is no reason to die before the container's status is known).
// Blocked and read from a signalfd (signalfd(2)) while ward waits: no
// handler runs at an awkward moment, and none of them can end ward
// with the caller's terminal left raw.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

struct SignalFd {
  sigset_t set{}, old{};
  int fd = -1;
  SignalFd() {
    ::sigemptyset(&set);
    for (int s : kForwarded) ::sigaddset(&set, s);
    ::sigaddset(&set, SIGWINCH);
    ::sigaddset(&set, SIGPIPE);
    if (::sigprocmask(SIG_BLOCK, &set, &old) != 0) fail("sigprocmask: " + errno_text());
    fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
      ::sigprocmask(SIG_SETMASK, &old, nullptr);
      fail("signalfd: " + errno_text());
    }
  }
  ~SignalFd() {
    // Signals that came after the process ended have no one to go to:
    // taken here, or unblocking would deliver them to us.
    signalfd_siginfo si;
    while (::read(fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    }
    ::close(fd);
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
  }
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;
  static std::string errno_text() { return std::strerror(errno); }
  // The next signal, or 0.
  int next() const {
    signalfd_siginfo si;
    if (::read(fd, &si, sizeof si) != static_cast<ssize_t>(sizeof si)) return 0;
    return static_cast<int>(si.ssi_signo);
  }
};

// Raw mode on our stdin while the relay runs, when it is a terminal
// (cfmakeraw(3): no echo, no line editing, ^C and ^Z are bytes for the
// container's pty, whose own line discipline does all that); the saved
// modes are put back by the destructor, on every way out.
struct RawStdin {
  termios saved{};
  bool active = false;
  RawStdin() {
    if (!::isatty(0) || ::tcgetattr(0, &saved) != 0) return;
    termios raw = saved;
    ::cfmakeraw(&raw);
    active = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawStdin() {
    if (active) ::tcsetattr(0, TCSANOW, &saved);
  }
  RawStdin(const RawStdin&) = delete;
  RawStdin& operator=(const RawStdin&) = delete;
};

void forward(ward::Child& child, int sig) {
  try {
    child.kill(sig);
  } catch (const Error& e) {
    debug(std::string("forwarding signal: ") + e.what());  // it ended meanwhile
  }
}

// All of `data` to `fd` (our stdout, maybe non-blocking); false once the
// reader is gone, and the rest of the output is dropped.
bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// The relay proper: the pty's output to our stdout, our stdin to the pty,
// signals forwarded, until the process has ended and its output is read.
void relay(ward::Child& child, const SignalFd& sigs, int master) {
  const int flags = ::fcntl(master, F_GETFL);
  if (flags < 0 || ::fcntl(master, F_SETFL, flags | O_NONBLOCK) != 0)
    fail("terminal: fcntl(O_NONBLOCK) on the pty master: " + SignalFd::errno_text());
  const bool stdin_tty = ::isatty(0);
  std::string to_pty;  // read from stdin, not yet taken by the pty
  char last_in = '\n';
  bool in_open = true, out_open = true, master_open = true, ended = false;
  std::chrono::steady_clock::time_point drain_until;
  char buf[65536];
  for (;;) {
    // Once the process has ended, what it wrote is read until the pty
    // says no one holds its peer (EIO), or is quiet for 100 ms, or for at
    // most a second (a process it left behind in the container may hold
    // the peer, and write on). What the process wrote is in the pty's
    // buffer already (its writes block while that is full): a few reads.
    pollfd p[4] = {
        {sigs.fd, POLLIN, 0},
        {master_open ? master : -1, static_cast<short>(POLLIN | (to_pty.empty() ? 0 : POLLOUT)), 0},
        {in_open && !ended && to_pty.empty() ? 0 : -1, POLLIN, 0},
        {ended ? -1 : child.pidfd(), POLLIN, 0}};
    if (ended && std::chrono::steady_clock::now() > drain_until) return;
    int n = ::poll(p, 4, ended ? 100 : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("terminal: poll: " + SignalFd::errno_text());
    if (n == 0) return;
    if (p[0].revents & POLLIN) {
      while (int sig = sigs.next()) {
        if (sig == SIGWINCH) {
          if (auto ws = caller_size()) ::ioctl(master, TIOCSWINSZ, &*ws);
        } else if (sig != SIGPIPE && !ended) {
          forward(child, sig);
        }
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      ssize_t r = ::read(master, buf, sizeof buf);
      if (r > 0) {
        if (out_open) out_open = write_all(1, buf, static_cast<std::size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        // EIO: every holder of the peer closed it; nothing more to read.
        master_open = false;
        if (ended) return;
      }
    }
    if (master_open && (p[1].revents & POLLOUT) && !to_pty.empty()) {
      ssize_t w = ::write(master, to_pty.data(), to_pty.size());
      if (w > 0) to_pty.erase(0, static_cast<std::size_t>(w));
      if (w < 0 && errno != EAGAIN && errno != EINTR) to_pty.clear();
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      ssize_t r = (p[2].revents & POLLNVAL) ? -1 : ::read(0, buf, sizeof buf);
      if (r > 0) {
        to_pty.append(buf, static_cast<std::size_t>(r));
        last_in = buf[r - 1];
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        in_open = false;
        // The end of a stdin that is no terminal (a file, a pipe) becomes
        // the pty's end of file: its VEOF character, at the start of a
        // line (termios(3), canonical mode; a raw-mode program gets no
        // such thing, as on any terminal).
        termios t{};
        if (r == 0 && !stdin_tty && ::tcgetattr(master, &t) == 0 && (t.c_lflag & ICANON)) {
          if (last_in != '\n') to_pty += static_cast<char>(t.c_cc[VEOF]);
          to_pty += static_cast<char>(t.c_cc[VEOF]);
        }
      }
    }
    if ((p[3].revents & POLLIN) && !ended) {
      ended = true;
      drain_until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    if (ended && !master_open) return;
  }
}

}  // namespace

void size_from_caller(ward::oci::Process& p) {
  if (auto ws = caller_size()) p.console_size = ward::oci::ConsoleSize{ws->ws_row, ws->ws_col};
}

ward::ExitStatus wait_foreground(ward::Child& child, bool relay_terminal) {
  {
    SignalFd sigs;
    if (relay_terminal) {
      RawStdin raw;
      // The size may have changed since the spawn.
      if (auto ws = caller_size()) ::ioctl(child.terminal().get(), TIOCSWINSZ, &*ws);
      relay(child, sigs, child.terminal().get());
    } else {
      for (;;) {
        pollfd p[2] = {{sigs.fd, POLLIN, 0}, {child.pidfd(), POLLIN, 0}};
        if (::poll(p, 2, -1) < 0 && errno != EINTR) fail("wait: poll: " + SignalFd::errno_text());
        if (p[1].revents & POLLIN) break;
        if (p[0].revents & POLLIN)
          while (int sig = sigs.next())
            if (sig != SIGWINCH && sig != SIGPIPE) forward(child, sig);
      }
    }
  }
  return child.wait();
}

}  // namespace wardrt
