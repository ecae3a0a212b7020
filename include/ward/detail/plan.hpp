// SPDX-License-Identifier: Apache-2.0
// The immutable spawn plan: everything the child needs, resolved up front.
//
// The builder (ward/sandbox.hpp) owns the strings and descriptors in
// PlanData; ChildPlan is a plain view of them (pointers and counts only) so
// the child touches nothing but PODs: no container member functions, which
// might be out-of-line, instrumented or allocating in some builds.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ward/detail/child/mount.hpp>
#include <ward/fd.hpp>
#include <ward/rootfs_mount.hpp>

namespace ward::detail {

// Child fd `dst` becomes a copy of `src` (a descriptor of the parent, still
// open at spawn time), or of the per-spawn stdio pipe end `slot` (0..2) when
// slot >= 0. An optional mapping whose source is closed leaves dst closed.
struct FdMapping {
  int src = -1;
  int dst = -1;
  int slot = -1;
  bool optional = false;
};

struct NsJoin {
  int fd;
  int nstype;  // CLONE_NEW* of the namespace, for setns(2)'s check
};

struct RlimitRaw {
  int resource;
  std::uint64_t soft, hard;
  const char* name;  // "RLIMIT_NOFILE", for the error report
};

struct SysctlRaw {
  const char* path;  // "/proc/sys/net/ipv4/ip_forward"
  const char* value;
  unsigned long len;
};

// struct sched_attr of sched_setattr(2), SCHED_ATTR_SIZE_VER0 (48 bytes).
struct KernelSchedAttr {
  std::uint32_t size;
  std::uint32_t sched_policy;
  std::uint64_t sched_flags;
  std::int32_t sched_nice;
  std::uint32_t sched_priority;
  std::uint64_t sched_runtime, sched_deadline, sched_period;
};
static_assert(sizeof(KernelSchedAttr) == 48, "SCHED_ATTR_SIZE_VER0");

struct ChildPlan {
  const char* const* argv = nullptr;
  const char* const* envp = nullptr;
  const char* const* exec_candidates = nullptr;  // absolute paths to try in order
  int n_candidates = 0;
  const char* cwd = nullptr;

  bool ns_at_clone = true;  // namespaces came with clone3, nothing to join
  const NsJoin* joins = nullptr;
  int n_joins = 0;
  // cgroup v1 directories (O_PATH) the child writes itself into first
  // thing (Sandbox::cgroup with a CgroupV1 or Cgroups).
  const int* cgroup_v1 = nullptr;
  int n_cgroup_v1 = 0;
  int unshare_flags = 0;   // created after the joins
  bool two_stage = false;  // a pid-namespace change needs a second clone
  // The second stage is a CLONE_VFORK child, so that its oom_score_adj is
  // its own (Sandbox::plan; see child_entry). Implies two_stage.
  bool vfork_stage2 = false;
  bool need_parent = false;  // wait for the parent to write id maps
  // Become the new user namespace's root (setresgid/setresuid 0) as soon
  // as its maps are written, before any setup: the ids the child inherits
  // may be unmapped there (a map that leaves out host uid 0), and an
  // unmapped fsuid cannot create anything (EOVERFLOW). runc's nsexec does
  // the same. Set when the maps have 0 inside.
  bool ns_root_early = false;

  bool set_ids = false;
  std::uint32_t uid = 0, gid = 0;
  bool clear_groups = false;

  const char* hostname = nullptr;
  unsigned long hostname_len = 0;
  const char* domainname = nullptr;
  unsigned long domainname_len = 0;
  bool new_session_keyring = false;       // Sandbox::session_keyring
  const char* session_keyring = nullptr;  // its name; nullptr: an anonymous one
  bool loopback = false;

  bool new_time = false;
  const char* time_offsets = nullptr;
  unsigned long time_offsets_len = 0;

  int pdeathsig = 0;
  bool new_session = false;

  const FdMapping* fds = nullptr;
  int n_fds = 0;
  int max_dst = -1;

  bool hold = false;  // Namespace::create: stop before exec and wait

  // Process attributes (see child_attributes).
  bool nondumpable_setup = false;  // fork mode: the child makes its own mm non-dumpable
  const RlimitRaw* rlimits = nullptr;
  int n_rlimits = 0;
  const SysctlRaw* sysctls = nullptr;
  int n_sysctls = 0;
  int umask = -1;
  const char* oom_score_adj = nullptr;  // decimal text for /proc/self/oom_score_adj
  bool set_nice = false;
  int nice = 0;
  bool set_sched = false;
  int sched_policy = 0;
  int sched_priority = 0;
  bool set_sched_attr = false;  // sched_setattr(2) with sched_attr (SCHED_DEADLINE, flags)
  KernelSchedAttr sched_attr{};
  bool set_ioprio = false;
  int ioprio = 0;
  const std::uint64_t* cpu_mask = nullptr;  // sched_setaffinity(2) bitmap
  unsigned long cpu_mask_bytes = 0;
  bool set_personality = false;
  unsigned long personality = 0;
  bool set_mempolicy = false;
  int mempolicy_mode = 0;                    // MPOL_* | MPOL_F_*
  const std::uint64_t* node_mask = nullptr;  // set_mempolicy(2) nodemask
  unsigned long node_maxnode = 0;

  // Credentials (see child_credentials).
  bool set_groups = false;
  const std::uint32_t* groups = nullptr;
  int n_groups = 0;
  bool set_caps = false;
  std::uint64_t cap_bounding = 0, cap_permitted = 0, cap_effective = 0, cap_inheritable = 0,
                cap_ambient = 0;
  int cap_last = 40;
  bool set_securebits = false;
  unsigned securebits = 0;

  // A pseudo-terminal peer is on 0..2: make it the controlling terminal.
  bool terminal = false;
  // The pseudo-terminal comes from the sandbox's own devpts (/dev/pts/ptmx
  // in its mount namespace), opened by the child, which sends the master to
  // the parent; see child_terminal. With `console`, the peer is also bound
  // onto /dev/console of the rootfs.
  bool terminal_in_child = false;
  bool console = false;
  unsigned short term_rows = 0, term_cols = 0;
  // landlock_restrict_self(2) with this ruleset (-1: none).
  int landlock_fd = -1;
  std::uint32_t landlock_flags = 0;

  // Filesystem view (see child_rootfs): steps run inside `rootfs` (a path
  // in the child's view; null: in "/" itself, no pivot).
  const MountStep* mounts = nullptr;
  int n_mounts = 0;
  bool mount_setup = false;  // make "/" a recursive slave, run the steps
  const char* rootfs = nullptr;
  std::uint64_t rootfs_propagation = 0;
  bool rootfs_prop_recursive = true;
  bool readonly_root = false;
  bool readonly_tree = false;  // Sandbox::recursive_readonly_root
  int pivot = 0;  // 0 pivot_root, 1 MS_MOVE + chroot, 2 pivot_root else MS_MOVE + chroot
  MountApi mount_api = MountApi::modern;
  // Sandbox::shared_mount_namespace: the namespace is not the sandbox's
  // own: "/" is left alone and the root changes by chroot(2).
  bool mount_in_place = false;
  // Sandbox::chroot: chroot(2) into this directory (no mount namespace of
  // its own, no mounts); null: none.
  const char* chroot_dir = nullptr;

  // Wait before exec until a byte can be read from this descriptor (a
  // runtime's create/start split); -1: no gate.
  int start_gate_fd = -1;

  // Installed last, right before execve (see child_final).
  bool no_new_privs = false;
  const struct sock_fprog* seccomp = nullptr;
  std::uint32_t seccomp_flags = 0;
  bool seccomp_listener = false;     // the parent takes the listener with pidfd_getfd
  bool seccomp_early = false;        // installed before the credentials (see child_final)
  bool seccomp_before_gate = false;  // installed before the start gate (Sandbox::plan_seccomp)

  // Sandbox::sealed_exec: execveat(2) this sealed memfd, the exec trampoline
  // (detail/exec_trampoline.hpp), with trampoline_argv ("" <report fd>
  // <candidates> "" <argv>); the report pipe goes on trampoline_report_fd.
  int trampoline_fd = -1;
  const char* const* trampoline_argv = nullptr;
  int trampoline_report_fd = -1;

  // Sandbox::init_process: this process (pid 1 of the new pid namespace)
  // clones the program's process and then execveat(2)s this sealed memfd,
  // ward's init (detail/exec_trampoline.hpp), with "" <status fd> <pid>.
  int init_fd = -1;
};

// Owner of everything a ChildPlan points into. Immutable once built; a
// Plan may be spawned many times, from several threads at once.
struct PlanData {
  std::vector<std::string> argv_s, env_s, candidates_s;
  std::vector<const char*> argv, envp, candidates;
  std::string cwd;
  std::vector<UniqueFd> owned_fds;  // namespace fds to join, /dev/null, ...
  std::vector<NsJoin> joins;
  // Sandbox::on_rootfs_mount (called with the clone's mount id and whether
  // it is a unique one), or empty.
  std::function<void(std::uint64_t, bool)> on_rootfs_mount;
  // Sandbox::shared_mount_namespace in a joined mount namespace: its
  // identity (fstat of the joined descriptor), for RootfsMount.
  std::uint64_t mount_ns_dev = 0, mount_ns_ino = 0;
  RootfsMount rootfs_mount(std::uint64_t id, bool unique) const {
    RootfsMount m{rootfs, id, unique};
    m.ns_dev = mount_ns_dev;
    m.ns_ino = mount_ns_ino;
    return m;
  }
  std::vector<FdMapping> fds;
  std::string hostname, domainname, time_offsets, session_keyring;
  std::string uid_map, gid_map;                // text for /proc/PID/{uid,gid}_map
  std::string uid_map_helper, gid_map_helper;  // UserNsOptions: newuidmap, newgidmap
  std::vector<RlimitRaw> rlimits;
  std::vector<std::pair<std::string, std::string>> sysctl_s;  // path, value
  std::vector<SysctlRaw> sysctls;
  std::string oom_score_adj;
  std::vector<std::uint64_t> cpu_mask;
  std::vector<std::uint64_t> node_mask;
  std::vector<std::uint32_t> groups;
  bool setgroups_deny = false;
  bool new_user = false;
  bool fork_mode = false;
  // Sandbox::nondumpable_setup(Nondumpable::caller): spawn makes the caller
  // non-dumpable before clone3 (the child shares or copies its mm).
  bool nondumpable_caller = false;
  UniqueFd trampoline;  // the sealed memfd of Sandbox::sealed_exec
  std::vector<std::string> trampoline_argv_s;
  std::vector<const char*> trampoline_argv;
  UniqueFd init_program;                // the sealed memfd of Sandbox::init_process
  std::uint64_t clone_flags = 0;        // CLONE_NEW* passed to clone3
  UniqueFd cgroup_fd;                   // CLONE_INTO_CGROUP target, if any
  std::vector<UniqueFd> cgroup_v1_fds;  // v1 directories the child joins
  std::vector<int> cgroup_v1_raw;       // their numbers, for ChildPlan::cgroup_v1
  UniqueFd oom_fd;                      // the memory cgroup whose OOM kills the Child reports
  std::vector<sock_filter> seccomp_prog;
  struct sock_fprog seccomp_fprog {};
  bool seccomp_exec_gate = false;      // answer the child's own execve notification
  bool seccomp_keep_listener = false;  // hand the listener to the caller
  // The planned mount steps and the strings they point into (a deque: its
  // elements never move).
  std::vector<MountStep> mount_steps;
  std::deque<std::string> mount_strings;
  std::deque<std::vector<const char*>> mount_arrays;
  std::vector<std::shared_ptr<UniqueFd>> mount_fds;
  std::string rootfs;
  std::string chroot_dir;
  // Sandbox::before_exec: run in the parent while the child sets up; the
  // child waits for it on a pipe of its own before child_fds.
  std::function<void()> before_exec;
  // Sandbox::before_pivot: run in the parent when the child says its mounts
  // are done; the child waits for it on a pipe of its own.
  std::function<void(pid_t)> before_pivot;
  ChildPlan child;

  // Point the POD view at the owned storage. Call after every mutation.
  void finalize() {
    auto cstrs = [](const std::vector<std::string>& in, std::vector<const char*>& out) {
      out.clear();
      for (auto& s : in) out.push_back(s.c_str());
      out.push_back(nullptr);
    };
    cstrs(argv_s, argv);
    cstrs(env_s, envp);
    cstrs(candidates_s, candidates);
    cstrs(trampoline_argv_s, trampoline_argv);
    child.trampoline_fd = trampoline ? trampoline.get() : -1;
    child.trampoline_argv = trampoline ? trampoline_argv.data() : nullptr;
    child.init_fd = init_program ? init_program.get() : -1;
    child.argv = argv.data();
    child.envp = envp.data();
    child.exec_candidates = candidates.data();
    child.n_candidates = static_cast<int>(candidates_s.size());
    child.cwd = cwd.empty() ? nullptr : cwd.c_str();
    child.joins = joins.empty() ? nullptr : joins.data();
    child.n_joins = static_cast<int>(joins.size());
    cgroup_v1_raw.clear();
    for (auto& f : cgroup_v1_fds) cgroup_v1_raw.push_back(f.get());
    child.cgroup_v1 = cgroup_v1_raw.empty() ? nullptr : cgroup_v1_raw.data();
    child.n_cgroup_v1 = static_cast<int>(cgroup_v1_raw.size());
    child.hostname = hostname.empty() ? nullptr : hostname.c_str();
    child.hostname_len = hostname.size();
    child.domainname = domainname.empty() ? nullptr : domainname.c_str();
    child.domainname_len = domainname.size();
    child.session_keyring = session_keyring.empty() ? nullptr : session_keyring.c_str();
    // (child.new_session_keyring is set by the builder)
    child.time_offsets = time_offsets.c_str();
    child.time_offsets_len = time_offsets.size();
    child.fds = fds.empty() ? nullptr : fds.data();
    child.n_fds = static_cast<int>(fds.size());
    if (!seccomp_prog.empty()) {
      seccomp_fprog.len = static_cast<unsigned short>(seccomp_prog.size());
      seccomp_fprog.filter = seccomp_prog.data();
      child.seccomp = &seccomp_fprog;
    }
    sysctls.clear();
    for (auto& [path, value] : sysctl_s)
      sysctls.push_back({path.c_str(), value.c_str(), value.size()});
    child.rlimits = rlimits.empty() ? nullptr : rlimits.data();
    child.n_rlimits = static_cast<int>(rlimits.size());
    child.sysctls = sysctls.empty() ? nullptr : sysctls.data();
    child.n_sysctls = static_cast<int>(sysctls.size());
    child.oom_score_adj = oom_score_adj.empty() ? nullptr : oom_score_adj.c_str();
    child.cpu_mask = cpu_mask.empty() ? nullptr : cpu_mask.data();
    child.cpu_mask_bytes = cpu_mask.size() * sizeof(std::uint64_t);
    child.node_mask = node_mask.empty() ? nullptr : node_mask.data();
    // set_mempolicy(2): the kernel reads maxnode - 1 bits (get_nodes() starts
    // with --maxnode), so one more than the mask holds.
    child.node_maxnode = node_mask.size() * 64 + 1;
    child.groups = groups.empty() ? nullptr : groups.data();
    child.n_groups = static_cast<int>(groups.size());
    child.mounts = mount_steps.empty() ? nullptr : mount_steps.data();
    child.n_mounts = static_cast<int>(mount_steps.size());
    child.rootfs = rootfs.empty() ? nullptr : rootfs.c_str();
    child.chroot_dir = chroot_dir.empty() ? nullptr : chroot_dir.c_str();
    child.max_dst = -1;
    for (auto& m : fds)
      if (m.dst > child.max_dst) child.max_dst = m.dst;
  }
};

}  // namespace ward::detail
