// SPDX-License-Identifier: Apache-2.0
// Sandbox is copied by the compiler's member-wise copy (no hand-written list
// of members). These tests catch a member that a copy drops: every option is
// set on its own, and the copy-constructed and copy-assigned builders must
// plan exactly what the original plans, which differs from what a builder
// without that option plans (so a dropped option cannot go unseen).
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <functional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

using namespace ward;

namespace {

// Everything a plan holds that a builder option can change, as text. Fd
// numbers are left out (a plan dups the builder's descriptors, so they
// differ from plan to plan); whether one is there is kept.
std::string fingerprint(const Plan& plan) {
  const detail::PlanData& d = detail::plan_data(plan);
  const detail::ChildPlan& c = d.child;
  std::ostringstream o;
  auto list = [&](const char* name, const auto& v) {
    o << name << '=';
    for (const auto& x : v) o << x << ',';
    o << '\n';
  };
  list("argv", d.argv_s);
  list("env", d.env_s);
  list("candidates", d.candidates_s);
  o << "cwd=" << d.cwd << "\njoins=";
  for (const auto& j : d.joins) o << j.nstype << ',';
  o << "\nfds=";
  for (const auto& f : d.fds)
    o << (f.src >= 0) << ':' << f.dst << ':' << f.slot << ':' << f.optional << ',';
  o << "\nuts=" << d.hostname << '/' << d.domainname << "\nkeyring=" << d.session_keyring
    << "\ntime=" << d.time_offsets << "\nmaps=" << d.uid_map << '/' << d.gid_map << "\nrlimits=";
  for (const auto& r : d.rlimits) o << r.resource << ':' << r.soft << ':' << r.hard << ',';
  o << "\nsysctls=";
  for (const auto& [path, value] : d.sysctl_s) o << path << '=' << value << ',';
  o << "\noom=" << d.oom_score_adj << '\n';
  list("cpus", d.cpu_mask);
  list("groups", d.groups);
  o << "flags=" << d.setgroups_deny << d.new_user << d.fork_mode << d.nondumpable_caller
    << bool(d.trampoline) << bool(d.cgroup_fd) << d.seccomp_exec_gate << d.seccomp_keep_listener
    << bool(d.before_exec) << bool(d.before_pivot) << bool(d.init_program)
    << "\nclone=" << d.clone_flags << '\n';
  list("trampoline", d.trampoline_argv_s);
  o << "seccomp=";
  for (std::size_t i = 0; i < d.seccomp_prog.size(); ++i) {
    const sock_filter& f = d.seccomp_prog[i];
    // The exec gate's 4 compares of this plan's argv and envp addresses.
    const bool address = d.seccomp_exec_gate && i < 13 && i >= 5 && i % 2 == 1;
    o << f.code << ':' << int(f.jt) << ':' << int(f.jf) << ':' << (address ? 0 : f.k) << ',';
  }
  o << "\nmounts=" << d.mount_steps.size() << '\n';
  list("mount_strings", d.mount_strings);
  o << "rootfs=" << d.rootfs << "\nchild=" << c.ns_at_clone << c.unshare_flags << ' ' << c.two_stage
    << c.need_parent << c.set_ids << ' ' << c.uid << ' ' << c.gid << ' ' << c.clear_groups
    << c.loopback << c.new_time << ' ' << c.pdeathsig << ' ' << c.new_session << ' ' << c.max_dst
    << ' ' << c.hold << c.nondumpable_setup << ' ' << c.umask << ' ' << c.set_nice << c.nice << ' '
    << c.set_sched << c.sched_policy << ':' << c.sched_priority << ' ' << c.set_sched_attr
    << c.sched_attr.sched_policy << ':' << c.sched_attr.sched_flags << ':'
    << c.sched_attr.sched_runtime << ' ' << c.set_ioprio << c.ioprio << ' ' << c.set_personality
    << c.personality << ' ' << c.set_groups << c.set_caps << ' ' << c.cap_bounding << ':'
    << c.cap_permitted << ':' << c.cap_effective << ':' << c.cap_inheritable << ':' << c.cap_ambient
    << ' ' << c.set_securebits << c.securebits << ' ' << c.terminal << c.terminal_in_child
    << c.console << ' ' << c.term_rows << 'x' << c.term_cols << ' ' << (c.landlock_fd >= 0)
    << c.landlock_flags << ' ' << c.mount_setup << ' ' << c.rootfs_propagation << ' '
    << c.rootfs_prop_recursive << c.readonly_root << c.readonly_tree << ' ' << c.pivot << ' '
    << static_cast<int>(c.mount_api) << ' ' << (c.start_gate_fd >= 0) << c.no_new_privs << ' '
    << c.seccomp_flags << c.seccomp_listener << c.seccomp_early << '\n';
  return o.str();
}

using Option = std::pair<const char*, std::function<void(Sandbox&)>>;

// One entry per builder option (a member of Sandbox). The base builder has
// the namespaces the options need, so each can be set on its own.
std::vector<Option> options(int fd) {
  std::vector<Option> v = {
      {"command",
       [](Sandbox& s) {
         s.command({"/bin/echo", "x"});
       }},
      {"executable", [](Sandbox& s) { s.executable("/bin/echo"); }},
      {"env", [](Sandbox& s) { s.env({"A=1"}); }},
      {"cwd", [](Sandbox& s) { s.cwd("/tmp"); }},
      {"stdio", [](Sandbox& s) { s.stdout_(Stdio::null()); }},
      {"keep_fd", [fd](Sandbox& s) { s.keep_fd(fd, 7); }},
      {"new_session", [](Sandbox& s) { s.new_session(); }},
      {"parent_death_signal", [](Sandbox& s) { s.parent_death_signal(SIGKILL); }},
      {"user",
       [](Sandbox& s) {
         s.uid_map(IdMap{{0, ::getuid(), 1}, {1, 100000, 10}})
             .gid_map(IdMap{{0, ::getgid(), 1}, {1, 100000, 10}})
             .user(1, 1);
       }},
      {"spawn_mode", [](Sandbox& s) { s.spawn_mode(SpawnMode::fork); }},
      {"into_cgroup", [fd](Sandbox& s) { s.into_cgroup(fd); }},
      {"join", [](Sandbox& s) { s.join(Namespace::current(NsKind::ipc)); }},
      {"user_namespace",
       [](Sandbox& s) {
         s.uid_map(IdMap{{0, ::getuid(), 1}, {1, 200000, 5}});
       }},
      {"hostname", [](Sandbox& s) { s.hostname("h"); }},
      {"domainname", [](Sandbox& s) { s.domainname("d"); }},
      {"time_offsets",
       [](Sandbox& s) { s.unshare(NsKind::time).time_offsets({.monotonic_ns = 1000000000}); }},
      {"loopback", [](Sandbox& s) { s.unshare(NsKind::net).loopback(false); }},
      {"no_new_privs", [](Sandbox& s) { s.no_new_privs(true); }},
      {"terminal", [](Sandbox& s) { s.terminal(30, 100); }},
      {"console", [](Sandbox& s) { s.rootfs("/").terminal().console(false); }},
      {"pty_source", [](Sandbox& s) { s.rootfs("/").terminal(24, 80, PtySource::caller); }},
      {"groups", [](Sandbox& s) { s.groups({0}); }},
      {"keep_groups", [](Sandbox& s) { s.user(0, 0).keep_groups(); }},
      {"session_keyring", [](Sandbox& s) { s.session_keyring("_ses.copy"); }},
      {"capabilities", [](Sandbox& s) { s.capabilities(Capabilities::none()); }},
      {"securebits", [](Sandbox& s) { s.securebits(1); }},
      {"rlimit", [](Sandbox& s) { s.rlimit(RLIMIT_NOFILE, 64, 64); }},
      {"umask", [](Sandbox& s) { s.umask(077); }},
      {"oom_score_adj", [](Sandbox& s) { s.oom_score_adj(500); }},
      {"nice", [](Sandbox& s) { s.nice(5); }},
      {"scheduler", [](Sandbox& s) { s.scheduler(SCHED_BATCH); }},
      {"scheduler(SchedAttr)", [](Sandbox& s) { s.scheduler(SchedAttr{.policy = SCHED_IDLE}); }},
      {"io_priority", [](Sandbox& s) { s.io_priority(2, 4); }},
      {"cpu_affinity", [](Sandbox& s) { s.cpu_affinity({0}); }},
      {"personality", [](Sandbox& s) { s.personality(0x0008); }},
      {"sysctl", [](Sandbox& s) { s.sysctl("kernel.domainname", "x"); }},
      {"nondumpable_setup", [](Sandbox& s) { s.nondumpable_setup(Nondumpable::caller); }},
      {"sealed_exec", [](Sandbox& s) { s.sealed_exec(); }},
      {"init_process", [](Sandbox& s) { s.init_process(); }},
      // Filters that let the exec trampoline work (sealed_exec is in `all`).
      {"seccomp",
       [](Sandbox& s) {
         s.seccomp(SeccompFilter(SeccompAction::allow()).rule(SeccompAction::errno_ret(1), "acct"));
       }},
      {"seccomp options",
       [](Sandbox& s) {
         s.seccomp(SeccompFilter(SeccompAction::allow()).rule(SeccompAction::errno_ret(1), "acct"),
                   {.allow_initial_exec = false});
       }},
      {"rootfs", [](Sandbox& s) { s.rootfs("/"); }},
      {"mount", [](Sandbox& s) { s.mount(MountSpec::tmpfs("/tmp")); }},
      {"masked_paths", [](Sandbox& s) { s.masked_paths({"/proc/kcore"}); }},
      {"readonly_paths", [](Sandbox& s) { s.readonly_paths({"/proc/sys"}); }},
      {"readonly_root", [](Sandbox& s) { s.rootfs("/").readonly_root(); }},
      {"recursive_readonly_root", [](Sandbox& s) { s.recursive_readonly_root(); }},
      {"rootfs_propagation",
       [](Sandbox& s) { s.rootfs("/").rootfs_propagation(Propagation::slave); }},
      {"pivot", [](Sandbox& s) { s.rootfs("/").pivot(Pivot::move_and_chroot); }},
      {"start_gate", [fd](Sandbox& s) { s.start_gate(fd); }},
      {"before_exec", [](Sandbox& s) { s.before_exec([] {}); }},
      {"before_pivot", [](Sandbox& s) { s.before_pivot([](pid_t) {}); }},
  };
  if (landlock_abi() > 0) {
    v.push_back({"landlock", [](Sandbox& s) {
                   LandlockRuleset rs;
                   rs.allow_path("/usr", LandlockFs::read_only()).create();
                   s.landlock(rs);
                 }});
  }
  return v;
}

Sandbox base() {
  return Sandbox({"/bin/true"})
      .unshare(NsSet{NsKind::user, NsKind::mount, NsKind::uts, NsKind::pid});
}

}  // namespace

TEST_CASE("sandbox: a copy plans exactly as the original for every option") {
  UniqueFd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir);
  const std::string plain = fingerprint(base().plan());
  Sandbox all = base();
  for (const auto& [name, set] : options(dir.get())) {
    INFO("option " << name);
    Sandbox original = base();
    set(original);
    const std::string want = fingerprint(original.plan());
    // Else this option is not seen in a plan, and a copy that dropped it
    // would pass unnoticed.
    REQUIRE(want != plain);

    const Sandbox constructed(original);  // NOLINT(performance-unnecessary-copy-initialization)
    CHECK(fingerprint(constructed.plan()) == want);
    Sandbox assigned({"/bin/false"});
    assigned = original;
    CHECK(fingerprint(assigned.plan()) == want);
    // The copy is its own: changing it leaves the original as it was.
    assigned.setenv("COPY", "1");
    CHECK(fingerprint(original.plan()) == want);
    // Not landlock with sealed_exec (nor init_process), nor keep_groups
    // with groups.
    if (std::string(name) != "landlock" && std::string(name) != "keep_groups") set(all);
  }
  const std::string want = fingerprint(all.plan());
  Sandbox assigned;
  assigned = all;
  CHECK(fingerprint(Sandbox(all).plan()) == want);
  CHECK(fingerprint(assigned.plan()) == want);
}
