// SPDX-License-Identifier: Apache-2.0
// create, run and start.
#include "runtime.hpp"

namespace wardrt {

bool unprivileged() { return ::geteuid() != 0 || in_user_namespace(); }

namespace {

// An executable `name` in $PATH (Go's exec.LookPath, as runc finds
// newuidmap and newgidmap); "" when none.
std::string look_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::size_t p = 0;
  while (p <= dirs.size()) {
    std::size_t e = dirs.find(':', p);
    if (e == std::string::npos) e = dirs.size();
    std::string d = dirs.substr(p, e - p);
    p = e + 1;
    if (d.empty() || d[0] != '/') continue;  // a relative entry is not ours to trust
    std::string f = d + "/" + name;
    struct stat st {};
    if (::stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(f.c_str(), X_OK) == 0)
      return f;
  }
  return {};
}

// The linux.resources fields a config sets that need a cgroup controller
// (runc's needAnyControllers): what a rootless container without a
// delegated cgroup cannot have. Device rules are not among them: a
// rootless container gets devices as bind mounts, and only root can make
// a device node anyway.
std::vector<std::string> asked_limits(const ward::oci::Config& cfg) {
  std::vector<std::string> f;
  if (!cfg.linux_ || !cfg.linux_->resources) return f;
  const auto& r = *cfg.linux_->resources;
  const std::string base = "linux.resources.";
  if (r.memory) {
    const auto& m = *r.memory;
    if (m.limit) f.push_back(base + "memory.limit");
    if (m.reservation) f.push_back(base + "memory.reservation");
    if (m.swap) f.push_back(base + "memory.swap");
    if (m.kernel) f.push_back(base + "memory.kernel");
    if (m.kernel_tcp) f.push_back(base + "memory.kernelTCP");
    if (m.swappiness) f.push_back(base + "memory.swappiness");
    if (m.disable_oom_killer) f.push_back(base + "memory.disableOOMKiller");
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares) f.push_back(base + "cpu.shares");
    if (c.quota) f.push_back(base + "cpu.quota");
    if (c.burst) f.push_back(base + "cpu.burst");
    if (c.period) f.push_back(base + "cpu.period");
    if (c.realtime_runtime) f.push_back(base + "cpu.realtimeRuntime");
    if (c.realtime_period) f.push_back(base + "cpu.realtimePeriod");
    if (!c.cpus.empty()) f.push_back(base + "cpu.cpus");
    if (!c.mems.empty()) f.push_back(base + "cpu.mems");
    if (c.idle) f.push_back(base + "cpu.idle");
  }
  if (r.pids && r.pids->limit) f.push_back(base + "pids.limit");
  if (r.block_io) f.push_back(base + "blockIO");
  if (!r.hugepage_limits.empty()) f.push_back(base + "hugepageLimits");
  if (r.network) f.push_back(base + "network");
  if (!r.rdma.empty()) f.push_back(base + "rdma");
  if (!r.unified.empty()) f.push_back(base + "unified");
  return f;
}

// Where a rootless container's cgroup goes, as runc's cgroupfs managers
// put it: an absolute linux.cgroupsPath as it is; a relative one, or the
// id when there is none, below the parent of the caller's own cgroup in
// the unified hierarchy (fs2 defaultDirPath: the caller's cgroup has
// processes, so its parent is the delegated subtree to make siblings in:
// systemd's user@UID.service, or a directory made over to the user). On a
// host without a unified hierarchy, below the caller's own cgroup in the
// first v1 one (runc's fs: relative paths hang below the caller's).
std::string rootless_cgroup_path(const ward::oci::Config& cfg, const std::string& id) {
  std::string p = cfg.linux_ ? cfg.linux_->cgroups_path : std::string();
  if (!p.empty() && p[0] == '/') return ward::oci::cgroup_path_for(cfg, id);
  std::string inner = p.empty() ? id : p;
  const bool unified = !ward::cgroup_host().unified_mount.empty();
  const std::string own = main_cgroup_of(read_text("/proc/self/cgroup")).value_or("/");
  fs::path base(own);
  if (unified) base = base.parent_path();
  std::string out = (base / inner).lexically_normal().string();
  if (out.empty() || out[0] != '/') out = "/" + out;
  // ".." in a relative cgroupsPath must not climb out of the caller's tree.
  std::string b = base.lexically_normal().string();
  if (b != "/" && out != b && out.rfind(b + "/", 0) != 0)
    fail("linux.cgroupsPath " + p + ": leaves the caller's cgroup " + b);
  if (out == b) fail("linux.cgroupsPath " + p + ": names the caller's own cgroup tree");
  return out;
}

ward::Child spawn_container(const CreateOpts& o, Container& c, ward::oci::Config& cfg,
                            std::optional<ward::Cgroups>& cg, int gate_fd,
                            std::optional<SystemdScope>& sd) {
  if (!cfg.process) fail("config.json: process: required to create a container");
  c.no_new_keyring = o.no_new_keyring;  // saved with the record, for exec
  if (cfg.process->terminal && o.console_socket.empty()) {
    if (o.gate || o.detach)
      fail("cannot allocate tty if ward will detach without setting console socket");
    // A foreground run without a socket: a pty of the container's own,
    // sized like ours, relayed by us (tty.cpp). Never our own terminal: a
    // process that has it as its controlling terminal can type into it
    // with TIOCSTI (tests/attack/tty_attack_test.cpp).
    size_from_caller(*cfg.process);
  }
  ward::oci::ToSandboxOptions tso;
  tso.no_pivot = o.no_pivot;
  tso.rootless = g.rootless;
  if (::geteuid() != 0) {
    // Maps of more than our own id go through shadow's helpers, as runc's.
    tso.uid_map_helper = look_path("newuidmap");
    tso.gid_map_helper = look_path("newgidmap");
  }
  tso.warnings = &cfg.warnings;
  // The container's cgroup (made below in every hierarchy, before the
  // child): its /sys/fs/cgroup on a host with v1 hierarchies shows that
  // one (oci::to_sandbox, "cgroup" mounts).
  //
  // Rootless, the container's cgroup is in the unified hierarchy only (a
  // delegated subtree, or none): in every v1 hierarchy it stays in ours,
  // which is what the view shows then (an empty path: the caller's own).
  if (ward::cgroup_mode() != ward::CgroupMode::none && !(g.rootless && unprivileged()))
    tso.cgroup_path = c.cgroup;
  ward::Sandbox sb = ward::oci::to_sandbox(cfg, o.bundle, tso);
  for (auto& w : cfg.warnings) log_line("warning", w);
  auto on_v1 = [](std::string_view ctl) {
    return ward::cgroup_backend(ctl) == ward::CgroupBackend::v1;
  };
  for (auto& u : ward::oci::unsupported(cfg, on_v1)) log_line("warning", u.path + ": " + u.reason);
  // A session of its own, as runc's (nsexec's setsid): a terminal of ours
  // passed as its stdio is then not its controlling terminal, and TIOCSTI
  // on it needs CAP_SYS_ADMIN (ioctl_tty(2); tests/attack/tty_attack_test.cpp).
  sb.new_session();
  // Mounts in the runtime's (or a joined) mount namespace: the record names
  // their clone as soon as it exists, before the mounts below it, the
  // hooks and the exec, so that a create killed at any later point leaves
  // it to `delete` (test "runtime: a container without a mount namespace
  // of its own ...", "the record names the clone before the createRuntime
  // hooks").
  sb.on_rootfs_mount([&c](const ward::RootfsMount& m) {
    c.rootfs_mount = m;
    c.save();
  });

  // The cgroup, in every hierarchy (ward::Cgroups: the unified one and each
  // v1 one): born inside it (CLONE_INTO_CGROUP for v2, the child's own
  // write for v1), limits first.
  std::string cgpath = c.cgroup;
  if (g.systemd_cgroup) {
    // systemd's transient scope (systemd.cpp): the cgroup is the scope's,
    // delegated to us, held by a placeholder process of ours until the
    // child is born in it. Rootless, the user's own systemd makes it,
    // asked over the user bus.
    sd.emplace(start_systemd_scope(cfg, o.id));
    c.systemd_unit = sd->unit;
    c.cgroup = sd->cgroup;
    c.cgroup_owned = true;
    c.save();
    cg.emplace(ward::Cgroups::adopt(sd->cgroup));
  }
  if (!cg && ward::cgroup_mode() != ward::CgroupMode::none && !cgpath.empty()) {
    // What a crashed container left is taken over when empty, as runc
    // does; one with processes in it belongs to someone (EBUSY).
    try {
      // Rootless, only the unified hierarchy where there is one: that is
      // where a user gets a subtree delegated (v1 hierarchies are root's).
      if (g.rootless && unprivileged() && ward::cgroup_mode() != ward::CgroupMode::v1_only) {
        cg.emplace(ward::Cgroups::create_unified(cgpath, true));
      } else {
        // A parent removed by another container's end while this walks
        // through it (remove_default_parent) fails the walk
        // with ENOENT, having removed what it made: walked again, a few
        // times.
        for (int attempt = 1;; ++attempt) {
          try {
            cg.emplace(ward::Cgroups::create(cgpath, true));
            break;
          } catch (const Error& e) {
            if (e.code().value() != ENOENT || attempt == 4) throw;
          }
        }
      }
    } catch (const Error& e) {
      const int err = e.code().value();
      if (err == EBUSY) fail("cgroup " + cgpath + " already has processes in it");
      if (!g.rootless || (err != EACCES && err != EPERM && err != EROFS && err != ENOENT)) throw;
      // No delegated subtree (runc's rootless manager, crun's EACCES/EPERM
      // rule): without limits the container runs in our own cgroup; with
      // any, that is an error naming them.
      std::string what = e.what();
      if (what.rfind("ward: ", 0) == 0) what.erase(0, 6);
      const std::string why = what + ": uid " + std::to_string(::geteuid()) +
                              " has no cgroup delegated to it there (systemd's user@.service "
                              "with Delegate=yes, or a directory made over to the user, and "
                              "linux.cgroupsPath pointing into it)";
      auto asked = asked_limits(cfg);
      if (!asked.empty()) {
        std::string names;
        for (auto& n : asked) names += (names.empty() ? "" : ", ") + n;
        fail(names + ": a rootless container's limits need a cgroup, and " + why);
      }
      log_line("warning", "rootless: the container runs without a cgroup of its own (in ours): " +
                              why + "; ps, pause, resume and update need one");
      c.cgroup.clear();
      c.cgroup_owned = false;
      c.save();
    }
  }
  if (cg) {
    // Ours now (made, or found empty): only from here on may delete --force
    // kill in it. Recorded before the child is born into it.
    c.cgroup = cg->path();
    c.cgroup_owned = true;
    c.save();
    // Every controller the unified hierarchy offers, enabled along the
    // path (what each ancestor allows; refusals skipped), as runc's fs2 and
    // systemd drivers and crun do: a container without limits still has
    // memory, pids and io accounting for `events --stats`, and engines that
    // read its cgroup find the files they expect. Test: "runtime cgroups: a
    // container without limits has every controller of the unified
    // hierarchy". Not on a hybrid host, where runc's v1 manager and crun
    // leave the unified hierarchy's controllers alone: memory, pids and io
    // are v1 there, and a controller in use below the unified root can no
    // longer be mounted as a v1 hierarchy (EBUSY) by whoever wants it so.
    // Test: "runtime cgroups: on a hybrid host the unified hierarchy's
    // controllers are left alone".
    if (cg->v2() && ward::cgroup_mode() == ward::CgroupMode::pure_v2)
      cg->v2()->enable_available_controllers();
    if (cfg.linux_ && cfg.linux_->resources) {
      // The limits now: the child is born under them. The device program
      // of the unified cgroup (deny by default, plus the defaults, as runc
      // does at create) while the child sets itself up (Sandbox::before_exec): loading it is ~5 %
      // of a `ward run`, and it only has to be in place before the
      // container's program runs (bench/README.md, "ward run against runc
      // and crun").
      //
      // pids.max waits for that moment too: a cgroup at its pids limit
      // refuses clone(CLONE_INTO_CGROUP) with EAGAIN (cgroup-v2.rst "PID":
      // only fork and clone are limited, migration is not), so a limit of 0
      // (a real limit since runtime-spec 1.3) or one the setup's own helper
      // clones reach would stop the container from being born at all, where
      // runc, which moves its init into the cgroup, runs it with no right to
      // fork. Test: runtime: pids.limit 0 runs the container and denies it
      // every fork.
      ward::oci::Resources limits = *cfg.linux_->resources;
      limits.devices.clear();
      // "max" now all the same: a host without the pids controller fails
      // here, before the child exists, naming the field.
      if (limits.pids && limits.pids->limit) limits.pids->limit = -1;
      ward::oci::apply_resources(*cg, limits);
      // Rootless, no device program: loading one needs privilege in the
      // initial user namespace, and it would add nothing, as a user
      // namespace cannot make device nodes and its devices are bind mounts
      // of the host's, under the host's permissions (runc skips it too).
      const bool devices = !(g.rootless && unprivileged());
      if (!devices && !cfg.linux_->resources->devices.empty())
        log_line("warning",
                 "linux.resources.devices: not enforced by a rootless container's cgroup (no "
                 "device program without privilege); its devices are the host's nodes, bind "
                 "mounted, under the host's permissions");
      // The v1 device rules now, once, and never again while the child
      // runs: devices.deny "a" then devices.allow, one rule a write, is not
      // atomic (devices.rst), and the child, set up concurrently, opened
      // /dev/pts/ptmx inside that window and failed with EPERM (the ASan
      // tier's containerd `run -t`, ~1 run in 100 under load). The final
      // rules are safe to set up under: runc's defaults (mknod of any node,
      // /dev/null, ptmx, pts...) come last and win. The v2 program is
      // installed in one bpf(2) call and can stay late.
      // The rules alone, for one hierarchy at a time.
      ward::oci::Resources dev;
      dev.devices = cfg.linux_->resources->devices;
      ward::oci::ResourcesOptions dev_opts;
      dev_opts.always_device_program = true;
      if (devices && cg->v1() && cg->backend("devices") == ward::CgroupBackend::v1)
        ward::oci::apply_resources(*cg->v1(), dev, dev_opts);
      sb.before_exec([&cg, &cfg, devices, dev, dev_opts] {
        if (devices && cg->v2()) ward::oci::apply_resources(*cg->v2(), dev, dev_opts);
        ward::oci::Resources late;
        late.pids = cfg.linux_->resources->pids;
        ward::oci::apply_resources(*cg, late);
      });
    }
    sb.cgroup(*cg);
    c.cgroup = cg->path();
  } else if (ward::cgroup_mode() == ward::CgroupMode::none && cfg.linux_ && cfg.linux_->resources) {
    fail("linux.resources: this host mounts no cgroup hierarchy (neither cgroup v2 nor v1)");
  }

  // prestart, createRuntime (in our namespaces) and createContainer (in
  // the container's) run once its namespaces and mounts exist, before it
  // pivots into its root (config.md "Lifecycle" 3-6): the child waits.
  //
  // linux.netDevices move in first, at the same point: the hooks (a CNI
  // plugin among them) and the program find them there. Each is checked to
  // exist now, before the child does.
  const auto& hk = cfg.hooks;
  const bool net_devices = cfg.linux_ && !cfg.linux_->net_devices.empty();
  if (net_devices) ward::oci::check_net_devices(cfg);
  if (net_devices || !hk.prestart.empty() || !hk.create_runtime.empty() ||
      !hk.create_container.empty()) {
    sb.before_pivot([&o, &c, &cfg, &cg, net_devices](pid_t pid) {
      if (net_devices) {
        // Our child, not reaped: its pid is its own.
        ward::UniqueFd pfd = open_container_pidfd(pid, 0);
        ward::oci::move_net_devices(cfg, ward::Namespace::open_pidfd(ward::NsKind::net, pfd.get()));
      }
      ward::oci::State st;
      st.id = o.id;
      st.bundle = o.bundle;
      st.pid = pid;
      st.annotations = cfg.annotations;
      // "created": the runtime environment exists (runtime.md "Lifecycle"
      // step 2 is done; the hooks are steps 3-6, and "created" is the
      // status "after step 2"). runtime-tools' hooks_stdin asks for it, as
      // crun gives it; runc says "creating".
      st.status = ward::oci::Status::created;
      run_hooks(cfg.hooks.prestart, st, "prestart");
      run_hooks(cfg.hooks.create_runtime, st, "createRuntime");
      if (!cfg.hooks.create_container.empty()) {
        // Our child, not reaped: its pid is its own (starttime 0).
        ward::UniqueFd pfd = open_container_pidfd(pid, 0);
        HookTarget in{pfd.get(), cg ? &*cg : nullptr, nullptr, static_cast<bool>(c.rootfs_mount)};
        run_hooks(cfg.hooks.create_container, st, "createContainer", &in);
      }
    });
  }
  // systemd socket activation (sd_listen_fds(3)), as runc and crun: the
  // descriptors handed to us go on to the container's init, at the same
  // numbers, with LISTEN_FDS and LISTEN_PID=1, its pid in its own pid
  // namespace; LISTEN_FDNAMES passes through. --preserve-fds descriptors
  // follow them. Test: runtime_spec13."socket activation".
  const int listen = listen_fds();
  if (listen > 0) {
    sb.setenv("LISTEN_FDS", std::to_string(listen));
    const auto* pid_ns =
        cfg.linux_ ? cfg.linux_->find_namespace(ward::oci::NamespaceType::pid) : nullptr;
    if (pid_ns != nullptr && pid_ns->path.empty()) {
      sb.setenv("LISTEN_PID", "1");
    } else {
      log_line("warning",
               "LISTEN_FDS: the container has no pid namespace of its own, so its init's pid "
               "is not known in advance: LISTEN_PID is not set");
    }
    if (const char* names = std::getenv("LISTEN_FDNAMES")) sb.setenv("LISTEN_FDNAMES", names);
  }
  keep_preserved_fds(sb, o.preserve_fds + listen);
  if (gate_fd >= 0) sb.start_gate(gate_fd);
  // A detached run outlives us before its exec: it must not share our
  // memory (the default spawn does, until exec).
  if (o.detach) sb.spawn_mode(ward::SpawnMode::fork);
  guard_runtime(sb, o.no_new_keyring);
  // linux.seccomp.listenerPath (config-linux.md "Seccomp"): the agent that
  // answers SCMP_ACT_NOTIFY gets the filter's listener and the container
  // process state, as runc sends them at create (status "creating"). The
  // connection is made before the container exists, so an agent that
  // cannot be reached fails create with nothing to undo but the state
  // directory; the send follows once the filter is on (at spawn's return:
  // before the start gate for create, before the exec for run).
  ward::UniqueFd agent;
  std::string agent_path, agent_metadata;
  if (auto prof = ward::oci::seccomp_profile(cfg); prof && ward::oci::seccomp_notifies(*prof)) {
    agent_path = prof->listener_path;
    agent_metadata = prof->listener_metadata;
    agent = ward::oci::connect_seccomp_agent(agent_path);
  } else if (prof && !prof->listener_path.empty()) {
    // config-linux.md: the state goes to listenerPath "when the
    // SCMP_ACT_NOTIFY action is used"; an agent waiting there for a
    // profile without one would wait forever (runc's behaviour too; crun
    // sends an idle listener). Say so.
    log_line("warning", "linux.seccomp.listenerPath " + prof->listener_path +
                            ": no rule uses SCMP_ACT_NOTIFY, so the seccomp agent there is not "
                            "contacted");
  }
  bool tty = cfg.process->terminal;
  ward::Child child = spawn_into_cgroup(sb, cg ? cg->path() : std::string());
  // Born in the scope's cgroup: the placeholder that held it goes, so the
  // scope holds the container alone.
  if (sd) sd->child_born();
  if (agent) {
    ward::oci::State st;
    st.id = o.id;
    st.bundle = o.bundle;
    st.pid = child.pid();
    st.annotations = cfg.annotations;
    st.rootfs = (fs::path(o.bundle) / cfg.root.path).lexically_normal().string();
    st.status = ward::oci::Status::creating;
    ward::oci::send_container_process_state(
        agent.get(), ward::oci::container_process_state_json(st, child.pid(), agent_metadata),
        child.seccomp_listener().get(), agent_path);
    // Ours is closed: if the agent goes away, the notified calls fail
    // (ENOSYS) instead of waiting for a listener nobody reads.
    child.seccomp_listener().reset();
  }
  if (tty && !o.console_socket.empty()) send_console(o.console_socket, child.terminal().get());
  return child;
}

}  // namespace

int cmd_create_or_run(const CreateOpts& o_in) {
  CreateOpts o = o_in;
  check_id(o.id);
  o.bundle = fs::absolute(o.bundle.empty() ? "." : o.bundle).lexically_normal().string();
  while (o.bundle.size() > 1 && o.bundle.back() == '/') o.bundle.pop_back();
  // The config file: <bundle>/config.json, or crun's --config FILE, which
  // is relative to our working directory (crun realpath()s it), not to
  // the bundle.
  std::string config_file = o.bundle + "/config.json";
  if (!o.config.empty() && o.config != "config.json")
    config_file = fs::absolute(o.config).lexically_normal().string();
  // --pidfd-socket: connected first, so a wrong path fails before anything
  // is made.
  std::optional<PidfdSocket> pidfd_sock;
  if (!o.pidfd_socket.empty()) pidfd_sock.emplace(o.pidfd_socket);
  Container c;
  c.id = o.id;
  c.dir = container_dir(o.id);
  if (::mkdirat(root_fd(true), o.id.c_str(), 0700) != 0) {
    if (errno == EEXIST) fail("container with id exists: " + o.id);
    fail("mkdir " + c.dir + ": " + std::strerror(errno) + root_hint(errno));
  }
  c.dfd = open_container_dir(o.id);
  if (!c.dfd) fail("open " + c.dir + ": " + std::strerror(errno));
  // Held until the container is made: `list` shows "creating" meanwhile,
  // and a record left "creating" with the lock free was left by a runtime
  // that died. A foreground run lets go before it waits: pause, resume,
  // update and delete take the lock, and would otherwise block until the
  // container's process ended.
  std::optional<DirLock> lock;
  lock.emplace(c);
  // Anything that fails from here on removes what was made: the state
  // directory, the cgroup (Cgroups' destructor) and the child (Child's).
  // The end of a foreground run goes through it too. (Declared before the
  // cgroup: its destructor runs after the cgroup's, and then ward's
  // default parent goes if this was its last container.)
  struct Cleanup {
    const Container& c;
    bool armed = true;
    ~Cleanup() {
      if (!armed) return;
      try {
        remove_default_parent(c);
        remove_state_dir(c.id);
      } catch (const Fatal& f) {
        log_line("warning", f.msg);
      } catch (const std::exception& e) {
        log_line("warning", e.what());
      }
    }
  } cleanup{c};

  // What create reads is what the container keeps (config.cpp), saved
  // before anything is made, so that whatever a killed runtime leaves is
  // described by it.
  std::string cfg_bytes;
  ward::oci::Config cfg = read_config(config_file, cfg_bytes);
  refuse_rootfs_in_use(o.id, o.bundle, cfg);
  save_config(c, cfg_bytes);
  // NOTIFY_SOCKET: the container's socket directory and its mount; a run
  // binds the socket now, before the program can send (notify.cpp).
  notify_prepare(c, cfg);
  std::optional<NotifyProxy> notify;
  if (!o.gate) notify = NotifyProxy::open(c);
  // The first record, before the cgroup and the child exist: whatever a
  // runtime killed from here on leaves is findable. `list` shows it and
  // `delete --force` kills the recorded cgroup, into which the child is
  // born (CLONE_INTO_CGROUP), even before its pid is recorded
  // (tests/attack/state_attack_test.cpp "crash").
  c.state.id = o.id;
  c.state.bundle = o.bundle;
  c.state.status = ward::oci::Status::creating;
  if (ward::cgroup_mode() != ward::CgroupMode::none)
    c.cgroup = g.rootless ? rootless_cgroup_path(cfg, o.id) : ward::oci::cgroup_path_for(cfg, o.id);
  c.save();
  // The scope before the cgroup: on a failure the cgroup goes first
  // (killed, removed), then the unit (stopped).
  std::optional<SystemdScope> sd;
  std::optional<ward::Cgroups> cg;
  int gate_fd = -1;
  if (o.gate) {
    std::string fifo = c.dir + "/exec.fifo";
    if (::mkfifoat(c.dfd.get(), "exec.fifo", 0600) != 0)
      fail("mkfifo " + fifo + ": " + std::strerror(errno));
    gate_fd = ::openat(c.dfd.get(), "exec.fifo", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
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
  ward::Child child = spawn_container(o, c, cfg, cg, gate_fd, sd);
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
  c.rootfs_mount = child.rootfs_mount();
  c.save();
  if (!o.pid_file.empty()) write_atomic(o.pid_file, std::to_string(child.pid()));
  if (pidfd_sock) pidfd_sock->send(child.pidfd(), "standard");

  if (o.gate) {
    cleanup.armed = false;
    if (cg) cg->release();
    if (sd) sd->release();
    child.detach();
    return 0;
  }
  // run: started already (or waiting at run_gate for the startContainer
  // hooks); wait in the foreground unless detached.
  if (run_gate) {
    HookTarget in{child.pidfd(), cg ? &*cg : nullptr, &cfg, static_cast<bool>(c.rootfs_mount)};
    run_hooks(cfg.hooks.start_container, c.state, "startContainer", &in);
    if (::write(run_gate.get(), "0", 1) != 1)
      fail("run: start the container: " + std::string(std::strerror(errno)));
    run_gate.reset();
  }
  // A failing poststart hook fails the run and kills the container
  // (runtime-spec 1.3 runtime.md "Lifecycle" 9; runc 1.3 postStart).
  try {
    run_hooks(cfg.hooks.poststart, c.state, "poststart");
  } catch (const Fatal&) {
    child.kill(SIGKILL);
    child.wait();
    throw;
  }
  lock.reset();
  if (o.detach) {
    cleanup.armed = false;
    if (cg) cg->release();
    if (sd) sd->release();
    // Returns once the container is ready (or gone), as runc's run -d: its
    // init is the unit's main process.
    if (notify) notify->forward(child.pidfd(), child.pid());
    child.detach();
    return 0;
  }
  // A foreground run forwards while it relays and waits: ward stays, so
  // ward is the main process (runc's forward(process, detach=false)). The
  // thread polls its own descriptor of the child, which the wait may close.
  std::thread notifier;
  ward::UniqueFd notify_pidfd;
  if (notify) {
    notify_pidfd.reset(::fcntl(child.pidfd(), F_DUPFD_CLOEXEC, 3));
    if (!notify_pidfd) fail("run: dup the container's pidfd: " + std::string(std::strerror(errno)));
    // Born with every signal blocked, and so it stays: the wait takes the
    // ones it forwards from a signalfd with them blocked in this thread
    // only (tty.cpp), and the kernel gives a process-directed signal to a
    // thread that does not block it. Here that was the notify thread, and
    // a SIGTERM (systemd's stop of the unit whose main process we are)
    // killed ward instead of reaching the container, which ran on.
    sigset_t all, old;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &old);
    notifier =
        std::thread([&notify, fd = notify_pidfd.get()] { notify->forward(fd, ::getpid(), true); });
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  ward::ExitStatus st;
  try {
    st = wait_foreground(child, cfg.process->terminal && o.console_socket.empty());
  } catch (...) {
    // The thread returns once the container is gone; a joinable thread
    // left to its destructor would abort ward (std::terminate).
    if (notifier.joinable()) {
      child.kill(SIGKILL);
      notifier.join();
    }
    throw;
  }
  if (notifier.joinable()) notifier.join();
  if (o.keep) {
    // run --keep: the container stays, stopped, with its (empty) cgroup,
    // until `delete` removes both and runs the poststop hooks (runc:
    // shouldDestroy = !keep).
    cleanup.armed = false;
    if (cg) cg->release();
    if (sd) sd->release();
    return st.shell_status();
  }
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

int cmd_start(const std::string& id) {
  Container first = load(id);
  std::optional<DirLock> lock;
  lock.emplace(first);
  // `create` holds this lock until the container is created, and what was
  // read before it may be its first record ("creating", no pid yet), which
  // says stopped. Read it again under the lock, from the same directory
  // (an engine may `start` as soon as `create`'s record exists). Test:
  // runtime: start during a create waits for it and starts the container.
  Container c = load(id);
  struct stat was {
  }, now{};
  if (::fstat(first.dfd.get(), &was) != 0 || ::fstat(c.dfd.get(), &now) != 0 ||
      was.st_dev != now.st_dev || was.st_ino != now.st_ino)
    fail("container does not exist");
  c.locked = true;
  auto status = c.status();
  if (status == ward::oci::Status::stopped) fail("cannot start a container that has stopped");
  if (status != ward::oci::Status::created) fail("cannot start an already running container");
  auto cfg = saved_config(c);
  // NOTIFY_SOCKET: connected and bound before anything starts, so a wrong
  // one fails the start with the container still created (notify.cpp).
  std::optional<NotifyProxy> notify = NotifyProxy::open(c);
  ward::UniqueFd notify_pidfd;
  if (notify) notify_pidfd = open_container_pidfd(c.state.pid, c.starttime, &c);
  // startContainer hooks: in the container, as its process, before its
  // program (config.md "Lifecycle" 7). One that fails stops the container.
  try {
    if (!cfg.hooks.start_container.empty()) {
      ward::UniqueFd pfd = open_container_pidfd(c.state.pid, c.starttime, &c);
      auto cg = c.open_cgroup();
      HookTarget in{pfd.get(), cg ? &*cg : nullptr, &cfg, static_cast<bool>(c.rootfs_mount)};
      run_hooks(cfg.hooks.start_container, c.current_state(), "startContainer", &in);
    }
  } catch (const Fatal&) {
    kill_init_and_wait(c);
    throw;
  }
  std::string fifo = c.dir + "/exec.fifo";
  int fd = ::openat(c.dfd.get(), "exec.fifo", O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENXIO) {
    // No reader: the process is past its gate already (a start killed
    // before it removed the fifo). The fifo's existence is the status.
    ::unlinkat(c.dfd.get(), "exec.fifo", 0);
    fail("cannot start an already running container");
  }
  if (fd < 0) fail("open " + fifo + ": " + std::strerror(errno));
  bool ok = ::write(fd, "0", 1) == 1;
  ::close(fd);
  // No state write after the byte: the status is derived (exec.fifo gone
  // and the process alive: running), so a full state filesystem cannot
  // make a start that happened fail (tests/root/runtime_state_test.cpp).
  ::unlinkat(c.dfd.get(), "exec.fifo", 0);
  if (!ok) fail("start: write exec.fifo: " + std::string(std::strerror(errno)));
  // runtime-spec 1.3 (runtime.md "Lifecycle" 9): a failing poststart hook
  // fails `start`, and the container is killed, as in runc 1.3
  // (libcontainer/container_linux.go postStart). Before 1.3 the spec asked
  // for a warning only; runc 1.1 and 1.2 killed it too.
  // The state the hooks get is the one of Lifecycle step 9, the program
  // started: "running" and its pid, also when it has exited already (crun
  // says so too; runtime-tools' hooks_stdin expects both, and a `true` may
  // be gone before the hook reads /proc).
  ward::oci::State started = c.state;  // its pid too, also when gone
  started.status = ward::oci::Status::running;
  try {
    run_hooks(cfg.hooks.poststart, started, "poststart");
  } catch (const Fatal&) {
    kill_init_and_wait(c);  // already gone: the hook's error is the one to report
    throw;
  }
  if (notify) {
    // Waiting for READY=1 may take the container's whole start-up: kill,
    // pause and delete must not wait for it behind our lock.
    lock.reset();
    c.locked = false;
    notify->forward(notify_pidfd.get(), c.state.pid);
  }
  return 0;
}

}  // namespace wardrt
