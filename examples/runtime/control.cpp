// SPDX-License-Identifier: Apache-2.0
// Commands that change a container: kill, delete, pause/resume, update.
#include "runtime.hpp"

namespace wardrt {

// ------------------------------------------------------------------ signals

int parse_signal(std::string s) {
  if (s.empty()) return SIGTERM;
  if (std::all_of(s.begin(), s.end(), ::isdigit)) {
    int n = std::stoi(s);
    if (n <= 0 || n > 64) fail("invalid signal: " + s);
    return n;
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
  if (all) {
    auto cg = c.open_cgroup();
    if (!cg) {
      signal_init(c, sig);
      return 0;
    }
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
  const std::string& mnt = ward::cgroup_host().unified_mount;
  if (mnt.empty()) return;
  std::string path = mnt + "/" + c.cgroup;
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
    log_line("warning", "rmdir " + path + ": " + std::strerror(errno));
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
  if (c.alive()) {
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, c.state.pid, 0));
    if (pfd >= 0 && c.alive()) {
      ::syscall(SYS_pidfd_send_signal, pfd, SIGKILL, nullptr, 0);
      pollfd p{pfd, POLLIN, 0};
      ::poll(&p, 1, 10000);
    }
    if (pfd >= 0) ::close(pfd);
  }
  // The cgroup: killed, emptied and removed (CgroupV2::destroy). If that
  // fails the state stays, so the container stays listed and a later
  // delete can finish.
  remove_unowned_cgroup(c);
  if (auto cg = c.adopt_cgroup()) {
    try {
      cg->destroy();
    } catch (const Error& e) {
      fail("delete " + id + ": " + e.what());
    }
  }
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

int cmd_pause(const std::string& id, bool pause) {
  Container c = load(id);
  DirLock lock(c);
  if (!c.alive()) fail("container not running");
  auto cg = c.open_cgroup();
  if (!cg) fail("pause needs the container's cgroup (cgroup v2)");
  if (pause)
    cg->freeze();
  else
    cg->thaw();
  return 0;
}

int cmd_update(const std::string& id, const Args& a) {
  Container c = load(id);
  DirLock lock(c);
  auto cg = c.open_cgroup();
  if (!cg) fail("update needs the container's cgroup (cgroup v2)");
  ward::oci::Resources r;
  std::string res = a.get("resources", a.get("r"));
  if (!res.empty()) {
    std::string text;
    if (res == "-") {
      if (!read_fd(0, text)) fail("read stdin: " + std::string(std::strerror(errno)));
    } else {
      text = read_text(res);
    }
    r = ward::oci::parse_resources(text, res == "-" ? "stdin" : res);
  }
  auto num = [&](const char* k) -> std::optional<std::int64_t> {
    if (!a.has(k)) return std::nullopt;
    try {
      return std::stoll(a.get(k));
    } catch (...) {
      fail(std::string("--") + k + ": not a number: " + a.get(k));
    }
  };
  if (auto v = num("memory")) {
    if (!r.memory) r.memory.emplace();
    r.memory->limit = *v;
  }
  if (auto v = num("memory-swap")) {
    if (!r.memory) r.memory.emplace();
    r.memory->swap = *v;
  }
  if (auto v = num("memory-reservation")) {
    if (!r.memory) r.memory.emplace();
    r.memory->reservation = *v;
  }
  if (auto v = num("cpu-quota")) {
    if (!r.cpu) r.cpu.emplace();
    r.cpu->quota = *v;
  }
  if (auto v = num("cpu-period")) {
    if (!r.cpu) r.cpu.emplace();
    r.cpu->period = static_cast<std::uint64_t>(*v);
  }
  if (auto v = num("cpu-shares")) {
    if (!r.cpu) r.cpu.emplace();
    r.cpu->shares = static_cast<std::uint64_t>(*v);
  }
  if (a.has("cpuset-cpus")) {
    if (!r.cpu) r.cpu.emplace();
    r.cpu->cpus = a.get("cpuset-cpus");
  }
  if (a.has("cpuset-mems")) {
    if (!r.cpu) r.cpu.emplace();
    r.cpu->mems = a.get("cpuset-mems");
  }
  if (auto v = num("pids-limit")) {
    if (!r.pids) r.pids.emplace();
    r.pids->limit = *v;
  }
  ward::oci::apply_resources(*cg, r);
  return 0;
}

}  // namespace wardrt
