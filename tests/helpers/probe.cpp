// SPDX-License-Identifier: Apache-2.0
// ward_test_probe: a tiny program tests run inside sandboxes to observe
// what the child sees. Each subcommand prints facts on stdout, one per line.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

static int list_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return perror("opendir"), 1;
  int self = dirfd(d);
  std::string out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (std::atoi(e->d_name) == self) continue;
    if (!out.empty()) out += ' ';
    out += e->d_name;
  }
  closedir(d);
  std::cout << out << "\n";
  return 0;
}

static std::string status_field(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::string k = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(k, 0) == 0) {
      auto v = line.substr(k.size());
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  return "?";
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string cmd = argv[1];
  if (cmd == "fds") return list_fds();
  if (cmd == "exit") return std::atoi(argv[2]);
  if (cmd == "kill-self") {
    ::kill(getpid(), std::atoi(argv[2]));
    pause();
    return 3;
  }
  if (cmd == "sleep") {
    usleep(static_cast<useconds_t>(std::atoi(argv[2])) * 1000);
    return 0;
  }
  if (cmd == "monotonic") {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    std::cout << ts.tv_sec << "\n";
    return 0;
  }
  if (cmd == "cat") {
    char buf[4096];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0) fwrite(buf, 1, static_cast<size_t>(n), stdout);
    return 0;
  }
  if (cmd == "env") {
    extern char** environ;
    for (char** e = environ; *e; ++e) std::cout << *e << "\n";
    return 0;
  }
  // syscall NR [a0..a5]: the raw result and errno.
  if (cmd == "syscall" || cmd == "x32" || cmd == "int80") {
    long a[6] = {};
    for (int i = 0; i < 6 && 3 + i < argc; ++i) a[i] = std::strtol(argv[3 + i], nullptr, 0);
    long nr = std::strtol(argv[2], nullptr, 0);
    long r;
    errno = 0;
    if (cmd == "x32") {
      r = syscall(nr | 0x40000000L, a[0], a[1], a[2], a[3], a[4], a[5]);
    } else if (cmd == "int80") {
#if defined(__x86_64__)
      // The i386 entry point: the kernel decides this call by AUDIT_ARCH_I386.
      __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]) : "memory");
      if (r < 0 && r > -4096) {
        errno = static_cast<int>(-r);
        r = -1;
      }
#else
      std::cout << "unsupported\n";
      return 0;
#endif
    } else {
      r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    std::cout << "ret=" << r << "\nerrno=" << (r == -1 ? errno : 0) << "\n";
    return 0;
  }
  // trap NR: catch SIGSYS (SECCOMP_RET_TRAP) and print what it says.
  if (cmd == "trap") {
    struct sigaction sa {};
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = [](int, siginfo_t* si, void*) {
      char buf[128];
      int n = std::snprintf(buf, sizeof buf, "sigsys syscall=%d arch=%#x errno=%d\n",
                            si->si_syscall, si->si_arch, si->si_errno);
      if (write(1, buf, static_cast<size_t>(n)) < 0) _exit(3);
      _exit(0);
    };
    sigaction(SIGSYS, &sa, nullptr);
    syscall(std::strtol(argv[2], nullptr, 0));
    std::cout << "no signal\n";
    return 1;
  }
  // bind PORT: a TCP socket bound to 127.0.0.1:PORT.
  if (cmd == "bind") {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    std::cout << "bind=" << (r == 0 ? 0 : errno) << "\n";
    return 0;
  }
  // tty: what a terminal child sees.
  if (cmd == "tty") {
    winsize ws{};
    ioctl(0, TIOCGWINSZ, &ws);
    std::cout << "isatty=" << isatty(0) << "\nrows=" << ws.ws_row << "\ncols=" << ws.ws_col
              << "\nsession_leader=" << (getsid(0) == getpid())
              << "\nforeground=" << (tcgetpgrp(0) == getpgrp()) << "\n";
    std::string line;
    if (argc > 2 && std::getline(std::cin, line)) std::cout << "got=" << line << "\n";
    return 0;
  }
  // connect PORT: TCP connect to 127.0.0.1:PORT.
  if (cmd == "connect") {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[2])));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    std::cout << "connect=" << (r == 0 ? 0 : errno) << "\n";
    return 0;
  }
  // alloc MB: allocate and touch MB MiB, then report.
  if (cmd == "alloc") {
    const long mb = std::atol(argv[2]);
    for (long i = 0; i < mb; ++i) {
      auto* p = static_cast<char*>(std::malloc(1 << 20));
      if (!p) return 4;
      std::memset(p, 1, 1 << 20);
    }
    std::cout << "allocated=" << mb << "\n";
    return 0;
  }
  // read FILE: open and read a file.
  if (cmd == "read") {
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    std::cout << "read=" << (fd >= 0 ? 0 : errno) << "\n";
    return 0;
  }
  // mount-tmpfs DIR: only ever run in a new mount namespace.
  if (cmd == "mount-tmpfs") {
    int r = mount("none", argv[2], "tmpfs", 0, nullptr);
    std::cout << "mount=" << (r == 0 ? 0 : errno) << "\n";
    return 0;
  }
  if (cmd == "rawsock") {
    int s = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
    std::cout << "rawsock=" << (s >= 0 ? 0 : errno) << "\n";
    return 0;
  }
  if (cmd == "exec") {
    execv(argv[2], argv + 2);
    std::cout << "exec-errno=" << errno << "\n";
    return 0;
  }
  if (cmd == "info") {
    utsname u{};
    uname(&u);
    char cwd[4096] = "?";
    if (!getcwd(cwd, sizeof cwd)) std::strcpy(cwd, "?");
    int pdeath = 0;
    prctl(PR_GET_PDEATHSIG, &pdeath);
    std::cout << "pid=" << getpid() << "\n"
              << "ppid=" << getppid() << "\n"
              << "hostname=" << u.nodename << "\n"
              << "domainname=" << u.domainname << "\n"
              << "uid=" << getuid() << "\n"
              << "gid=" << getgid() << "\n"
              << "euid=" << geteuid() << "\n"
              << "cwd=" << cwd << "\n"
              << "session_leader=" << (getsid(0) == getpid()) << "\n"
              << "pdeathsig=" << pdeath << "\n"
              << "sigblk=" << status_field("SigBlk") << "\n"
              << "sigign=" << status_field("SigIgn") << "\n"
              << "groups=" << status_field("Groups") << "\n";
    return 0;
  }
  // notify [--fd] [--sleep-ms N] MSG...: each MSG ("\n", "\r" and "\0" in
  // it for a newline, a carriage return and a NUL) as one datagram to
  // $NOTIFY_SOCKET, as sd_notify(3) sends it; --fd attaches a descriptor of
  // /proc/self/status to each (SCM_RIGHTS). Prints "sent=N" or
  // "send-errno=E".
  if (cmd == "notify") {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr) return std::puts("no NOTIFY_SOCKET"), 3;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool with_fd = false;
    int sent = 0;
    for (int i = 2; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--fd") {
        with_fd = true;
        continue;
      }
      if (arg == "--sleep-ms" && i + 1 < argc) {
        usleep(static_cast<useconds_t>(std::atoi(argv[++i])) * 1000);
        continue;
      }
      std::string msg;
      for (std::size_t k = 0; k < arg.size(); ++k)
        if (arg[k] == '\\' && k + 1 < arg.size() &&
            (arg[k + 1] == 'n' || arg[k + 1] == 'r' || arg[k + 1] == '0')) {
          msg += arg[k + 1] == 'n' ? '\n' : arg[k + 1] == 'r' ? '\r' : '\0';
          ++k;
        } else {
          msg += arg[k];
        }
      iovec iov{msg.data(), msg.size()};
      msghdr m{};
      m.msg_name = &a;
      m.msg_namelen = sizeof a;
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
      int fd = -1;
      if (with_fd) {
        fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
      }
      if (sendmsg(s, &m, 0) < 0) {
        std::cout << "send-errno=" << errno << "\n";
        return 0;
      }
      if (fd >= 0) close(fd);
      ++sent;
    }
    std::cout << "sent=" << sent << "\n";
    return 0;
  }
  std::fprintf(stderr, "probe: unknown command %s\n", cmd.c_str());
  return 2;
}
