// SPDX-License-Identifier: Apache-2.0
// `ward`: an OCI runtime with runc's command line, built only from ward's
// headers. podman, containerd (runc shim v2) and so Kubernetes can drive it.
//
// The life of a container, and where ward does each step:
//   create  load config.json (oci/config.hpp) -> make the cgroup (Cgroups) ->
//           map the config onto a Sandbox (oci/sandbox.hpp) -> spawn with a
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
// State lives in <root>/<id>/ (root: --root, /run/ward by default; 0700):
// one record, state.json (0600), written atomically (a fresh temp file +
// renameat, below a descriptor of --root), exec.fifo while created, and a
// lock (flock on the directory) around every change.
//
// Start-up cost matters (an engine runs the runtime several times per
// container; bench/README.md, "ward run against runc and crun"): no
// iostreams (<iostream>'s static initializer, or the first stream of any
// kind, builds the C++ locale: ~3 % of a `ward run` here), no time zone
// (gmtime_r reads /etc/localtime first), and main() ends with _exit() once
// stdio is flushed, not with exit(): nothing global needs destroying, and
// unmapping the spawn stack cached per thread took a TLB shoot-down IPI to
// the CPU the container ran on (~2 %).
//
// Files (one concern each; runtime.hpp declares what they share):
//   main.cpp     the command dispatch
//   cli.cpp      runc's command-line syntax
//   log.cpp      --log/--log-format, output helpers
//   state.cpp    the state store under --root
//   hooks.cpp    OCI hooks, console socket
//   config.cpp   the config create read, kept in the state directory
//   create.cpp   create, run, start
//   exec.cpp     exec
//   control.cpp  kill, delete, pause, resume, update
//   query.cpp    state, list, ps, events
//   spec.cpp     spec
//   notify.cpp   NOTIFY_SOCKET: the container's readiness to our caller
//   tty.cpp      the foreground: signals forwarded, the terminal relayed
#include "runtime.hpp"

namespace wardrt {

namespace {

using K = FlagKind;

// runc 1.2-1.5's flags, command by command (the union: a flag one of them
// has is accepted), plus crun's spellings that crun's tests use (marked).
const std::vector<FlagDef> kGlobalFlags = {
    {"debug", K::boolean},
    {"log", K::string},
    {"log-format", K::string},
    {"root", K::string},
    {"systemd-cgroup", K::boolean},
    {"rootless", K::string},
    {"version, v", K::boolean},
    {"criu", K::string},            // runc 1.2 (hidden, ignored with a warning)
    {"cgroup-manager", K::string},  // crun
};

const std::vector<FlagDef> kCreateFlags = {
    {"bundle, b", K::string},     {"console-socket", K::string}, {"pidfd-socket", K::string},
    {"pid-file", K::string},      {"no-pivot", K::boolean},      {"no-new-keyring", K::boolean},
    {"preserve-fds", K::integer}, {"config, f", K::string},  // crun: another config file than
                                                             // <bundle>/config.json
};

std::vector<FlagDef> run_flags() {
  auto v = kCreateFlags;
  v.push_back({"detach, d", K::boolean});
  v.push_back({"keep", K::boolean});
  v.push_back({"no-subreaper", K::boolean});
  return v;
}

const std::vector<FlagDef> kExecFlags = {
    {"console-socket", K::string},
    {"pidfd-socket", K::string},
    {"cwd", K::string},
    {"env, e", K::string_list},
    {"tty, t", K::boolean},
    {"user, u", K::string},
    {"additional-gids, g", K::int64_list},
    {"process, p", K::string},
    {"detach, d", K::boolean},
    {"pid-file", K::string},
    {"process-label", K::string},
    {"apparmor", K::string},
    {"no-new-privs", K::boolean},
    {"cap, c", K::string_list},
    {"preserve-fds", K::integer},
    {"cgroup", K::string_list},
    {"ignore-paused", K::boolean},
};

const std::vector<FlagDef> kUpdateFlags = {
    {"resources, r", K::string},  {"blkio-weight", K::integer},  {"cpu-period", K::string},
    {"cpu-quota", K::string},     {"cpu-burst", K::string},      {"cpu-share", K::string},
    {"cpu-rt-period", K::string}, {"cpu-rt-runtime", K::string}, {"cpuset-cpus", K::string},
    {"cpuset-mems", K::string},   {"kernel-memory", K::string},  {"kernel-memory-tcp", K::string},
    {"memory", K::string},        {"cpu-idle", K::string},       {"memory-reservation", K::string},
    {"memory-swap", K::string},   {"pids-limit", K::integer},    {"l3-cache-schema", K::string},
    {"mem-bw-schema", K::string},
};

struct CommandDef {
  const char* name;
  std::vector<FlagDef> flags;
  int min_args, max_args;  // positional arguments (runc's checkArgs); -1: any
  const char* args_usage;
};

const std::vector<CommandDef>& commands() {
  static const std::vector<CommandDef> cmds = {
      {"create", kCreateFlags, 1, 1, "<container-id>"},
      {"run", run_flags(), 1, 1, "<container-id>"},
      {"start", {}, 1, 1, "<container-id>"},
      {"exec", kExecFlags, 1, -1,
       "<container-id> <command> [args...] || -p process.json <container-id>"},
      {"state", {}, 1, 1, "<container-id>"},
      {"list", {{"format, f", K::string}, {"quiet, q", K::boolean}}, 0, 0, ""},
      {"kill", {{"all, a", K::boolean}}, 1, 2, "<container-id> [signal]"},
      {"delete",
       {{"force, f", K::boolean}, {"regex, r", K::boolean}},  // --regex: crun
       1,
       1,
       "<container-id>"},
      {"ps", {{"format, f", K::string}}, 1, -1, "<container-id> [ps options]"},
      {"pause", {}, 1, 1, "<container-id>"},
      {"resume", {}, 1, 1, "<container-id>"},
      {"events", {{"interval", K::duration}, {"stats", K::boolean}}, 1, 1, "<container-id>"},
      {"update", kUpdateFlags, 1, 1, "<container-id>"},
      {"spec", {{"bundle, b", K::string}, {"rootless", K::boolean}}, 0, 0, ""},
      {"features", {}, 0, 0, ""},
  };
  return cmds;
}

std::string flag_list(const std::vector<FlagDef>& flags) {
  std::string s;
  for (auto& f : flags) {
    std::string n = f.names;
    std::string shown;
    std::size_t p = 0;
    while (p <= n.size()) {
      auto c = n.find(',', p);
      std::string one = n.substr(p, c == std::string::npos ? std::string::npos : c - p);
      while (!one.empty() && one.front() == ' ') one.erase(0, 1);
      shown += (shown.empty() ? "" : ", ") + std::string(one.size() == 1 ? "-" : "--") + one;
      if (f.kind != K::boolean) shown += " value";
      if (c == std::string::npos) break;
      p = c + 1;
    }
    s += "   " + shown + "\n";
  }
  return s;
}

void usage() {
  out("ward: an OCI container runtime built from the ward library\n\n"
      "usage: ward [global options] command [command options] [arguments...]\n\n"
      "commands: create start run exec state list kill delete ps pause resume\n"
      "          events update spec features help\n"
      "          (checkpoint and restore are refused: not supported)\n\n"
      "global options:\n" +
      flag_list(kGlobalFlags) + "   --help, -h\n");
}

void command_usage(const CommandDef& c) {
  out(std::string("usage: ward ") + c.name + (c.flags.empty() ? "" : " [command options]") +
      (*c.args_usage ? " " : "") + c.args_usage + "\n" +
      (c.flags.empty() ? "" : "\noptions:\n" + flag_list(c.flags)));
}

void count_args(const CommandDef& c, const Args& a) {
  const int n = static_cast<int>(a.pos.size());
  const std::string q = std::string("\"") + c.name + "\"";
  if (c.min_args == c.max_args && n != c.min_args)
    throw UsageError{q + " requires exactly " + std::to_string(c.min_args) + " argument(s)"};
  if (n < c.min_args)
    throw UsageError{q + " requires a minimum of " + std::to_string(c.min_args) + " argument(s)"};
  if (c.max_args >= 0 && n > c.max_args)
    throw UsageError{q + " requires a maximum of " + std::to_string(c.max_args) + " argument(s)"};
}

}  // namespace

int dispatch(const std::vector<std::string>& argv) {
  // The global flags: no reordering, they end at the command's name.
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  Args gl = parse_flags(kGlobalFlags, rest, false);
  g.debug = gl.flag("debug");
  g.log_path = gl.get("log");
  const std::string log_format = gl.get("log-format", "text");
  if (log_format != "text" && log_format != "json")
    throw UsageError{"invalid log-format: " + log_format};
  g.log_json = log_format == "json";
  const std::string manager = gl.get("cgroup-manager", "cgroupfs");
  if (manager != "cgroupfs" && manager != "systemd" && manager != "disabled")
    throw UsageError{"--cgroup-manager: unknown cgroup manager " + manager +
                     " (cgroupfs, systemd or disabled)"};
  g.systemd_cgroup = gl.flag("systemd-cgroup") || manager == "systemd";
  std::string rl = gl.get("rootless", "auto");
  const bool euid0 = ::geteuid() == 0;
  const bool userns = euid0 && in_user_namespace();
  if (rl == "auto") {
    // runc's shouldUseRootlessCgroupManager: rootless unless root of the
    // initial user namespace. Root in another one is rootless too, except
    // with --systemd-cgroup, where runc asks systemd for the bus owner's uid
    // and takes 0 when it cannot tell (ward does not ask: 0).
    g.rootless = !euid0 || (userns && !g.systemd_cgroup);
  } else if (rl == "true" || rl == "1" || rl == "t" || rl == "T" || rl == "TRUE" || rl == "True") {
    g.rootless = true;
  } else if (rl == "false" || rl == "0" || rl == "f" || rl == "F" || rl == "FALSE" ||
             rl == "False") {
    g.rootless = false;
  } else {
    throw UsageError{"invalid --rootless value: " + rl + " (true, false or auto)"};
  }
  if (gl.has("criu"))
    err_out("ward: warning: --criu ignored (ward does not checkpoint or restore)\n");
  // runc's root: --root, else $XDG_RUNTIME_DIR/runc when it is set and
  // honoured (shouldHonorXDGRuntimeDir: not root, or root in a user
  // namespace whose $USER is not "root"), else /run/runc.
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  const char* user = std::getenv("USER");
  const bool honor_xdg =
      !euid0 || (userns && (user == nullptr || std::string_view(user) != "root"));
  bool xdg_root = false;
  if (gl.has("root")) {
    g.root = gl.get("root");
  } else if (xdg != nullptr && *xdg != '\0' && honor_xdg) {
    g.root = std::string(xdg) + "/ward";
    xdg_root = true;
  } else {
    g.root = "/run/ward";
  }
  if (gl.flag("version")) {
    out("ward version " + std::string(ward::version) +
        "\nspec: " + std::string(ward::oci::kOciVersionMax) + "\n");
    return 0;
  }
  if (gl.help || gl.pos.empty()) {
    usage();
    return gl.help ? 0 : 1;
  }
  const std::string cmd = gl.pos[0];
  debug("command: " + cmd);
  if (cmd == "help" || cmd == "h") {
    usage();
    return 0;
  }
  if (cmd == "checkpoint" || cmd == "restore") fail(cmd + " is not supported");
  // runc makes $XDG_RUNTIME_DIR/runc before any command; ward before any
  // that uses the state store.
  if (xdg_root && cmd != "spec" && cmd != "features") open_xdg_root(xdg);
  const CommandDef* def = nullptr;
  for (auto& c : commands())
    if (cmd == c.name) def = &c;
  if (def == nullptr) throw UsageError{"No help topic for '" + cmd + "'"};
  std::vector<std::string> cargs(gl.pos.begin() + 1, gl.pos.end());
  // exec: what follows the id is the command, flags included (runc's
  // SkipArgReorder).
  Args a = parse_flags(def->flags, cargs, cmd != "exec");
  if (a.help) {
    command_usage(*def);
    return 0;
  }
  count_args(*def, a);
  // Checked before anything touches the state store (runc's rule,
  // state.cpp check_id; tests/attack/state_attack_test.cpp "ids"). A
  // --regex delete names a pattern, not an id.
  if (def->min_args > 0 && !(cmd == "delete" && a.flag("regex"))) check_id(a.pos[0]);
  const std::string id = a.pos.empty() ? std::string() : a.pos[0];
  if (cmd == "create" || cmd == "run") {
    CreateOpts o;
    o.id = id;
    o.bundle = a.get("bundle");
    o.config = a.get("config");
    o.console_socket = a.get("console-socket");
    o.pidfd_socket = a.get("pidfd-socket");
    o.pid_file = a.get("pid-file");
    std::int64_t fds = a.integer("preserve-fds");
    if (fds < 0 || fds > 1024)
      fail("--preserve-fds: " + std::to_string(fds) + " is not a number of descriptors (0..1024)");
    o.preserve_fds = static_cast<int>(fds);
    o.no_pivot = a.flag("no-pivot");
    o.no_new_keyring = a.flag("no-new-keyring");
    o.detach = a.flag("detach");
    o.keep = a.flag("keep");
    o.gate = cmd == "create";
    return cmd_create_or_run(o);
  }
  if (cmd == "start") return cmd_start(id);
  if (cmd == "state") return cmd_state(id);
  if (cmd == "list") return cmd_list(a.get("format", "table"), a.flag("quiet"));
  if (cmd == "kill") return cmd_kill(id, a.pos.size() > 1 ? a.pos[1] : "SIGTERM", a.flag("all"));
  if (cmd == "delete")
    return a.flag("regex") ? cmd_delete_regex(id, a.flag("force"))
                           : cmd_delete(id, a.flag("force"));
  if (cmd == "ps") {
    std::vector<std::string> ps_args(a.pos.begin() + 1, a.pos.end());
    return cmd_ps(id, a.get("format", "table"), ps_args);
  }
  if (cmd == "pause") return cmd_pause(id, true);
  if (cmd == "resume") return cmd_pause(id, false);
  if (cmd == "events") return cmd_events(id, a.flag("stats"), a.seconds("interval", 5));
  if (cmd == "update") return cmd_update(id, a);
  if (cmd == "spec") return cmd_spec(a.get("bundle"), a.flag("rootless"));
  if (cmd == "features") {
    out(ward::oci::features_json(4) + "\n");
    return 0;
  }
  if (cmd == "exec") {
    // runc: every error from here on is "exec failed: ..." with status
    // 255 (exec.go fatalWithCode), so a caller tells a failure to set the
    // process up from the process's own exit status.
    g.error_status = 255;
    return cmd_exec(a);
  }
  fail("unknown command: " + cmd);
}

// --preserve-fds N hands descriptors 3..3+N-1 to the container, but only
// those that were open when ward started: a hole in that range would
// otherwise be filled by whatever ward itself opened meanwhile (the state
// directory, a lock, a cgroup, a pipe to the child) and let a runtime
// descriptor into the container. So main() looks, before anything opens a
// descriptor, at every fd a --preserve-fds in argv could name (the largest
// N anywhere in argv: a false match only looks at more). Test:
// attack."preserve-fds: a hole below N passes no runtime descriptor" (proc_attack_test.cpp).
namespace {
std::vector<bool> g_open_at_start;  // [i]: fd 3 + i was open at start

void note_open_fds(int argc, char** argv) {
  long most = 0;
  for (int i = 1; i < argc; ++i) {
    std::string_view s = argv[i];
    while (!s.empty() && s.front() == '-') s.remove_prefix(1);
    const char* v = nullptr;
    if (s == "preserve-fds" && i + 1 < argc) v = argv[i + 1];
    if (s.rfind("preserve-fds=", 0) == 0) v = s.data() + 13;  // argv[i]'s own tail
    if (v != nullptr) most = std::max(most, std::strtol(v, nullptr, 10));
  }
  try {
    most += listen_fds();  // they come first, at 3 (create.cpp)
  } catch (const Fatal&) {
    // create says why; nothing of ours is open yet to look at
  }
  // Sandbox::keep_fd takes at most 250 descriptors: more is an error there.
  most = std::min(most, 1024L);
  for (long fd = 3; fd < 3 + most; ++fd) g_open_at_start.push_back(::fcntl(fd, F_GETFD) >= 0);
}
}  // namespace

// Started with stdin, stdout or stderr closed (a daemonizer, an engine that
// closes what it does not use), our first open() would take that number:
// the state root or the container's directory, which the container then
// inherits as its stdio and walks out of with openat("../..") to the
// host's /etc/shadow (CVE-2024-21626's class; found by review, attack
// "stdio: a runtime started with stdio closed hands none of its
// descriptors to the container", proc_attack_test). As glibc does for
// set-user-ID programs: /dev/null onto each closed one, before anything.
void ensure_stdio() {
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // The lowest free number is `fd`: the ones below it are open by now.
    int n = ::open("/dev/null", O_RDWR);
    if (n != fd) ::_exit(1);  // nothing safe to say it on
  }
}

int listen_fds() {
  // sd_listen_fds(3): LISTEN_FDS descriptors from 3 on, for the process
  // whose pid LISTEN_PID names. A LISTEN_PID of another process means they
  // are not ours (a leftover in the environment): none. Without
  // LISTEN_PID, as crun, they are taken as ours (a caller that passes
  // descriptors by hand).
  const char* n = std::getenv("LISTEN_FDS");
  if (n == nullptr || *n == '\0') return 0;
  if (const char* pid = std::getenv("LISTEN_PID");
      pid != nullptr && std::string(pid) != std::to_string(::getpid()))
    return 0;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(n, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > 250 ||
      !std::isdigit(static_cast<unsigned char>(*n)))
    fail("LISTEN_FDS=" + std::string(n) + ": not a number of descriptors (0..250)");
  return static_cast<int>(v);
}

void keep_preserved_fds(ward::Sandbox& sb, int n) {
  for (int i = 0; i < n; ++i)
    if (static_cast<std::size_t>(i) < g_open_at_start.size() && g_open_at_start[i])
      sb.keep_fd(3 + i, 3 + i);
}

// dispatch() has destroyed everything it made when it returns; _exit skips
// only the static and thread-local destructors (see the top of the file).
[[noreturn]] void finish(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(code);
}

}  // namespace wardrt

int main(int argc, char** argv) {
  int code = 1;
  using namespace wardrt;
  ensure_stdio();             // first of all: see there
  note_open_fds(argc, argv);  // then, before anything opens a descriptor
  try {
    std::vector<std::string> args(argv, argv + argc);
    code = dispatch(args);
  } catch (const UsageError& u) {
    code = 1;
    log_line("error", u.msg);
    err_out("ward: " + u.msg + "\n");
  } catch (const Fatal& f) {
    code = g.error_status;
    // runc: "exec failed: <why>" (exec.go).
    std::string msg = (code == 255 ? "exec failed: " : "") + f.msg;
    log_line("error", msg);
    err_out("ward: " + msg + "\n");
  } catch (const std::exception& e) {
    code = g.error_status;
    std::string msg = (code == 255 ? "exec failed: " : "") + std::string(e.what());
    log_line("error", msg);
    err_out(msg + "\n");
  }
  finish(code);
}
