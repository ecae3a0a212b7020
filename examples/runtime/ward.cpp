// SPDX-License-Identifier: Apache-2.0
// `ward`: an OCI runtime with runc's command line, built only from ward's
// headers. podman, containerd (runc shim v2) and so Kubernetes can drive it.
//
// The life of a container, and where ward does each step:
//   create  load config.json (oci.hpp) -> make the cgroup (CgroupV2) ->
//           map the config onto a Sandbox (oci_sandbox.hpp) -> spawn with a
//           start gate: the child sets up everything (namespaces, mounts,
//           pivot_root, credentials) and waits before exec -> hooks ->
//           state.json -> exit, leaving the child to the engine's shim.
//   start   write one byte into the container's exec.fifo: it execs.
//   run     the same without the gate, waiting in the foreground.
//   exec    a new process that joins the container's namespaces and cgroup.
//   kill/pause/resume/update/ps/events/delete work on the cgroup and the
//   pid recorded in state.json (checked against its start time, so a
//   recycled pid is never signalled).
//
// State lives in <root>/<id>/ (root: --root, /run/ward by default): state.json
// and runtime.json written atomically (temp file + rename), exec.fifo while
// created, and a lock (flock on the directory) around every change.
//
// Start-up cost matters (an engine runs the runtime several times per
// container; bench/README.md, "ward run against runc and crun"): no
// iostreams (<iostream>'s static initializer, or the first stream of any
// kind, builds the C++ locale: ~3 % of a `ward run` here), no time zone
// (gmtime_r reads /etc/localtime first), and main() ends with _exit() once
// stdio is flushed, not with exit(): nothing global needs destroying, and
// unmapping the spawn stack cached per thread took a TLB shoot-down IPI to
// the CPU the container ran on (~2 %).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ward/ward.hpp>

namespace {

using ward::Error;
namespace json = ward::detail::json;
namespace fs = std::filesystem;

// ------------------------------------------------------------------ logging

struct Globals {
  std::string root;
  std::string log_path;
  bool log_json = false;
  bool debug = false;
  bool rootless = false;
  bool systemd_cgroup = false;
} g;

// UTC, computed here: gmtime_r would read /etc/localtime first (glibc
// loads the time zone on the first conversion of any kind).
std::string now_rfc3339() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  // Days since 1970-01-01 -> civil date (Howard Hinnant's days_from_civil,
  // inverted; proleptic Gregorian calendar).
  long long secs = ts.tv_sec;
  long long days = secs / 86400;
  long long rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  days += 719468;
  const long long era = (days >= 0 ? days : days - 146096) / 146097;
  const long long doe = days - era * 146097;
  const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long long mp = (5 * doy + 2) / 153;
  const long long day = doy - (153 * mp + 2) / 5 + 1;
  const long long month = mp < 10 ? mp + 3 : mp - 9;
  const long long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", year, month,
                day, rem / 3600, rem / 60 % 60, rem % 60, ts.tv_nsec);
  return buf;
}

// Standard output and error, through stdio (see the top: no iostreams).
void out(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void err_out(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stderr); }

// One line per message in --log: text, or JSON lines with level, msg, time
// (containerd's shim reads the last "error" line of this file to explain a
// failure).
void log_line(const char* level, const std::string& msg) {
  if (g.log_path.empty()) return;
  int fd = ::open(g.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string line;
  if (g.log_json) {
    line =
        json::dump(json::Value::object({{"level", level}, {"msg", msg}, {"time", now_rfc3339()}})) +
        "\n";
  } else {
    line = now_rfc3339() + " " + level + " " + msg + "\n";
  }
  if (::write(fd, line.data(), line.size()) < 0) {
  }
  ::close(fd);
}

void debug(const std::string& msg) {
  if (g.debug) log_line("debug", msg);
}

struct Fatal {
  std::string msg;
};
[[noreturn]] void fail(std::string msg) { throw Fatal{std::move(msg)}; }

// ------------------------------------------------------------------ command line

struct Args {
  std::vector<std::string> pos;
  std::multimap<std::string, std::string> opts;  // "--name" -> value ("" for switches)
  bool has(const std::string& k) const { return opts.count(k) != 0; }
  std::string get(const std::string& k, std::string def = {}) const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
  std::vector<std::string> all(const std::string& k) const {
    std::vector<std::string> v;
    for (auto [a, b] = opts.equal_range(k); a != b; ++a) v.push_back(a->second);
    return v;
  }
};

// Flags that take a value (runc accepts "--flag value" and "--flag=value",
// one dash or two).
const std::vector<std::string> kValueFlags = {"root",
                                              "log",
                                              "log-format",
                                              "bundle",
                                              "b",
                                              "console-socket",
                                              "pid-file",
                                              "preserve-fds",
                                              "process",
                                              "p",
                                              "cwd",
                                              "env",
                                              "e",
                                              "user",
                                              "u",
                                              "cap",
                                              "c",
                                              "format",
                                              "f",
                                              "signal",
                                              "interval",
                                              "resources",
                                              "r",
                                              "cgroup-manager",
                                              "memory",
                                              "memory-swap",
                                              "memory-reservation",
                                              "cpu-quota",
                                              "cpu-period",
                                              "cpu-shares",
                                              "cpuset-cpus",
                                              "cpuset-mems",
                                              "pids-limit",
                                              "blkio-weight",
                                              "additional-gids",
                                              "g",
                                              "process-label",
                                              "apparmor",
                                              "criu",
                                              "rootless",
                                              "cpu-rt-runtime",
                                              "cpu-rt-period",
                                              "kernel-memory",
                                              "kernel-memory-tcp",
                                              "l3-cache-schema",
                                              "mem-bw-schema"};

// "-f" is --force for delete but --format for list, ps and events.
std::string g_cmd;
bool takes_value(const std::string& name) {
  if (name == "f") return g_cmd == "list" || g_cmd == "ps" || g_cmd == "events";
  for (auto& f : kValueFlags)
    if (f == name) return true;
  return false;
}

// Parses flags until the first positional argument when `stop_at_pos` (the
// global flags before the command; and exec's command after the id).
Args parse_args(const std::vector<std::string>& in, std::size_t& i, bool stop_at_pos,
                std::size_t max_pos = ~std::size_t{0}) {
  Args a;
  for (; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (s == "--") {
      ++i;
      break;
    }
    if (s.size() > 1 && s[0] == '-' && a.pos.size() < max_pos) {
      std::string name = s.substr(s[1] == '-' ? 2 : 1);
      std::string value;
      auto eq = name.find('=');
      bool has_eq = eq != std::string::npos;
      if (has_eq) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      // --rootless takes an optional value (true/false/auto).
      if (name == "rootless" && !has_eq) {
        a.opts.emplace(name, "true");
        continue;
      }
      if (!has_eq && takes_value(name)) {
        if (i + 1 >= in.size()) fail("flag needs an argument: -" + name);
        value = in[++i];
      }
      a.opts.emplace(name, value);
      continue;
    }
    if (stop_at_pos) break;
    a.pos.push_back(s);
    if (a.pos.size() >= max_pos) {
      ++i;
      break;
    }
  }
  for (; i < in.size() && max_pos != ~std::size_t{0}; ++i) a.pos.push_back(in[i]);
  return a;
}

// ------------------------------------------------------------------ files

// The whole of a descriptor; false on a read error (errno set).
bool read_fd(int fd, std::string& text) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    text.append(buf, static_cast<std::size_t>(n));
  }
}

std::string read_text(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open " + path + ": " + std::strerror(errno));
  std::string text;
  bool ok = read_fd(fd, text);
  int e = errno;
  ::close(fd);
  if (!ok) fail("read " + path + ": " + std::strerror(e));
  return text;
}

// Atomic replacement: readers see the old or the new file, never half.
void write_atomic(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) fail("open " + tmp + ": " + std::strerror(errno));
  // No fsync: the state lives under /run (tmpfs), which does not outlive
  // a reboot, and rename alone makes the replacement atomic for readers.
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail("write " + path + ": " + std::strerror(e));
  }
}

// A container's state directory: the files ward puts there, then the
// directory; anything else found in it (not ward's) by a recursive removal.
void remove_state_dir(const std::string& dir) {
  for (const char* name : {"state.json", "runtime.json", "exec.fifo"})
    ::unlink((dir + "/" + name).c_str());
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

void check_id(const std::string& id) {
  if (id.empty()) fail("container id cannot be empty");
  for (char ch : id)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.' ||
          ch == '+' || ch == ':'))
      fail("invalid id format: " + id);
  if (id == "." || id == "..") fail("invalid id format: " + id);
}

std::string container_dir(const std::string& id) { return g.root + "/" + id; }

// The process's start time (proc(5) stat field 22): with the pid, it names
// one process for the life of the system.
std::optional<std::uint64_t> start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string s;
  bool ok = read_fd(fd, s);
  ::close(fd);
  if (!ok) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold anything, so fields are
  // counted from the last ')'. Field 3 is the state, 22 the start time.
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::size_t pos = rp + 1;
  std::string_view field;
  for (int i = 3; i <= 22; ++i) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    std::size_t end = s.find_first_of(" \n", pos);
    if (end == std::string::npos) end = s.size();
    if (end == pos) return std::nullopt;
    field = std::string_view(s).substr(pos, end - pos);
    pos = end;
    if (i == 3 && field == "Z") return std::nullopt;  // a zombie has exited
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc() || p != field.data() + field.size()) return std::nullopt;
  return v;
}

// ------------------------------------------------------------------ containers

// flock(2) on the container's directory: one runtime process changes a
// container at a time.
struct DirLock {
  int fd = -1;
  explicit DirLock(const std::string& dir) {
    fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) ::flock(fd, LOCK_EX);
  }
  ~DirLock() {
    // Unlock explicitly: a child forked while we held the lock shares the
    // open file description until it execs, and close() alone would leave
    // the lock to it.
    if (fd >= 0) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
    }
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
};

struct Container {
  std::string id, dir;
  ward::oci::State state;
  std::uint64_t starttime = 0;
  std::string cgroup;  // path inside the cgroup2 hierarchy, "" if none

  bool alive() const {
    if (state.pid <= 0) return false;
    auto st = start_time(state.pid);
    return st && *st == starttime;
  }
  // The container's cgroup, not owned: queries and signals only.
  std::optional<ward::CgroupV2> open_cgroup() const {
    auto cg = adopt_cgroup();
    if (cg) cg->release();
    return cg;
  }
  // Owned: destroying the object removes the cgroup (delete).
  std::optional<ward::CgroupV2> adopt_cgroup() const {
    if (cgroup.empty()) return std::nullopt;
    try {
      return ward::CgroupV2::adopt(cgroup);
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  // The status now: stored "created" until started, then running or
  // paused while the process lives, stopped after.
  ward::oci::Status status() const {
    if (!alive()) return ward::oci::Status::stopped;
    if (::access((dir + "/exec.fifo").c_str(), F_OK) == 0) return ward::oci::Status::created;
    if (auto cg = open_cgroup()) {
      try {
        if (cg->events().frozen) return ward::oci::Status::paused;
      } catch (const Error&) {
      }
    }
    return ward::oci::Status::running;
  }
  ward::oci::State current_state() const {
    ward::oci::State s = state;
    s.status = status();
    if (s.status == ward::oci::Status::stopped) s.pid = 0;
    return s;
  }
  void save() const {
    write_atomic(dir + "/state.json", ward::oci::to_json(state, 2));
    write_atomic(dir + "/runtime.json",
                 json::dump(json::Value::object({{"starttime", starttime}, {"cgroup", cgroup}})));
  }
};

Container load(const std::string& id) {
  check_id(id);
  Container c;
  c.id = id;
  c.dir = container_dir(id);
  struct stat st;
  if (::stat((c.dir + "/state.json").c_str(), &st) != 0) fail("container does not exist");
  c.state = ward::oci::parse_state(read_text(c.dir + "/state.json"), c.dir + "/state.json");
  auto rt = json::parse(read_text(c.dir + "/runtime.json"));
  if (auto* v = rt.find("starttime")) c.starttime = v->as_uint64();
  if (auto* v = rt.find("cgroup")) c.cgroup = v->as_string();
  return c;
}

// ------------------------------------------------------------------ hooks

// Makes `sb` join every namespace of process `pid` that differs from ours
// (the builder orders the joins: user first).
void join_namespaces_of(ward::Sandbox& sb, pid_t pid) {
  for (ward::NsKind kind : ward::all_ns_kinds) {
    const std::string name(ward::proc_name(kind));
    std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + name;
    struct stat a1, b1;
    if (::stat(theirs.c_str(), &a1) != 0) continue;
    if (::stat(("/proc/self/ns/" + name).c_str(), &b1) == 0 && a1.st_ino == b1.st_ino) continue;
    sb.join(kind, theirs);
  }
}

// Runs hooks with the state on stdin (config.md "POSIX-platform Hooks");
// a hook that fails or outlives its timeout fails the operation. With
// `in_container`, each hook runs in the namespaces of that process (the
// createContainer and startContainer hooks, config.md "Lifecycle").
void run_hooks(const std::vector<ward::oci::Hook>& hooks, const ward::oci::State& st,
               const char* which, pid_t in_container = 0) {
  if (hooks.empty()) return;
  // The state goes to each hook's stdin from a memory file (memfd), not a
  // pipe: a hook may exit without reading it, and our write into a pipe
  // whose reader is gone would be a SIGPIPE.
  const std::string state_json = ward::oci::to_json(st);
  for (auto& h : hooks) {
    ward::UniqueFd in(::memfd_create("ward-hook-state", MFD_CLOEXEC));
    if (!in) fail(std::string(which) + " hook: memfd_create: " + std::strerror(errno));
    if (::write(in.get(), state_json.data(), state_json.size()) !=
            static_cast<ssize_t>(state_json.size()) ||
        ::lseek(in.get(), 0, SEEK_SET) != 0)
      fail(std::string(which) + " hook: writing the state: " + std::strerror(errno));
    ward::Sandbox sb;
    std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    sb.command(args).executable(h.path).env(h.env).stdin_(ward::Stdio::fd(in.get()));
    if (in_container > 0) join_namespaces_of(sb, in_container);
    ward::Child child = [&] {
      try {
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

// ------------------------------------------------------------------ create / run

struct CreateOpts {
  std::string id, bundle, console_socket, pid_file;
  int preserve_fds = 0;
  bool no_pivot = false;
  bool detach = false;
  bool gate = true;  // create (true) or run in the foreground (false)
};

ward::Child spawn_container(const CreateOpts& o, Container& c, ward::oci::Config& cfg,
                            std::optional<ward::CgroupV2>& cg, int gate_fd) {
  if (!cfg.process) fail("config.json: process: required to create a container");
  if (cfg.process->terminal && o.console_socket.empty()) {
    if (o.gate || o.detach)
      fail("cannot allocate tty if ward will detach without setting console socket");
    // A foreground run without a socket: the child gets our own stdio
    // (a terminal already, when ward runs in one).
    cfg.process->terminal = false;
  }
  ward::oci::ToSandboxOptions tso;
  tso.no_pivot = o.no_pivot;
  tso.rootless = g.rootless;
  tso.warnings = &cfg.warnings;
  ward::Sandbox sb = ward::oci::to_sandbox(cfg, o.bundle, tso);
  for (auto& w : cfg.warnings) log_line("warning", w);
  for (auto& u : ward::oci::unsupported(cfg)) log_line("warning", u.path + ": " + u.reason);

  // The cgroup: born inside it (CLONE_INTO_CGROUP), limits first.
  std::string cgpath = ward::oci::cgroup_path_for(cfg, o.id);
  if (ward::cgroup_mode() != ward::CgroupMode::none) {
    if (g.systemd_cgroup)
      log_line("info", "--systemd-cgroup: ward manages cgroupfs paths itself (" + cgpath + ")");
    std::string rel = cgpath;
    while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    try {
      cg.emplace(ward::CgroupV2::create(rel, "/"));
    } catch (const Error& e) {
      // What a crashed container left: take an empty one over, as runc
      // does; one with processes in it belongs to someone.
      if (e.code().value() != EEXIST) throw;
      cg.emplace(ward::CgroupV2::adopt(cgpath));
      if (cg->events().populated) {
        cg->release();
        fail("cgroup " + cgpath + " already has processes in it");
      }
    }
    if (cfg.linux_ && cfg.linux_->resources) {
      // The limits now: the child is born under them. The device program
      // (deny by default, plus the defaults, as runc does at create) while
      // the child sets itself up (Sandbox::before_exec): loading it is ~5 %
      // of a `ward run`, and it only has to be in place before the
      // container's program runs (bench/README.md, "ward run against runc
      // and crun").
      ward::oci::Resources limits = *cfg.linux_->resources;
      limits.devices.clear();
      ward::oci::apply_resources(*cg, limits);
      sb.before_exec([&cg, &cfg] {
        ward::oci::ResourcesOptions ro;
        ro.always_device_program = true;
        ward::oci::Resources devices;
        devices.devices = cfg.linux_->resources->devices;
        ward::oci::apply_resources(*cg, devices, ro);
      });
    }
    sb.cgroup(*cg);
    c.cgroup = cg->path();
  } else if (cfg.linux_ && cfg.linux_->resources) {
    fail("linux.resources: this host has no cgroup v2 hierarchy (ward supports cgroup v2 only)");
  }

  // prestart, createRuntime (in our namespaces) and createContainer (in
  // the container's) run once its namespaces and mounts exist, before it
  // pivots into its root (config.md "Lifecycle" 3-6): the child waits.
  const auto& hk = cfg.hooks;
  if (!hk.prestart.empty() || !hk.create_runtime.empty() || !hk.create_container.empty()) {
    sb.before_pivot([&o, &cfg](pid_t pid) {
      ward::oci::State st;
      st.id = o.id;
      st.bundle = o.bundle;
      st.pid = pid;
      st.annotations = cfg.annotations;
      st.status = ward::oci::Status::creating;
      run_hooks(cfg.hooks.prestart, st, "prestart");
      run_hooks(cfg.hooks.create_runtime, st, "createRuntime");
      run_hooks(cfg.hooks.create_container, st, "createContainer", pid);
    });
  }
  for (int i = 0; i < o.preserve_fds; ++i) sb.keep_fd(3 + i, 3 + i);
  if (gate_fd >= 0) sb.start_gate(gate_fd);
  // A detached run outlives us before its exec: it must not share our
  // memory (the default spawn does, until exec).
  if (o.detach) sb.spawn_mode(ward::SpawnMode::fork);
  bool tty = cfg.process->terminal;
  ward::Child child = sb.spawn();
  if (tty) send_console(o.console_socket, child.terminal().get());
  return child;
}

int cmd_create_or_run(const CreateOpts& o_in) {
  CreateOpts o = o_in;
  check_id(o.id);
  o.bundle = fs::absolute(o.bundle.empty() ? "." : o.bundle).lexically_normal().string();
  while (o.bundle.size() > 1 && o.bundle.back() == '/') o.bundle.pop_back();
  ::mkdir(g.root.c_str(), 0711);
  Container c;
  c.id = o.id;
  c.dir = container_dir(o.id);
  if (::mkdir(c.dir.c_str(), 0711) != 0) {
    if (errno == EEXIST) fail("container with id exists: " + o.id);
    fail("mkdir " + c.dir + ": " + std::strerror(errno));
  }
  DirLock lock(c.dir);
  // Anything that fails from here on removes what was made: the state
  // directory, the cgroup (CgroupV2's destructor) and the child (Child's).
  struct Cleanup {
    std::string dir;
    bool armed = true;
    ~Cleanup() {
      if (armed) remove_state_dir(dir);
    }
  } cleanup{c.dir};

  ward::oci::Config cfg = ward::oci::load_config(o.bundle + "/config.json");
  std::optional<ward::CgroupV2> cg;
  int gate_fd = -1;
  if (o.gate) {
    std::string fifo = c.dir + "/exec.fifo";
    if (::mkfifo(fifo.c_str(), 0600) != 0) fail("mkfifo " + fifo + ": " + std::strerror(errno));
    gate_fd = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
    if (gate_fd < 0) fail("open " + fifo + ": " + std::strerror(errno));
  }
  // run with startContainer hooks: they run in the container, after its
  // setup and before its program (config.md "Lifecycle" 7), so the child
  // waits at a gate of ours (a pipe) until they are done.
  ward::UniqueFd run_gate;
  if (!o.gate && !cfg.hooks.start_container.empty()) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) fail("pipe: " + std::string(std::strerror(errno)));
    gate_fd = p[0];
    run_gate.reset(p[1]);
  }
  ward::Child child = spawn_container(o, c, cfg, cg, gate_fd);
  if (gate_fd >= 0) ::close(gate_fd);

  c.state.id = o.id;
  c.state.bundle = o.bundle;
  c.state.pid = child.pid();
  c.state.annotations = cfg.annotations;
  c.state.rootfs = (fs::path(o.bundle) / cfg.root.path).lexically_normal().string();
  c.state.created = now_rfc3339();
  c.state.owner = "";
  c.state.status = o.gate ? ward::oci::Status::created : ward::oci::Status::running;
  // With the pid, the start time is how later commands know the process is
  // still this container's; without it every state says "stopped". A
  // created container waits at its gate, so it must be there; a run's
  // program may already have ended (a zombie until we reap it), and then
  // "stopped" is the truth.
  auto started = start_time(child.pid());
  if (!started && o.gate)
    fail("the container's process " + std::to_string(child.pid()) +
         " is gone or a zombie right after its spawn (/proc/" + std::to_string(child.pid()) +
         "/stat)");
  c.starttime = started.value_or(0);
  c.save();
  if (!o.pid_file.empty()) write_atomic(o.pid_file, std::to_string(child.pid()));

  if (o.gate) {
    cleanup.armed = false;
    if (cg) cg->release();
    child.detach();
    return 0;
  }
  // run: started already (or waiting at run_gate for the startContainer
  // hooks); wait in the foreground unless detached.
  if (run_gate) {
    run_hooks(cfg.hooks.start_container, c.state, "startContainer", child.pid());
    if (::write(run_gate.get(), "0", 1) != 1)
      fail("run: start the container: " + std::string(std::strerror(errno)));
    run_gate.reset();
  }
  run_hooks(cfg.hooks.poststart, c.state, "poststart");
  if (o.detach) {
    cleanup.armed = false;
    if (cg) cg->release();
    child.detach();
    return 0;
  }
  ward::ExitStatus st = child.wait();
  if (cg) {
    try {
      cg->destroy();
    } catch (const Error& e) {
      log_line("warning", e.what());
    }
  }
  ward::oci::State final_state = c.state;
  final_state.status = ward::oci::Status::stopped;
  final_state.pid = 0;
  try {
    run_hooks(cfg.hooks.poststop, final_state, "poststop");
  } catch (const Fatal& f) {
    log_line("warning", f.msg);  // poststop failures are logged only (runtime.md)
  }
  return st.shell_status();
}

void signal_init(const Container& c, int sig);

int cmd_start(const std::string& id) {
  Container c = load(id);
  DirLock lock(c.dir);
  auto status = c.status();
  if (status == ward::oci::Status::stopped) fail("cannot start a container that has stopped");
  if (status != ward::oci::Status::created) fail("cannot start an already running container");
  auto cfg = ward::oci::load_config(c.state.bundle + "/config.json");
  // startContainer hooks: in the container, before its program
  // (config.md "Lifecycle" 7). One that fails stops the container.
  try {
    run_hooks(cfg.hooks.start_container, c.current_state(), "startContainer", c.state.pid);
  } catch (const Fatal&) {
    signal_init(c, SIGKILL);
    throw;
  }
  std::string fifo = c.dir + "/exec.fifo";
  int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail("open " + fifo + ": " + std::strerror(errno));
  bool ok = ::write(fd, "0", 1) == 1;
  ::close(fd);
  ::unlink(fifo.c_str());
  if (!ok) fail("start: write exec.fifo: " + std::string(std::strerror(errno)));
  c.state.status = ward::oci::Status::running;
  c.save();
  try {
    run_hooks(cfg.hooks.poststart, c.current_state(), "poststart");
  } catch (const Fatal& f) {
    log_line("warning", f.msg);
  }
  return 0;
}

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

int cmd_delete(const std::string& id, bool force) {
  std::string dir = container_dir(id);
  if (::access((dir + "/state.json").c_str(), F_OK) != 0) {
    if (force) {
      // A container whose create crashed may have left only a directory.
      remove_state_dir(dir);
      return 0;
    }
    fail("container does not exist");
  }
  Container c = load(id);
  DirLock lock(c.dir);
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
  if (auto cg = c.adopt_cgroup()) {
    try {
      cg->destroy();
    } catch (const Error& e) {
      log_line("warning", e.what());
    }
  }
  ward::oci::State final_state = c.state;
  final_state.status = ward::oci::Status::stopped;
  final_state.pid = 0;
  try {
    auto cfg = ward::oci::load_config(c.state.bundle + "/config.json");
    run_hooks(cfg.hooks.poststop, final_state, "poststop");
  } catch (const Fatal& f) {
    log_line("warning", f.msg);
  } catch (const std::exception& e) {
    log_line("warning", e.what());
  }
  remove_state_dir(c.dir);
  return 0;
}

// ------------------------------------------------------------------ queries

int cmd_state(const std::string& id) {
  Container c = load(id);
  out(ward::oci::to_json(c.current_state(), 2) + "\n");
  return 0;
}

int cmd_list(const std::string& format, bool quiet) {
  std::vector<Container> cs;
  if (DIR* d = ::opendir(g.root.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      try {
        cs.push_back(load(n));
      } catch (...) {
      }
    }
    ::closedir(d);
  }
  if (quiet) {
    for (auto& c : cs) out(c.id + "\n");
    return 0;
  }
  if (format == "json") {
    json::Array arr;
    for (auto& c : cs) {
      auto s = c.current_state();
      arr.push_back(json::Value::object({{"ociVersion", s.oci_version},
                                         {"id", s.id},
                                         {"pid", s.pid},
                                         {"status", std::string(ward::oci::to_string(s.status))},
                                         {"bundle", s.bundle},
                                         {"rootfs", s.rootfs},
                                         {"created", s.created},
                                         {"owner", s.owner}}));
    }
    out(json::dump(json::Value(std::move(arr))) + "\n");
    return 0;
  }
  std::printf("%-12s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
              "OWNER");
  for (auto& c : cs) {
    auto s = c.current_state();
    std::printf("%-12s %-8d %-10s %-40s %-32s %s\n", s.id.c_str(), s.pid,
                std::string(ward::oci::to_string(s.status)).c_str(), s.bundle.c_str(),
                s.created.c_str(), s.owner.empty() ? "root" : s.owner.c_str());
  }
  return 0;
}

std::vector<pid_t> container_pids(const Container& c) {
  if (auto cg = c.open_cgroup()) return cg->procs();
  if (c.alive()) return {c.state.pid};
  return {};
}

int cmd_ps(const std::string& id, const std::string& format,
           const std::vector<std::string>& ps_args) {
  Container c = load(id);
  auto pids = container_pids(c);
  if (format == "json") {
    json::Array arr;
    for (pid_t p : pids) arr.emplace_back(static_cast<std::int64_t>(p));
    out(json::dump(json::Value(std::move(arr))) + "\n");
    return 0;
  }
  // The table: ps(1)'s own output, filtered to the container's pids (runc
  // does the same).
  std::string cmd = "ps " + (ps_args.empty() ? std::string("-ef") : [&] {
                      std::string a;
                      for (auto& x : ps_args) a += (a.empty() ? "" : " ") + x;
                      return a;
                    }());
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) fail("ps: " + std::string(std::strerror(errno)));
  char line[4096];
  int pid_col = -1;
  bool header = true;
  while (std::fgets(line, sizeof line, f)) {
    std::vector<std::string> cols;
    for (std::size_t p = 0, n = std::strlen(line); p < n;) {
      while (p < n && std::isspace(static_cast<unsigned char>(line[p]))) ++p;
      std::size_t e = p;
      while (e < n && !std::isspace(static_cast<unsigned char>(line[e]))) ++e;
      if (e > p) cols.emplace_back(line + p, e - p);
      p = e;
    }
    if (header) {
      for (std::size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      out(line);
      header = false;
      continue;
    }
    if (pid_col < 0 || pid_col >= static_cast<int>(cols.size())) continue;
    pid_t p = std::atoi(cols[static_cast<std::size_t>(pid_col)].c_str());
    if (std::find(pids.begin(), pids.end(), p) != pids.end()) out(line);
  }
  ::pclose(f);
  return 0;
}

int cmd_pause(const std::string& id, bool pause) {
  Container c = load(id);
  DirLock lock(c.dir);
  if (!c.alive()) fail("container not running");
  auto cg = c.open_cgroup();
  if (!cg) fail("pause needs the container's cgroup (cgroup v2)");
  if (pause)
    cg->freeze();
  else
    cg->thaw();
  return 0;
}

json::Value stats_json(const Container& c) {
  json::Value data = json::Value::object();
  if (auto cg = c.open_cgroup()) {
    auto s = cg->stats();
    if (s.cpu)
      data.set("cpu",
               json::Value::object(
                   {{"usage", json::Value::object({{"total", s.cpu->usage_usec * 1000},
                                                   {"user", s.cpu->user_usec * 1000},
                                                   {"kernel", s.cpu->system_usec * 1000}})}}));
    json::Value mem = json::Value::object();
    if (s.memory_current)
      mem.set("usage", json::Value::object(
                           {{"usage", *s.memory_current}, {"max", s.memory_peak.value_or(0)}}));
    data.set("memory", std::move(mem));
    data.set("pids",
             json::Value::object({{"current", s.pids_current.value_or(container_pids(c).size())}}));
  }
  return json::Value::object({{"type", "stats"}, {"id", c.id}, {"data", std::move(data)}});
}

int cmd_events(const std::string& id, bool stats, const std::string& interval) {
  Container c = load(id);
  if (stats) {
    out(json::dump(stats_json(c)) + "\n");
    return 0;
  }
  double secs = 5;
  if (!interval.empty()) {
    secs = std::atof(interval.c_str());
    if (interval.back() == 'm' && interval.find("ms") == std::string::npos) secs *= 60;
    if (interval.find("ms") != std::string::npos) secs /= 1000;
    if (secs <= 0) fail("invalid interval: " + interval);
  }
  while (c.alive()) {
    out(json::dump(stats_json(c)) + "\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  }
  return 0;
}

int cmd_update(const std::string& id, const Args& a) {
  Container c = load(id);
  DirLock lock(c.dir);
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

// ------------------------------------------------------------------ exec

int cmd_exec(const Args& a) {
  if (a.pos.empty()) fail("exec: container id required");
  Container c = load(a.pos[0]);
  if (c.status() != ward::oci::Status::running && c.status() != ward::oci::Status::created)
    fail("cannot exec in a stopped container");
  auto cfg = ward::oci::load_config(c.state.bundle + "/config.json");
  ward::oci::Process proc;
  std::string pfile = a.get("process", a.get("p"));
  if (!pfile.empty()) {
    proc = ward::oci::parse_process(read_text(pfile), pfile);
  } else {
    if (a.pos.size() < 2) fail("exec: command required");
    proc = cfg.process ? *cfg.process : ward::oci::Process{};
    proc.args.assign(a.pos.begin() + 1, a.pos.end());
    proc.terminal = a.has("tty") || a.has("t");
    if (a.has("cwd")) proc.cwd = a.get("cwd");
    for (auto& e : a.all("env")) proc.env.push_back(e);
    for (auto& e : a.all("e")) proc.env.push_back(e);
    std::string user = a.get("user", a.get("u"));
    if (!user.empty()) {
      auto colon = user.find(':');
      proc.user.uid = static_cast<std::uint32_t>(std::stoul(user.substr(0, colon)));
      if (colon != std::string::npos)
        proc.user.gid = static_cast<std::uint32_t>(std::stoul(user.substr(colon + 1)));
    }
    auto caps = a.all("cap");
    for (auto& x : a.all("c")) caps.push_back(x);
    if (!caps.empty()) {
      // --cap adds to bounding, effective, permitted and ambient: never to
      // inheritable (CVE-2022-29162).
      if (!proc.capabilities) proc.capabilities.emplace();
      for (auto& cap : caps) {
        proc.capabilities->bounding.push_back(cap);
        proc.capabilities->effective.push_back(cap);
        proc.capabilities->permitted.push_back(cap);
        proc.capabilities->ambient.push_back(cap);
      }
    }
  }
  ward::Sandbox sb;
  ward::oci::apply_process(sb, proc);
  // Join every namespace of the container's init that differs from ours.
  join_namespaces_of(sb, c.state.pid);
  std::optional<ward::CgroupV2> cg = c.open_cgroup();
  if (cg) sb.cgroup(*cg);
  // The container's seccomp profile applies to exec'd processes too.
  ward::oci::apply_seccomp(sb, cfg, proc);
  int preserve = a.has("preserve-fds") ? std::stoi(a.get("preserve-fds")) : 0;
  for (int i = 0; i < preserve; ++i) sb.keep_fd(3 + i, 3 + i);
  std::string console = a.get("console-socket");
  bool detach = a.has("detach") || a.has("d");
  if (proc.terminal && console.empty() && detach)
    fail("cannot allocate tty if ward will detach without setting console socket");
  ward::Child child = sb.spawn();
  if (proc.terminal && !console.empty()) send_console(console, child.terminal().get());
  if (a.has("pid-file")) write_atomic(a.get("pid-file"), std::to_string(child.pid()));
  if (detach) {
    child.detach();
    return 0;
  }
  return child.wait().shell_status();
}

// ------------------------------------------------------------------ spec / features / version

// What `ward spec` writes: runc's default (a busybox-friendly `sh` in
// ./rootfs, three capabilities, the usual mounts, masked and read-only
// paths), with a user namespace mapping the caller to root when rootless.
std::string default_spec(bool rootless) {
  using json::Value;
  auto strs = [](std::initializer_list<const char*> l) {
    json::Array a;
    for (auto* s : l) a.emplace_back(s);
    return Value(std::move(a));
  };
  Value caps = strs({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  Value process = Value::object(
      {{"terminal", true},
       {"user", Value::object({{"uid", 0}, {"gid", 0}})},
       {"args", strs({"sh"})},
       {"env",
        strs({"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"})},
       {"cwd", "/"},
       {"capabilities",
        Value::object(
            {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}})},
       {"rlimits",
        Value::array({Value::object({{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}})})},
       {"noNewPrivileges", true}});
  auto mount = [&](const char* dst, const char* type, const char* src,
                   std::initializer_list<const char*> opts) {
    return Value::object(
        {{"destination", dst}, {"type", type}, {"source", src}, {"options", strs(opts)}});
  };
  json::Array mounts = {
      mount("/proc", "proc", "proc", {}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      rootless ? mount("/dev/pts", "devpts", "devpts",
                       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"})
               : mount("/dev/pts", "devpts", "devpts",
                       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      rootless ? mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"})
               : mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
  };
  if (!rootless)
    mounts.push_back(mount("/sys/fs/cgroup", "cgroup2", "cgroup",
                           {"nosuid", "noexec", "nodev", "relatime", "ro"}));
  json::Array ns;
  for (const char* t : {"pid", "network", "ipc", "uts", "mount"})
    ns.push_back(Value::object({{"type", t}}));
  if (rootless) ns.push_back(Value::object({{"type", "user"}}));
  Value linux_v = Value::object({{"namespaces", Value(std::move(ns))}});
  if (rootless) {
    linux_v.set(
        "uidMappings",
        Value::array({Value::object({{"containerID", 0}, {"hostID", ::getuid()}, {"size", 1}})}));
    linux_v.set(
        "gidMappings",
        Value::array({Value::object({{"containerID", 0}, {"hostID", ::getgid()}, {"size", 1}})}));
  } else {
    linux_v.set(
        "resources",
        Value::object(
            {{"devices", Value::array({Value::object({{"allow", false}, {"access", "rwm"}})})}}));
  }
  linux_v.set("maskedPaths", [] {
    json::Array a;
    for (auto& p : ward::default_masked_paths()) a.emplace_back(p);
    return Value(std::move(a));
  }());
  linux_v.set("readonlyPaths", [] {
    json::Array a;
    for (auto& p : ward::default_readonly_paths()) a.emplace_back(p);
    return Value(std::move(a));
  }());
  Value spec = Value::object({{"ociVersion", std::string(ward::oci::kOciVersionMax)},
                              {"process", std::move(process)},
                              {"root", Value::object({{"path", "rootfs"}, {"readonly", true}})},
                              {"hostname", "ward"},
                              {"mounts", Value(std::move(mounts))},
                              {"linux", std::move(linux_v)}});
  return json::dump(spec, {.indent = 4}) + "\n";
}

int cmd_spec(const std::string& bundle, bool rootless) {
  std::string dir = bundle.empty() ? "." : bundle;
  std::string path = dir + "/config.json";
  if (::access(path.c_str(), F_OK) == 0) fail("File " + path + " exists. Remove it first");
  write_atomic(path, default_spec(rootless));
  return 0;
}

void usage() {
  out("ward: an OCI container runtime built from the ward library\n\n"
      "usage: ward [global options] command [options] [args]\n\n"
      "commands: create start run exec state list kill delete ps pause resume\n"
      "          events update spec features\n\n"
      "global options: --root DIR --log FILE --log-format text|json --debug\n"
      "                --systemd-cgroup --rootless --cgroup-manager NAME\n");
}

int dispatch(const std::vector<std::string>& argv) {
  std::size_t i = 1;
  Args gl = parse_args(argv, i, true);
  g.debug = gl.has("debug");
  g.log_path = gl.get("log");
  g.log_json = gl.get("log-format") == "json";
  g.systemd_cgroup = gl.has("systemd-cgroup") || gl.get("cgroup-manager") == "systemd";
  std::string rl = gl.get("rootless", "auto");
  g.rootless = rl == "true" || (rl == "auto" && ::geteuid() != 0);
  if (gl.has("root")) {
    g.root = gl.get("root");
  } else if (::geteuid() != 0 && std::getenv("XDG_RUNTIME_DIR")) {
    g.root = std::string(std::getenv("XDG_RUNTIME_DIR")) + "/ward";
  } else {
    g.root = "/run/ward";
  }
  if (gl.has("version") || gl.has("v")) {
    out("ward version " + std::string(ward::version) +
        "\nspec: " + std::string(ward::oci::kOciVersionMax) + "\n");
    return 0;
  }
  if (gl.has("help") || gl.has("h") || i >= argv.size()) {
    usage();
    return i >= argv.size() && !gl.has("help") && !gl.has("h") ? 1 : 0;
  }
  std::string cmd = argv[i++];
  g_cmd = cmd;
  debug("command: " + cmd);
  if (cmd == "exec") {
    Args a = parse_args(argv, i, false, 1);
    // Everything after the id is the command (flags included).
    return cmd_exec(a);
  }
  Args a = parse_args(argv, i, false);
  auto id = [&]() -> std::string {
    if (a.pos.empty()) fail(cmd + ": container id required");
    return a.pos[0];
  };
  if (cmd == "create" || cmd == "run") {
    CreateOpts o;
    o.id = id();
    o.bundle = a.get("bundle", a.get("b"));
    o.console_socket = a.get("console-socket");
    o.pid_file = a.get("pid-file");
    o.preserve_fds = a.has("preserve-fds") ? std::stoi(a.get("preserve-fds")) : 0;
    o.no_pivot = a.has("no-pivot");
    o.detach = a.has("detach") || a.has("d");
    o.gate = cmd == "create";
    if (cmd == "run" && o.detach) o.gate = false;
    return cmd_create_or_run(o);
  }
  if (cmd == "start") return cmd_start(id());
  if (cmd == "state") return cmd_state(id());
  if (cmd == "list") return cmd_list(a.get("format", a.get("f")), a.has("quiet") || a.has("q"));
  if (cmd == "kill") {
    std::string sig = a.pos.size() > 1 ? a.pos[1] : a.get("signal", "TERM");
    return cmd_kill(id(), sig, a.has("all") || a.has("a"));
  }
  if (cmd == "delete") return cmd_delete(id(), a.has("force") || a.has("f"));
  if (cmd == "ps") {
    std::vector<std::string> rest(a.pos.size() > 1 ? a.pos.begin() + 1 : a.pos.end(), a.pos.end());
    return cmd_ps(id(), a.get("format", a.get("f")), rest);
  }
  if (cmd == "pause") return cmd_pause(id(), true);
  if (cmd == "resume") return cmd_pause(id(), false);
  if (cmd == "events") return cmd_events(id(), a.has("stats"), a.get("interval"));
  if (cmd == "update") return cmd_update(id(), a);
  if (cmd == "spec") return cmd_spec(a.get("bundle", a.get("b")), a.has("rootless"));
  if (cmd == "features") {
    out(ward::oci::features_json(4) + "\n");
    return 0;
  }
  fail("unknown command: " + cmd);
}

// dispatch() has destroyed everything it made when it returns; _exit skips
// only the static and thread-local destructors (see the top of the file).
[[noreturn]] void finish(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  int code = 1;
  try {
    std::vector<std::string> args(argv, argv + argc);
    code = dispatch(args);
  } catch (const Fatal& f) {
    log_line("error", f.msg);
    err_out("ward: " + f.msg + "\n");
  } catch (const std::exception& e) {
    log_line("error", e.what());
    err_out(std::string(e.what()) + "\n");
  }
  finish(code);
}
