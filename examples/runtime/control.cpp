// SPDX-License-Identifier: Apache-2.0
// Commands that change a container: kill, delete, pause/resume, update.
#include <regex.h>

#include "runtime.hpp"

namespace wardrt {

// ------------------------------------------------------------------ signals

int parse_signal(std::string s) {
  if (s.empty()) return SIGTERM;
  // A number is taken as it is (runc: strconv.Atoi, then kill(2)); 0 sends
  // nothing and only checks that the process exists (kill(2): "If sig is 0,
  // then no signal is sent, but existence and permission checks are still
  // performed"), which engines use to probe a container.
  if (std::int64_t n = 0;
      parse_int64(s, n) && s.find_first_not_of("0123456789") == std::string::npos) {
    if (n > 64) fail("invalid signal: " + s);
    return static_cast<int>(n);
  }
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (s.rfind("SIG", 0) == 0) s = s.substr(3);
  static const std::map<std::string, int> names = {
      {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
      {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
      {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
      {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
      {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"PWR", SIGPWR},       {"SYS", SIGSYS}};
  auto it = names.find(s);
  if (it == names.end()) fail("unknown signal \"" + s + "\"");
  return it->second;
}

// Signals the container's init through a pidfd, after checking that the
// pid still names the process we started.
void signal_init(const Container& c, int sig) {
  if (!c.alive()) fail("container not running");
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, c.state.pid, 0));
  if (pfd < 0) fail("no such process");
  if (!c.alive()) {
    ::close(pfd);
    fail("container not running");
  }
  int r = static_cast<int>(::syscall(SYS_pidfd_send_signal, pfd, sig, nullptr, 0));
  int e = errno;
  ::close(pfd);
  if (r != 0) fail(e == ESRCH ? "no such process" : std::string("kill: ") + std::strerror(e));
}

// SIGKILL, then wait until the init has exited (its pidfd turns readable
// when it is a zombie or gone, pidfd_open(2)): a failing start returns only
// once `state` says stopped. SIGKILL is asynchronous, and a `state` right
// after a failed start read "running" (CI: root.process "a failing
// poststart hook fails start and kills the container"). A process stuck in
// an uninterruptible sleep (a hung FUSE server) is waited for 10 s, then
// left with a warning rather than hanging the engine.
void kill_init_and_wait(const Container& c) {
  if (!c.alive()) return;
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, c.state.pid, 0));
  if (pfd < 0) return;  // gone already
  if (!c.alive()) {
    ::close(pfd);
    return;
  }
  if (::syscall(SYS_pidfd_send_signal, pfd, SIGKILL, nullptr, 0) == 0) {
    pollfd p{pfd, POLLIN, 0};
    int r;
    while ((r = ::poll(&p, 1, 10000)) < 0 && errno == EINTR) {
    }
    if (r == 0)
      log_line("warning", "container " + c.id + ": init " + std::to_string(c.state.pid) +
                              " still alive 10 s after SIGKILL");
  }
  ::close(pfd);
}

int cmd_kill(const std::string& id, const std::string& sig_s, bool all) {
  Container c = load(id);
  int sig = parse_signal(sig_s);
  // SIGKILL to a container without a pid namespace of its own (none in
  // the config, or one joined by path) kills every process of it, as
  // runc >= 1.2 does (libcontainer/container_linux.go signal(): with its
  // own namespace, the kernel kills the rest when init dies,
  // pid_namespaces(7); without one, nothing would, and they would be left
  // behind).
  if (!all && sig == SIGKILL) {
    try {
      auto cfg = saved_config(c);
      const auto* pid_ns =
          cfg.linux_ ? cfg.linux_->find_namespace(ward::oci::NamespaceType::pid) : nullptr;
      if (pid_ns == nullptr || !pid_ns->path.empty()) all = true;
    } catch (const Fatal&) {
      // no readable config: signal the init alone, as before
    } catch (const Error&) {
    }
  }
  if (all && sig != 0) {
    auto cg = c.open_cgroup();
    if (!cg && c.cgroup_owned && !c.cgroup.empty() && !c.alive()) {
      // Its cgroup went with it (--systemd-cgroup: systemd removes an
      // emptied scope's cgroup): nothing is left to signal, which runc's
      // kill --all does not call an error either.
      return 0;
    }
    if (!cg) {
      // No cgroup (rootless without a delegated one): the container's pid
      // namespace is what holds its processes. SIGKILL to its init ends
      // them all (pid_namespaces(7)); another signal goes to every process
      // in that namespace.
      if (sig == SIGKILL || !c.alive()) {
        signal_init(c, sig);
        return 0;
      }
      auto pids = pid_namespace_pids(c);
      if (pids.empty()) {
        log_line("warning", "kill --all: container " + c.id +
                                " has neither a cgroup nor a pid namespace of its own: only its "
                                "init is signalled");
        signal_init(c, sig);
        return 0;
      }
      for (pid_t p : pids) ::kill(p, sig);
      return 0;
    }
    // Cgroups::kill's wait for "populated 0" takes a cgroup removed
    // meanwhile for an empty one: --systemd-cgroup's scope is stopped by
    // systemd, its cgroup removed, as soon as it empties, and kill --all
    // failed with "cgroup.events: ENOENT" when systemd was quicker.
    if (sig == SIGKILL) {
      cg->kill();
      return 0;
    }
    for (pid_t p : cg->procs()) ::kill(p, sig);
    return 0;
  }
  auto st = c.status();
  if (st == ward::oci::Status::stopped) fail("container not running");
  signal_init(c, sig);
  return 0;
}

namespace {

// A cgroup the record names but ward never owned (create died between
// naming it and making it or finding it empty): only an empty directory
// create may have just made is removed, with rmdir(2), which the kernel
// refuses for a cgroup with processes or children. Never a kill: the path
// came from the config (attack "state: a hostile cgroupsPath ...").
void remove_unowned_cgroup(const Container& c) {
  if (c.cgroup.empty() || c.cgroup_owned || c.cgroup.find("..") != std::string::npos) return;
  for (const auto& mnt : cgroup_mounts()) {
    std::string path = mnt + c.cgroup_path();
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
      log_line("warning", "rmdir " + path + ": " + std::strerror(errno));
  }
}

// A create killed after its child attached the rootfs's clone in the
// runtime's mount namespace (a config without one of its own) and before
// the record named it: the clone is the root of the container's processes,
// read from each member of its cgroup (ours) before they are killed, and
// taken only if it is the mount root.path leads to now. Test: "runtime: a
// container without a mount namespace of its own ..." ("a create killed
// before it recorded the clone").
ward::RootfsMount unrecorded_clone(const Container& c) {
  if (c.rootfs_mount || !c.recorded || c.state.bundle.empty()) return {};
  auto cg = c.open_cgroup();
  if (!cg) return {};
  try {
    auto cfg = saved_config(c);
    bool mount_root = false;
    auto top = ward::RootfsMount::at(config_rootfs(c.state.bundle, cfg), &mount_root);
    if (!mount_root) return {};
    for (pid_t pid : cg->procs()) {
      bool at_root = false;
      try {
        auto theirs = ward::RootfsMount::at("/proc/" + std::to_string(pid) + "/root", &at_root);
        if (theirs.id == top.id && theirs.unique == top.unique && at_root) return top;
      } catch (const Error&) {
        // gone meanwhile
      }
    }
  } catch (const std::exception&) {
  }
  return {};
}

// Detaches the recorded clone, checked first against what the record
// cannot forge: the path is the config's root.path, the mount is not the
// runtime's own "/", and in a joined namespace the config's path still
// leads to the namespace recorded (else that namespace, and its mounts
// with it, may be gone; nothing is done in another). Test: "runtime: a
// container without a mount namespace of its own ..." ("a record that
// names another mount").
void detach_clone(const Container& c) {
  const ward::RootfsMount& m = c.rootfs_mount;
  const std::string what = "delete " + c.id + ": the rootfs mount " + std::to_string(m.id);
  ward::oci::Config cfg;
  try {
    cfg = saved_config(c);
  } catch (const std::exception& e) {
    log_line("warning", what + ": left as it is: " + e.what());
    return;
  }
  if (m.path != config_rootfs(c.state.bundle, cfg)) {
    log_line("warning", what + " at " + m.path + " is not at root.path (" +
                            config_rootfs(c.state.bundle, cfg) + "): left as it is");
    return;
  }
  ward::UniqueFd ns;
  if (m.ns_ino != 0) {
    std::string path;
    if (cfg.linux_)
      for (const auto& n : cfg.linux_->namespaces)
        if (n.type == ward::oci::NamespaceType::mount) path = n.path;
    ns.reset(path.empty() ? -1 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!ns || ::fstat(ns.get(), &st) != 0 || st.st_dev != m.ns_dev || st.st_ino != m.ns_ino) {
      log_line("info", what + ": the mount namespace it is in (" + path +
                           ") is no longer there: its mounts went with it");
      return;
    }
  } else {
    try {
      if (ward::RootfsMount::at("/").id == m.id) {
        log_line("warning", what + " is the runtime's own \"/\": left as it is");
        return;
      }
    } catch (const Error&) {
    }
  }
  try {
    if (!m.detach(ns ? ns.get() : -1))
      log_line("warning", what + " is no longer the one at " + m.path +
                              " (unmounted, or covered): left as it is");
  } catch (const Error& e) {
    fail("delete " + c.id + ": " + e.what());
  }
}

}  // namespace

// Whatever a create, run, exec or delete left (a runtime killed at any
// point), `delete --force` removes: the processes (the cgroup's, and the
// recorded init), the cgroup and the state directory, all reached below
// the --root descriptor (tests/attack/state_attack_test.cpp "crash",
// "delete of a planted symlink").
int cmd_delete(const std::string& id, bool force) {
  check_id(id);
  ward::UniqueFd probe = open_container_dir(id);
  if (!probe) {
    int e = errno;
    if (e == ELOOP || e == ENOTDIR) {
      // Not a directory (a symlink or file planted in --root): removed
      // itself, never what it points to.
      if (::unlinkat(root_fd(), id.c_str(), 0) != 0 && errno != ENOENT)
        fail("remove " + container_dir(id) + ": " + std::strerror(errno));
      e = ENOENT;
    }
    if (e != ENOENT) fail("open " + container_dir(id) + ": " + std::strerror(e));
    if (force) return 0;
    fail("container does not exist");
  }
  probe.reset();
  Container c = load(id, true);
  DirLock lock(c);
  if (!c.recorded && !force) {
    // runc does the same: a directory without its record goes, and the
    // container "does not exist".
    remove_state_dir(id);
    fail("container does not exist");
  }
  auto st = c.status();
  if (st != ward::oci::Status::stopped && st != ward::oci::Status::created && !force)
    fail("cannot delete container " + id +
         " that is not stopped: " + std::string(ward::oci::to_string(st)));
  if (!c.rootfs_mount) c.rootfs_mount = unrecorded_clone(c);
  ward::UniqueFd init;
  if (c.alive()) {
    // Checked alive (the recorded start time) after the pidfd is open: a
    // pidfd of a process that took the init's number is dropped.
    init.reset(static_cast<int>(::syscall(SYS_pidfd_open, c.state.pid, 0)));
    if (init && c.alive())
      ::syscall(SYS_pidfd_send_signal, init.get(), SIGKILL, nullptr, 0);
    else
      init.reset();
  }
  // The cgroup: killed, emptied and removed (Cgroups::destroy), which
  // waits for the init too, and moves a member a v1 freezer holds out of
  // its frozen cgroup so that it dies (CgroupV1::kill; test "runtime
  // cgroups: delete --force kills a process another v1 freezer cgroup holds
  // frozen"). If that fails the state stays, so the container stays listed
  // and a later delete can finish.
  if (auto cg = c.adopt_cgroup()) {
    try {
      cg->destroy();
    } catch (const Error& e) {
      fail("delete " + id + ": " + e.what());
    }
  }
  // The init's end, where no cgroup of ours held it.
  if (init) {
    pollfd p{init.get(), POLLIN, 0};
    ::poll(&p, 1, 10000);
  }
  remove_unowned_cgroup(c);
  remove_default_parent(c);
  // Mounts made in the runtime's (or a joined) mount namespace, for a
  // config without one of its own: the clone they are below, exactly that
  // mount (detach_clone). If the unmount fails the state stays, for a
  // later delete.
  if (c.rootfs_mount) detach_clone(c);
  // --systemd-cgroup: the scope goes with the container (runc: StopUnit
  // and ResetFailedUnit). If systemd cannot be asked, the state stays.
  if (!c.systemd_unit.empty()) stop_systemd_unit(c.systemd_unit);
  ward::oci::State final_state = c.state;
  final_state.status = ward::oci::Status::stopped;
  final_state.pid = 0;
  if (c.recorded) {
    try {
      auto cfg = saved_config(c);
      run_hooks(cfg.hooks.poststop, final_state, "poststop");
    } catch (const Fatal& f) {
      log_line("warning", f.msg);
    } catch (const std::exception& e) {
      log_line("warning", e.what());
    }
  }
  remove_state_dir(id);
  return 0;
}

int cmd_delete_regex(const std::string& pattern, bool force) {
  regex_t re;
  if (::regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB) != 0)
    fail("invalid regular expression " + pattern);
  std::vector<std::string> ids = container_entries();
  std::erase_if(
      ids, [&re](const std::string& n) { return ::regexec(&re, n.c_str(), 0, nullptr, 0) != 0; });
  ::regfree(&re);
  std::sort(ids.begin(), ids.end());
  // As crun: each match is deleted; one that fails is reported and the
  // others still go.
  int status = 0;
  for (auto& id : ids) {
    try {
      check_id(id);
      cmd_delete(id, force);
    } catch (const Fatal& f) {
      err_out("ward: delete " + id + ": " + f.msg + "\n");
      status = 1;
    }
  }
  return status;
}

int cmd_pause(const std::string& id, bool pause) {
  Container c = load(id);
  DirLock lock(c);
  if (!c.alive()) fail("container not running");
  auto cg = c.open_cgroup();
  if (!cg)
    fail(std::string(pause ? "pause" : "resume") + ": container " + c.id +
         " has no cgroup of its own (" + no_cgroup_reason(c) + "), and the freezer needs one");
  if (pause)
    cg->freeze();
  else
    cg->thaw();
  return 0;
}

namespace {

// docker/go-units RAMInBytes, which runc's update uses for memory sizes:
// a decimal number, optionally with a fraction, then an optional k, m, g,
// t or p (binary multiples, any case), an optional "i" and "b".
std::optional<std::int64_t> ram_in_bytes(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return std::nullopt;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t f = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == f) return std::nullopt;
  }
  double v = std::strtod(s.substr(0, i).c_str(), nullptr);
  std::string unit = s.substr(i);
  if (!unit.empty() && unit[0] == ' ') unit.erase(0, 1);
  for (auto& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  double mult = 1;
  if (!unit.empty() && std::string("kmgtp").find(unit[0]) != std::string::npos) {
    mult = std::pow(1024.0, static_cast<double>(std::string("kmgtp").find(unit[0]) + 1));
    unit.erase(0, 1);
  }
  if (unit == "ib") unit = "b";
  if (unit == "i") unit.clear();
  if (!unit.empty() && unit != "b") return std::nullopt;
  double bytes = v * mult;
  if (bytes >= 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(bytes);
}

}  // namespace

// runc's update: either a resources document (-r FILE or "-": the flags are
// then not read, as runc's), or the flags, each mapped on the same field of
// linux.resources and written through apply_resources. Flags for what this
// host or ward cannot do are refused by name, never dropped.
int cmd_update(const std::string& id, const Args& a) {
  Container c = load(id);
  DirLock lock(c);
  ward::oci::Resources r;
  std::string res = a.get("resources");
  ward::oci::ResourcesOptions ro;
  std::vector<std::string> warnings;
  ro.warnings = &warnings;
  if (!res.empty()) {
    std::string text;
    if (res == "-") {
      if (!read_fd(0, text)) fail("read stdin: " + std::string(std::strerror(errno)));
    } else {
      text = read_text(res);
    }
    r = ward::oci::parse_resources(text, res == "-" ? "stdin" : res);
    for (const char* f :
         {"blkio-weight", "cpu-period", "cpu-quota", "cpu-burst", "cpu-share", "cpu-rt-period",
          "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "kernel-memory", "kernel-memory-tcp",
          "memory", "cpu-idle", "memory-reservation", "memory-swap", "pids-limit"})
      if (a.has(f))
        err_out(std::string("ward: warning: --") + f + " is ignored with --resources " + res +
                " (the document decides, as with runc)\n");
  } else {
    // Flags only: everything they name must be honoured, so nothing is a
    // mere warning (a cgroup v1-only value is an error naming its field).
    ro.strict = true;
    auto uns = [&](const char* k) -> std::optional<std::uint64_t> {
      if (!a.has(k)) return std::nullopt;
      const std::string v = a.get(k);
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size())
        fail(std::string("invalid value for ") + k + ": \"" + v + "\" is not an unsigned number");
      return n;
    };
    auto sig = [&](const char* k) -> std::optional<std::int64_t> {
      if (!a.has(k)) return std::nullopt;
      const std::string v = a.get(k);
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size())
        fail(std::string("invalid value for ") + k + ": \"" + v + "\" is not a number");
      return n;
    };
    auto mem = [&](const char* k) -> std::optional<std::int64_t> {
      if (!a.has(k)) return std::nullopt;
      const std::string v = a.get(k);
      if (v == "-1") return -1;
      auto n = ram_in_bytes(v);
      if (!n) fail(std::string("invalid value for ") + k + ": \"" + v + "\" is not a size");
      return n;
    };
    auto cpu = [&]() -> ward::oci::Cpu& {
      if (!r.cpu) r.cpu.emplace();
      return *r.cpu;
    };
    auto memory = [&]() -> ward::oci::Memory& {
      if (!r.memory) r.memory.emplace();
      return *r.memory;
    };
    if (std::int64_t w = a.integer("blkio-weight"); w != 0) {
      if (w < 10 || w > 1000) fail("--blkio-weight " + std::to_string(w) + ": out of 10..1000");
      r.block_io.emplace();
      r.block_io->weight = static_cast<std::uint16_t>(w);
    }
    if (a.has("cpuset-cpus")) cpu().cpus = a.get("cpuset-cpus");
    if (a.has("cpuset-mems")) cpu().mems = a.get("cpuset-mems");
    if (auto v = sig("cpu-idle")) cpu().idle = *v;
    if (auto v = uns("cpu-burst")) cpu().burst = *v;
    if (auto v = uns("cpu-period")) cpu().period = *v;
    if (auto v = uns("cpu-share")) cpu().shares = *v;
    if (auto v = sig("cpu-quota")) cpu().quota = *v;
    // Real-time CPU bandwidth is cgroup v1's (cpu.rt_*,
    // scheduler/sched-rt-group.rst); cgroup v2 has no such file.
    const bool cpu_v1 = ward::cgroup_backend("cpu") == ward::CgroupBackend::v1;
    for (const char* k : {"cpu-rt-period", "cpu-rt-runtime"})
      if (a.has(k) && !cpu_v1)
        fail(std::string("--") + k +
             ": real-time CPU bandwidth is cgroup v1 only; this host's cpu controller is on "
             "cgroup v2");
    if (auto v = uns("cpu-rt-period")) cpu().realtime_period = *v;
    if (auto v = sig("cpu-rt-runtime")) cpu().realtime_runtime = *v;
    if (auto v = mem("memory")) memory().limit = *v;
    if (auto v = mem("memory-swap")) memory().swap = *v;
    if (auto v = mem("memory-reservation")) memory().reservation = *v;
    // runc 1.2+: "Kernel memory settings are ignored and will be removed".
    for (const char* k : {"kernel-memory", "kernel-memory-tcp"})
      if (auto v = mem(k))
        err_out(std::string("ward: warning: --") + k +
                ": kernel memory settings are ignored (runc 1.2+ ignores them too; Linux 6.x has "
                "no kernel memory limit)\n");
    if (a.has("pids-limit")) {
      r.pids.emplace();
      r.pids->limit = a.integer("pids-limit");
    }
    // runc: a limit of -1 without a swap value means swap unlimited too
    // (cgroup v2: swap 0 with limit -1 is runc's spelling of that, see
    // memory_swap_to_v2; cgroup v1: memory.memsw.limit_in_bytes -1).
    if (r.memory && r.memory->limit == -1 && !r.memory->swap)
      r.memory->swap = ward::cgroup_backend("memory") == ward::CgroupBackend::v1 ? -1 : 0;
  }
  // Intel RDT: ward has no resctrl support (and this host may have no
  // /sys/fs/resctrl): refused by name, as runc refuses them without CAT/MBA.
  if (a.has("l3-cache-schema"))
    fail("--l3-cache-schema: Intel RDT/CAT: l3 cache schema is not supported by ward");
  if (a.has("mem-bw-schema"))
    fail("--mem-bw-schema: Intel RDT/MBA: memory bandwidth schema is not supported by ward");
  auto cg = c.open_cgroup();
  if (!cg)
    fail("update: container " + c.id + " has no cgroup of its own (" + no_cgroup_reason(c) +
         "): there is nothing to set its limits on");
  // systemd first, as runc: it writes those files too, then ours win.
  if (!c.systemd_unit.empty()) update_systemd_unit(c.systemd_unit, r);
  ward::oci::apply_resources(*cg, r, ro);
  for (auto& w : warnings) log_line("warning", w);
  return 0;
}

}  // namespace wardrt
