// SPDX-License-Identifier: Apache-2.0
// The spawn engine: clone3 into a CLONE_VM child that runs the plan.
//
// Why CLONE_VM: fork() copies the parent's page tables, so its cost grows
// with the parent's resident memory (bench/README.md: fork+exec from a 4 GiB
// parent takes ~150 ms here, a ward spawn ~0.4 ms whatever the parent's size). A library is
// embedded in big programs, so ward's child shares the parent's memory
// until execve(2) gives it its own, and runs on a private stack.
//
// What that demands of the child (everything in detail/child/, marked
// WARD_CHILD_FN): no allocation, no locks, no errno (detail/child/syscall.hpp), no
// exceptions, no writes to memory it does not own — it reads the immutable
// plan and writes only its own stack. Without CLONE_VFORK the parent thread
// keeps running, so it can write the child's uid/gid maps while the child
// waits (a vfork parent would be suspended until exec).
//
// Protocol: the child writes fixed-size Msg records to a close-on-exec pipe.
// EOF on that pipe means every copy of it was closed: the child exec'd (or
// died). A Msg asks the parent to write id maps, announces the pid of a
// second stage, or reports a failure {step, errno, detail}.
//
// Fork mode (no CLONE_VM) remains for what a shared mm cannot do: joining a
// time namespace needs a single-threaded mm (setns(2), "EUSERS"), and
// architectures for which we have no clone trampoline.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

#include <ward/child.hpp>
#include <ward/detail/child/clone.hpp>
#include <ward/detail/child/spawn.hpp>
#include <ward/detail/child/syscall.hpp>
#include <ward/detail/plan.hpp>
#include <ward/detail/seccomp_load.hpp>
#include <ward/detail/stack.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/landlock.hpp>
#include <ward/rootfs_mount.hpp>
#include <ward/terminal.hpp>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace ward::detail {

// --------------------------------------------------------------- parent side

// Kernel features probed once, on first use (the builder reports what is
// missing rather than failing obscurely).
inline std::atomic<int>& clear_sighand_supported() {
  static std::atomic<int> v{-1};  // -1 unknown, 0 no, 1 yes
  return v;
}
// CLONE_INTO_CGROUP (Linux 5.7). WARD_CLONE_INTO_CGROUP=0 in the
// environment forces the fallback (the tests cover both paths).
inline std::atomic<int>& into_cgroup_supported() {
  static std::atomic<int> v{[] {
    const char* e = ::getenv("WARD_CLONE_INTO_CGROUP");
    return e != nullptr && e[0] == '0' ? 0 : -1;
  }()};
  return v;
}

// The caller's "dumpable" flag across CLONE_VM spawns. It belongs to the
// mm, which our child shares until execve, and a credential change marks
// the mm with fs.suid_dumpable (kernel/cred.c, commit_creds; prctl(2)
// PR_SET_DUMPABLE): a child that takes another uid (Sandbox::user, or a
// user namespace whose root is not the caller) leaves the CALLER
// non-dumpable: no core dumps, /proc/self owned by root, no ptrace by its
// own user. That mark is also what keeps the caller's memory from that
// other uid while the child runs with it and still shares the mm
// (ptrace(2), "Ptrace access mode checking"), so it may only be undone
// once no child of ours shares the mm any more: the last spawn in flight
// puts back what the caller had before the first one began. A caller that
// sets its own dumpable while spawns run may see that undone; it asks for
// Nondumpable::caller instead, which is kept. Test: root "caller: no
// builder option changes the caller's observable state" (user, uid_map...).
class CallerDumpable {
 public:
  // Nondumpable::caller: the caller non-dumpable, for good (fork mode
  // calls this alone; CLONE_VM spawns through enter()).
  static void make_caller_nondumpable() {
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
      throw_errno(Step::capabilities, "prctl(PR_SET_DUMPABLE, 0)", "nondumpable_setup: the caller");
  }
  // Called before clone3 of a CLONE_VM spawn.
  static void enter(bool nondumpable_caller) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (nondumpable_caller) make_caller_nondumpable();  // before counting: a throw leaves no count
    if (s.in_flight++ == 0) s.saved = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (nondumpable_caller) s.saved = 0;  // what the last spawn puts back
  }
  // Called once no process of the spawn shares the mm (exec'd or reaped).
  // still_shared: a process of it may still run on our mm (an unwound
  // spawn whose second stage could not be reaped): then nothing is undone,
  // ever, which is the safe side.
  static void leave(bool still_shared) noexcept {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (still_shared) {
      s.poisoned = true;
      return;
    }
    // PR_SET_DUMPABLE takes 0 or 1 only; a 2 (suid_dumpable) stays as is.
    if (--s.in_flight == 0 && !s.poisoned && (s.saved == 0 || s.saved == 1) &&
        ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != s.saved)
      ::prctl(PR_SET_DUMPABLE, s.saved, 0, 0, 0);
  }

 private:
  struct State {
    std::mutex mu;
    int in_flight = 0;
    int saved = 1;
    bool poisoned = false;
  };
  static State& state() {
    static State s;
    return s;
  }
};

struct SpawnResult {
  UniqueFd pidfd;
  pid_t pid = -1;
  UniqueFd seccomp_listener;  // when the filter has USER_NOTIF rules
  UniqueFd terminal;          // ChildPlan::terminal_in_child: the pty master it sent
  UniqueFd init_status;       // Sandbox::init_process: where the init writes the program's status
  // Sandbox::shared_mount_namespace: the rootfs's clone (kMsgRootMount).
  std::uint64_t root_mount = 0;
  bool root_mount_unique = false;
};

// Called in hold mode with the pid whose namespaces are ready.
using HoldFn = void (*)(pid_t pid, void* ctx);

inline UniqueFd make_pipe_pair(UniqueFd& write_end, const char* what) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw_errno(Step::pipe, what);
  write_end.reset(p[1]);
  return UniqueFd(p[0]);
}

inline void write_proc_file(pid_t pid, const char* name, const std::string& text, Step step) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno(step, path);
  // One write: the kernel accepts a map only as a single write(2)
  // (user_namespaces(7), "Defining user and group ID mappings").
  ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n < 0) {
    std::string shown = text;
    while (!shown.empty() && shown.back() == '\n') shown.pop_back();
    for (auto& ch : shown)
      if (ch == '\n') ch = ';';
    throw_errno(step, path, "writing '" + shown + "'");
  }
}

// Runs `helper PID inside outside count...` (newuidmap(1), newgidmap(1))
// and waits for it; a failure names the helper, its exit status and what it
// said on stderr (shadow's helpers say which range /etc/sub[ug]id lacks).
inline void run_map_helper(const std::string& helper, pid_t pid, const std::string& map_text,
                           Step step) {
  std::vector<std::string> words{helper, std::to_string(pid)};
  std::size_t p = 0;
  while (p < map_text.size()) {
    std::size_t b = map_text.find_first_not_of(" \n", p);
    if (b == std::string::npos) break;
    std::size_t e = map_text.find_first_of(" \n", b);
    if (e == std::string::npos) e = map_text.size();
    words.push_back(map_text.substr(b, e - b));
    p = e;
  }
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::string shown = helper;
  for (std::size_t i = 1; i < words.size(); ++i) shown += ' ' + words[i];
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_errno(step, helper, "pipe for its stderr");
  UniqueFd rd(out[0]), wr(out[1]);
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  ::posix_spawn_file_actions_adddup2(&fa, wr.get(), 2);
  pid_t hp = -1;
  int rc = ::posix_spawn(&hp, helper.c_str(), &fa, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&fa);
  wr.reset();
  if (rc != 0) throw Error(step, rc, helper, "run `" + shown + "`");
  std::string said;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (said.size() < 2048) said.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(hp, &status, 0) < 0) {
    if (errno == EINTR) continue;
    throw_errno(step, helper, "wait for `" + shown + "`");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  while (!said.empty() && (said.back() == '\n' || said.back() == ' ')) said.pop_back();
  for (auto& ch : said)
    if (ch == '\n') ch = ' ';
  std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  throw Error(step, EPERM, helper,
              "`" + shown + "` failed (" + how + ")" + (said.empty() ? "" : ": " + said));
}

// A map: written directly, or, when that is not allowed (EPERM: more than
// the caller's own id, unprivileged) and a helper is given, by the helper.
inline void write_id_map(pid_t pid, const char* name, const std::string& text,
                         const std::string& helper, Step step) {
  if (text.empty()) return;
  if (!helper.empty()) {
    std::string path = "/proc/" + std::to_string(pid) + "/" + name;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    int e = errno;
    if (fd) {
      if (::write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size())) return;
      e = errno;
    }
    if (e == EPERM || e == EACCES) return run_map_helper(helper, pid, text, step);
  }
  write_proc_file(pid, name, text, step);
}

inline void write_id_maps(pid_t pid, const PlanData& pd) {
  // /proc/PID is the child only in a /proc of our own pid namespace: a
  // caller in a pid namespace of its own that still has its parent's /proc
  // mounted (`unshare -p -f` without --mount-proc) would write the maps of
  // whichever process has that number there. /proc/self names us in the
  // mounted /proc's pid namespace (proc(5)). Test: tests/root/ward_box_test.cpp
  // "... a /proc of another pid namespace ...".
  char self[32];
  ssize_t n = ::readlink("/proc/self", self, sizeof self - 1);
  if (n <= 0 || std::string_view(self, static_cast<std::size_t>(n)) != std::to_string(::getpid()))
    throw Error(Step::uid_map, n <= 0 ? errno : EXDEV, "/proc",
                "the /proc mounted here is not of this process's pid namespace, so /proc/" +
                    std::to_string(pid) + " is not the child (mount a /proc of its own)");
  // setgroups must be "deny" before an unprivileged process may write
  // gid_map (user_namespaces(7), "Interaction with setgroups").
  if (pd.setgroups_deny) write_proc_file(pid, "setgroups", "deny", Step::setgroups_file);
  write_id_map(pid, "uid_map", pd.uid_map, pd.uid_map_helper, Step::uid_map);
  write_id_map(pid, "gid_map", pd.gid_map, pd.gid_map_helper, Step::gid_map);
}

#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

// Takes the child's seccomp listener (descriptor `fd_no` in the child) with
// pidfd_getfd(2) (Linux 5.6). The child announces the number just before it
// installs the filter, so retry briefly until it exists; stop early if the
// child reports something instead (its message stays in the pipe).
inline UniqueFd take_listener(int pidfd, int fd_no, int report_rd) {
  bool news = false;
  for (int attempt = 0; attempt < 20000; ++attempt) {
    long fd = ::syscall(SYS_pidfd_getfd, pidfd, fd_no, 0);
    if (fd >= 0) {
      fd = off_stdio(static_cast<int>(fd));
      UniqueFd got(static_cast<int>(fd));
      char link[64] = {};
      std::string self = "/proc/self/fd/" + std::to_string(fd);
      ssize_t n = ::readlink(self.c_str(), link, sizeof link - 1);
      if (n > 0 &&
          std::string_view(link, static_cast<std::size_t>(n)) == "anon_inode:seccomp notify")
        return got;
      // Something else is there: the filter is not installed yet.
    } else if (errno == ENOSYS) {
      throw Error(Step::seccomp, ENOSYS, "pidfd_getfd",
                  "taking the seccomp listener from the child needs Linux 5.6");
    } else if (errno != EBADF) {
      throw_errno(Step::seccomp, "pidfd_getfd", "take the seccomp listener from the child");
    }
    // The child has news: a failure (it then exits), or a message it sends
    // around the install: its "exec begins" (kMsgExecing, sent just before
    // the install when it execs a trampoline) or its "ready" (filter
    // installed before a start gate, sent just after). So news alone is no
    // reason to stop looking; the child's end is (its pidfd polls readable
    // once it exited: a failure, whose report waits in the pipe).
    if (!news) {
      pollfd pf{report_rd, POLLIN, 0};
      news = ::poll(&pf, 1, 0) > 0;
    }
    if (news) {
      pollfd pf{pidfd, POLLIN, 0};
      if (::poll(&pf, 1, 0) > 0) return UniqueFd();
    }
    ::usleep(attempt < 100 ? 10 : 100);
  }
  throw Error(Step::seccomp, ETIMEDOUT, "seccomp listener", "the child never installed its filter");
}

// The first child of `pid` (/proc/PID/task/PID/children, Linux 3.5 with
// CONFIG_PROC_CHILDREN), nullopt when none or unreadable: ward's init's
// program. Read while the init lives (it reaps the program and exits at
// once): the pid is the program's, or gone, or, in the microseconds
// between the reap and a later read of it, could name another process.
inline std::optional<pid_t> first_child(pid_t pid) {
  const std::string path =
      "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[64];
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  char* end = nullptr;
  long v = std::strtol(buf, &end, 10);
  if (end == buf || v <= 0) return std::nullopt;
  return static_cast<pid_t>(v);
}

// Sandbox::init_process: the program's process, the child of ward's init
// `init` (our child, not reaped: its pid is stable), as a pidfd, with its
// pid. It holds the seccomp listener and makes the gated exec. Called once
// it announced its listener, so it exists (it may not end before its exec:
// it waits in the gate). By /proc/PID/task/PID/children, else a scan of
// /proc for the process whose parent is `init`; the pidfd is checked to
// name a child of `init` after it was opened (the pid cannot be reused
// under it then).
inline UniqueFd program_of_init(pid_t init, pid_t& prog) {
  auto parent_of = [](pid_t pid) -> pid_t {
    std::string st;
    int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return -1;
    st.assign(buf, static_cast<std::size_t>(n));
    auto close = st.rfind(')');  // the name may hold ')': fields restart after the last
    if (close == std::string::npos || close + 4 >= st.size()) return -1;
    return static_cast<pid_t>(std::strtol(st.c_str() + close + 4, nullptr, 10));
  };
  std::vector<pid_t> cands;
  if (auto c = first_child(init)) {
    cands.push_back(*c);
  } else if (DIR* d = ::opendir("/proc")) {
    while (auto* e = ::readdir(d)) {
      pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
      if (pid > 0 && parent_of(pid) == init) cands.push_back(pid);
    }
    ::closedir(d);
  }
  for (pid_t c : cands) {
    if (c <= 0) continue;
    int pfd = static_cast<int>(::syscall(sys::nr_pidfd_open, c, 0));
    if (pfd < 0) continue;
    UniqueFd got(off_stdio(pfd));
    if (parent_of(c) != init) continue;
    prog = c;
    return got;
  }
  throw Error(Step::seccomp, ESRCH, "init_process",
              "the program's process (the init's child) holding the seccomp listener is gone");
}

// The pty master a child sent with child_terminal (SCM_RIGHTS, one byte).
inline UniqueFd receive_terminal(int sock) {
  char byte = 0;
  OneFdMsg m(&byte, 1);
  ssize_t n;
  do n = ::recvmsg(sock, &m.msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno(Step::terminal, "terminal socket", "receive the pty master");
  UniqueFd fd(off_stdio(m.fd()));
  if (n != 1 || !fd)
    throw Error(Step::terminal, EPROTO, "terminal socket", "the child sent no pty master");
  return fd;
}

// The exec gate (see Sandbox::plan_seccomp): the child's own execve waits in
// USER_NOTIF until we answer CONTINUE, once. A later call that reaches the
// gate gets ENOSYS once the listener is closed, or the caller's answer if
// the caller keeps the listener.
// `nr`: SYS_execve, or SYS_execveat when the first exec is the trampoline's
// (Sandbox::sealed_exec).
// The child's end, not its report pipe, says it failed: the pipe may also
// hold its kMsgExecing, sent before the install when it execs a trampoline,
// while the child waits in the gate for us.
inline void pass_first_exec(int listener, pid_t child, int child_pidfd, long nr) {
  for (;;) {
    pollfd pf[2] = {{listener, POLLIN, 0}, {child_pidfd, POLLIN, 0}};
    int r = ::poll(pf, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno(Step::seccomp, "poll listener");
    if ((pf[0].revents & POLLIN) == 0 && pf[1].revents != 0)
      return;  // the child ended before its exec: its report says why
    if ((pf[0].revents & POLLIN) == 0) return;
    seccomp_notif n;
    std::memset(&n, 0, sizeof n);
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n) != 0) {
      if (errno == EINTR || errno == ENOENT) continue;
      throw_errno(Step::seccomp, "SECCOMP_IOCTL_NOTIF_RECV");
    }
    seccomp_notif_resp resp{};
    resp.id = n.id;
    bool ours = static_cast<pid_t>(n.pid) == child && n.data.nr == nr;
    if (ours) {
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
      resp.error = -ENOSYS;
    }
    ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    if (ours) return;
  }
}

// The host id that id `in` of a user namespace maps to, by the text of its
// uid_map or gid_map ("inside outside count" lines, user_namespaces(7)).
inline std::optional<std::uint32_t> host_id(const std::string& map, std::uint32_t in) {
  const char* at = map.c_str();
  for (;;) {
    char* end = nullptr;
    unsigned long long inside = std::strtoull(at, &end, 10), outside, count;
    if (end == at) return std::nullopt;
    outside = std::strtoull(at = end, &end, 10);
    count = std::strtoull(at = end, &end, 10);
    if (end == at) return std::nullopt;
    if (in >= inside && in - inside < count)
      return static_cast<std::uint32_t>(outside + in - inside);
    at = end;
  }
}

// One device node of host_binds: made in `devs` (a detached tmpfs, made
// here on first use) and cloned. Empty when we may not make it (EPERM:
// `devs` is then left empty too, and the child falls back as before).
inline UniqueFd host_node(const MountStep& s, int i, UniqueFd& devs, const std::string& uid_map,
                          const std::string& gid_map) {
  const std::string where = "/" + std::string(s.target);
  if (!devs) {
    long fs = sys::call(mnt::nr_fsopen, "tmpfs", mnt::kFsopenCloexec);
    if (fs < 0) return {};
    UniqueFd fsfd(static_cast<int>(fs));
    if (sys::call(mnt::nr_fsconfig, fs, mnt::kFsconfigCmdCreate, nullptr, nullptr, 0) < 0)
      return {};
    long m =
        sys::call(mnt::nr_fsmount, fs, mnt::kFsmountCloexec, mnt::kAttrNosuid | mnt::kAttrNoexec);
    if (m < 0) return {};
    devs.reset(static_cast<int>(m));
  }
  const std::string name = std::to_string(i);
  if (::mknodat(devs.get(), name.c_str(), s.mode, static_cast<dev_t>(s.rdev)) != 0) {
    if (errno == EPERM) {
      devs.reset();
      return {};
    }
    throw_errno(Step::mount, where, "mknod (in the parent, for the user namespace)");
  }
  // mknod(2) applied our umask; the config's mode is the mode.
  if (::fchmodat(devs.get(), name.c_str(), s.mode & 07777, 0) != 0)
    throw_errno(Step::mount, where, "chmod device (in the parent)");
  const std::uint32_t uid = s.chown ? s.uid : 0, gid = s.chown ? s.gid : 0;
  // An owner the step names is mapped (host_binds refused it otherwise);
  // without one, the child's own ids (0) may be unmapped: host root's node.
  auto hu = host_id(uid_map, uid), hg = host_id(gid_map, gid);
  if (hu && hg && ::fchownat(devs.get(), name.c_str(), *hu, *hg, AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno(Step::mount, where, "chown device (in the parent)");
  long fd = sys::call(mnt::nr_open_tree, devs.get(), name.c_str(), mnt::kOpenTreeClone | O_CLOEXEC);
  if (fd < 0) {
    // Before Linux 6.x a mount that is not attached in our namespace may
    // not be cloned (open_tree(2): EINVAL; Debian's 6.1, the vm tier): the
    // child's fallback (the host's node) stays, for this and the rest.
    devs.reset();
    return {};
  }
  return UniqueFd(static_cast<int>(fd));
}

// The detached mounts of one spawn's host bind sources (SpawnCtx::mnt_fds),
// made here, as the caller (the host's root), for a plan whose child
// becomes a new user namespace's root before its mounts (ns_root_early).
// That root is another host uid, with no capability over host inodes whose
// owner it does not map: a source under a directory only root may enter,
// or none at all (a 0000 parent, crun's mount-userns-bind-mount), is out of
// its reach. Nor may it make an idmapped mount of a host filesystem at
// all: mount_setattr(2) (MOUNT_ATTR_IDMAP) wants CAP_SYS_ADMIN over the
// filesystem's user namespace and over the idmap's, here the host's and
// one the runtime made (EPERM; fs/namespace.c can_idmap_mount,
// build_mount_idmapped). The child
// cannot take an O_PATH descriptor of ours instead: open_tree(2)
// (OPEN_TREE_CLONE) and MS_BIND refuse a path whose mount is in another
// mount namespace (EINVAL, fs/namespace.c __do_loopback, check_mnt), but
// move_mount(2) attaches a detached tree, the root of an anonymous mount
// namespace, into the caller's namespace whoever made it (do_move_mount:
// is_anon_ns, may_mount over the target's namespace; Linux 5.2). crun does
// the same (libcrun/linux.c, get_bind_mount and maybe_get_idmapped_mount,
// sent to the child). The attributes are set here (mount_setattr(2), Linux
// 5.12: the plan says modern): the child only attaches the tree and sets
// its propagation. Per spawn: a detached tree can be attached once.
//
// Only for a source outside the root (host_bind_source): the config
// author's host path, resolved in our view, which is the child's too (not
// when the plan joins a mount or user namespace: then it is not, and
// nothing is made). Destinations, and any source inside the root, are
// still resolved by the child, inside the root.
//
// Used by the child only where it cannot open the source itself, and for
// idmapped binds (child_rootfs says why). A source we cannot clone either
// fails the spawn here, naming the step, destination, source and errno;
// an optional one that does not exist is left to the child, which skips it.
// Device nodes (op_mknod) as well: in the user namespace mknod(2) is
// refused, and the child's fallback binds the host's node, which has the
// host's owner and mode, or fails where the host has no such node (crun's
// owner-device: /dev/foo, b 1:5, owner 10:11). Here, as the host's root,
// each node is made as the config asks in a detached tmpfs of this spawn
// (fsopen/fsmount, never attached anywhere: nothing to leave behind), its
// owner the host ids its uid and gid map to (uid_map/gid_map: the child's
// own ids, 0, when the step names none), and a clone of it is what the
// child attaches over the empty file it made, as crun does with its
// "devs" tmpfs. Where we may not mknod either (an unprivileged caller),
// or the kernel will not clone from a detached mount (before 6.x), the
// child's fallback stays. So does every bind where we may not clone
// mounts (EPERM: an unprivileged caller).
//
// Returns one slot per step (empty: none), which the caller closes after
// the clone, whatever happened, and the tmpfs the nodes were made in
// (`devs`), which it closes as soon as the child is on its way: that tmpfs
// is never attached, and closing the last reference to a detached tree
// dissolves it, which waits for an RCU grace period (fs/namespace.c:
// dissolve_on_fput, namespace_unlock's synchronize_rcu_expedited; ~55 us
// here). Closed once the child has been released, the wait runs beside the
// child's setup instead of before clone3 (bench/README.md, "Grace
// periods").
struct HostMounts {
  std::vector<UniqueFd> fds;
  UniqueFd devs;
};
inline HostMounts host_binds(const ChildPlan& p, const std::string& uid_map,
                             const std::string& gid_map) {
  HostMounts hm;
  std::vector<UniqueFd>& out = hm.fds;
  if (!p.ns_root_early || !p.mount_setup || p.n_mounts <= 0 || p.mount_api != MountApi::modern)
    return hm;
  for (int i = 0; i < p.n_joins; ++i)
    if (p.joins[i].nstype == CLONE_NEWNS || p.joins[i].nstype == CLONE_NEWUSER) return hm;
  bool any = false;
  for (int i = 0; i < p.n_mounts && !any; ++i)
    any = (p.mounts[i].op == MountStep::op_bind && child::host_bind_source(p.mounts[i])) ||
          p.mounts[i].op == MountStep::op_mknod;
  if (!any) return hm;
  out.resize(static_cast<std::size_t>(p.n_mounts));
  UniqueFd& devs = hm.devs;  // the detached tmpfs for device nodes, made on first use
  bool no_devs = false;
  for (int i = 0; i < p.n_mounts; ++i) {
    const MountStep& s = p.mounts[i];
    if (s.op == MountStep::op_mknod) {
      // An owner the namespace does not map is the config's mistake,
      // whatever this kernel lets us do about the node.
      if (s.chown && (!host_id(uid_map, s.uid) || !host_id(gid_map, s.gid)))
        throw Error(Step::mount, EINVAL, "/" + std::string(s.target),
                    "device owner " + std::to_string(s.uid) + ":" + std::to_string(s.gid) +
                        " is not mapped by the user namespace");
      if (!no_devs) out[static_cast<std::size_t>(i)] = host_node(s, i, devs, uid_map, gid_map);
      no_devs = !devs;
      continue;
    }
    if (s.op != MountStep::op_bind || !child::host_bind_source(s)) continue;
    const std::string where = "/" + std::string(s.target);
    long fd = sys::call(mnt::nr_open_tree, AT_FDCWD, s.source,
                        mnt::kOpenTreeClone | O_CLOEXEC | (s.recursive ? mnt::kAtRecursive : 0));
    if (fd == -ENOENT && s.optional) continue;
    // EPERM: we may not clone mounts either (an unprivileged caller, the
    // rootless tier): the child does what it can, as before.
    if (fd == -EPERM) continue;
    if (fd < 0)
      throw Error(Step::mount, static_cast<int>(-fd), where,
                  std::string("open_tree (bind, in the parent) of ") + s.source);
    UniqueFd mfd(static_cast<int>(fd));
    MountFail f;
    const unsigned rec = s.recursive && !s.attrs_top_only ? mnt::kAtRecursive : 0;
    long r = child::detached_attrs(fd, s, s.attr_set, rec, true, f);
    if (r == -EPERM) continue;  // as above (mfd closes the clone)
    if (r < 0)
      throw Error(Step::mount, static_cast<int>(-r), where,
                  std::string(f.what) + " (in the parent) of " + s.source);
    out[static_cast<std::size_t>(i)] = std::move(mfd);
  }
  return hm;
}

// Runs one spawn of `pd`. `slot_child`/`slot_parent` are the per-spawn
// stdio pipe ends (-1 where unused); the parent ends stay with the caller.
inline SpawnResult spawn_plan(const PlanData& pd, const int slot_child[3], const int slot_parent[3],
                              HoldFn hold = nullptr, void* hold_ctx = nullptr) {
  const ChildPlan& p = pd.child;
  UniqueFd report_wr, sync_wr;
  UniqueFd report_rd = make_pipe_pair(report_wr, "report pipe");
  UniqueFd sync_rd;
  if (p.need_parent || p.hold) sync_rd = make_pipe_pair(sync_wr, "sync pipe");
  // Sandbox::before_exec. The parent keeps its read end open until it has
  // written: a child that died meanwhile must not turn that write into a
  // SIGPIPE.
  UniqueFd go_wr, go_rd;
  if (pd.before_exec) go_rd = make_pipe_pair(go_wr, "before_exec pipe");
  // The sandbox's own pty: the child sends its master over this pair.
  UniqueFd term_parent, term_child;
  if (p.terminal_in_child) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
      throw_errno(Step::pipe, "terminal socket pair");
    term_parent.reset(sv[0]);
    term_child.reset(sv[1]);
  }

  bool vm = !pd.fork_mode && WARD_HAVE_RAW_SYSCALL;
  // 128 KiB: at least twice the deepest the child goes (root.child_stack,
  // tests/helpers/child_stack.cpp, measures it over the most demanding
  // plans: ~22 KiB optimized, ~39 KiB at -O0, where no frame slot is
  // shared; a consumer's debug build is -O0), so 64 KiB left too little
  // margin. Only touched pages cost memory (MAP_NORESERVE); the guard page
  // catches mistakes. The stacks are
  // kept per thread and reused: mapping, guarding, faulting in and
  // unmapping them cost ~11 us per spawn (bench/README.md). Reuse is safe
  // for the reason unmapping was: when spawn_plan returns or throws, no
  // child runs on them any more (EOF on the report pipe, or reaped).
  constexpr std::size_t kStack = 128 * 1024;
  thread_local std::optional<StackArea> cached_stacks;
  std::optional<StackArea> stacks;
  struct GiveBack {
    std::optional<StackArea>& from;
    std::optional<StackArea>& to;
    ~GiveBack() {
#ifdef WARD_TEST_CHILD_STACK
      if (from) {
        test_stack_use = {};
        test_stack_use.size = from->size();
        test_stack_use.count = from->count();
        for (int i = 0; i < from->count() && i < 2; ++i)
          test_stack_use.used[i] = from->test_used(i);
        from->test_fill();
      }
#endif
      if (from && !to) to.emplace(std::move(*from));
    }
  } give_back{stacks, cached_stacks};
  if (vm) {
    // One more for the program's process under ward's init (child_init).
    const int needed = (p.two_stage ? 2 : 1) + (p.init_fd >= 0 ? 1 : 0);
    if (cached_stacks && cached_stacks->count() >= needed) {
      stacks.emplace(std::move(*cached_stacks));
      cached_stacks.reset();
    } else {
      stacks.emplace(kStack, needed);
    }
  }

  SpawnCtx ctx{};
  ctx.plan = &p;
  ctx.report_wr = report_wr.get();
  ctx.report_rd = report_rd.get();
  ctx.sync_rd = sync_rd.get();
  ctx.sync_wr = sync_wr.get();
  ctx.go_rd = go_rd.get();
  ctx.go_wr = go_wr.get();
  for (int i = 0; i < 3; ++i) {
    ctx.slot_child[i] = slot_child[i];
    ctx.slot_parent[i] = slot_parent[i];
  }
  ctx.vm = vm;
  // Slots for the host bind sources child_rootfs opens before it becomes
  // its user namespace's root (per spawn: the plan may be shared).
  std::vector<int> src_fds;
  if (p.ns_root_early && p.mount_setup && p.n_mounts > 0)
    src_fds.assign(static_cast<std::size_t>(p.n_mounts), -1);
  ctx.src_fds = src_fds.empty() ? nullptr : src_fds.data();
  // Closed when spawn_plan returns or throws: the child has its own copies
  // (no CLONE_FILES), which it closes once it attached them.
  HostMounts host_mnts = host_binds(p, pd.uid_map, pd.gid_map);
  std::vector<int> mnt_fds;
  for (const UniqueFd& m : host_mnts.fds) mnt_fds.push_back(m ? m.get() : -1);
  ctx.mnt_fds = mnt_fds.empty() ? nullptr : mnt_fds.data();
  ctx.devs_fd = host_mnts.devs ? host_mnts.devs.get() : -1;
  ctx.gate_fd = -1;
  ctx.tramp_fd = -1;
  ctx.term_sock = term_child ? term_child.get() : -1;
  UniqueFd pivot_wr, pivot_rd;
  if (pd.before_pivot) pivot_rd = make_pipe_pair(pivot_wr, "before_pivot pipe");
  ctx.pivot_rd = pivot_rd ? pivot_rd.get() : -1;
  ctx.pivot_wr = pivot_wr ? pivot_wr.get() : -1;
  if (vm && p.two_stage) {
    ctx.stage2_stack = stacks->base(1);
    ctx.stage2_stack_size = stacks->size();
  }
  // Sandbox::init_process: the init writes the program's wait status here
  // (non-blocking: Child reads it once the init is reaped).
  UniqueFd status_rd, status_wr;
  ctx.init_fd = p.init_fd;
  ctx.status_wr = ctx.status_rd = -1;
  if (p.init_fd >= 0) {
    int sp[2];
    if (::pipe2(sp, O_CLOEXEC | O_NONBLOCK) != 0) throw_errno(Step::pipe, "init status pipe");
    status_rd.reset(off_stdio(sp[0]));
    status_wr.reset(off_stdio(sp[1]));
    ctx.status_wr = status_wr.get();
    ctx.status_rd = status_rd.get();
    if (vm) {
      ctx.init_stack = stacks->base(p.two_stage ? 2 : 1);
      ctx.init_stack_size = stacks->size();
    }
  }

  // CLONE_VM: the child's credential change marks our mm (CallerDumpable).
  // Declared before the UnwindGuard so that it leaves after the guard has
  // killed and reaped.
  struct DumpableScope {
    bool active;
    bool still_shared = false;
    ~DumpableScope() {
      if (active) CallerDumpable::leave(still_shared);
    }
  } dumpable_scope{false};
  if (vm) {
    CallerDumpable::enter(pd.nondumpable_caller);
    dumpable_scope.active = true;
  } else if (pd.nondumpable_caller) {
    CallerDumpable::make_caller_nondumpable();
  }
  int pidfd_raw = -1;
  long pid;
  for (;;) {
    bool clear = clear_sighand_supported().load(std::memory_order_relaxed) != 0;
    ctx.reset_signals = !clear;
    CloneArgs a{};
    a.flags = CLONE_PIDFD | pd.clone_flags | (vm ? CLONE_VM : 0) | (clear ? kCloneClearSighand : 0);
    bool into = pd.cgroup_fd && into_cgroup_supported().load(std::memory_order_relaxed) != 0;
    ctx.cgroup_fd = -1;
    ctx.unshare_cgroup = false;
    if (into) {
      a.flags |= kCloneIntoCgroup;
      a.cgroup = static_cast<std::uint64_t>(pd.cgroup_fd.get());
    } else if (pd.cgroup_fd) {
      ctx.cgroup_fd = pd.cgroup_fd.get();
    }
    if ((ctx.cgroup_fd >= 0 || !pd.cgroup_v1_fds.empty()) && (a.flags & CLONE_NEWCGROUP) != 0) {
      // The child joins a cgroup itself: a cgroup namespace made at clone
      // would be rooted at our cgroup instead of its own
      // (cgroup_namespaces(7): the root is the creator's cgroup at the time
      // of unshare(2) or clone(2)). It makes it after joining.
      ctx.unshare_cgroup = true;
      a.flags &= ~static_cast<std::uint64_t>(CLONE_NEWCGROUP);
    }
    a.pidfd = reinterpret_cast<std::uint64_t>(&pidfd_raw);
    a.exit_signal = SIGCHLD;
    if (vm) {
      a.stack = stacks->base(0);
      a.stack_size = stacks->size();
    }
    // Block every signal across clone3: the child must not run one of the
    // parent's handlers (on shared memory) before it has reset them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = clone3_run(&a, &child::child_entry, &ctx);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid == -EINVAL && clear && clear_sighand_supported().load() == -1) {
      // Linux 5.3/5.4 have clone3 without CLONE_CLEAR_SIGHAND: the child
      // then resets handlers itself.
      clear_sighand_supported().store(0);
      continue;
    }
    if (pid == -E2BIG && into && into_cgroup_supported().load() == -1) {
      // Linux 5.3-5.6: clone3 without CLONE_INTO_CGROUP, whose clone_args
      // is larger than those kernels know (copy_struct_from_user: E2BIG).
      into_cgroup_supported().store(0);
      continue;
    }
    if (pid > 0 && clear) clear_sighand_supported().store(1);
    if (pid > 0 && into) into_cgroup_supported().store(1);
    break;
  }
  if (pid < 0) {
    int e = static_cast<int>(-pid);
    if (e == ENOSYS) throw Error(Step::clone, e, "clone3", "ward needs Linux 5.3 or newer");
    std::string why;
    if (e == EPERM || e == ENOSPC || e == EUSERS)
      why = "creating these namespaces was refused (privileges, or a namespace count limit)";
    if (e == EINVAL && pd.cgroup_fd) why = "the cgroup descriptor is not a cgroup v2 directory";
    if (e == EBUSY && pd.cgroup_fd) why = "the target cgroup has controllers enabled for children";
    throw Error(Step::clone, e, "child", why);
  }
  UniqueFd pidfd(off_stdio(pidfd_raw));  // the Child's: it outlives this call
  UniqueFd final_pidfd;                  // two stages: the process that execs
  pid_t final_pid = -1;
  // From here on, whatever leaves this function before the child has
  // exec'd or reached its start gate, however it leaves (a failed step, an
  // exception of any type from a callback or an allocation, the forced
  // unwind of pthread_cancel(3)), passes through this guard: it kills and
  // reaps every process of this spawn, so none is left behind and none
  // runs on the stacks that go back to the thread's cache. A second stage
  // that stage one cloned but could not name before it was killed may
  // still run on its stack: then the stacks are never reused nor unmapped
  // (leaked), which is safe. Tests: unit.spawn "... any unwind ..." cases.
  struct UnwindGuard {
    UniqueFd& first;
    UniqueFd& final;
    std::optional<StackArea>& stacks;
    bool two_stage;
    bool& still_shared;
    bool armed = true;
    bool all_closed = false;  // EOF on the report pipe: no process of ours uses the stacks
    // Sandbox::shared_mount_namespace: the clone the child attached in a
    // namespace it shares, detached when the spawn fails (the mounts below
    // it would outlive every process of the spawn). Test: "shared mount
    // namespace: a failed spawn leaves no mount behind".
    const char* rootfs = nullptr;
    std::uint64_t root_mount = 0;
    bool root_mount_unique = false;
    int mount_ns = -1;  // the joined mount namespace it is in; -1: ours
    ~UnwindGuard() {
      if (!armed) return;
      if (final) kill_and_reap(final.get());
      kill_and_reap(first.get());
      if (root_mount != 0) (void)detach_mount_in(mount_ns, rootfs, root_mount, root_mount_unique);
      if (two_stage && !final && !all_closed && stacks) {
        stacks->leak();
        stacks.reset();  // nothing goes back to the cache
        still_shared = true;
      }
    }
  } guard{pidfd, final_pidfd, stacks, p.two_stage, dumpable_scope.still_shared};
  report_wr.reset();
  sync_rd.reset();
  term_child.reset();
  status_wr.reset();
  if (p.need_parent && p.ns_at_clone) {
    // The user namespace exists since clone3 returned: write the maps now
    // and release the child, without waiting for it to ask (one wake-up
    // fewer; measured ~20-40 us here).
    write_id_maps(static_cast<pid_t>(pid), pd);
    char go = 1;
    if (::write(sync_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "sync pipe");
  }
  // The child closed its copy first thing (SpawnCtx::devs_fd): ours is
  // the last, and its grace period now overlaps the child's work
  // (HostMounts).
  host_mnts.devs.reset();

  // Sandbox::before_exec, while the child sets up; then the byte that lets
  // it go on. In two stages, once the process that execs is known (so that
  // a failure kills and reaps it too). What it throws leaves through the
  // guard: the child is killed and reaped, then the exception goes on.
  bool before_exec_pending = static_cast<bool>(pd.before_exec);
  auto run_before_exec = [&] {
    before_exec_pending = false;
    pd.before_exec();
    char go = 1;
    if (::write(go_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "before_exec pipe");
    go_wr.reset();
    go_rd.reset();
  };
  if (before_exec_pending && !p.two_stage) run_before_exec();

  // Talk to the child until EOF.
  Msg m;
  bool failed = false;
  bool at_gate = false;  // a gated child said it waits for its start
  bool execing = false;  // kMsgExecing came: only failures may follow
  Msg failure{};
  UniqueFd listener;
  int pending_listener = -1;
  for (;;) {
    if (before_exec_pending && final_pidfd) run_before_exec();
    // The listener comes from the process that execs, so in two stages it
    // waits until stage one has said which process that is.
    if (pending_listener >= 0 && (!p.two_stage || final_pidfd)) {
      int target = p.two_stage ? final_pidfd.get() : pidfd.get();
      pid_t gated = p.two_stage ? final_pid : static_cast<pid_t>(pid);
      // Under ward's init the filter is the program's, the init's child.
      UniqueFd program;
      if (p.init_fd >= 0) {
        program = program_of_init(gated, gated);
        target = program.get();
      }
      listener = take_listener(target, pending_listener, report_rd.get());
      pending_listener = -1;
      if (listener && pd.seccomp_exec_gate)
        pass_first_exec(listener.get(), gated, target,
                        p.trampoline_fd >= 0 ? SYS_execveat : SYS_execve);
      if (!pd.seccomp_keep_listener) listener.reset();
    }
    long n = sys::read_full(report_rd.get(), &m, sizeof m);
    if (n == 0) {
      guard.all_closed = true;  // every process of the spawn exec'd or ended
      break;
    }
    if (n != static_cast<long>(sizeof m))
      throw Error(Step::sync, n < 0 ? static_cast<int>(-n) : EPROTO, "report pipe",
                  "short message from the child");
    // In two stages, stage one's kMsgStage2 may come after the second
    // stage's kMsgExecing (they run at once); it is checked below.
    bool stage2 = m.kind == kMsgStage2 && p.two_stage && !final_pidfd;
    // The trampoline holds the report pipe for a few instructions while
    // still dumpable (until its PR_SET_DUMPABLE 0): a sandbox process that
    // took the descriptor then could send anything. Nothing but a failure
    // is believed.
    if (execing && m.kind != kMsgError && m.kind != kMsgExecFailed && !stage2)
      throw Error(Step::sync, EPROTO, "report pipe",
                  "a message other than a failure after the exec began");
    if (m.kind == kMsgError) {
      failed = true;
      failure = m;
    } else if (m.kind == kMsgExecing) {
      execing = true;
    } else if (m.kind == kMsgExecFailed) {
      // From the trampoline: the last candidate it tried, or with a PATH
      // search the name searched for (as child_final reports it).
      failed = true;
      failure = m;
      failure.step = static_cast<std::uint32_t>(Step::exec);
      if (pd.candidates_s.size() > 1) {
        std::size_t len = pd.argv_s[0].copy(failure.detail, sizeof failure.detail - 1);
        failure.detail[len] = '\0';
      }
    } else if (m.kind == kMsgNeedParent) {
      write_id_maps(static_cast<pid_t>(pid), pd);
      char go = 1;
      if (::write(sync_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "sync pipe");
    } else if (m.kind == kMsgStage2) {
      if (!stage2) throw Error(Step::sync, EPROTO, "report pipe", "a second stage announced twice");
      final_pid = m.value;
      // It must be our child (CLONE_PARENT) and not reaped yet, so its pid
      // is stable: waitid says ECHILD otherwise, and then it is nobody we
      // may signal (a forged announcement, see above).
      siginfo_t probe{};
      if (::waitid(P_PID, static_cast<id_t>(final_pid), &probe,
                   WEXITED | WNOHANG | WNOWAIT | __WALL) != 0)
        throw Error(Step::pidfd, ECHILD, "second stage pid " + std::to_string(final_pid),
                    "not a child of this process");
      int fd = static_cast<int>(::syscall(sys::nr_pidfd_open, final_pid, 0));
      if (fd < 0) {
        int e = errno;
        ::kill(final_pid, SIGKILL);
        ::waitpid(final_pid, nullptr, __WALL);
        guard.all_closed = true;  // stage two is reaped; the guard reaps stage one
        throw Error(Step::pidfd, e, "second stage pid " + std::to_string(final_pid));
      }
      final_pidfd.reset(off_stdio(fd));
    } else if (m.kind == kMsgRootMount && p.mount_in_place && guard.root_mount == 0) {
      guard.rootfs = p.rootfs;
      guard.root_mount = (std::uint64_t{static_cast<std::uint32_t>(m.err)} << 32) |
                         static_cast<std::uint32_t>(m.value);
      guard.root_mount_unique = m.detail[0] == 'u';
      for (int i = 0; i < p.n_joins; ++i)
        if (p.joins[i].nstype == CLONE_NEWNS) guard.mount_ns = p.joins[i].fd;
      // Sandbox::on_rootfs_mount: a runtime records it now, so that even
      // its own death from here on leaves the clone findable.
      if (pd.on_rootfs_mount) pd.on_rootfs_mount(guard.root_mount, guard.root_mount_unique);
    } else if (m.kind == kMsgListener) {
      pending_listener = m.value;
    } else if (m.kind == kMsgBeforePivot) {
      pd.before_pivot(p.two_stage ? final_pid : static_cast<pid_t>(pid));
      char go = 1;
      if (::write(pivot_wr.get(), &go, 1) != 1) throw_errno(Step::sync, "before_pivot pipe");
    } else if (m.kind == kMsgReady && p.start_gate_fd >= 0) {
      at_gate = true;
      break;  // waiting for its start; spawn is done
    } else if (m.kind == kMsgReady) {
      if (hold) hold(p.two_stage ? final_pid : static_cast<pid_t>(pid), hold_ctx);
      sync_wr.reset();  // releases the holder
    }
  }

  if (p.two_stage) {
    // Stage one has exited (or will): reap it. Its status tells whether it
    // died before handing over a second stage.
    siginfo_t info{};
    while (::syscall(SYS_waitid, P_PIDFD, pidfd.get(), &info, WEXITED, nullptr) < 0 &&
           errno == EINTR) {
    }
    if (!final_pidfd && !failed)
      throw Error(Step::clone, ECHILD, "first stage",
                  "it ended (" + ExitStatus::from(info).describe() +
                      ") before starting the pid-namespace child");
  }
  if (p.start_gate_fd >= 0 && !at_gate && !failed) {
    // The pipe closed without "ready" and without a failed step: the child
    // died on its way to the gate (a signal; it cannot have exec'd). A
    // `create` must not report a container that is not there.
    int target = p.two_stage ? final_pidfd.get() : pidfd.get();
    siginfo_t info{};
    while (::syscall(SYS_waitid, P_PIDFD, target, &info, WEXITED, nullptr) < 0 && errno == EINTR) {
    }
    throw Error(Step::sync, ECHILD, "start gate",
                "the child ended (" + ExitStatus::from(info).describe() +
                    ") before it reached its start gate");
  }
  if (failed) {
    // The guard kills and reaps what is left as this throws.
    failure.detail[sizeof failure.detail - 1] = '\0';
    std::string why;
    if (failure.step == static_cast<std::uint32_t>(Step::exec) && failure.err == ENOENT &&
        pd.candidates_s.size() > 1)
      why = "executable file not found in $PATH";  // runc's words; engines match them
    throw Error(static_cast<Step>(failure.step), failure.err, failure.detail, why);
  }
  UniqueFd terminal;
  // Sent before the child reported ready or exec'd: it is queued by now.
  if (term_parent) terminal = receive_terminal(term_parent.get());
  guard.armed = false;
  if (p.two_stage)
    return {std::move(final_pidfd), final_pid,        std::move(listener),    std::move(terminal),
            std::move(status_rd),   guard.root_mount, guard.root_mount_unique};
  return {std::move(pidfd),       static_cast<pid_t>(pid), std::move(listener),
          std::move(terminal),    std::move(status_rd),    guard.root_mount,
          guard.root_mount_unique};
}

}  // namespace ward::detail
