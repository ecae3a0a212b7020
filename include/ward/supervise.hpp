// SPDX-License-Identifier: Apache-2.0
// supervise(): run a sandbox to completion under limits and get a verdict,
// as IOI isolate's meta file, sandbox2's Result and nsjail's limits give it.
//
//   ward::Limits lim;
//   lim.cpu_time = 1s; lim.wall_time = 3s; lim.memory = 256 << 20;
//   ward::Verdict v = ward::supervise(sandbox, lim);
//   if (v.status == ward::Verdict::Status::TO) ...;   v.to_meta() -> "status:TO\n..."
//
// Each limit goes to the strongest mechanism the host and the caller's
// privileges allow, and the verdict says which (Verdict::enforced) and what
// was not available (Verdict::not_granted):
//  - CPU time of the whole tree: the run's cgroup (v1 cpuacct.usage, else
//    v2 cpu.stat, a core file of every v2 cgroup), polled while the tree
//    runs; without a cgroup, RLIMIT_CPU per process (whole seconds) plus
//    the main process's own and waited-for children's time from /proc.
//  - wall time and output: ward's own loop (pidfd + pipes + poll).
//  - memory and processes: the cgroup's memory and pids controllers where
//    the hierarchy holding them is writable, else RLIMIT_AS / RLIMIT_NPROC.
//  - file size: RLIMIT_FSIZE (SIGXFSZ).
//  - the whole tree dies when a limit is hit and before supervise returns:
//    cgroup.kill (v2) or the v1 kill loop; without a cgroup, the tree must
//    be in a new pid namespace (Sandbox::unshare(NsKind::pid)) whose init is
//    the main process, and its death takes every other process with it
//    (pid_namespaces(7)). With neither, supervise() refuses to start.
//  - with a new pid namespace, ward's init is its pid 1 and the program its
//    child (SuperviseOptions::init_process, on by default): the program
//    then dies of the signals a pid 1 would not (SIGXFSZ past the file
//    size, SIGXCPU, its own SIGABRT), and the verdict has its own status.
// Tests: tests/root/supervise_test.cpp, tests/rootless/supervise_rootless_test.cpp.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ward/cgroups.hpp>
#include <ward/child.hpp>
#include <ward/detail/supervise.hpp>
#include <ward/error.hpp>
#include <ward/fd.hpp>
#include <ward/rlimit.hpp>
#include <ward/sandbox.hpp>

namespace ward {

// What to hold the run to. Every field is optional; an empty Limits only
// supervises (and still kills the tree at the end).
struct Limits {
  // CPU time of the whole process tree (user + system).
  std::optional<std::chrono::milliseconds> cpu_time;
  // Real time from just before the spawn.
  std::optional<std::chrono::milliseconds> wall_time;
  // isolate's --extra-time: a tree over cpu_time is killed only once it is
  // over cpu_time + extra_time (so the time it really used is reported);
  // the verdict is TO either way.
  std::chrono::milliseconds extra_time{0};
  // Bytes of memory (cgroup memory limit, else RLIMIT_AS per process).
  std::optional<std::uint64_t> memory;
  // Processes (threads count) at once: cgroup pids.max, else RLIMIT_NPROC.
  std::optional<std::uint64_t> processes;
  // Bytes kept of each captured stream; the rest is read, counted and
  // dropped. With kill_on_output_overflow the tree is killed (status OL) at
  // the first byte beyond it, else it runs on and only the capture stops.
  std::optional<std::uint64_t> output;
  bool kill_on_output_overflow = true;
  // Largest file a process may write (RLIMIT_FSIZE: SIGXFSZ beyond it).
  std::optional<std::uint64_t> file_size;
};

// Who enforced a limit.
enum class Mechanism : std::uint8_t {
  none,           // not asked for, or nothing could enforce it
  cgroup_v2,      // the run's cgroup in the unified hierarchy
  cgroup_v1,      // the run's cgroup in a v1 hierarchy
  rlimit,         // setrlimit(2) in every process of the tree (per process)
  supervisor,     // ward's loop in the calling thread
  pid_namespace,  // the tree's pid namespace (its init's death kills it)
};

constexpr std::string_view to_string(Mechanism m) noexcept {
  switch (m) {
    case Mechanism::none: return "none";
    case Mechanism::cgroup_v2: return "cgroup-v2";
    case Mechanism::cgroup_v1: return "cgroup-v1";
    case Mechanism::rlimit: return "rlimit";
    case Mechanism::supervisor: return "supervisor";
    case Mechanism::pid_namespace: return "pid-namespace";
  }
  return "unknown";
}

// How supervise() runs the sandbox.
struct SuperviseOptions {
  // Capture the streams into the verdict (a pipe each, overriding the
  // sandbox's stdout_/stderr_). Off: the sandbox's own setting stays and
  // Limits::output does not apply to that stream.
  bool capture_stdout = true;
  bool capture_stderr = true;
  // Make a cgroup for the run (the default): as root in every hierarchy
  // (controllers where the host keeps them: cgroup_backend()); otherwise in
  // the unified hierarchy below `cgroup_parent` or, when that is empty,
  // below the caller's own cgroup if the caller may write it (a delegated
  // subtree). Off, or when none can be made: rlimits and a pid namespace.
  bool use_cgroup = true;
  // A cgroup path (in the hierarchy, "/judge/box") to make the run's cgroup
  // in; for an unprivileged caller, a subtree delegated to it that has no
  // processes of its own, so that memory and pids can be enabled below it.
  std::string cgroup_parent;
  // With a sandbox that makes a new pid namespace: ward's init as its pid 1
  // and the program as pid 2 (Sandbox::init_process, which says why), so
  // that SIGXFSZ (Limits::file_size), SIGXCPU and the program's own
  // signals end it as they would anywhere, and orphans are reaped. On by
  // default: a judge wants the program's own death. The init counts as one
  // process: Limits::processes is raised by one for it. Where the plan
  // refuses it (no init for this architecture, a Landlock ruleset, a
  // seccomp filter installed before the credentials), supervise runs
  // without it and not_granted says why;
  // a sandbox that asked for it itself keeps it (and its refusal).
  bool init_process = true;
};

struct Verdict {
  enum class Status : std::uint8_t {
    OK,  // exited with status 0 within every limit
    RE,  // exited with a nonzero status
    SG,  // killed by a signal (not ward's)
    TO,  // over the CPU or wall time limit
    ML,  // over the memory limit (the cgroup OOM-killed a process)
    OL,  // over the output limit (killed at the first byte beyond it)
    XX,  // ward failed while supervising (message says why)
  };
  Status status = Status::XX;
  std::string message;  // isolate's wording ("Time limit exceeded", ...)

  ExitStatus exit;          // the main process's end and rusage
  int exit_code = 0;        // when it exited
  int exit_signal = 0;      // when a signal ended it
  bool killed = false;      // ward killed the tree because of a limit
  std::string kill_reason;  // which one ("cpu time", "wall time", "output stdout", ...)

  std::chrono::microseconds cpu_time{0};   // the tree's (see cpu_time_source)
  std::chrono::microseconds wall_time{0};  // spawn to the main process's end
  std::string cpu_time_source;  // "cgroup-v1 cpuacct.usage", "cgroup-v2 cpu.stat", "rusage", "proc"
  std::uint64_t max_rss = 0;    // bytes: the largest process's peak RSS (getrusage)
  std::optional<std::uint64_t> cg_mem;  // bytes: the cgroup's memory peak, where known
  bool cg_oom_killed = false;           // the cgroup's OOM killer killed a process

  std::string stdout_data, stderr_data;                  // captured, at most Limits::output each
  std::uint64_t stdout_dropped = 0, stderr_dropped = 0;  // bytes beyond the cap, read and dropped

  struct Enforcement {
    Mechanism cpu_time = Mechanism::none, wall_time = Mechanism::none, memory = Mechanism::none,
              processes = Mechanism::none, output = Mechanism::none, file_size = Mechanism::none,
              tree_kill = Mechanism::none;
  } enforced;
  // What the caller asked for and did not get, one sentence each (e.g.
  // "memory: no cgroup (...); RLIMIT_AS per process instead").
  std::vector<std::string> not_granted;
  std::string cgroup;         // the run's cgroup path, empty without one
  bool init_process = false;  // the program ran under ward's init (pid 2)

  bool ok() const noexcept { return status == Status::OK; }

  static constexpr std::string_view status_name(Status s) noexcept {
    constexpr std::string_view n[] = {"OK", "RE", "SG", "TO", "ML", "OL", "XX"};
    return n[static_cast<int>(s)];
  }

  // isolate's meta file: one "key:value" per line. isolate's keys (status
  // is left out when OK, as isolate does; times in seconds, memory in KiB)
  // and ward's own, prefixed "ward-".
  std::string to_meta() const {
    std::string m;
    // One line a key whatever a value holds: a newline in a message (a path
    // from the caller, an errno text) must not forge a key of its own.
    auto line = [&m](std::string_view k, const std::string& v) {
      m.append(k).append(":");
      for (char c : v) m.push_back(c == '\n' || c == '\r' ? ' ' : c);
      m.append("\n");
    };
    auto secs = [](std::chrono::microseconds us) {
      char b[32];
      std::snprintf(b, sizeof b, "%.3f", static_cast<double>(us.count()) / 1e6);
      return std::string(b);
    };
    if (exit.signaled())
      line("exitsig", std::to_string(exit_signal));
    else
      line("exitcode", std::to_string(exit_code));
    line("time", secs(cpu_time));
    line("time-wall", secs(wall_time));
    line("max-rss", std::to_string(max_rss / 1024));
    if (cg_mem) line("cg-mem", std::to_string(*cg_mem / 1024));
    if (cg_oom_killed) line("cg-oom-killed", "1");
    if (killed) line("killed", "1");
    if (!message.empty()) line("message", message);
    if (status != Status::OK) line("status", std::string(status_name(status)));
    line("ward-time-source", cpu_time_source);
    if (stdout_dropped) line("ward-stdout-dropped", std::to_string(stdout_dropped));
    if (stderr_dropped) line("ward-stderr-dropped", std::to_string(stderr_dropped));
    if (killed) line("ward-kill-reason", kill_reason);
    line("ward-enforced-cpu-time", std::string(to_string(enforced.cpu_time)));
    line("ward-enforced-wall-time", std::string(to_string(enforced.wall_time)));
    line("ward-enforced-memory", std::string(to_string(enforced.memory)));
    line("ward-enforced-processes", std::string(to_string(enforced.processes)));
    line("ward-enforced-output", std::string(to_string(enforced.output)));
    line("ward-enforced-file-size", std::string(to_string(enforced.file_size)));
    line("ward-enforced-tree-kill", std::string(to_string(enforced.tree_kill)));
    if (!cgroup.empty()) line("ward-cgroup", cgroup);
    if (init_process) line("ward-init", "1");
    for (const auto& n : not_granted) line("ward-not-granted", n);
    return m;
  }
};

namespace detail::sv {

inline Mechanism cg_mechanism(CgroupBackend b) noexcept {
  return b == CgroupBackend::v1   ? Mechanism::cgroup_v1
         : b == CgroupBackend::v2 ? Mechanism::cgroup_v2
                                  : Mechanism::none;
}

inline std::string unique_name() {
  static std::atomic<unsigned> n{0};
  return "ward-supervise-" + std::to_string(::getpid()) + "-" + std::to_string(n.fetch_add(1));
}

// The run's cgroup, or nullopt with the reason in `why`.
inline std::optional<Cgroups> make_cgroup(const SuperviseOptions& o, const Limits& lim,
                                          std::string& why) {
  const CgroupHost& host = cgroup_host();
  if (host.mode == CgroupMode::none) {
    why = "this host has no cgroup filesystem mounted";
    return std::nullopt;
  }
  std::string parent = o.cgroup_parent;
  while (!parent.empty() && parent.back() == '/') parent.pop_back();
  const bool root = ::geteuid() == 0;
  try {
    if (root) {
      Cgroups cg = Cgroups::create(parent + "/" + unique_name());
      // Controllers of the unified hierarchy must be enabled down to it.
      std::vector<std::string> want;
      if (lim.memory && cg.backend("memory") == CgroupBackend::v2) want.push_back("memory");
      if (lim.processes && cg.backend("pids") == CgroupBackend::v2) want.push_back("pids");
      if (!want.empty() && cg.v2()) {
        try {
          cg.v2()->enable_controllers(want);
        } catch (const Error& e) {
          why = std::string("enabling ") + (want.size() > 1 ? "memory, pids" : want[0]) + ": " +
                e.what();
        }
      }
      return cg;
    }
    if (host.unified_mount.empty()) {
      why = "the v1 hierarchies are root's and this host has no unified hierarchy";
      return std::nullopt;
    }
    if (parent.empty()) {
      parent = own_cgroup();
      while (!parent.empty() && parent.back() == '/') parent.pop_back();
      std::string dir = host.unified_mount + parent;
      if (::access(dir.c_str(), W_OK) != 0 ||
          ::access((dir + "/cgroup.procs").c_str(), W_OK) != 0) {
        why = "the caller's cgroup " + (parent.empty() ? std::string("/") : parent) +
              " is not delegated to it (not writable; give SuperviseOptions::cgroup_parent)";
        return std::nullopt;
      }
    }
    Cgroups cg = Cgroups::create_unified(parent + "/" + unique_name());
    // The delegated parent (without processes of its own) can enable for
    // it what the parent itself was given (its cgroup.controllers).
    std::string value, missing;
    auto words_of = [&](const std::string& file) {
      std::string t;
      UniqueFd dir(::open((host.unified_mount + parent).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (dir) detail::cg::read_at(dir.get(), file.c_str(), t);
      return cgroup_parse::words(t);
    };
    auto parent_has = words_of("cgroup.controllers");
    auto enabled = words_of("cgroup.subtree_control");
    for (const char* c : {"memory", "pids"}) {
      if ((std::string_view(c) == "memory" ? !lim.memory : !lim.processes)) continue;
      if (std::find(enabled.begin(), enabled.end(), c) != enabled.end()) continue;
      if (std::find(parent_has.begin(), parent_has.end(), c) == parent_has.end())
        missing += std::string(missing.empty() ? "" : ", ") + c;
      else
        value += std::string(value.empty() ? "+" : " +") + c;
    }
    if (!missing.empty())
      why = (parent.empty() ? std::string("/") : parent) + " has no " + missing +
            " controller (not in its cgroup.controllers: the unified hierarchy or the "
            "delegation lacks it)";
    if (!value.empty()) {
      UniqueFd dir(::open((host.unified_mount + parent).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      int e = !dir ? errno : detail::cg::write_at(dir.get(), "cgroup.subtree_control", value);
      if (e != 0)
        why += std::string(why.empty() ? "" : "; ") + "writing '" + value + "' to " + parent +
               "/cgroup.subtree_control: " + std::strerror(e);
    }
    return cg;
  } catch (const Error& e) {
    why = e.what();
    return std::nullopt;
  }
}

}  // namespace detail::sv

// Runs `sb` to completion under `lim` and returns the verdict. Throws
// ward::Error (a std::system_error) when the run cannot start (the
// sandbox's own errors, a limit no mechanism can hold, nothing to kill the
// tree with); once the program runs, a failure of ward's own ends the run
// with status XX. Nothing the run started survives the call. Blocks the
// calling thread; the Sandbox is copied (the caller's is not changed). The
// run's cgroup replaces a Sandbox::cgroup() of the caller's, the capture
// pipes its stdout_/stderr_, and the rlimits its own of the same resource;
// the program always leads a new session (new_session()).
inline Verdict supervise(Sandbox sb, const Limits& lim, const SuperviseOptions& opts = {}) {
  using namespace std::chrono;
  Verdict v;
  auto grant_note = [&v](std::string s) { v.not_granted.push_back(std::move(s)); };

  // ---- the cgroup and the mechanisms
  std::optional<Cgroups> cg;
  std::string cg_why;
  if (opts.use_cgroup)
    cg = detail::sv::make_cgroup(opts, lim, cg_why);
  else
    cg_why = "not asked for (SuperviseOptions::use_cgroup)";
  if (!cg) {
    cg_why = "no cgroup (" + cg_why + ")";
  } else {
    v.cgroup = cg->path();
    if (!cg_why.empty()) grant_note("cgroup: " + cg_why);
  }
  auto backend = [&](const char* c) { return cg ? cg->backend(c) : CgroupBackend::none; };
  auto clamp_hard = [](int res, std::uint64_t want) {
    struct rlimit cur {};
    ::getrlimit(res, &cur);
    return std::min<std::uint64_t>(want, cur.rlim_max);
  };

  // ward's init as the pid namespace's pid 1 (SuperviseOptions::init_process).
  const bool asked_init = sb.init_process_enabled();
  bool with_init = asked_init || (opts.init_process && Sandbox::init_process_supported() &&
                                  sb.unshares(NsKind::pid));
  if (with_init) sb.init_process();
  const std::uint64_t init_procs = with_init ? 1 : 0;

  // Tree kill.
  if (cg) {
    v.enforced.tree_kill = cg->v2() ? Mechanism::cgroup_v2 : Mechanism::cgroup_v1;
    sb.cgroup(*cg);
  }
  // CPU time.
  const bool cpu_by_cgroup = cg.has_value();
  if (lim.cpu_time) {
    if (cpu_by_cgroup) {
      v.enforced.cpu_time =
          cg->backend("cpuacct") == CgroupBackend::v1 ? Mechanism::cgroup_v1 : Mechanism::cgroup_v2;
    } else {
      auto ms = (*lim.cpu_time + lim.extra_time).count();
      std::uint64_t secs = static_cast<std::uint64_t>((ms + 999) / 1000);
      if (secs == 0) secs = 1;
      sb.rlimit(RLIMIT_CPU, clamp_hard(RLIMIT_CPU, secs), clamp_hard(RLIMIT_CPU, secs + 1));
      v.enforced.cpu_time = Mechanism::rlimit;
      grant_note("cpu-time: " + cg_why +
                 "; RLIMIT_CPU per process (whole seconds) and the main process's own and "
                 "waited-for children's time instead of the whole tree's");
    }
  }
  if (lim.wall_time) v.enforced.wall_time = Mechanism::supervisor;
  // Memory.
  if (lim.memory) {
    auto b = backend("memory");
    bool done = false;
    if (b == CgroupBackend::v1) {
      try {
        cg->v1()->memory_limit(*lim.memory);
        // Without swap accounting off, the limit could be dodged into swap.
        try {
          cg->v1()->memory_swap_limit(*lim.memory);
        } catch (const Error&) {
        }
        done = true;
      } catch (const Error& e) {
        grant_note(std::string("memory: cgroup v1: ") + e.what());
      }
    } else if (b == CgroupBackend::v2) {
      try {
        cg->v2()->memory_max(*lim.memory);
        try {
          cg->v2()->memory_swap_max(0);
        } catch (const Error&) {
        }
        done = true;
      } catch (const Error& e) {
        grant_note(std::string("memory: cgroup v2: ") + e.what());
      }
    } else if (cg && cg->v2()) {
      // The unified cgroup without memory (a delegated one whose parent
      // could not enable it): try anyway, it may have been enabled above.
      try {
        cg->v2()->memory_max(*lim.memory);
        cg->v2()->memory_swap_max(0);
        b = CgroupBackend::v2;
        done = true;
      } catch (const Error&) {
      }
    }
    if (done) {
      v.enforced.memory = detail::sv::cg_mechanism(b);
    } else {
      sb.rlimit(RLIMIT_AS, clamp_hard(RLIMIT_AS, *lim.memory), clamp_hard(RLIMIT_AS, *lim.memory));
      v.enforced.memory = Mechanism::rlimit;
      grant_note(
          "memory: " + (cg ? std::string("the run's cgroup has no memory controller") : cg_why) +
          "; RLIMIT_AS per process instead (address space, not resident memory; an "
          "allocation beyond it fails inside the program, so the verdict cannot be ML)");
    }
  }
  // Processes.
  std::optional<CgroupBackend> procs_by;  // set when a cgroup holds Limits::processes
  auto set_pids_max = [&](CgroupBackend b, std::uint64_t n) {
    if (b == CgroupBackend::v1)
      cg->v1()->pids_max(n);
    else
      cg->v2()->pids_max(n);
  };
  auto set_nproc = [&](std::uint64_t n) {
    sb.rlimit(RLIMIT_NPROC, clamp_hard(RLIMIT_NPROC, n), clamp_hard(RLIMIT_NPROC, n));
  };
  if (lim.processes) {
    const std::uint64_t n = *lim.processes + init_procs;
    auto b = backend("pids");
    bool done = false;
    try {
      if (b == CgroupBackend::v1) {
        set_pids_max(b, n);
        done = true;
      } else if (b == CgroupBackend::v2 || (cg && cg->v2())) {
        b = CgroupBackend::v2;
        set_pids_max(b, n);
        done = true;
      }
    } catch (const Error& e) {
      if (b != CgroupBackend::none) grant_note(std::string("processes: ") + e.what());
    }
    if (done) {
      v.enforced.processes = detail::sv::cg_mechanism(b);
      procs_by = b;
    } else {
      set_nproc(n);
      v.enforced.processes = Mechanism::rlimit;
      grant_note(
          "processes: " + (cg ? std::string("the run's cgroup has no pids controller") : cg_why) +
          "; RLIMIT_NPROC instead (counts every process of the uid in its user namespace, "
          "and does not bind real root)");
    }
  }
  if (lim.file_size) {
    sb.rlimit(RLIMIT_FSIZE, clamp_hard(RLIMIT_FSIZE, *lim.file_size),
              clamp_hard(RLIMIT_FSIZE, *lim.file_size));
    v.enforced.file_size = Mechanism::rlimit;
  }
  if (opts.capture_stdout) sb.stdout_(Stdio::pipe());
  if (opts.capture_stderr) sb.stderr_(Stdio::pipe());
  // A session of its own, always: the program then has no controlling
  // terminal, so TIOCSTI on a terminal it was given (the caller's stdin)
  // fails with EPERM (ioctl_tty(2)) rather than typing into the caller's
  // shell; and no process group shared with the caller, which `kill(0,
  // SIGSTOP)` would stop (ward included, and with it every limit) or
  // `kill(0, SIGKILL)` kill. Tests: "ward-box: the program cannot type into
  // the caller's terminal" and "... cannot stop or kill ward-box's process
  // group" (tests/root/ward_box_test.cpp).
  sb.new_session(true);
  if (lim.output && (opts.capture_stdout || opts.capture_stderr))
    v.enforced.output = Mechanism::supervisor;

  auto make_plan = [&]() -> Plan {
    if (!with_init || asked_init) return sb.plan();
    try {
      return sb.plan();
    } catch (const Error& e) {
      // Only the plan's refusal of the init itself (Sandbox::plan names the
      // field "init_process"); any other error is the caller's.
      if (e.step() != Step::validate || e.object() != "init_process") throw;
      grant_note(std::string("init: ") + e.what() + "; the program is the pid namespace's init");
    }
    with_init = false;
    sb.init_process(false);
    if (lim.processes && procs_by) set_pids_max(*procs_by, *lim.processes);
    if (lim.processes && !procs_by) set_nproc(*lim.processes);
    return sb.plan();
  };
  Plan plan = make_plan();
  v.init_process = with_init;
  if (!cg) {
    if ((plan.clone_flags() & CLONE_NEWPID) == 0)
      detail::throw_invalid("supervise",
                            "nothing would kill the whole process tree: " + cg_why +
                                ", and the sandbox has no new pid namespace of its own "
                                "(unshare(NsKind::pid))");
    v.enforced.tree_kill = Mechanism::pid_namespace;
    grant_note("tree-kill: " + cg_why + "; the pid namespace's init dying kills the rest");
  }

  // ---- run
  const auto start = steady_clock::now();
  Child child = plan.spawn();
  detail::sv::Sink out, err;
  out.fd = opts.capture_stdout ? child.stdout_pipe().get() : -1;
  err.fd = opts.capture_stderr ? child.stderr_pipe().get() : -1;
  if (lim.output) out.cap = err.cap = *lim.output;
  for (auto* s : {&out, &err})
    if (s->fd >= 0) ::fcntl(s->fd, F_SETFL, ::fcntl(s->fd, F_GETFL) | O_NONBLOCK);

  const unsigned ncpu = detail::sv::cpu_count();
  auto cpu_now = [&]() -> std::optional<microseconds> {
    if (cpu_by_cgroup) {
      auto st = cg->stats();
      if (st.cpu) return microseconds(static_cast<std::int64_t>(st.cpu->usage_usec));
      return std::nullopt;
    }
    auto t = detail::sv::proc_cpu_time(child.pid());
    // Under ward's init the program is its child, whose time reaches the
    // init's only once reaped: add the program's own (and its waited-for
    // children's).
    if (t && v.init_process)
      if (auto prog = detail::first_child(child.pid()))
        if (auto pt = detail::sv::proc_cpu_time(*prog)) *t += *pt;
    return t;
  };
  // Without a cgroup: the most CPU time seen in /proc while polling, and
  // just before a kill. Under ward's init a program killed with the
  // namespace (at a limit) is reaped by the exiting init with SIGCHLD
  // ignored (zap_pid_ns_processes), so its time never reaches the init's
  // rusage: this is what is left of it.
  microseconds polled_cpu{0};
  auto kill_tree = [&]() {
    if (cg) {
      cg->kill();
    } else {
      if (auto used = cpu_now()) polled_cpu = std::max(polled_cpu, *used);
      child.kill(SIGKILL);
    }
  };
  bool exited = false, failed = false;
  try {
    while (!exited) {
      const auto now = steady_clock::now();
      int timeout_ms = -1;
      if (lim.wall_time) {
        auto left = duration_cast<milliseconds>(start + *lim.wall_time - now).count();
        if (left <= 0) {
          v.killed = true;
          v.kill_reason = "wall time";
          kill_tree();
          break;
        }
        timeout_ms = static_cast<int>(std::min<long long>(left + 1, 1 << 30));
      }
      if (lim.cpu_time) {
        auto used = cpu_now();
        if (used && !cpu_by_cgroup) polled_cpu = std::max(polled_cpu, *used);
        if (!used) {
          if (!cpu_by_cgroup) {
            // /proc/PID/stat gone: the process has ended; the pidfd says so.
          } else {
            throw Error(Step::cgroup, EIO, v.cgroup, "reading the cgroup's CPU time");
          }
        } else if (*used > *lim.cpu_time + lim.extra_time) {
          v.killed = true;
          v.kill_reason = "cpu time";
          kill_tree();
          break;
        }
        // The tree cannot use more than ncpu seconds of CPU per second:
        // look again when the budget could first run out, at least every
        // 100 ms and at most every 5 ms.
        auto left = *lim.cpu_time + lim.extra_time - used.value_or(microseconds(0));
        long long ms = duration_cast<milliseconds>(left).count() / ncpu;
        ms = std::clamp<long long>(ms, 5, 100);
        if (timeout_ms < 0 || ms < timeout_ms) timeout_ms = static_cast<int>(ms);
      }
      struct pollfd p[3] = {{child.pidfd(), POLLIN, 0},
                            {out.eof ? -1 : out.fd, POLLIN, 0},
                            {err.eof ? -1 : err.fd, POLLIN, 0}};
      int r = ::poll(p, 3, timeout_ms);
      if (r < 0 && errno != EINTR) detail::throw_errno(Step::wait, "poll");
      if (r <= 0) continue;
      for (auto* s : {&out, &err}) {
        if (s->fd < 0 || s->eof) continue;
        if (!s->pump()) detail::throw_errno(Step::wait, s == &out ? "stdout pipe" : "stderr pipe");
        if (s->over() && lim.output && lim.kill_on_output_overflow && !v.killed) {
          v.killed = true;
          v.kill_reason = s == &out ? "output stdout" : "output stderr";
        }
      }
      if (v.killed) {
        kill_tree();
        break;
      }
      if (p[0].revents & POLLIN) exited = true;
    }
  } catch (const std::exception& e) {
    failed = true;
    v.message = std::string("ward: ") + e.what();
    try {
      kill_tree();
    } catch (...) {
    }
  }
  v.exit = child.wait();
  v.wall_time = duration_cast<microseconds>(steady_clock::now() - start);
  // Nothing survives: whatever the main process left behind.
  if (cg) {
    try {
      cg->kill();
    } catch (const std::exception& e) {
      if (!failed) v.message = std::string("ward: killing the tree: ") + e.what();
      failed = true;
    }
  }
  // Every writer in the tree is dead: read what is left up to EOF. Bounded,
  // so that a writer outside the tree (a descriptor the caller passed on
  // with keep_fd, a process that left the cgroup) cannot hold the call.
  const auto drain_until = steady_clock::now() + milliseconds(1000);
  while ((out.fd >= 0 && !out.eof) || (err.fd >= 0 && !err.eof)) {
    auto left = duration_cast<milliseconds>(drain_until - steady_clock::now()).count();
    if (left <= 0) {
      grant_note("output: a writer outside the tree kept a stream open; capture stopped");
      break;
    }
    struct pollfd p[2] = {{out.eof ? -1 : out.fd, POLLIN, 0}, {err.eof ? -1 : err.fd, POLLIN, 0}};
    if (::poll(p, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    bool broken = false;
    for (auto* s : {&out, &err})
      if (s->fd >= 0 && !s->eof && !s->pump()) broken = true;
    if (broken) break;
  }
  v.stdout_data = std::move(out.data);
  v.stderr_data = std::move(err.data);
  v.stdout_dropped = out.dropped;
  v.stderr_dropped = err.dropped;

  // ---- usage
  v.exit_code = v.exit.exit_code() < 0 ? 0 : v.exit.exit_code();
  v.exit_signal = v.exit.signal();
  v.max_rss = static_cast<std::uint64_t>(v.exit.usage.ru_maxrss) * 1024;
  auto tv = [](const timeval& t) { return microseconds(t.tv_sec * 1000000LL + t.tv_usec); };
  microseconds rusage_cpu = tv(v.exit.usage.ru_utime) + tv(v.exit.usage.ru_stime);
  v.cpu_time = rusage_cpu;
  v.cpu_time_source = "rusage";
  if (!cg && polled_cpu > rusage_cpu) {
    v.cpu_time = polled_cpu;
    v.cpu_time_source = "proc";  // the program's time as last polled (see polled_cpu)
  }
  if (cg) {
    try {
      auto st = cg->stats();
      if (st.cpu) {
        v.cpu_time = microseconds(static_cast<std::int64_t>(st.cpu->usage_usec));
        v.cpu_time_source = cg->backend("cpuacct") == CgroupBackend::v1 ? "cgroup-v1 cpuacct.usage"
                                                                        : "cgroup-v2 cpu.stat";
      }
      v.cg_mem = st.memory_peak;
      v.cg_oom_killed = cg->oom_kills() > 0;
    } catch (const std::exception&) {
    }
    try {
      cg->destroy();
    } catch (const std::exception& e) {
      grant_note(std::string("cgroup: not removed: ") + e.what());
    }
  }

  // ---- verdict (isolate's order: ward's kill, then the limits, then how it ended)
  using S = Verdict::Status;
  if (failed) {
    v.status = S::XX;
    return v;
  }
  const bool over_cpu = lim.cpu_time && v.cpu_time > *lim.cpu_time;
  const bool over_wall = lim.wall_time && v.wall_time > *lim.wall_time;
  if (v.killed && v.kill_reason == "cpu time") {
    v.status = S::TO, v.message = "Time limit exceeded";
  } else if (v.killed && v.kill_reason == "wall time") {
    v.status = S::TO, v.message = "Time limit exceeded (wall clock)";
  } else if (v.killed) {
    v.status = S::OL, v.message = "Output limit exceeded (" + v.kill_reason.substr(7) + ")";
  } else if (v.cg_oom_killed) {
    v.status = S::ML, v.message = "Memory limit exceeded";
  } else if (over_cpu ||
             (v.exit.signaled() && v.enforced.cpu_time == Mechanism::rlimit &&
              (v.exit_signal == SIGXCPU || (v.exit_signal == SIGKILL && lim.cpu_time &&
                                            v.cpu_time + milliseconds(1000) >= *lim.cpu_time)))) {
    v.status = S::TO, v.message = "Time limit exceeded";
  } else if (over_wall) {
    v.status = S::TO, v.message = "Time limit exceeded (wall clock)";
  } else if (v.exit.signaled()) {
    v.status = S::SG;
    v.message = "Caught fatal signal " + std::to_string(v.exit_signal);
    if (v.exit_signal == SIGXFSZ && lim.file_size) v.message += " (file size limit exceeded)";
  } else if (v.exit_code != 0) {
    v.status = S::RE, v.message = "Exited with error status " + std::to_string(v.exit_code);
  } else {
    v.status = S::OK;
  }
  if (!v.killed && (v.stdout_dropped || v.stderr_dropped) && lim.output)
    v.message += std::string(v.message.empty() ? "" : "; ") + "output truncated";
  return v;
}

}  // namespace ward
