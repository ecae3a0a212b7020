// SPDX-License-Identifier: Apache-2.0
// exec: a new process in a running container.
#include "runtime.hpp"

namespace wardrt {

// ------------------------------------------------------------------ exec

int cmd_exec(const Args& a) {
  if (a.pos.empty()) fail("exec: container id required");
  Container c = load(a.pos[0]);
  if (c.status() != ward::oci::Status::running && c.status() != ward::oci::Status::created)
    fail("cannot exec in a stopped container");
  auto cfg = saved_config(c);
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
  std::string console = a.get("console-socket");
  bool detach = a.has("detach") || a.has("d");
  // In the foreground without a socket, ward relays the pty (tty.cpp).
  const bool relay = proc.terminal && console.empty() && !detach;
  if (relay) size_from_caller(proc);
  // Join every namespace of the container's init that differs from ours,
  // through a pidfd checked to be the init (not whoever has its pid now).
  ward::UniqueFd pfd = open_container_pidfd(c.state.pid, c.starttime, &c);
  {
    // HOME, when process.env has none: from the container's /etc/passwd as
    // the init sees it (its mounts included), as runc's exec does
    // (prepareEnv). The pidfd is checked alive after the open, so the
    // root was the init's.
    ward::UniqueFd rootfd(::open(("/proc/" + std::to_string(c.state.pid) + "/root").c_str(),
                                 O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfd || ::syscall(SYS_pidfd_send_signal, pfd.get(), 0, nullptr, 0) != 0)
      fail("container not running");
    ward::oci::default_home(proc, rootfd.get());
  }
  ward::Sandbox sb;
  ward::oci::apply_process(sb, proc);
  sb.new_session();  // as in create.cpp's spawn_container
  join_namespaces_of(sb, pfd.get());
  std::optional<ward::CgroupV2> cg = c.open_cgroup();
  if (cg) sb.cgroup(*cg);
  // The container's seccomp profile applies to exec'd processes too.
  ward::oci::apply_seccomp(sb, cfg, proc);
  int preserve = a.has("preserve-fds") ? std::stoi(a.get("preserve-fds")) : 0;
  keep_preserved_fds(sb, preserve);
  if (proc.terminal && console.empty() && detach)
    fail("cannot allocate tty if ward will detach without setting console socket");
  guard_runtime(sb);
  ward::Child child = sb.spawn();
  if (proc.terminal && !console.empty()) send_console(console, child.terminal().get());
  if (a.has("pid-file")) write_atomic(a.get("pid-file"), std::to_string(child.pid()));
  if (detach) {
    child.detach();
    return 0;
  }
  return wait_foreground(child, relay).shell_status();
}

}  // namespace wardrt
