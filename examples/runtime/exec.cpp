// SPDX-License-Identifier: Apache-2.0
// exec: a new process in a running container.
#include "runtime.hpp"

namespace wardrt {

// ------------------------------------------------------------------ exec

namespace {

// A uid or gid from the command line: decimal digits only, 0..4294967294
// (uint32 without (uid_t)-1, which setresuid(2) reads as "leave it"). runc
// reads them with Atoi and a uint32 cast, so "-1" becomes 4294967295 and
// crun's strtol stopped at "1000x" (the bug class of CVE-2026-30892): a
// typo or a hostile string must not become some other user.
std::uint32_t parse_id(const std::string& s, const char* what, const std::string& flag) {
  std::uint64_t v = 0;
  bool ok = !s.empty() && s.size() <= 10 &&
            std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (ok) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    ok = ec == std::errc() && p == s.data() + s.size() && v <= 4294967294ULL;
  }
  if (!ok) fail(flag + ": bad " + what + " \"" + s + "\": not a decimal number in 0..4294967294");
  return static_cast<std::uint32_t>(v);
}

// --cgroup [<controller>:]<path>: a cgroup below the container's own,
// which must exist already (runc: "run the process in an (existing)
// sub-cgroup"). ward's containers have one path in every hierarchy (v2 has
// one for every controller anyway): "path", or "ctl[,ctl]:path" forms that
// all name the same path. "/foo" and "foo" both mean <container cgroup>/foo
// (crun's tests write "/foo"); ".." is refused, so the process can never
// be put into a cgroup outside the container's (where its limits would
// not hold).
std::string sub_cgroup(const std::vector<std::string>& args) {
  std::optional<std::string> path;
  for (auto& arg : args) {
    std::string p = arg;
    if (auto colon = arg.find(':'); colon != std::string::npos) {
      if (colon == 0) fail("invalid --cgroup argument: " + arg + " (empty <controller> prefix)");
      p = arg.substr(colon + 1);
    } else if (args.size() != 1) {
      fail("invalid --cgroup argument: " + arg + " (missing <controller>: prefix)");
    }
    if (path && *path != p)
      fail("--cgroup: " + *path + " and " + p +
           ": ward puts a process in the same cgroup of every hierarchy (one path for all "
           "controllers)");
    path = p;
  }
  std::string rel;
  for (auto& part : fs::path(*path)) {
    std::string c = part.string();
    if (c == "/" || c.empty() || c == ".") continue;
    if (c == "..") fail("--cgroup " + *path + ": \"..\" would leave the container's cgroup");
    rel += "/" + c;
  }
  return rel;
}

// --apparmor and --process-label name a profile or a label of an LSM ward
// cannot apply; runc refuses both when the host lacks the LSM
// (apparmor.ErrApparmorNotEnabled; validate: "selinux label is specified
// in config, but selinux is disabled or not supported").
bool lsm_active(const char* name) {
  std::string lsms;
  int fd = ::open("/sys/kernel/security/lsm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    read_fd(fd, lsms);
    ::close(fd);
  }
  return ("," + lsms + ",").find(std::string(",") + name + ",") != std::string::npos;
}

}  // namespace

int cmd_exec(const Args& a) {
  const std::string& id = a.pos[0];
  if (a.has("apparmor"))
    fail(std::string("--apparmor ") + a.get("apparmor") + ": " +
         (lsm_active("apparmor") ? "ward does not apply AppArmor profiles"
                                 : "apparmor: config provided but apparmor not supported "
                                   "(AppArmor is not enabled on this host)"));
  if (a.has("process-label"))
    fail("--process-label " + a.get("process-label") + ": " +
         (lsm_active("selinux") ? "ward does not apply SELinux labels"
                                : "selinux label is specified, but selinux is disabled or not "
                                  "supported on this host"));
  std::int64_t preserve = a.integer("preserve-fds");
  if (preserve < 0 || preserve > 1024)
    fail("--preserve-fds: " + std::to_string(preserve) +
         " is not a number of descriptors (0..1024)");
  Container c = load(id);
  const auto status = c.status();
  if (status == ward::oci::Status::paused && !a.flag("ignore-paused"))
    fail("cannot exec in a paused container (use --ignore-paused to override)");
  if (status != ward::oci::Status::running && status != ward::oci::Status::created &&
      status != ward::oci::Status::paused)
    fail("cannot exec in a stopped container");
  auto cfg = saved_config(c);
  ward::oci::Process proc;
  std::string pfile = a.get("process");
  if (!pfile.empty()) {
    proc = ward::oci::parse_process(read_text(pfile), pfile);
    // runc takes the whole process from the file and ignores these flags;
    // ward says so instead of dropping them without a word. --tty that
    // agrees with the file (conmon passes both) is no conflict.
    for (const char* f : {"cwd", "env", "user", "additional-gids", "cap", "no-new-privs"})
      if (a.has(f))
        err_out(std::string("ward: warning: --") + f + " is ignored with --process " + pfile +
                " (the file describes the whole process, as with runc)\n");
    if (a.has("tty") && a.flag("tty") != proc.terminal)
      err_out("ward: warning: --tty is ignored with --process " + pfile +
              ": its \"terminal\" decides (as with runc)\n");
    if (a.pos.size() > 1)
      err_out("ward: warning: the command after the id is ignored with --process " + pfile + "\n");
  } else {
    if (a.pos.size() < 2) fail("exec args cannot be empty");
    proc = cfg.process ? *cfg.process : ward::oci::Process{};
    proc.args.assign(a.pos.begin() + 1, a.pos.end());
    // runc: no terminal unless --tty, whatever the config says.
    proc.terminal = a.flag("tty");
    if (a.has("cwd")) proc.cwd = a.get("cwd");
    for (auto& e : a.all("env")) proc.env.push_back(e);
    // runc: if IsSet, the flag's value (--no-new-privs=false clears it).
    if (a.has("no-new-privs")) proc.no_new_privileges = a.flag("no-new-privs");
    if (a.has("user")) {
      std::string user = a.get("user");
      const std::string flag = "--user " + user;
      auto colon = user.find(':');
      proc.user.uid = parse_id(user.substr(0, colon), "uid", flag);
      if (colon != std::string::npos) proc.user.gid = parse_id(user.substr(colon + 1), "gid", flag);
    }
    for (auto& gid : a.all("additional-gids"))
      proc.user.additional_gids.push_back(parse_id(gid, "gid", "--additional-gids " + gid));
    auto caps = a.all("cap");
    if (!caps.empty()) {
      // --cap adds to bounding, effective and permitted; never to
      // inheritable (CVE-2022-29162); to ambient only when the process
      // has inheritable capabilities, without which the kernel refuses
      // an ambient one (capabilities(7); runc 1.2 exec.go).
      if (!proc.capabilities) proc.capabilities.emplace();
      for (auto& cap : caps) {
        proc.capabilities->bounding.push_back(cap);
        proc.capabilities->effective.push_back(cap);
        proc.capabilities->permitted.push_back(cap);
        if (!proc.capabilities->inheritable.empty()) proc.capabilities->ambient.push_back(cap);
      }
    }
  }
  std::string console = a.get("console-socket");
  bool detach = a.flag("detach");
  if (proc.terminal && console.empty() && detach)
    fail("cannot allocate tty if ward will detach without setting console socket");
  // In the foreground without a socket, ward relays the pty (tty.cpp).
  const bool relay = proc.terminal && console.empty() && !detach;
  if (relay) size_from_caller(proc);
  std::optional<PidfdSocket> pidfd_sock;
  if (a.has("pidfd-socket")) pidfd_sock.emplace(a.get("pidfd-socket"));
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
  ward::oci::ProcessOptions po;
  po.exec_process = true;  // execCPUAffinity applies to exec'd processes only
  {
    // A user namespace whose setgroups is "deny" (a rootless container
    // mapping one gid) refuses setgroups(2) to everyone in it: the process
    // keeps the groups it has, as runc's setns init decides from
    // /proc/self/setgroups; additional groups cannot be given there.
    std::string policy;
    int sfd = ::open(("/proc/" + std::to_string(c.state.pid) + "/setgroups").c_str(),
                     O_RDONLY | O_CLOEXEC);
    if (sfd >= 0) {
      read_fd(sfd, policy);
      ::close(sfd);
    }
    if (policy.rfind("deny", 0) == 0) {
      if (!proc.user.additional_gids.empty())
        fail(
            "process.user.additionalGids: cannot set any additional groups in a container "
            "whose user namespace denies setgroups (rootless, one gid mapped)");
      sb.keep_groups();
    }
  }
  ward::oci::apply_process(sb, proc, po);
  sb.new_session();  // as in create.cpp's spawn_container
  ward::UniqueFd keep_root = join_namespaces_of(sb, pfd.get(), static_cast<bool>(c.rootfs_mount));
  std::optional<ward::Cgroups> cg = c.open_cgroup();
  if (a.has("cgroup")) {
    if (!cg) fail("--cgroup: the container has no cgroup of its own");
    std::string rel = sub_cgroup(a.all("cgroup"));
    if (!rel.empty()) {
      try {
        ward::Cgroups sub = ward::Cgroups::adopt(cg->path() + rel);
        sub.release();  // the container's, never removed by us
        // In every hierarchy the container has: a process left in the
        // runtime's cgroup of some hierarchy (say pids) would escape the
        // container's limits there.
        std::string missing;
        if (cg->v2() && !sub.v2()) missing = "the unified hierarchy";
        if (cg->v1())
          for (const auto& ctl : cg->v1()->controllers())
            if (!sub.v1() || !sub.v1()->has(ctl)) missing += (missing.empty() ? "" : ", ") + ctl;
        if (!missing.empty())
          fail("--cgroup " + a.get("cgroup") + ": " + sub.path() +
               " does not exist in every hierarchy of the container (missing in: " + missing + ")");
        cg.emplace(std::move(sub));
      } catch (const Error& e) {
        fail("--cgroup " + a.get("cgroup") + ": " + e.what());
      }
    }
  }
  if (cg) sb.cgroup(*cg);
  // The container's seccomp profile applies to exec'd processes too.
  ward::oci::apply_seccomp(sb, cfg, proc);
  keep_preserved_fds(sb, static_cast<int>(preserve));
  guard_runtime(sb, c.no_new_keyring);
  ward::Child child = spawn_into_cgroup(sb, cg ? cg->path() : std::string());
  // Its own filter, its own listener: to the seccomp agent too, as runc's
  // setns process sends it (create.cpp has the rest of the story).
  if (auto prof = ward::oci::seccomp_profile(cfg); prof && ward::oci::seccomp_notifies(*prof)) {
    ward::oci::send_to_seccomp_agent(prof->listener_path, c.current_state(), child.pid(),
                                     prof->listener_metadata, child.seccomp_listener().get());
    child.seccomp_listener().reset();
  }
  if (proc.terminal && !console.empty()) send_console(console, child.terminal().get());
  if (a.has("pid-file")) write_atomic(a.get("pid-file"), std::to_string(child.pid()));
  if (pidfd_sock) pidfd_sock->send(child.pidfd(), "setns");
  if (detach) {
    child.detach();
    return 0;
  }
  // The process runs: from here on its own status is ours, not 255.
  g.error_status = 1;
  return wait_foreground(child, relay).shell_status();
}

}  // namespace wardrt
