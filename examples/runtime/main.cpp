// SPDX-License-Identifier: Apache-2.0
// `ward`: an OCI runtime with runc's command line, built only from ward's
// headers. podman, containerd (runc shim v2) and so Kubernetes can drive it.
//
// The life of a container, and where ward does each step:
//   create  load config.json (oci/config.hpp) -> make the cgroup (CgroupV2) ->
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
//   tty.cpp      the foreground: signals forwarded, the terminal relayed
#include "runtime.hpp"

namespace wardrt {

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
    if (!a.pos.empty()) check_id(a.pos[0]);
    // Everything after the id is the command (flags included).
    return cmd_exec(a);
  }
  Args a = parse_args(argv, i, false);
  auto id = [&]() -> std::string {
    if (a.pos.empty()) fail(cmd + ": container id required");
    // Checked before anything touches the state store (runc's rule,
    // state.cpp check_id; tests/attack/state_attack_test.cpp "ids").
    check_id(a.pos[0]);
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
  // Sandbox::keep_fd takes at most 250 descriptors: more is an error there.
  most = std::min(most, 1024L);
  for (long fd = 3; fd < 3 + most; ++fd) g_open_at_start.push_back(::fcntl(fd, F_GETFD) >= 0);
}
}  // namespace

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
  note_open_fds(argc, argv);  // first: before anything opens a descriptor
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
