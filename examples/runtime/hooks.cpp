// SPDX-License-Identifier: Apache-2.0
// OCI hooks and the console socket.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <cstdlib>

#include "runtime.hpp"

namespace wardrt {

// A pidfd on the container's process `pid`, or "container not running".
// The pidfd pins the process, not its number: the start time is checked
// AFTER it is open, so a pid that the kernel gave to another process
// between our look at the state and pidfd_open(2) is refused, and what the
// pidfd names from then on is the container's process or nothing.
// `starttime` 0: `pid` is our own child, not yet reaped, whose number
// cannot be reused (wait(2)). Proof: attack "exec: a pid reused by a host
// process is never joined" (tests/attack/config_attack_test.cpp).
ward::UniqueFd open_container_pidfd(pid_t pid, std::uint64_t starttime, const Container* c) {
  if (pid <= 0) fail("container not running");
  ward::UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pfd)
    fail(errno == ESRCH ? "container not running"
                        : "pidfd_open " + std::to_string(pid) + ": " + std::strerror(errno));
  if (starttime != 0) {
    auto st = start_time(pid);
    if (!st || *st != starttime) fail("container not running");
  }
  // The start time alone is one clock tick coarse (Container::alive).
  if (c != nullptr && !c->in_own_cgroup(pid)) fail("container not running");
  return pfd;
}

// Makes `sb` join every namespace of the pidfd's process that differs from
// ours (the builder orders the joins: user first). Each /proc/PID/ns file
// is opened by number and the pidfd checked alive after it
// (Namespace::open_pidfd): while the process lives its pid is not reused,
// so the file was its own.
ward::UniqueFd join_namespaces_of(ward::Sandbox& sb, int pidfd, bool in_place) {
  bool joined_mnt = false;
  for (ward::NsKind kind : ward::all_ns_kinds) {
    if (::access(("/proc/self/ns/" + std::string(ward::proc_name(kind))).c_str(), F_OK) != 0)
      continue;  // a kind this kernel does not have
    try {
      ward::Namespace theirs = ward::Namespace::open_pidfd(kind, pidfd);
      if (theirs.id() == ward::Namespace::current(kind).id()) continue;
      sb.join(theirs);
      if (kind == ward::NsKind::mount) joined_mnt = true;
    } catch (const Error& e) {
      fail(e.code().value() == ESRCH || e.code().value() == ENOENT
               ? std::string("container not running")
               : std::string("join the container's namespaces: ") + e.what());
    }
  }
  // A joined namespace's root is the container's, unless its mounts were
  // made in place (a config that joins one by path, and lists mounts):
  // then its init chrooted into the clone, and so does this process (found
  // by review: `exec ... ls /` listed the joined namespace's "/"; test
  // "runtime: ... a joined mount namespace").
  if (joined_mnt && !in_place) return {};
  // Our own mount namespace: a config without one, whose init chrooted
  // into root.path (Sandbox::chroot). Joining the rest is not enough: the
  // process would see the host's "/" (found by review: `exec ... ls /`
  // listed the host's root, and ran its /bin/sh). It chroots into the
  // init's root, opened here through /proc/PID/root and checked to be that
  // init's (the pidfd still alive after the open); the returned descriptor
  // keeps it until the spawn is done. Test: oci mounts: exec into a
  // container without a mount namespace is chrooted like its init.
  pid_t pid = 0;
  try {
    pid = ward::Namespace::pid_of_pidfd(pidfd);
  } catch (const Error&) {
    fail("container not running");
  }
  ward::UniqueFd root(
      ::open(("/proc/" + std::to_string(pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root || ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0)
    fail("container not running");
  struct stat theirs {
  }, ours{};
  if (::fstat(root.get(), &theirs) != 0 || ::stat("/", &ours) != 0)
    fail("stat the container's root: " + std::string(std::strerror(errno)));
  if (!joined_mnt && theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino) return {};
  sb.chroot("/proc/self/fd/" + std::to_string(root.get()));
  return root;
}

// Runs hooks with the state on stdin (config.md "POSIX-platform Hooks");
// a hook that fails or outlives its timeout fails the operation. With
// `target`, each hook runs in the namespaces and cgroup of the container's
// process (the createContainer and startContainer hooks, config.md
// "Lifecycle"); with `target->as_process` also AS that process: the config's
// user, groups, capabilities, no_new_privs, rlimits and seccomp filter,
// the hook's path, args and env (startContainer: runc runs those from its
// init, right before the program, so they get what the program gets; a
// binary taken from the container must not run as host root). Proof:
// attack "hooks: a startContainer hook runs as the container's process".
void run_hooks(const std::vector<ward::oci::Hook>& hooks, const ward::oci::State& st,
               const char* which, const HookTarget* target) {
  if (hooks.empty()) return;
  // The state goes to each hook's stdin from a memory file (memfd), not a
  // pipe: a hook may exit without reading it, and our write into a pipe
  // whose reader is gone would be a SIGPIPE.
  const std::string state_json = ward::oci::to_json(st);
  // poststop: a hook that fails is logged as a warning and the next one
  // still runs (runtime.md "Lifecycle" 12: "If any poststop hook fails,
  // the runtime MUST log a warning, but the remaining hooks and lifecycle
  // continue"). Every other kind fails the operation at its first failure
  // (poststart too since runtime-spec 1.3, as in runc 1.3: the caller then
  // kills the container).
  const bool keep_going = std::string_view(which) == "poststop";
  for (auto& h : hooks) {
    if (keep_going) {
      try {
        run_hooks({h}, st, "", target);
      } catch (const Fatal& f) {
        log_line("warning", std::string(which) + f.msg);
      }
      continue;
    }
    ward::UniqueFd in(::memfd_create("ward-hook-state", MFD_CLOEXEC));
    if (!in) fail(std::string(which) + " hook: memfd_create: " + std::strerror(errno));
    if (::write(in.get(), state_json.data(), state_json.size()) !=
            static_cast<ssize_t>(state_json.size()) ||
        ::lseek(in.get(), 0, SEEK_SET) != 0)
      fail(std::string(which) + " hook: writing the state: " + std::strerror(errno));
    ward::Sandbox sb;
    std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    // A hook without `env` gets the environment runc gives it: runc runs
    // hooks with Go's exec.Cmd{Env: hook.Env} (libcontainer/configs
    // Command.Run), and a nil Env inherits the caller's: runc's own
    // environment. A startContainer hook with no or an empty `env` gets
    // process.env instead (runc's init: HookList.SetDefaultEnv, "a de
    // facto historical thing", libcontainer/standard_init_linux.go).
    std::vector<std::string> env = h.env;
    if (target && target->as_process && target->as_process->process) {
      if (env.empty()) env = target->as_process->process->env;
    } else if (!h.env_given) {
      for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
    }
    ward::Child child = [&] {
      try {
        if (target && target->as_process && target->as_process->process) {
          ward::oci::Process p = *target->as_process->process;
          p.args = args;
          p.env = env;
          p.terminal = false;
          ward::oci::ProcessOptions po;
          po.ignore_lsm = true;  // ward has no LSM support; the container runs without too
          ward::oci::apply_process(sb, p, po);
          ward::oci::apply_seccomp(sb, *target->as_process, p, po);
        }
        sb.command(args).executable(h.path).env(env).stdin_(ward::Stdio::fd(in.get()));
        // A hook in the container runs a binary the image chose (a
        // `#!/proc/self/exe` script would otherwise run this very binary
        // in there): the same guard as the container's own processes.
        // Host hooks keep the runtime's keyring (runc runs them as its
        // own children); one in the container gets a keyring of its own.
        guard_runtime(sb, target == nullptr);
        ward::UniqueFd keep_root;
        if (target) {
          keep_root = join_namespaces_of(sb, target->pidfd, target->in_place);
          if (target->cgroup) sb.cgroup(*target->cgroup);
        }
        return sb.spawn();
      } catch (const Error& e) {
        fail(std::string(which) + " hook " + h.path + ": " + e.what());
      }
    }();
    in.reset();
    std::optional<ward::ExitStatus> es;
    if (h.timeout) {
      es = child.wait_for(std::chrono::seconds(*h.timeout));
      if (!es) {
        child.kill(SIGKILL);
        child.wait();
        fail(std::string(which) + " hook " + h.path + ": timed out after " +
             std::to_string(*h.timeout) + "s");
      }
    } else {
      es = child.wait();
    }
    if (!es->success()) fail(std::string(which) + " hook " + h.path + " failed: " + es->describe());
  }
}

// ------------------------------------------------------------------ console socket

// Sends the pty master to the engine over the --console-socket (SCM_RIGHTS),
// as runc does; conmon and the containerd shim wait for it there.
void send_console(const std::string& socket_path, int master) {
  try {
    ward::send_console(socket_path, master);
  } catch (const ward::Error& e) {
    fail(e.what());
  }
}

ssize_t send_with_fd(int sock, std::string_view payload, int fd) {
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

PidfdSocket::PidfdSocket(const std::string& p) : path(p) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (p.empty() || p.size() >= sizeof addr.sun_path)
    fail("--pidfd-socket " + p + ": empty or longer than a socket path may be");
  std::memcpy(addr.sun_path, p.data(), p.size());
  sock.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) fail("--pidfd-socket: socket: " + std::string(std::strerror(errno)));
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    fail("--pidfd-socket: connect to " + p + ": " + std::strerror(errno));
}

void PidfdSocket::send(int pidfd, const char* kind) {
  // A descriptor of its own for the receiver, whatever we do with ours.
  ward::UniqueFd dup(::fcntl(pidfd, F_DUPFD_CLOEXEC, 3));
  if (!dup) fail("--pidfd-socket: dup the pidfd: " + std::string(std::strerror(errno)));
  ssize_t n = send_with_fd(sock.get(), kind, dup.get());
  if (n < 0) fail("--pidfd-socket: send the pidfd to " + path + ": " + std::strerror(errno));
}

}  // namespace wardrt
