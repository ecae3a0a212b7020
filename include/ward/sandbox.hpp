// SPDX-License-Identifier: Apache-2.0
// Sandbox: a builder that resolves a child's environment into an immutable
// Plan, and spawns children from it.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ward/capabilities.hpp>
#include <ward/cgroup.hpp>
#include <ward/cgroups.hpp>
#include <ward/child.hpp>
#include <ward/detail/bpf.hpp>
#include <ward/detail/exec_gate.hpp>
#include <ward/detail/exec_trampoline.hpp>
#include <ward/detail/plan.hpp>
#include <ward/detail/seccomp_load.hpp>
#include <ward/detail/spawn.hpp>
#include <ward/detail/syscall_tables.hpp>
#include <ward/detail/sysctl.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/id_map.hpp>
#include <ward/landlock.hpp>
#include <ward/mount.hpp>
#include <ward/namespace.hpp>
#include <ward/rlimit.hpp>
#include <ward/seccomp.hpp>
#include <ward/terminal.hpp>

extern char** environ;

namespace ward {

// What one of the child's standard descriptors is connected to.
class Stdio {
 public:
  enum class Kind { inherit, null, pipe, fd, closed };
  // The caller's descriptor of that number at spawn(), as exec(2) passes it
  // on: closed, or close-on-exec, it is closed in the child.
  static Stdio inherit() { return Stdio(Kind::inherit, -1); }
  // Closed in the child (posix_spawn_file_actions_addclose(3)'s effect): its
  // first open(2) takes the number (tests/root/caller_stdio_test.cpp).
  static Stdio closed() { return Stdio(Kind::closed, -1); }
  static Stdio null() { return Stdio(Kind::null, -1); }
  // A new pipe per spawn; the parent's end is on the Child.
  static Stdio pipe() { return Stdio(Kind::pipe, -1); }
  // A descriptor of ours (duplicated when the plan is built).
  static Stdio fd(int fd) { return Stdio(Kind::fd, fd); }
  Kind kind() const noexcept { return kind_; }
  int raw() const noexcept { return fd_; }

 private:
  Stdio(Kind k, int fd) : kind_(k), fd_(fd) {}
  Kind kind_;
  int fd_;
};

// How the child is created. automatic: CLONE_VM on a private stack (cost
// independent of the parent's memory) unless the plan needs fork semantics
// (joining a time namespace); fork: always a copy-on-write child.
enum class SpawnMode { automatic, vm, fork };

// Sandbox::nondumpable_setup: who is made non-dumpable (prctl(2)
// PR_SET_DUMPABLE) so that no other process without CAP_SYS_PTRACE reaches
// the child's /proc/PID/{exe,mem,fd/*} while it is still the caller's
// program (ptrace(2), "Ptrace access mode checking"; CVE-2016-9962).
//  - own_mm: the child alone, after clone; needs fork mode, since
//    dumpability belongs to the mm and a CLONE_VM child shares the caller's.
//  - caller: spawn() makes the CALLER non-dumpable, for good, before clone3,
//    so the child is born so whether it shares the mm (the fast CLONE_VM
//    path) or copies it (fork). Ask for it only in a program that wants that
//    for itself, as a container runtime does. For the caller this means: no
//    core dumps, /proc/self/* owned by root (a non-root caller can no longer
//    write its children's uid_map, so do not use it rootless), and only
//    CAP_SYS_PTRACE holders (in its mm's user namespace) can ptrace it or
//    take descriptors from it or from its children before they exec
//    (pidfd_getfd(2): the seccomp listener, which ward takes as root only).
enum class Nondumpable { off, own_mm, caller };

// How the child switches to its rootfs. pivot_root(2) detaches the old
// root entirely; MS_MOVE + chroot(2) works where pivot_root cannot (a
// rootfs on initramfs) but is weaker: the old root stays in the mount
// namespace, reachable by a process that can escape a chroot.
enum class Pivot { pivot_root, move_and_chroot, automatic };

// Where Sandbox::terminal's pseudo-terminal comes from.
enum class PtySource {
  // `sandbox` when the child has a rootfs or joins a mount namespace (its
  // /dev/pts is then not the caller's), else `caller`.
  automatic,
  // The caller's /dev/ptmx, opened before the spawn. The child's
  // ttyname(3) finds /dev/pts/N only if it sees the caller's devpts.
  caller,
  // The sandbox's own /dev/pts/ptmx (a devpts mount is required there),
  // opened by the child in its mount namespace; the master is sent back.
  // What runc and crun do for a container.
  sandbox,
};

// sched_setattr(2)'s attributes, for what sched_setscheduler(2) cannot
// say: SCHED_DEADLINE (policy 6, with runtime <= deadline <= period, in
// nanoseconds) and the SCHED_FLAG_* bits. The kernel checks them when the
// child applies them; its errno comes back with the step.
struct SchedAttr {
  std::uint32_t policy = 0;    // SCHED_OTHER, SCHED_FIFO, ..., SCHED_DEADLINE (6)
  std::uint64_t flags = 0;     // SCHED_FLAG_RESET_ON_FORK (1), ...
  std::int32_t nice = 0;       // SCHED_OTHER and SCHED_BATCH
  std::uint32_t priority = 0;  // SCHED_FIFO and SCHED_RR
  std::uint64_t runtime = 0, deadline = 0, period = 0;  // SCHED_DEADLINE
};

// set_mempolicy(2)'s arguments: the NUMA memory policy the child runs
// with (runtime-spec 1.3 linux.memoryPolicy). `mode` is an MPOL_* value
// (MPOL_DEFAULT 0 ... MPOL_WEIGHTED_INTERLEAVE 6), `flags` MPOL_F_* mode
// flags (MPOL_F_NUMA_BALANCING 1<<13, MPOL_F_RELATIVE_NODES 1<<14,
// MPOL_F_STATIC_NODES 1<<15), `nodes` the node numbers of the nodemask.
// Which modes take which nodes is the kernel's rule (set_mempolicy(2)); its
// errno comes back with the step.
struct MemoryPolicy {
  int mode = 0;
  unsigned flags = 0;
  std::vector<unsigned> nodes;
};

// How a seccomp filter is installed in the child.
struct SeccompOptions {
  // SeccompFlag bits for seccomp(2). new_listener is added by ward when the
  // filter has USER_NOTIF rules (the listener is then on the Child).
  std::uint32_t flags = 0;
  // The filter also governs the child's own execve. When it would refuse
  // that exec, let exactly that one through: the child's own execve goes
  // to a USER_NOTIF gate that ward answers CONTINUE once; every other
  // execve is decided by the filter as written.
  bool allow_initial_exec = true;
  // Install the filter before the child changes its credentials and drops
  // capabilities, while it still holds CAP_SYS_ADMIN, instead of right
  // before execve. Without no_new_privs the kernel only lets a process
  // with CAP_SYS_ADMIN load a filter (seccomp(2)), so this is how a child
  // that keeps set-user-ID programs working (no_new_privs(false)) and runs
  // without CAP_SYS_ADMIN gets its filter, as runc does for a container
  // with noNewPrivileges false. The cost: the filter then also governs the
  // rest of the child's setup (setresuid, capset, prctl, close_range,
  // dup3, ioctl, chdir, read, write, execve ...); a profile that refuses
  // one of those fails the spawn there. allow_initial_exec does not
  // apply (the filter decides the program's execve too), and USER_NOTIF
  // rules, which need the late install, are refused.
  bool before_credentials = false;
};

class Plan;
namespace detail {
// What a Plan resolved to, for ward's own tests (tests/unit/sandbox_copy_test.cpp).
inline const PlanData& plan_data(const Plan& p) noexcept;
}  // namespace detail

// An immutable, resolved spawn plan. Cheap to copy (shared); spawn() may be
// called any number of times and from several threads at once.
class Plan {
 public:
  Child spawn() const {
    int child_end[3] = {-1, -1, -1}, parent_end[3] = {-1, -1, -1};
    UniqueFd child_owned[3], parent_owned[3];
    // The caller's stdio, copied before this spawn makes any descriptor:
    // with 0-2 closed, the pipes below would take those numbers, and the
    // child would inherit ward's own pipes as its stdio. A closed slot
    // stays closed in the child (-1), and so does a close-on-exec one, as
    // exec(2) would have it: what sits on a closed 0-2 while another
    // thread spawns is ward's (detail::inheritable_as).
    // Test: tests/root/caller_stdio_test.cpp.
    for (int i = 0; i < 3; ++i) {
      if (!inherit_[i]) continue;
      int d = ::fcntl(i, F_DUPFD_CLOEXEC, 3);
      if (d < 0 && errno != EBADF)
        detail::throw_errno(Step::fds,
                            i == 0   ? "stdin"
                            : i == 1 ? "stdout"
                                     : "stderr",
                            "copy the caller's descriptor");
      if (d >= 0 && !detail::inheritable_as(i, d)) {
        ::close(d);
        d = -1;
      }
      child_owned[i].reset(d);
      child_end[i] = d;
    }
    std::optional<PtyPair> pty;
    if (terminal_ && !data_->child.terminal_in_child) {
      pty = Pty::open(*terminal_);
      for (int i = 0; i < 3; ++i) child_end[i] = pty->peer.get();
      parent_end[0] = pty->master.get();  // closed in the child
    }
    for (int i = 0; i < 3; ++i) {
      if (!pipes_[i]) continue;
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0)
        detail::throw_errno(Step::pipe, i == 0 ? "stdin" : i == 1 ? "stdout" : "stderr");
      p[0] = detail::off_stdio(p[0]);  // the parent's end outlives this call
      p[1] = detail::off_stdio(p[1]);
      // stdin: the child reads; stdout/stderr: the child writes.
      child_owned[i].reset(i == 0 ? p[0] : p[1]);
      parent_owned[i].reset(i == 0 ? p[1] : p[0]);
      child_end[i] = child_owned[i].get();
      parent_end[i] = parent_owned[i].get();
    }
    const int oom_dir = data_->oom_fd ? data_->oom_fd.get() : data_->cgroup_fd.get();
    const std::uint64_t oom_before = oom_dir >= 0 ? Child::oom_kills(oom_dir) : 0;
    auto r = detail::spawn_plan(*data_, child_end, parent_end);
    Child c(std::move(r.pidfd), r.pid);
    c.seccomp_listener_ = std::move(r.seccomp_listener);
    c.init_status_ = std::move(r.init_status);
    if (r.root_mount != 0) {
      // In a joined namespace the Child keeps a descriptor of it: its
      // clone can be detached only from inside (RootfsMount::detach). First,
      // so that a failed dup leaves a Child that detaches it right.
      for (const auto& j : data_->joins) {
        if (j.nstype != CLONE_NEWNS) continue;
        c.rootfs_ns_ = UniqueFd(::fcntl(j.fd, F_DUPFD_CLOEXEC, 3));
        if (!c.rootfs_ns_) {
          const int e = errno;
          c.kill();
          c.wait();
          (void)detail::detach_mount_in(j.fd, data_->rootfs.c_str(), r.root_mount,
                                        r.root_mount_unique);
          throw Error(Step::setns, e, "the joined mount namespace", "dup its descriptor");
        }
      }
      c.rootfs_mount_ = data_->rootfs_mount(r.root_mount, r.root_mount_unique);
    }
    if (oom_dir >= 0) {
      int fd = ::fcntl(oom_dir, F_DUPFD_CLOEXEC, 3);
      if (fd >= 0) c.watch_oom(UniqueFd(fd), oom_before);
    }
    if (pty) c.terminal_ = std::move(pty->master);
    if (r.terminal) c.terminal_ = std::move(r.terminal);
    c.stdin_ = std::move(parent_owned[0]);
    c.stdout_ = std::move(parent_owned[1]);
    c.stderr_ = std::move(parent_owned[2]);
    return c;
  }

  const std::vector<std::string>& argv() const noexcept { return data_->argv_s; }
  const std::vector<std::string>& env() const noexcept { return data_->env_s; }
  // Where execve will look, in order (one entry unless resolved via PATH).
  const std::vector<std::string>& exec_candidates() const noexcept { return data_->candidates_s; }
  // The CLONE_* namespace flags passed to clone3 (0 when joins come first).
  std::uint64_t clone_flags() const noexcept { return data_->clone_flags; }
  bool two_stage() const noexcept { return data_->child.two_stage; }
  bool fork_mode() const noexcept { return data_->fork_mode; }

 private:
  friend class Sandbox;
  friend const detail::PlanData& detail::plan_data(const Plan& p) noexcept;
  std::shared_ptr<const detail::PlanData> data_;
  bool pipes_[3] = {false, false, false};
  bool inherit_[3] = {false, false, false};  // slot i: the caller's descriptor i
  std::optional<winsize> terminal_;
};

inline const detail::PlanData& detail::plan_data(const Plan& p) noexcept { return *p.data_; }

class Sandbox {
 public:
  Sandbox() = default;
  explicit Sandbox(std::vector<std::string> argv) : argv_(std::move(argv)) {}

  // ---- the program
  Sandbox& command(std::vector<std::string> argv) {
    argv_ = std::move(argv);
    return *this;
  }
  // Run this file instead of looking argv[0] up in PATH.
  Sandbox& executable(std::string path) {
    exe_ = std::move(path);
    return *this;
  }
  // The child's whole environment ("KEY=value" strings). Default: empty,
  // so nothing of the parent's leaks in unless asked for.
  Sandbox& env(std::vector<std::string> env) {
    env_ = std::move(env);
    return *this;
  }
  Sandbox& setenv(std::string_view key, std::string_view value) {
    std::string kv = std::string(key) + "=";
    std::erase_if(env_, [&](const std::string& e) { return e.rfind(kv, 0) == 0; });
    env_.push_back(kv + std::string(value));
    return *this;
  }
  Sandbox& inherit_env() {
    env_.clear();
    for (char** e = environ; e && *e; ++e) env_.emplace_back(*e);
    return *this;
  }
  Sandbox& cwd(std::string dir) {
    cwd_ = std::move(dir);
    return *this;
  }

  // ---- descriptors
  Sandbox& stdin_(Stdio s) { return stdio(0, s); }
  Sandbox& stdout_(Stdio s) { return stdio(1, s); }
  Sandbox& stderr_(Stdio s) { return stdio(2, s); }
  // Keep our descriptor `fd` open in the child as `as` (default: the same
  // number). Every descriptor not kept (or stdio) is closed in the child.
  Sandbox& keep_fd(int fd, int as = -1) {
    keep_.push_back({fd, as < 0 ? fd : as});
    return *this;
  }

  // ---- process
  Sandbox& new_session(bool on = true) {
    new_session_ = on;
    return *this;
  }
  // Signal the child gets when the thread that spawned it exits
  // (PR_SET_PDEATHSIG: it is the spawning *thread*, see prctl(2)).
  Sandbox& parent_death_signal(int sig) {
    pdeathsig_ = sig;
    return *this;
  }
  // Credentials inside (after any user namespace is set up).
  Sandbox& user(std::uint32_t uid, std::uint32_t gid) {
    uid_ = uid;
    gid_ = gid;
    return *this;
  }
  Sandbox& spawn_mode(SpawnMode m) {
    mode_ = m;
    return *this;
  }
  // Start the child directly in this cgroup v2 directory (CLONE_INTO_CGROUP,
  // Linux 5.7). The descriptor is duplicated.
  Sandbox& into_cgroup(int cgroup_dir_fd) {
    cgroup_fd_ = cgroup_dir_fd;
    return *this;
  }
  // Start the child in `cg` (CLONE_INTO_CGROUP) and report OOM kills in its
  // ExitStatus (from the cgroup's memory.events). `cg` must outlive plan().
  Sandbox& cgroup(const CgroupV2& cg) {
    cgroup_fd_ = cg.dir_fd();
    cgroup_v1_fds_.clear();
    oom_fd_.reset();
    return *this;
  }
  // Start the child in `cg`'s cgroup of every v1 hierarchy: it writes
  // itself into each cgroup.procs before it does anything else (CLONE_INTO_
  // CGROUP is v2's only), and OOM kills come from its memory hierarchy's
  // memory.oom_control. `cg` must outlive plan().
  Sandbox& cgroup(const CgroupV1& cg) {
    cgroup_fd_.reset();
    cgroup_v1_fds_ = cg.dir_fds();
    oom_fd_.reset();
    if (cg.has("memory")) oom_fd_ = cg.dir_fd("memory");
    return *this;
  }
  // Both at once, on any host (cgroups.hpp): born in the unified cgroup
  // (CLONE_INTO_CGROUP) and joining the v1 ones first thing. Test:
  // tests/root/cgroups_test.cpp.
  Sandbox& cgroup(const Cgroups& cg) {
    cgroup_fd_.reset();
    cgroup_v1_fds_.clear();
    oom_fd_.reset();
    if (cg.v2()) cgroup_fd_ = cg.v2()->dir_fd();
    if (cg.v1()) cgroup_v1_fds_ = cg.v1()->dir_fds();
    if (int m = cg.oom_dir_fd(); m >= 0) oom_fd_ = m;
    return *this;
  }

  // ---- credentials and process attributes (all applied in the child)
  // Supplementary groups (setgroups(2)); in a user namespace whose
  // setgroups is "deny" this is refused before spawn.
  Sandbox& groups(std::vector<std::uint32_t> gids) {
    groups_ = std::move(gids);
    set_groups_ = true;
    return *this;
  }
  // Keep the caller's supplementary groups when the ids change (user()):
  // no setgroups(2) at all, where ward otherwise clears them. For a process
  // that needs the caller's group access to files (podman's
  // --group-add keep-groups, crun's run.oci.keep_original_groups). Not with
  // groups(). In a new user namespace the kept groups show as the overflow
  // gid where they are not mapped.
  Sandbox& keep_groups(bool on = true) {
    keep_groups_ = on;
    return *this;
  }
  // The five capability sets. Default: unchanged from the parent (a new
  // user namespace gives the child a full set inside it).
  Sandbox& capabilities(Capabilities caps) {
    caps_ = caps;
    return *this;
  }
  Sandbox& securebits(unsigned bits) {
    securebits_ = bits;
    return *this;
  }
  Sandbox& rlimit(int resource, std::uint64_t soft, std::uint64_t hard) {
    std::erase_if(rlimits_, [&](const Rlimit& l) { return l.resource == resource; });
    rlimits_.push_back({resource, soft, hard});
    return *this;
  }
  Sandbox& umask(unsigned mask) {
    umask_ = static_cast<int>(mask & 0777);
    return *this;
  }
  Sandbox& oom_score_adj(int v) {
    oom_ = v;
    return *this;
  }
  Sandbox& nice(int v) {
    nice_ = v;
    return *this;
  }
  // sched_setscheduler(2) policy (SCHED_OTHER, SCHED_BATCH, SCHED_IDLE,
  // SCHED_FIFO, SCHED_RR) and its static priority.
  Sandbox& scheduler(int policy, int priority = 0) {
    sched_ = {policy, priority};
    return *this;
  }
  // The same through sched_setattr(2) (see SchedAttr), e.g. SCHED_DEADLINE.
  Sandbox& scheduler(const SchedAttr& a) {
    sched_attr_ = a;
    return *this;
  }
  // ioprio_set(2) value: (class << 13) | data.
  Sandbox& io_priority(int io_class, int data) {
    ioprio_ = (io_class << 13) | (data & 0x1fff);
    return *this;
  }
  Sandbox& cpu_affinity(std::vector<unsigned> cpus) {
    cpus_ = std::move(cpus);
    set_cpus_ = true;
    return *this;
  }
  // The child's NUMA memory policy (see MemoryPolicy), set before exec;
  // execve(2) keeps it.
  Sandbox& memory_policy(MemoryPolicy p) {
    mempolicy_ = std::move(p);
    return *this;
  }
  Sandbox& personality(unsigned long persona) {
    personality_ = persona;
    return *this;
  }
  // Write a sysctl in the child's namespaces: "net.ipv4.ip_forward" = "1".
  // Only namespaced sysctls are accepted, and only with a new (or joined)
  // namespace of their kind, so the host's values can never change.
  Sandbox& sysctl(std::string key, std::string value) {
    sysctls_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  // Keep the child non-dumpable while it sets up (so processes already in
  // a joined pid namespace cannot ptrace it or open its /proc files);
  // execve then decides dumpability as usual. Uses fork mode: dumpable is
  // a property of the address space, shared with us under CLONE_VM.
  Sandbox& nondumpable_setup(bool on = true) {
    nondumpable_ = on ? Nondumpable::own_mm : Nondumpable::off;
    return *this;
  }
  Sandbox& nondumpable_setup(Nondumpable how) {
    nondumpable_ = how;
    return *this;
  }
  // Exec the program through the exec trampoline, a tiny program run from a
  // sealed memfd (detail/exec_trampoline.hpp), so that during the program's
  // execve /proc/self/exe is never the caller's binary: a
  // "#!/proc/self/exe" program would otherwise run the caller's binary in
  // the sandbox, whose processes could then write it (CVE-2019-5736).
  // Costs one memfd per plan and one exec of ~700 bytes per spawn. Not
  // with a Landlock ruleset (it would have to let the memfd execute), and
  // only where sealed_exec_supported() (x86_64 for now). With a seccomp
  // filter, the trampoline's execveat is the exec the filter's gate
  // (SeccompOptions::allow_initial_exec) lets through; the calls the
  // trampoline makes itself (prctl, fcntl, the program's execve) run under
  // the filter, and a filter that refuses one of them fails the plan
  // (Error naming "sealed_exec") rather than quietly exec the program
  // from the caller's binary (Sandbox::check_trampoline_under).
  Sandbox& sealed_exec(bool on = true) {
    sealed_exec_ = on;
    return *this;
  }
  static constexpr bool sealed_exec_supported() noexcept { return detail::kHaveExecTrampoline; }

  // Run a small init of ward's as pid 1 of the sandbox's new pid namespace,
  // with the program as its child (pid 2), as isolate and bubblewrap do.
  // Why: a namespace's init gets only the signals it has a handler for
  // unless they come from an ancestor namespace (pid_namespaces(7)), so a
  // program that is pid 1 does not die of SIGXFSZ past RLIMIT_FSIZE (it
  // only gets EFBIG), RLIMIT_CPU's SIGXCPU is dropped, its raise(SIGABRT)
  // or kill(getpid(), SIGTERM) does nothing, and it inherits (and must
  // reap) every orphan. The init reaps every child, sends the signals it
  // gets (SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCONT, ...; all but SIGCHLD)
  // on to the program, and when the program ends reports its own wait
  // status and exits, which ends the namespace and everything in it:
  // Child::wait() (and supervise) then report the program's exit code or
  // the signal that killed it, not the init's. If the init itself is
  // killed (Child::kill(SIGKILL) at a time limit), that is the status.
  // The program's process does the exec as without the option (seccomp
  // filter last, sealed_exec, exec failures reported by spawn); the init
  // is under none of the program's filter.
  // The init is a ~740-byte static program exec'd from a sealed memfd
  // (detail/exec_trampoline.hpp says why: nothing of the caller's memory
  // or binary is visible as pid 1; non-dumpable, so /proc/1/mem, environ,
  // ptrace and a write of /proc/1/exe fail from inside, as root of the
  // user namespace without CAP_SYS_PTRACE and as another uid). It runs with
  // the program's credentials. Root of the sandbox's user namespace WITH
  // CAP_SYS_PTRACE there may trace its own init (it is that namespace's
  // process): it finds nothing of the caller's, and may stop it or make it
  // report another status, which is no more than the program could do by
  // itself (a limit's SIGKILL still ends the init). One memfd per plan,
  // one clone and one exec of ~740 bytes per spawn.
  // With a seccomp filter, the program's process installs it, last, as
  // without the option: the init runs under none (a compute-only preset
  // would deny its wait4 and kill). The exec gate and USER_NOTIF listener
  // are taken from the program's process.
  // Needs a new pid namespace (unshare(NsKind::pid)) and x86_64
  // (init_process_supported()); not with a Landlock ruleset (the memfd
  // must execute), nor a seccomp filter the init would run under (one
  // installed before the credentials, or with USER_NOTIF rules and a start
  // gate, installed before the gate): the plan is refused (Error naming
  // "init_process"). The init counts as one process
  // against pids.max and RLIMIT_NPROC (supervise adds it).
  // Tests: tests/root/init_process_test.cpp, tests/rootless/
  // init_process_rootless_test.cpp, tests/root/ward_box_test.cpp (--fsize).
  Sandbox& init_process(bool on = true) {
    init_process_ = on;
    return *this;
  }
  bool init_process_enabled() const noexcept { return init_process_; }
  // Whether the sandbox makes a namespace of this kind of its own.
  bool unshares(NsKind k) const noexcept { return create_.contains(k); }
  static constexpr bool init_process_supported() noexcept { return detail::kHaveInitProgram; }

  // ---- terminal
  // Give the child a new pseudo-terminal as stdin/stdout/stderr and
  // controlling terminal (in a new session). The master is on the Child
  // (Child::terminal()); this is what a runtime's console socket carries.
  // `from` says whose devpts it comes from (see PtySource): a container's
  // own, by default, so that tty(1) inside names it.
  Sandbox& terminal(unsigned short rows = 24, unsigned short cols = 80,
                    PtySource from = PtySource::automatic) {
    terminal_ = winsize{rows, cols, 0, 0};
    pty_source_ = from;
    return *this;
  }
  // Bind the terminal's peer onto /dev/console of the rootfs (created as
  // an empty file if missing), as the OCI runtime spec asks of a container
  // with process.terminal. Default: on whenever the terminal comes from
  // the sandbox's devpts and there is a rootfs.
  Sandbox& console(bool on = true) {
    console_ = on;
    return *this;
  }

  // ---- confinement
  // Confine the child with a created Landlock ruleset (applied after every
  // other setup step but seccomp; its descriptor is duplicated). Landlock
  // needs no_new_privs, which is then set.
  Sandbox& landlock(const LandlockRuleset& ruleset) {
    if (ruleset.fd() < 0)
      detail::throw_invalid("landlock", "the ruleset was not created (LandlockRuleset::create())");
    landlock_fd_ = std::make_shared<UniqueFd>(
        detail::dup_cloexec(ruleset.fd(), Step::landlock, "ruleset descriptor"));
    landlock_flags_ = ruleset.restrict_flags();
    return *this;
  }
  // Set PR_SET_NO_NEW_PRIVS in the child (default: on when a seccomp filter
  // is set, since loading one needs it or CAP_SYS_ADMIN; seccomp(2)).
  Sandbox& no_new_privs(bool on) {
    nnp_ = on;
    return *this;
  }
  // A compiled classic-BPF seccomp program (e.g. SeccompFilter::compile()),
  // installed as the child's very last step before execve.
  Sandbox& seccomp(const SeccompFilter& filter, SeccompOptions opts = {}) {
    return seccomp(filter.compile(), opts);
  }
  Sandbox& seccomp(std::vector<sock_filter> program, SeccompOptions opts = {}) {
    seccomp_ = std::move(program);
    has_seccomp_ = true;
    seccomp_opts_ = opts;
    return *this;
  }

  // ---- namespaces
  Sandbox& unshare(NsSet kinds) {
    create_ = create_ | kinds;
    return *this;
  }
  Sandbox& unshare(NsKind kind) { return unshare(NsSet{kind}); }
  // Join an existing namespace (its descriptor is duplicated).
  Sandbox& join(const Namespace& ns) {
    joins_.push_back({ns.kind(), std::make_shared<const UniqueFd>(ns.dup())});
    return *this;
  }
  Sandbox& join(NsKind kind, const std::filesystem::path& path) {
    return join(Namespace::open(path, kind));
  }
  // A new user namespace with these maps (implies unshare(user)).
  Sandbox& user_namespace(UserNsOptions opts) {
    create_.add(NsKind::user);
    userns_ = std::move(opts);
    return *this;
  }
  Sandbox& uid_map(IdMap m) {
    userns_.uid_map = std::move(m);
    return *this;
  }
  Sandbox& gid_map(IdMap m) {
    userns_.gid_map = std::move(m);
    return *this;
  }
  Sandbox& setgroups(Setgroups s) {
    userns_.setgroups = s;
    return *this;
  }
  Sandbox& hostname(std::string h) {
    hostname_ = std::move(h);
    return *this;
  }
  Sandbox& domainname(std::string d) {
    domainname_ = std::move(d);
    return *this;
  }
  // Give the child a new session keyring (keyctl(2)
  // KEYCTL_JOIN_SESSION_KEYRING), joined before anything else can run in
  // it, instead of the caller's: otherwise every key the caller possesses
  // through its session keyring (an engine's credentials, a login's
  // kerberos tickets) is the program's to read (keyrings(7), "Possession").
  // Without a name (the default, and what the runtime uses) the keyring is
  // a new anonymous one every time. With one, an existing keyring of that
  // name that the child may search is joined instead: another process of
  // the same uid that knows or guesses the name can make one first and so
  // share it (runc's "_ses.<id>", which its source says other containers
  // can join; tests/attack/keyring_attack_test.cpp). Either way the new
  // keyring's permissions are its possessor's only (0x3f000000): no other
  // process of the uid may view, read, search or join it. A kernel without
  // keyrings (or a filter that answers keyctl with ENOSYS, as Docker's
  // profile does) leaves the caller's, as runc does; any other failure
  // fails the spawn.
  Sandbox& session_keyring(std::string name = {}) {
    session_keyring_ = std::move(name);
    return *this;
  }
  Sandbox& time_offsets(TimeOffsets t) {
    offsets_ = t;
    return *this;
  }
  // Bring `lo` up in a new network namespace (default: on).
  Sandbox& loopback(bool up) {
    loopback_ = up;
    return *this;
  }

  // ---------------------------------------------------------------- filesystem
  // All of these need a new mount namespace (unshare(NsKind::mount)); the
  // steps run in the child, in the order given, inside the rootfs when
  // there is one (else inside "/"), then masked and read-only paths, then
  // a read-only tmpfs or /dev is made read-only: it is mounted writable so
  // that later steps can make their mount points and nodes in it. A tmpfs
  // without a "mode" option over an existing directory takes its mode.

  // pivot_root into `dir` (a directory in the caller's view). The child
  // sees only that tree; the host's mount table is not changed.
  Sandbox& rootfs(std::string dir) {
    fs_.rootfs = std::move(dir);
    return *this;
  }
  // chroot(2) into `dir` (a directory in the caller's view), with no mount
  // namespace of its own and nothing mounted: the process stays in the
  // caller's (or a joined) mount namespace, whose mount table is not
  // touched. Weaker than rootfs(): a process holding CAP_SYS_CHROOT can
  // leave a chroot, and the namespace's other mounts stay reachable that
  // way. For OCI configs without a mount namespace (runtime-spec: an absent
  // namespace type is inherited; runc chroots then). Not with rootfs() or
  // any mount, masked or read-only path.
  // Sets the rootfs() and its mounts up in the mount namespace the sandbox
  // shares (the caller's, or one joined with join(NsKind::mount, ...))
  // instead of a new one of its own, and chroot(2)s into it: for OCI
  // configs that list mounts without a mount namespace of the container's
  // own (runc does the same). The rootfs alone (not what is mounted below
  // it there) is cloned onto itself and given rootfs_propagation() once
  // attached (private by default: nothing mounted below it reaches another
  // mount), and every mount goes below that clone; "/" and every other mount of the namespace are
  // left as they are (runc makes the host's "/" a recursive slave), and nothing pivots
  // (pivot_root(2) would move the root of every process of the namespace). The clone outlives the
  // sandbox's processes: a failed spawn detaches it, else Child::rootfs_mount() names it (the
  // Child's destructor detaches it unless detached). As weak as any shared mount namespace: a
  // process holding CAP_SYS_CHROOT can leave the chroot and reach the namespace's other mounts.
  // Needs rootfs(); not with a new user namespace (its root holds no capability over the shared
  // mount namespace). Test: tests/root/shared_mount_ns_test.cpp.
  Sandbox& shared_mount_namespace(bool on = true) {
    fs_.in_place = on;
    return *this;
  }
  Sandbox& chroot(std::string dir) {
    fs_.chroot = std::move(dir);
    return *this;
  }
  Sandbox& mount(MountSpec m) {
    fs_.ops.push_back([m = std::move(m)](detail::MountPlanner& pl) { pl.add(m, "mount"); });
    return *this;
  }
  // A standard /dev: a tmpfs with null zero full random urandom tty (mknod,
  // or bound from the host's nodes in a user namespace), fd stdin stdout
  // stderr core symlinks, devpts at /dev/pts with ptmx -> pts/ptmx, a tmpfs
  // at /dev/shm and mqueue at /dev/mqueue.
  Sandbox& standard_dev() {
    mount(MountSpec::tmpfs("/dev")
              .noexec(false)
              .nodev(false)
              .option("mode", "755")
              .option("size", "65536k")
              .atime(Atime::strictatime));
    fs_.ops.push_back([](detail::MountPlanner& pl) { pl.add_default_devices(); });
    mount(MountSpec::devpts());
    fs_.ops.push_back([](detail::MountPlanner& pl) { pl.add_symlink("/dev/ptmx", "pts/ptmx"); });
    mount(MountSpec::tmpfs("/dev/shm").noexec().option("mode", "1777").option("size", "65536k"));
    mount(MountSpec::mqueue());
    return *this;
  }
  // Only the default nodes and symlinks (for a /dev the caller mounts).
  Sandbox& default_devices() {
    fs_.ops.push_back([](detail::MountPlanner& pl) {
      pl.add_default_devices();
      pl.add_symlink("/dev/ptmx", "pts/ptmx");
    });
    return *this;
  }
  // A device node: type 'c' (character), 'b' (block), 'p' (fifo); mode is
  // the permission bits, uid:gid its owner as the child sees ids (OCI
  // linux.devices). In a new user namespace, where mknod(2) is refused,
  // the caller makes the node (as the config asks, in a detached tmpfs of
  // its own) and the child attaches it; where the caller may not mknod
  // either, `host_node` (a path of the caller's view, e.g. the same path)
  // is bound instead, if given. Test: userns_device_test.
  Sandbox& device(std::string path, char type, unsigned major, unsigned minor, unsigned mode = 0666,
                  std::uint32_t uid = 0, std::uint32_t gid = 0, std::string host_node = {}) {
    unsigned fmt = type == 'c' || type == 'u' ? S_IFCHR
                   : type == 'b'              ? S_IFBLK
                   : type == 'p'              ? S_IFIFO
                                              : 0;
    if (fmt == 0) detail::throw_invalid("device", path + ": type must be c, b or p");
    if ((mode & ~07777u) != 0)
      detail::throw_invalid("device", path + ": mode has non-permission bits");
    fs_.ops.push_back([=](detail::MountPlanner& pl) {
      pl.add_mknod(path, fmt | mode, makedev(major, minor), host_node,
                   uid != 0 || gid != 0 ? std::optional(std::pair(uid, gid)) : std::nullopt);
    });
    return *this;
  }
  // `mkdir -p path` inside the rootfs (mode 0755, each component created
  // beneath its contained parent, like a mount destination), after the
  // mounts asked for before it: a working directory that must exist.
  Sandbox& directory(std::string path) {
    fs_.ops.push_back([=](detail::MountPlanner& pl) { pl.add_directory(path); });
    return *this;
  }
  // A symlink `path` -> `link` inside the rootfs.
  Sandbox& symlink(std::string path, std::string link) {
    fs_.ops.push_back([=](detail::MountPlanner& pl) { pl.add_symlink(path, link); });
    return *this;
  }
  // Hide paths: a file gets the container's /dev/null bound over it (after
  // checking it is char 1:3), a directory an empty read-only tmpfs. Missing
  // paths are skipped. default_masked_paths() has runc's list.
  Sandbox& masked_paths(std::vector<std::string> paths) {
    for (auto& p : paths) fs_.masked.push_back(std::move(p));
    return *this;
  }
  // Bind paths onto themselves read-only, recursively. Missing paths are
  // skipped. default_readonly_paths() has runc's list.
  Sandbox& readonly_paths(std::vector<std::string> paths) {
    for (auto& p : paths) fs_.readonly.push_back(std::move(p));
    return *this;
  }
  // The root mount read-only (not its submounts: /proc, /dev, /tmp... keep
  // their own flags, as OCI's root.readonly).
  Sandbox& readonly_root(bool on = true) {
    fs_.readonly_root = on;
    return *this;
  }
  // The root and every mount under it read-only, recursively: the host's
  // submounts too (/home, /run/user/UID, a tmpfs under a bound directory),
  // which readonly_root() leaves as they are. Applied in the child's mount
  // namespace (the host's mounts do not change): the mounts below the root
  // before the mount steps asked for here, whose mounts keep their own
  // flags (a proc at /proc or a tmpfs at /tmp stays writable; a mount point
  // inside a read-only submount must exist already; a bind made afterwards
  // of a path in that tree is read-only unless it asks for "rw"), and the
  // root mount itself after them, as readonly_root() does. Without
  // rootfs() the view is the caller's root: "run this with the system's
  // toolchain". Needs mount_setattr(2) (Linux 5.12); an older kernel fails
  // the spawn naming it. Test: tests/root/recursive_readonly_test.cpp.
  Sandbox& recursive_readonly_root(bool on = true) {
    fs_.readonly_tree = on;
    return *this;
  }
  // Propagation of the rootfs mount tree (default: recursively private, so
  // no host mount shows up inside unless a mount asks to be a slave).
  Sandbox& rootfs_propagation(Propagation p, bool recursive = true) {
    fs_.propagation = p;
    fs_.prop_recursive = recursive;
    return *this;
  }
  Sandbox& pivot(Pivot how) {
    fs_.pivot = how;
    return *this;
  }

  // Create now, start later (a runtime's create/start): the child sets
  // everything up, checks that it has something to exec, and then waits
  // until one byte can be read from `fd` (a FIFO the caller opened O_RDWR,
  // so the read blocks until someone writes; or a pipe's read end).
  // spawn() returns once the child waits. Runs in fork mode: the caller may
  // exit before the child execs, so they cannot share memory.
  Sandbox& start_gate(int fd) {
    start_gate_ = std::make_shared<UniqueFd>(
        detail::dup_cloexec(fd, Step::validate, "start_gate descriptor"));
    return *this;
  }

  // Runs `fn` in the parent (the thread that calls spawn()) as soon as the
  // child exists, in its namespaces and cgroup, while the child sets itself
  // up; the child execs (with a start gate: waits for its start) only once
  // `fn` has returned. For what must be in place before the program runs
  // but need not hold up the child: a runtime attaching the cgroup's device
  // program, whose load costs as much as a third of the child's setup
  // (bench/README.md, "ward run against runc and crun"), runs it here, as
  // runc applies its cgroup settings while its init waits. If `fn` throws,
  // the child is killed and reaped and spawn() throws that exception. It
  // runs once per spawn; a Plan spawned from several threads at once runs
  // it concurrently.
  Sandbox& before_exec(std::function<void()> fn) {
    before_exec_ = std::move(fn);
    return *this;
  }

  // Runs `fn(pid)` in the parent once the child has made its namespaces
  // and carried out its mounts (its /dev, its terminal), right before it
  // makes the root read-only and pivots into it; the child waits until
  // `fn` returns. `pid` is the child that is setting up (in our pid
  // namespace), whose /proc/PID/ns/* a caller can join. This is the OCI
  // runtime spec's point for the createRuntime and createContainer hooks
  // ("after the runtime environment has been created ... before
  // pivot_root"), for which a runtime starts the hook in the child's
  // namespaces. Without a rootfs, it runs after the mounts all the same.
  // If `fn` throws, the child is killed and reaped and spawn() throws that
  // exception.
  Sandbox& before_pivot(std::function<void(pid_t)> fn) {
    before_pivot_ = std::move(fn);
    return *this;
  }
  // With shared_mount_namespace(): `fn` runs in the parent as soon as the
  // child has attached the rootfs's clone, before any mount below it, hook
  // or exec, with the clone named (Child::rootfs_mount() names it too, but
  // only once spawn() returns). A runtime whose containers outlive it
  // records it here, so that even its own death half-way leaves the clone
  // findable. If `fn` throws, the child is killed and reaped, the clone
  // detached, and spawn() throws that exception. Test: "runtime: a
  // container without a mount namespace of its own ..." ("the record names
  // the clone before the createRuntime hooks").
  Sandbox& on_rootfs_mount(std::function<void(const RootfsMount&)> fn) {
    on_rootfs_mount_ = std::move(fn);
    return *this;
  }

  // Validate everything and resolve it into a Plan. Throws ward::Error
  // (step validate, with the field and the reason) before any process
  // exists.
  Plan plan() const {
    auto pd = std::make_shared<detail::PlanData>();
    auto& c = pd->child;

    if (argv_.empty()) detail::throw_invalid("command", "argv is empty");
    for (auto& a : argv_) check_no_nul("command", a);
    for (auto& e : env_) {
      check_no_nul("env", e);
      if (e.find('=') == std::string::npos)
        detail::throw_invalid("env", "'" + e + "' is not KEY=value");
    }
    pd->argv_s = argv_;
    pd->env_s = env_;
    pd->candidates_s = exec_candidates();
    if (cwd_) {
      check_no_nul("cwd", *cwd_);
      if (cwd_->empty()) detail::throw_invalid("cwd", "empty path");
      pd->cwd = *cwd_;
    }

    // Namespaces.
    NsSet joined;
    for (auto& j : joins_) {
      if (joined.contains(j.kind))
        detail::throw_invalid("join", "two " + std::string(to_string(j.kind)) + " namespaces");
      joined.add(j.kind);
      // Joining and then creating nests for the hierarchical kinds (user,
      // pid); for the others the join would be pointless, so it is a mistake.
      if (create_.contains(j.kind) && j.kind != NsKind::user && j.kind != NsKind::pid)
        detail::throw_invalid("join", "the " + std::string(to_string(j.kind)) +
                                          " namespace is both joined and created");
    }
    bool new_user = create_.contains(NsKind::user);
    if (!new_user && (!userns_.uid_map.empty() || !userns_.gid_map.empty()))
      detail::throw_invalid("uid_map", "id maps need a new user namespace (unshare(NsKind::user))");
    if (hostname_ && !create_.contains(NsKind::uts) && !joined.contains(NsKind::uts))
      detail::throw_invalid("hostname", "needs a UTS namespace (unshare(NsKind::uts))");
    if (domainname_ && !create_.contains(NsKind::uts) && !joined.contains(NsKind::uts))
      detail::throw_invalid("domainname", "needs a UTS namespace (unshare(NsKind::uts))");
    if (hostname_) check_name("hostname", *hostname_);
    if (domainname_) check_name("domainname", *domainname_);
    if ((offsets_.monotonic_ns != 0 || offsets_.boottime_ns != 0) &&
        !create_.contains(NsKind::time))
      detail::throw_invalid("time_offsets", "needs a new time namespace (unshare(NsKind::time))");

    if (new_user) detail::plan_user_namespace(*pd, userns_);
    if (uid_) {
      c.set_ids = true;
      c.uid = *uid_;
      c.gid = *gid_;
      c.clear_groups = !pd->setgroups_deny && !keep_groups_;
      if (new_user && !resolved_uid_map().maps_inside(*uid_))
        detail::throw_invalid("user", "uid " + std::to_string(*uid_) + " is not in the uid_map");
    }

    if (joins_.empty()) {
      pd->clone_flags = create_.clone_flags() & ~detail::kCloneNewTime;
      c.ns_at_clone = true;
    } else {
      // Joins happen in the child before anything is created, so the
      // caller's privileges over the joined namespaces still apply; the new
      // ones are then made with unshare(2). user first, mount last (it
      // changes what paths like /proc mean).
      static constexpr NsKind order[] = {NsKind::user, NsKind::cgroup, NsKind::ipc,  NsKind::uts,
                                         NsKind::net,  NsKind::pid,    NsKind::time, NsKind::mount};
      for (NsKind k : order) {
        for (auto& j : joins_) {
          if (j.kind != k) continue;
          auto& fd = pd->owned_fds.emplace_back(
              detail::dup_cloexec(j.fd->get(), Step::open_namespace, std::string(to_string(k))));
          pd->joins.push_back({fd.get(), clone_flag(k)});
        }
      }
      c.ns_at_clone = false;
      c.unshare_flags = static_cast<int>(create_.clone_flags() & ~detail::kCloneNewTime);
      c.two_stage = create_.contains(NsKind::pid) || joined.contains(NsKind::pid);
    }
    if (create_.contains(NsKind::time)) {
      c.new_time = true;
      pd->time_offsets = offsets_.to_proc_text();
    }
    c.loopback = create_.contains(NsKind::net) && loopback_.value_or(true);

    // Spawn mode: a shared mm cannot enter a time namespace (setns(2):
    // EUSERS), whether joined or new (the child enters a new one itself).
    bool needs_fork = joined.contains(NsKind::time) || create_.contains(NsKind::time);
    if (mode_ == SpawnMode::vm && needs_fork)
      detail::throw_invalid("spawn_mode", "a time namespace needs SpawnMode::fork");
    pd->fork_mode = mode_ == SpawnMode::fork || needs_fork || !WARD_HAVE_RAW_SYSCALL;

    if (hostname_) pd->hostname = *hostname_;
    if (domainname_) pd->domainname = *domainname_;
    if (session_keyring_) {
      check_no_nul("session_keyring", *session_keyring_);
      // A key's description is at most 4095 bytes (keyctl(2), EINVAL).
      if (session_keyring_->size() > 4095)
        detail::throw_invalid("session_keyring", "the name is longer than 4095 bytes");
      pd->session_keyring = *session_keyring_;
      c.new_session_keyring = true;
    }
    c.pdeathsig = pdeathsig_;
    c.new_session = new_session_;
    if (pdeathsig_ < 0 || pdeathsig_ > 64)
      detail::throw_invalid("parent_death_signal", std::to_string(pdeathsig_) + " is no signal");

    // Descriptors: stdio first, then kept fds, sorted by child number.
    Plan plan;
    for (int i = 0; i < 3; ++i) {
      const Stdio& s = stdio_[i];
      switch (s.kind()) {
        case Stdio::Kind::inherit:
          // Slot i: spawn() copies the caller's descriptor i at its start,
          // before it makes any of its own (or notes it closed), so what the
          // child gets as stdio is never a descriptor ward made on a closed
          // 0-2 (tests/root/caller_stdio_test.cpp).
          pd->fds.push_back({-1, i, i, true});
          plan.inherit_[i] = true;
          break;
        case Stdio::Kind::null: {
          int fd = detail::off_stdio(::open("/dev/null", O_RDWR | O_CLOEXEC));
          if (fd < 0) detail::throw_errno(Step::fds, "/dev/null");
          pd->owned_fds.emplace_back(fd);
          pd->fds.push_back({fd, i, -1, false});
          break;
        }
        case Stdio::Kind::closed:
          // Slot i stays -1 at spawn: the child closes descriptor i.
          pd->fds.push_back({-1, i, i, true});
          break;
        case Stdio::Kind::pipe:
          pd->fds.push_back({-1, i, i, false});
          plan.pipes_[i] = true;
          break;
        case Stdio::Kind::fd:
          pd->fds.push_back({dup_owned(*pd, s.raw(), "stdio"), i, -1, false});
          break;
      }
    }
    for (auto& [from, to] : keep_) {
      if (to < 0) detail::throw_invalid("keep_fd", "negative descriptor");
      pd->fds.push_back({dup_owned(*pd, from, "keep_fd " + std::to_string(from)), to, -1, false});
    }
    std::sort(pd->fds.begin(), pd->fds.end(),
              [](const auto& a, const auto& b) { return a.dst < b.dst; });
    for (std::size_t i = 1; i < pd->fds.size(); ++i)
      if (pd->fds[i].dst == pd->fds[i - 1].dst)
        detail::throw_invalid("keep_fd", "descriptor " + std::to_string(pd->fds[i].dst) +
                                             " is given twice (stdio counts)");
    if (pd->fds.size() > 250) detail::throw_invalid("keep_fd", "more than 250 descriptors");

    if (cgroup_fd_) {
      pd->cgroup_fd = detail::dup_cloexec(*cgroup_fd_, Step::cgroup, "into_cgroup descriptor");
    }
    for (int fd : cgroup_v1_fds_)
      pd->cgroup_v1_fds.push_back(
          detail::dup_cloexec(fd, Step::cgroup, "cgroup v1 directory descriptor"));
    if (oom_fd_)
      pd->oom_fd = detail::dup_cloexec(*oom_fd_, Step::cgroup, "memory cgroup descriptor");

    plan_filesystem(*pd, joined);
    plan_process(*pd, new_user, joined);
    if (landlock_fd_) {
      c.landlock_fd = pd->owned_fds
                          .emplace_back(detail::dup_cloexec(landlock_fd_->get(), Step::landlock,
                                                            "ruleset descriptor"))
                          .get();
      c.landlock_flags = landlock_flags_;
      if (nnp_ == false)
        detail::throw_invalid("no_new_privs",
                              "Landlock needs no_new_privs (landlock_restrict_self(2))");
    }
    if (console_ && *console_ && !terminal_)
      detail::throw_invalid("console", "needs a terminal (Sandbox::terminal)");
    if (terminal_) {
      c.terminal = true;
      c.new_session = true;
      bool joins_mount = false;
      for (auto& j : joins_) joins_mount = joins_mount || j.kind == NsKind::mount;
      c.terminal_in_child =
          pty_source_ == PtySource::sandbox ||
          (pty_source_ == PtySource::automatic && (!fs_.rootfs.empty() || joins_mount));
      c.term_rows = terminal_->ws_row;
      c.term_cols = terminal_->ws_col;
      c.console = c.terminal_in_child && !fs_.rootfs.empty() && console_.value_or(true);
      if (console_ && *console_ && !c.console)
        detail::throw_invalid("console",
                              "needs a rootfs and the terminal from the sandbox's devpts");
      plan.terminal_ = *terminal_;
      for (auto& m : pd->fds)
        if (m.dst <= 2) m = {-1, m.dst, m.dst, false};
      for (bool& p : plan.pipes_) p = false;  // the terminal replaces stdio
      for (bool& p : plan.inherit_) p = false;
    }
    if (start_gate_) {
      c.start_gate_fd = pd->owned_fds
                            .emplace_back(detail::dup_cloexec(start_gate_->get(), Step::validate,
                                                              "start_gate descriptor"))
                            .get();
      if (mode_ == SpawnMode::vm)
        detail::throw_invalid("start_gate", "needs SpawnMode::fork (or automatic)");
      pd->fork_mode = true;
    }
    c.no_new_privs = nnp_.value_or(has_seccomp_ || landlock_fd_ != nullptr);
    pd->before_exec = before_exec_;
    pd->before_pivot = before_pivot_;
    if (on_rootfs_mount_ && fs_.in_place) {
      const detail::PlanData* d = pd.get();
      pd->on_rootfs_mount = [d, fn = on_rootfs_mount_](std::uint64_t id, bool unique) {
        fn(d->rootfs_mount(id, unique));
      };
    }
    if (sealed_exec_) plan_sealed_exec(*pd);
    if (oom_ && !pd->fork_mode) {
      // The kernel gives an oom_score_adj write to every process that shares
      // the writer's mm unless the writer is a vfork child (fs/proc/base.c,
      // __set_oom_adj): from our CLONE_VM child it would set the caller's.
      // So the process that writes it and execs is a CLONE_VFORK second
      // stage (one more clone, ~30 us, only with this option).
      // Test: root "caller: no builder option changes ..." oom_score_adj.
      if (c.ns_at_clone && (pd->clone_flags & CLONE_NEWPID) != 0) {
        // Stage one would be the new pid namespace's init, which may not
        // clone with CLONE_PARENT (clone(2): EINVAL) and whose exit would
        // end the namespace: make the namespaces with unshare(2) instead,
        // so that the second stage is the init (the path joins take).
        c.ns_at_clone = false;
        c.unshare_flags = static_cast<int>(pd->clone_flags);
        pd->clone_flags = 0;
      }
      c.two_stage = true;
      c.vfork_stage2 = true;
    }
    if (init_process_) plan_init_process(*pd, c);
    pd->finalize();
    if (has_seccomp_) plan_seccomp(*pd);
    // The init must not run under the program's filter (a compute-only
    // preset would deny its wait4, kill, rt_sigtimedwait): only a filter
    // that the program's process installs itself, last, will do.
    if (init_process_ && (pd->child.seccomp_early || pd->child.seccomp_before_gate))
      detail::throw_invalid("init_process",
                            "not with a seccomp filter installed before the credentials "
                            "(before_credentials) or before a start gate (USER_NOTIF rules with "
                            "start_gate): the init would run under it");
    plan.data_ = std::move(pd);
    return plan;
  }

  Child spawn() const { return plan().spawn(); }

 private:
  // Shared, as landlock_fd_ and start_gate_ are, so a copy of the builder is
  // the compiler's member-wise copy, with no hand-written list to forget a
  // member in (test "sandbox: a copy plans exactly as the original for every
  // option"). Never written to; plan() dups it for the child.
  struct Join {
    NsKind kind;
    std::shared_ptr<const UniqueFd> fd;
  };

  struct FsConfig {
    std::string rootfs;
    std::string chroot;
    bool in_place = false;  // shared_mount_namespace()
    std::vector<std::function<void(detail::MountPlanner&)>> ops;
    std::vector<std::string> masked, readonly;
    bool readonly_root = false;
    bool readonly_tree = false;
    Propagation propagation = Propagation::private_;
    bool prop_recursive = true;
    Pivot pivot = Pivot::pivot_root;
  };

  void plan_filesystem(detail::PlanData& pd, NsSet joined) const {
    bool any = !fs_.rootfs.empty() || !fs_.ops.empty() || !fs_.masked.empty() ||
               !fs_.readonly.empty() || fs_.readonly_root || fs_.readonly_tree;
    if (!fs_.chroot.empty()) {
      if (any)
        detail::throw_invalid("chroot",
                              "mounts, masked or read-only paths and rootfs need a mount "
                              "namespace of the sandbox's own (rootfs())");
      check_no_nul("chroot", fs_.chroot);
      std::error_code ec;
      auto abs = std::filesystem::absolute(fs_.chroot, ec);
      struct stat st;
      if (ec || ::stat(abs.c_str(), &st) != 0)
        throw Error(Step::rootfs, ec ? ec.value() : errno, fs_.chroot, "chroot");
      if (!S_ISDIR(st.st_mode)) throw Error(Step::rootfs, ENOTDIR, fs_.chroot, "chroot");
      pd.chroot_dir = abs.lexically_normal().string();
      return;
    }
    if (fs_.in_place) {
      if (create_.contains(NsKind::mount))
        detail::throw_invalid("shared_mount_namespace",
                              "the sandbox has a new mount namespace of its own "
                              "(unshare(NsKind::mount))");
      if (fs_.rootfs.empty())
        detail::throw_invalid("shared_mount_namespace",
                              "needs a rootfs(): ward mounts only below a clone of it there");
      if (create_.contains(NsKind::user))
        detail::throw_invalid("shared_mount_namespace",
                              "a new user namespace's root holds no capability over the "
                              "shared mount namespace (mount_namespaces(7))");
      // Its clone would cover the namespace's own "/" for every process
      // that looks it up from outside, and nothing could tell it apart.
      struct stat r {
      }, top{};
      if (::stat(fs_.rootfs.c_str(), &r) == 0 && ::stat("/", &top) == 0 && r.st_dev == top.st_dev &&
          r.st_ino == top.st_ino)
        detail::throw_invalid("rootfs",
                              "is \"/\" itself: in a shared mount namespace ward "
                              "mounts only below a clone of a rootfs of its own");
    }
    if (!any) return;
    const char* field = !fs_.rootfs.empty() ? "rootfs" : "mount";
    if (!create_.contains(NsKind::mount) && !fs_.in_place)
      detail::throw_invalid(field, joined.contains(NsKind::mount)
                                       ? "mounts go into a new mount namespace, not a joined one"
                                       : "needs a new mount namespace (unshare(NsKind::mount))");
    if (fs_.readonly_root && fs_.rootfs.empty())
      detail::throw_invalid("readonly_root", "needs a rootfs");
    auto& c = pd.child;
    if (!fs_.rootfs.empty()) {
      check_no_nul("rootfs", fs_.rootfs);
      std::error_code ec;
      auto abs = std::filesystem::absolute(fs_.rootfs, ec);
      struct stat st;
      if (ec || ::stat(abs.c_str(), &st) != 0)
        throw Error(Step::rootfs, ec ? ec.value() : errno, fs_.rootfs, "rootfs");
      if (!S_ISDIR(st.st_mode)) throw Error(Step::rootfs, ENOTDIR, fs_.rootfs, "rootfs");
      pd.rootfs = abs.lexically_normal().string();
    }
    detail::MountPlanner pl;
    pl.defer_readonly = true;
    for (auto& op : fs_.ops) op(pl);
    for (auto& m : fs_.masked) pl.add_path_step(detail::MountStep::op_mask, m, "masked_paths");
    for (auto& r : fs_.readonly)
      pl.add_path_step(detail::MountStep::op_readonly, r, "readonly_paths");
    for (auto& s : pl.late) pl.steps.push_back(s);
    pd.mount_steps = std::move(pl.steps);
    pd.mount_strings = std::move(pl.strings);
    pd.mount_arrays = std::move(pl.arrays);
    pd.mount_fds = std::move(pl.fds);
    c.mount_setup = true;
    c.mount_in_place = fs_.in_place;
    if (fs_.in_place && joined.contains(NsKind::mount)) {
      for (const auto& j : pd.joins) {
        struct stat st {};
        if (j.nstype == CLONE_NEWNS && ::fstat(j.fd, &st) == 0) {
          pd.mount_ns_dev = st.st_dev;
          pd.mount_ns_ino = st.st_ino;
        }
      }
    }
    c.mount_api = detail::mount_api();
    c.readonly_root = fs_.readonly_root;
    c.readonly_tree = fs_.readonly_tree;
    if (fs_.readonly_tree && c.mount_api != detail::MountApi::modern)
      throw Error(Step::mount, ENOSYS, "recursive_readonly_root",
                  "needs mount_setattr(2) with AT_RECURSIVE (Linux 5.12), which this kernel "
                  "lacks; readonly_root() covers the root mount alone");
    c.pivot = fs_.pivot == Pivot::pivot_root ? 0 : fs_.pivot == Pivot::move_and_chroot ? 1 : 2;
    c.rootfs_propagation = detail::propagation_flag(fs_.propagation);
    c.rootfs_prop_recursive = fs_.prop_recursive;
  }

  Sandbox& stdio(int i, Stdio s) {
    stdio_[i] = s;
    return *this;
  }

  // Credentials and attributes: validated here with the field named.
  void plan_process(detail::PlanData& pd, bool new_user, NsSet joined) const {
    auto& c = pd.child;
    const bool root_inside = !uid_ || *uid_ == 0;
    if (caps_) {
      caps_->validate();
      if (!root_inside && !caps_->effective.subset_of(caps_->ambient))
        detail::throw_invalid("capabilities",
                              "uid " + std::to_string(*uid_) +
                                  " is not root: it keeps capabilities across execve only "
                                  "through the ambient set (Capabilities::ambient_set); would "
                                  "lose " +
                                  (caps_->effective - caps_->ambient).to_string());
      c.set_caps = true;
      c.cap_bounding = caps_->bounding.mask();
      c.cap_permitted = caps_->permitted.mask();
      c.cap_effective = caps_->effective.mask();
      c.cap_inheritable = caps_->inheritable.mask();
      c.cap_ambient = caps_->ambient.mask();
      c.cap_last = cap_last_cap();
    }
    if (securebits_) {
      c.set_securebits = true;
      c.securebits = *securebits_;
    }
    if (set_groups_ && keep_groups_)
      detail::throw_invalid("groups", "both set (groups()) and kept (keep_groups())");
    if (set_groups_) {
      if (new_user && pd.setgroups_deny)
        detail::throw_invalid("groups",
                              "the user namespace has setgroups \"deny\" (an unprivileged "
                              "parent must deny it), so supplementary groups cannot be set");
      pd.groups = groups_;
      c.set_groups = true;
    }
    constexpr int kCapSysResource = 24;
    const bool can_raise = detail::have_capability(kCapSysResource);
    for (const auto& l : rlimits_) {
      detail::check_rlimit(l, can_raise);
      const char* name = "RLIMIT";
      for (auto& [n, r] : kRlimitNames)
        if (r == l.resource) name = n.data();
      pd.rlimits.push_back({l.resource, l.soft, l.hard, name});
    }
    c.umask = umask_;
    if (oom_) {
      if (*oom_ < -1000 || *oom_ > 1000)
        detail::throw_invalid("oom_score_adj", std::to_string(*oom_) + " is outside -1000..1000");
      pd.oom_score_adj = std::to_string(*oom_);
    }
    if (nice_) {
      if (*nice_ < -20 || *nice_ > 19)
        detail::throw_invalid("nice", std::to_string(*nice_) + " is outside -20..19");
      c.set_nice = true;
      c.nice = *nice_;
    }
    if (sched_) {
      c.set_sched = true;
      c.sched_policy = sched_->first;
      c.sched_priority = sched_->second;
    }
    if (sched_attr_) {
      const SchedAttr& a = *sched_attr_;
      c.set_sched_attr = true;
      c.sched_attr = {sizeof(detail::KernelSchedAttr),
                      a.policy,
                      a.flags,
                      a.nice,
                      a.priority,
                      a.runtime,
                      a.deadline,
                      a.period};
    }
    if (ioprio_) {
      c.set_ioprio = true;
      c.ioprio = *ioprio_;
    }
    if (set_cpus_) {
      if (cpus_.empty()) detail::throw_invalid("cpu_affinity", "empty CPU list");
      for (unsigned cpu : cpus_) {
        if (cpu >= 8192) detail::throw_invalid("cpu_affinity", "CPU " + std::to_string(cpu));
        if (pd.cpu_mask.size() <= cpu / 64) pd.cpu_mask.resize(cpu / 64 + 1);
        pd.cpu_mask[cpu / 64] |= 1ull << (cpu % 64);
      }
    }
    if (mempolicy_) {
      const MemoryPolicy& m = *mempolicy_;
      if (m.mode < 0 || m.mode > 6)
        detail::throw_invalid("memory_policy", "mode " + std::to_string(m.mode));
      constexpr unsigned kFlags = (1u << 13) | (1u << 14) | (1u << 15);
      if ((m.flags & ~kFlags) != 0)
        detail::throw_invalid("memory_policy", "flags " + std::to_string(m.flags));
      // MAX_NUMNODES is at most 1 << CONFIG_NODES_SHIFT = 1024 on every arch
      // (mm/Kconfig NODES_SHIFT range); a higher node is EINVAL anyway.
      pd.node_mask.assign(1, 0);
      for (unsigned n : m.nodes) {
        if (n >= 1024) detail::throw_invalid("memory_policy", "node " + std::to_string(n));
        if (pd.node_mask.size() <= n / 64) pd.node_mask.resize(n / 64 + 1);
        pd.node_mask[n / 64] |= 1ull << (n % 64);
      }
      c.set_mempolicy = true;
      c.mempolicy_mode = m.mode | static_cast<int>(m.flags);
    }
    if (personality_) {
      c.set_personality = true;
      c.personality = *personality_;
    }
    for (const auto& [key, value] : sysctls_)
      pd.sysctl_s.emplace_back(detail::sysctl_path(key, create_, joined), value);
    if (nondumpable_ == Nondumpable::own_mm) {
      c.nondumpable_setup = true;
      pd.fork_mode = true;
    }
    pd.nondumpable_caller = nondumpable_ == Nondumpable::caller;
  }

  // Sandbox::init_process: ward's init in a sealed memfd.
  void plan_init_process(detail::PlanData& pd, const detail::ChildPlan& c) const {
    if (!detail::kHaveInitProgram)
      detail::throw_invalid("init_process", "no init program for this architecture");
    if (!create_.contains(NsKind::pid))
      detail::throw_invalid(
          "init_process",
          "needs a new pid namespace (unshare(NsKind::pid)): the init is its pid 1");
    if (landlock_fd_)
      detail::throw_invalid("init_process", "not with a Landlock ruleset (the memfd must execute)");
    if (c.hold) detail::throw_invalid("init_process", "not for a held namespace");
    pd.init_program = sealed_program("ward-init", detail::kInitProgram, "init_process");
  }

  // A static program in an executable memfd, sealed: nobody, through any
  // descriptor or /proc/PID/exe, can change it again (memfd_create(2),
  // "File sealing"). `option` names the builder option in errors.
  template <std::size_t N>
  static UniqueFd sealed_program(const char* name, const unsigned char (&bytes)[N],
                                 const char* option) {
    constexpr unsigned kMfdExec = 0x10U;  // MFD_EXEC (Linux 6.3): vm.memfd_noexec may demand it
    int fd = static_cast<int>(
        ::syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING | kMfdExec));
    if (fd < 0 && errno == EINVAL)
      fd = static_cast<int>(::syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
    fd = detail::off_stdio(fd);
    // The option is the error's object: what the caller asked for, and what
    // ward::supervise recognises to run without its init.
    if (fd < 0)
      detail::throw_errno(Step::validate, option,
                          std::string("memfd_create of ") + name + " (see vm.memfd_noexec)");
    UniqueFd out(fd);
    if (::write(fd, bytes, N) != static_cast<ssize_t>(N))
      detail::throw_errno(Step::validate, option, std::string("memfd: write ") + name);
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
      detail::throw_errno(Step::validate, option, std::string("memfd: F_ADD_SEALS of ") + name);
    return out;
  }

  // Sandbox::sealed_exec: the trampoline in a sealed memfd, and its argv.
  void plan_sealed_exec(detail::PlanData& pd) const {
    if (!detail::kHaveExecTrampoline)
      detail::throw_invalid("sealed_exec", "no exec trampoline for this architecture");
    if (landlock_fd_)
      detail::throw_invalid("sealed_exec", "not with a Landlock ruleset (the memfd must execute)");
    pd.trampoline = sealed_program("ward-exec-trampoline", detail::kExecTrampoline, "sealed_exec");
    int hi = 3;
    for (auto& m : pd.fds) hi = std::max(hi, m.dst + 1);
    pd.child.trampoline_report_fd = hi;
    auto& a = pd.trampoline_argv_s;
    a = {"", std::to_string(hi)};
    a.insert(a.end(), pd.candidates_s.begin(), pd.candidates_s.end());
    a.emplace_back();
    a.insert(a.end(), pd.argv_s.begin(), pd.argv_s.end());
  }

#if WARD_NATIVE_ARCH_KNOWN
  // Sandbox::sealed_exec under a seccomp filter. The trampoline is never
  // dropped for a direct exec: that exec would run from a process whose
  // /proc/self/exe is the caller's binary, and a "#!/proc/self/exe" program
  // would then run that binary in the sandbox, where it can be held and
  // written (CVE-2019-5736; tests/attack/exe_attack_test.cpp, "under a
  // seccomp profile installed early"). So every call of the trampoline's
  // way that runs under the filter must pass it, or the plan is refused:
  //  - the trampoline's own prctl(PR_SET_DUMPABLE, 0), fcntl(F_SETFD) of
  //    the report pipe and execve of the program, always (the filter is on
  //    before the trampoline is exec'd);
  //  - with the filter installed early (SeccompOptions::before_credentials)
  //    also the child's fcntl, dup3 and close that put the report pipe
  //    where the trampoline expects it, its write there, and its execveat
  //    of the trampoline;
  //  - before a start gate (USER_NOTIF rules and a runtime's create) the
  //    execveat too; there the agent at the listener may also be asked
  //    (USER_NOTIF), as it is asked about the program's execve.
  // Otherwise the execveat is what the exec gate lets through, once.
  void check_trampoline_under(const std::vector<sock_filter>& prog, std::uint32_t arch,
                              const detail::PlanData& pd, bool before_gate) const {
    const bool notif = detail::returns_user_notif(prog);
    auto passes = [&](long nr, std::initializer_list<std::uint64_t> args) {
      seccomp_data d{};
      d.nr = static_cast<int>(nr);
      d.arch = arch;
      std::size_t i = 0;
      for (std::uint64_t a : args) d.args[i++] = a;
      const std::uint32_t a = detail::bpf_run(prog, d) & SECCOMP_RET_ACTION_FULL;
      return a == SECCOMP_RET_ALLOW || a == SECCOMP_RET_LOG ||
             (notif && a == SECCOMP_RET_USER_NOTIF);
    };
    auto need = [&](bool ok, const std::string& call) {
      if (ok) return;
      detail::throw_invalid(
          "sealed_exec",
          "the seccomp filter refuses " + call +
              ", which the exec trampoline needs; allow it, or turn sealed_exec off knowing "
              "that a \"#!/proc/self/exe\" program then runs the caller's own binary in the "
              "sandbox (CVE-2019-5736)");
    };
    const auto fd = static_cast<std::uint64_t>(pd.child.trampoline_report_fd);
    const auto tramp = static_cast<std::uint64_t>(pd.trampoline.get());
    const auto argv = reinterpret_cast<std::uint64_t>(pd.trampoline_argv.data());
    const auto envp = reinterpret_cast<std::uint64_t>(pd.envp.data());
    need(passes(SYS_prctl, {PR_SET_DUMPABLE, 0}), "prctl(PR_SET_DUMPABLE)");
    need(passes(SYS_fcntl, {fd, F_SETFD, FD_CLOEXEC}), "fcntl(F_SETFD)");
    for (const char* cand : pd.candidates) {
      if (cand == nullptr) break;
      need(passes(SYS_execve, {reinterpret_cast<std::uint64_t>(cand), 0, envp}),
           "execve of " + std::string(cand));
    }
    if (!seccomp_opts_.before_credentials && !before_gate) return;
    if (seccomp_opts_.before_credentials) {
      need(passes(SYS_fcntl, {fd, F_DUPFD_CLOEXEC, fd + 1}) && passes(SYS_fcntl, {fd, F_SETFD, 0}),
           "fcntl(F_DUPFD_CLOEXEC, F_SETFD)");
      need(passes(SYS_dup3, {0, fd, 0}) && passes(SYS_close, {0}), "dup3 and close");
      // its "exec begins" on the report pipe (child_announce_exec)
      need(passes(SYS_write, {fd, 0, 0}), "write");
    }
    need(passes(SYS_execveat,
                {tramp, reinterpret_cast<std::uint64_t>(""), argv, envp, AT_EMPTY_PATH}),
         "execveat of the trampoline");
  }
#endif

  // Validate the program, decide the listener and the exec gate. Runs after
  // finalize(): the gate test evaluates the filter on the very pointers the
  // child will pass to execve (the child shares or copies our memory).
  void plan_seccomp(detail::PlanData& pd) const {
    const auto& prog = seccomp_;
    detail::bpf_validate(prog);  // Error(Step::seccomp) naming the instruction
    detail::check_seccomp_flags(seccomp_opts_.flags);
    auto action = [](std::uint32_t ret) { return ret & SECCOMP_RET_ACTION_FULL; };
    const bool notif = detail::returns_user_notif(prog);
    bool gate = false;
    if (seccomp_opts_.before_credentials && notif)
      detail::throw_invalid("seccomp",
                            "USER_NOTIF rules need the filter installed last "
                            "(SeccompOptions::before_credentials is set)");
    // With USER_NOTIF rules and a start gate (a runtime's `create`) the
    // filter goes on before the gate instead of after it, so that spawn
    // returns holding the listener while the child waits for its start:
    // the caller can hand it to whoever answers the notifications before
    // `start` (runc loads the filter before its exec fifo for the same
    // reason, and sends the listener to the seccomp agent at create). The
    // filter then also governs the child's last steps: its "ready" write,
    // the read of the gate, rt_sigprocmask, close, and the execveat of the
    // trampoline and the execve of the program as the profile says (no
    // exec gate: nobody of ours holds the listener after spawn returns). A notified write would
    // wait for an answer that only comes after we read that write, so OCI
    // configs may not notify write (oci/config.hpp, as runc).
    const bool before_gate = notif && start_gate_ && !seccomp_opts_.before_credentials;
#if WARD_NATIVE_ARCH_KNOWN
    const auto arch = detail::audit_arch(detail::native_arch());
    if (pd.trampoline) check_trampoline_under(prog, arch, pd, before_gate);
    const bool tramp = static_cast<bool>(pd.trampoline);
    // The exec the gate is about: execveat(trampoline, "", argv, envp) or
    // execve(candidate, argv, envp); argv and envp are args 2, 3 or 1, 2.
    const long gate_nr = tramp ? SYS_execveat : SYS_execve;
    const unsigned argi = tramp ? 2 : 1;
    const auto argv_ptr =
        reinterpret_cast<std::uint64_t>(tramp ? pd.trampoline_argv.data() : pd.argv.data());
    const auto envp_ptr = reinterpret_cast<std::uint64_t>(pd.envp.data());
    if (tramp && seccomp_opts_.allow_initial_exec && !seccomp_opts_.before_credentials) {
      seccomp_data d{};
      d.nr = SYS_execveat;
      d.arch = arch;
      d.args[0] = static_cast<std::uint64_t>(pd.trampoline.get());
      d.args[1] = reinterpret_cast<std::uint64_t>("");
      d.args[2] = argv_ptr;
      d.args[3] = envp_ptr;
      d.args[4] = AT_EMPTY_PATH;
      auto a = action(detail::bpf_run(prog, d));
      if (a != SECCOMP_RET_ALLOW && a != SECCOMP_RET_LOG) gate = true;
    }
    // What the filter decides for the child's execve of `cand` (this
    // plan's own argv and envp arrays).
    auto execve_action = [&](const char* cand) {
      seccomp_data d{};
      d.nr = SYS_execve;
      d.arch = arch;
      d.args[0] = reinterpret_cast<std::uint64_t>(cand);
      d.args[1] = argv_ptr;
      d.args[2] = envp_ptr;
      return action(detail::bpf_run(prog, d));
    };
    if (!tramp && seccomp_opts_.allow_initial_exec && !seccomp_opts_.before_credentials) {
      for (const char* cand : pd.candidates) {
        if (cand == nullptr) break;
        auto a = execve_action(cand);
        if (a != SECCOMP_RET_ALLOW && a != SECCOMP_RET_LOG) gate = true;
      }
    }
    // With USER_NOTIF rules the gate is also how the child waits for us to
    // take the listener: it blocks in its execve until we answer, so the
    // listener (close-on-exec) cannot vanish before we hold it.
    if (before_gate) {
      // The program's execve runs under the filter as written: an agent
      // may be asked about it (USER_NOTIF), but a filter that refuses it
      // would only fail the container at `start`, where nobody can report
      // why. Say so now.
      for (const char* cand : pd.candidates) {
        if (cand == nullptr) break;
        auto a = execve_action(cand);
        if (a != SECCOMP_RET_ALLOW && a != SECCOMP_RET_LOG && a != SECCOMP_RET_USER_NOTIF)
          detail::throw_invalid("seccomp",
                                "the filter refuses the execve of " + std::string(cand) +
                                    "; with USER_NOTIF rules and a start gate it is installed "
                                    "before the gate and decides that execve as written");
      }
      gate = false;
    } else if (notif) {
      gate = true;
    }
    if (gate) {
      // Prepended: the native execve whose argv and envp are *this plan's*
      // arrays goes to USER_NOTIF; every other call goes on to the profile.
      // The pointer match only selects which call reaches the gate; the
      // gate itself lets one call through, the first, which is ours: a
      // program that forges the same pointers later gets ENOSYS (or your
      // supervisor's answer), never more than the profile allows.
      pd.seccomp_prog = detail::exec_gate_program(prog, arch, gate_nr, argi, argv_ptr, envp_ptr);
    } else {
      pd.seccomp_prog = prog;
    }
#else
    if (notif)
      throw Error(Step::seccomp, ENOTSUP, "filter", "USER_NOTIF rules need a known native arch");
    pd.seccomp_prog = prog;
#endif
    if ((notif || gate) && !(detail::seccomp_flags_supported() & SECCOMP_FILTER_FLAG_NEW_LISTENER))
      throw Error(Step::seccomp, EINVAL, "seccomp filter flag",
                  "USER_NOTIF needs NEW_LISTENER (Linux 5.0), which this kernel lacks");
    pd.seccomp_exec_gate = gate;
    pd.seccomp_keep_listener = notif;
    pd.child.seccomp_listener = notif || gate;
    pd.child.seccomp_early = seccomp_opts_.before_credentials;
    pd.child.seccomp_before_gate = before_gate;
    pd.child.seccomp_flags =
        seccomp_opts_.flags |
        ((notif || gate) ? std::uint32_t{SECCOMP_FILTER_FLAG_NEW_LISTENER} : 0u);
    pd.finalize();
  }

  static void check_no_nul(const char* field, const std::string& s) {
    if (s.find('\0') != std::string::npos) detail::throw_invalid(field, "contains a NUL byte");
  }
  static void check_name(const char* field, const std::string& s) {
    check_no_nul(field, s);
    if (s.size() > 64) detail::throw_invalid(field, "longer than 64 bytes (HOST_NAME_MAX)");
  }
  static int dup_owned(detail::PlanData& pd, int fd, const std::string& what) {
    return pd.owned_fds.emplace_back(detail::dup_cloexec(fd, Step::fds, what)).get();
  }
  IdMap resolved_uid_map() const {
    return userns_.uid_map.empty() ? IdMap::single(0, ::geteuid()) : userns_.uid_map;
  }

  // execvp's search, decided here and tried in order by the child: a name
  // with a slash is used as it is; otherwise each directory of the child's
  // PATH (or a default one) is a candidate. The child's own view of the
  // filesystem decides which exists, so this also works after a pivot_root.
  std::vector<std::string> exec_candidates() const {
    const std::string& name = exe_ ? *exe_ : argv_[0];
    check_no_nul("executable", name);
    if (name.empty()) detail::throw_invalid("executable", "empty program name");
    if (name.find('/') != std::string::npos) return {name};
    std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (auto& e : env_)
      if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= path.size()) {
      std::size_t end = path.find(':', pos);
      if (end == std::string::npos) end = path.size();
      std::string dir = path.substr(pos, end - pos);
      if (dir.empty()) dir = ".";
      out.push_back(dir + "/" + name);
      pos = end + 1;
    }
    return out;
  }

  std::vector<std::string> argv_;
  std::optional<std::string> exe_;
  std::vector<std::string> env_;
  std::optional<std::string> cwd_;
  Stdio stdio_[3] = {Stdio::inherit(), Stdio::inherit(), Stdio::inherit()};
  std::vector<std::pair<int, int>> keep_;
  bool new_session_ = false;
  int pdeathsig_ = 0;
  std::optional<std::uint32_t> uid_, gid_;
  SpawnMode mode_ = SpawnMode::automatic;
  std::optional<int> cgroup_fd_;
  std::vector<int> cgroup_v1_fds_;  // borrowed, duplicated by plan()
  std::optional<int> oom_fd_;
  NsSet create_;
  std::vector<Join> joins_;
  UserNsOptions userns_;
  std::optional<std::string> hostname_, domainname_, session_keyring_;
  TimeOffsets offsets_;
  std::optional<bool> loopback_;
  std::optional<bool> nnp_;
  std::optional<winsize> terminal_;
  PtySource pty_source_ = PtySource::automatic;
  std::optional<bool> console_;
  std::shared_ptr<UniqueFd> landlock_fd_;  // shared: copies of the builder share it
  std::uint32_t landlock_flags_ = 0;
  std::vector<std::uint32_t> groups_;
  bool set_groups_ = false;
  bool keep_groups_ = false;
  std::optional<Capabilities> caps_;
  std::optional<unsigned> securebits_;
  std::vector<Rlimit> rlimits_;
  int umask_ = -1;
  std::optional<int> oom_, nice_, ioprio_;
  std::optional<SchedAttr> sched_attr_;
  std::optional<std::pair<int, int>> sched_;
  std::vector<unsigned> cpus_;
  bool set_cpus_ = false;
  std::optional<unsigned long> personality_;
  std::optional<MemoryPolicy> mempolicy_;
  std::vector<std::pair<std::string, std::string>> sysctls_;
  Nondumpable nondumpable_ = Nondumpable::off;
  bool sealed_exec_ = false;
  bool init_process_ = false;
  // (A vector and a flag, not std::optional<vector>: g++ 12 warns about the
  // latter's move with a false maybe-uninitialized.)
  std::vector<sock_filter> seccomp_;
  bool has_seccomp_ = false;
  SeccompOptions seccomp_opts_;
  FsConfig fs_;
  std::shared_ptr<UniqueFd> start_gate_;  // shared: copies of the builder share it
  std::function<void()> before_exec_;
  std::function<void(pid_t)> before_pivot_;
  std::function<void(const RootfsMount&)> on_rootfs_mount_;
};

}  // namespace ward
