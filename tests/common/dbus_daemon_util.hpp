// SPDX-License-Identifier: Apache-2.0
// For the D-Bus and systemd driver tests: ward_test::DbusDaemon, a private
// dbus-daemon listening on a socket of its own under /tmp, killed and removed
// at the end; error_of() and check_error() for the errors they expect.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <functional>
#include <string>

#include <ward/error.hpp>

#include <catch2/catch.hpp>

namespace ward_test {

// A private dbus-daemon on unix:path=<tmp>/bus, killed at the end.
class DbusDaemon {
 public:
  // `uid` >= 0: the daemon runs as that uid (and gid), so only it may connect.
  explicit DbusDaemon(int uid = -1) {
    const char* bin = "/usr/bin/dbus-daemon";
    if (::access(bin, X_OK) != 0) {
      why_ = "dbus-daemon is not installed (apt-get install dbus-daemon)";
      return;
    }
    char tmpl[] = "/tmp/ward-dbus-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      why_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    if (uid >= 0 && ::chown(tmpl, static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
      why_ = "chown of the daemon's folder failed";
      return;
    }
    address_ = "unix:path=" + dir_ + "/bus";
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(p[1], 3);
      int null = ::open("/dev/null", O_RDWR);  // its chatter (fd limit warnings) is not ours
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      if (uid >= 0 && (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 ||
                       ::setresuid(uid, uid, uid) != 0))
        ::_exit(126);
      std::string addr = "--address=" + address_;
      ::execl(bin, bin, "--session", "--nofork", "--nopidfile", addr.c_str(), "--print-address=3",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(p[1]);
    std::string got;
    char buf[256];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      if (got.find('\n') != std::string::npos) break;
    }
    ::close(p[0]);
    if (got.find("unix:") == std::string::npos) why_ = "dbus-daemon did not print its address";
  }
  ~DbusDaemon() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  const std::string& unavailable() const { return why_; }
  const std::string& address() const { return address_; }

 private:
  pid_t pid_ = -1;
  std::string dir_, address_, why_;
};

// what() of the exception `f` throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// `f` throws a ward::Error with errno `err` whose message contains `text`.
inline void check_error(const std::function<void()>& f, int err, const std::string& text) {
  try {
    f();
    FAIL("no error (expected one containing \"" << text << "\")");
  } catch (const ward::Error& e) {
    CHECK(e.code().value() == err);
    CHECK_THAT(std::string(e.what()), Catch::Contains(text));
  }
}

}  // namespace ward_test
