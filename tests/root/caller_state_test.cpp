// SPDX-License-Identifier: Apache-2.0
// A spawn never changes its caller (issue #12, item 1).
//
// ward's child shares the caller's memory (CLONE_VM) until it execs, and the
// kernel applies some settings to every process that shares an mm: an
// oom_score_adj write (fs/proc/base.c, __set_oom_adj: MMF_MULTIPROCESS), a
// credential change's "dumpable" (kernel/cred.c, commit_creds). Everything
// else a child sets is its own (its own signal_struct, fs_struct, fd table,
// credentials: clone(2) without CLONE_THREAD/CLONE_FS/CLONE_FILES).
//
// For every builder option of Sandbox this spawns sandboxes that use it and
// asserts that what the caller can observe of itself is unchanged:
// /proc/thread-self/status (ids, groups, the capability sets, NoNewPrivs,
// Seccomp, signal mask, ignored and caught signals, CPU and memory
// affinity), oom_score_adj, dumpable, personality, every rlimit, every
// signal disposition, cwd, umask, the descriptor table, namespaces,
// cgroup, mount table, the prctl flags, scheduling, I/O priority, host and
// domain name, and the environment. A second test keeps the table complete:
// it reads sandbox.hpp and fails on a builder option that has no case here.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "cgroup_util.hpp"
#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

extern char** environ;

using namespace ward;

namespace {

std::string link_target(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "?" : std::string(buf, static_cast<size_t>(n));
}

// Everything of the calling thread and its process that a spawn could
// change, as "key: value" entries so that a difference names itself.
std::map<std::string, std::string> caller_state() {
  std::map<std::string, std::string> s;
  std::istringstream status(ward_test::read_file("/proc/thread-self/status"));
  const std::set<std::string> keep = {"Umask",
                                      "Uid",
                                      "Gid",
                                      "Groups",
                                      "CapInh",
                                      "CapPrm",
                                      "CapEff",
                                      "CapBnd",
                                      "CapAmb",
                                      "NoNewPrivs",
                                      "Seccomp",
                                      "Seccomp_filters",
                                      "SigBlk",
                                      "SigIgn",
                                      "SigCgt",
                                      "Cpus_allowed",
                                      "Mems_allowed_list",
                                      "CoreDumping",
                                      "THP_enabled",
                                      "Speculation_Store_Bypass",
                                      "NSpid",
                                      "NSsid",
                                      "untag_mask"};
  for (std::string line; std::getline(status, line);) {
    auto colon = line.find(':');
    if (colon != std::string::npos && keep.count(line.substr(0, colon)) != 0)
      s["status." + line.substr(0, colon)] = line.substr(colon + 1);
  }
  s["oom_score_adj"] = ward_test::read_file("/proc/self/oom_score_adj");
  s["loginuid"] = ward_test::read_file("/proc/self/loginuid");
  s["attr/current"] = ward_test::read_file("/proc/thread-self/attr/current");
  s["dumpable"] = std::to_string(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
  s["personality"] = std::to_string(::personality(0xffffffff));
  {
    // get_mempolicy(2) with no flags: the calling thread's policy and nodes.
    int mode = -1;
    unsigned long nodes[16] = {};
    long r = ::syscall(SYS_get_mempolicy, &mode, nodes, sizeof nodes * 8, nullptr, 0);
    s["mempolicy"] =
        std::to_string(r) + " " + std::to_string(mode) + " " + std::to_string(nodes[0]);
  }
  for (int r = 0; r < RLIM_NLIMITS; ++r) {
    struct rlimit l {};
    ::getrlimit(r, &l);
    s["rlimit." + std::to_string(r)] =
        std::to_string(l.rlim_cur) + "/" + std::to_string(l.rlim_max);
  }
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction a {};
    if (::sigaction(sig, nullptr, &a) != 0) continue;  // glibc's own (32, 33)
    std::ostringstream v;
    v << reinterpret_cast<void*>(a.sa_handler) << " flags " << a.sa_flags << " mask";
    for (int m = 1; m < NSIG; ++m)
      if (sigismember(&a.sa_mask, m) == 1) v << ' ' << m;
    s["sigaction." + std::to_string(sig)] = v.str();
  }
  s["cwd"] = std::filesystem::current_path().string();
  s["root"] = std::filesystem::read_symlink("/proc/self/root").string();
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      int fd = std::atoi(e->d_name);
      if (fd == ::dirfd(d)) continue;
      s["fd." + std::string(e->d_name)] = link_target(std::string("/proc/self/fd/") + e->d_name) +
                                          " cloexec " + std::to_string(::fcntl(fd, F_GETFD)) +
                                          " fl " + std::to_string(::fcntl(fd, F_GETFL));
    }
    ::closedir(d);
  }
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/ns"))
    s["ns." + e.path().filename().string()] = link_target(e.path());
  s["cgroup"] = ward_test::read_file("/proc/self/cgroup");
  {
    auto t = ward_test::mount_table();
    std::string all;
    for (const auto& m : t) all += m + "\n";
    s["mounts"] = all;
  }
  int v = 0;
  s["prctl.no_new_privs"] = std::to_string(::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  ::prctl(PR_GET_PDEATHSIG, &v, 0, 0, 0);
  s["prctl.pdeathsig"] = std::to_string(v);
  v = 0;
  ::prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0);
  s["prctl.child_subreaper"] = std::to_string(v);
  s["prctl.keepcaps"] = std::to_string(::prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
  s["prctl.securebits"] = std::to_string(::prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
  s["prctl.thp_disable"] = std::to_string(::prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
  s["prctl.timerslack"] = std::to_string(::prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0));
  char name[17] = {};
  ::prctl(PR_GET_NAME, name, 0, 0, 0);
  s["prctl.name"] = name;
  s["sched.policy"] = std::to_string(::sched_getscheduler(0));
  errno = 0;
  s["nice"] = std::to_string(::getpriority(PRIO_PROCESS, 0));
  s["ioprio"] = std::to_string(::syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0));
  struct utsname u {};
  ::uname(&u);
  s["uts"] = std::string(u.nodename) + " " + u.domainname;
  std::string env;
  for (char** e = environ; *e != nullptr; ++e) env += std::string(*e) + "\n";
  s["environ"] = env;
  return s;
}

// The entries that differ, "key: before -> after", one per line.
std::string changes(const std::map<std::string, std::string>& before,
                    const std::map<std::string, std::string>& after) {
  std::string out;
  std::set<std::string> keys;
  for (const auto& [k, v] : before) keys.insert(k);
  for (const auto& [k, v] : after) keys.insert(k);
  for (const auto& k : keys) {
    auto b = before.find(k);
    auto a = after.find(k);
    std::string bv = b == before.end() ? "(none)" : b->second;
    std::string av = a == after.end() ? "(none)" : a->second;
    if (bv != av) out += k + ": " + bv + " -> " + av + "\n";
  }
  return out;
}

// What a case may need beyond a plain Sandbox.
struct Ctx {
  std::string rootfs;  // a static busybox rootfs, or "" (rootfs cases skip)
  std::string tmp;     // a scratch directory
};

struct Case {
  std::string option;  // the builder option it covers (checked against sandbox.hpp)
  std::function<Sandbox(const Ctx&)> make;
  bool needs_rootfs = false;
  std::set<std::string> may_change = {};  // a documented effect on the caller
};

Sandbox plain() { return Sandbox({ward_test::probe(), "exit", "0"}); }
Sandbox in_rootfs(const Ctx& c) {
  return Sandbox({"/bin/true"})
      .rootfs(c.rootfs)
      .mount(MountSpec::proc())
      .unshare(NsSet{NsKind::mount, NsKind::pid});
}

SeccompFilter small_filter() {
  SeccompFilter f(SeccompAction::allow());
  f.rule(SeccompAction::errno_ret(EPERM), "keyctl");
  return f;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  auto add = [&](std::string option, std::function<Sandbox(const Ctx&)> make, bool rootfs = false,
                 std::set<std::string> may = {}) {
    v.push_back({std::move(option), std::move(make), rootfs, std::move(may)});
  };
  add("command", [](const Ctx&) {
    return Sandbox(std::vector<std::string>{}).command({ward_test::probe(), "exit", "0"});
  });
  add("executable", [](const Ctx&) { return plain().executable(ward_test::probe()); });
  add("env", [](const Ctx&) { return plain().env({"A=1", "PATH=/nowhere"}); });
  add("setenv", [](const Ctx&) { return plain().setenv("WARD_CALLER_STATE", "1"); });
  add("inherit_env", [](const Ctx&) { return plain().inherit_env().setenv("X", "y"); });
  add("cwd", [](const Ctx&) { return plain().cwd("/tmp"); });
  add("stdio", [](const Ctx&) {
    return plain().stdin_(Stdio::null()).stdout_(Stdio::null()).stderr_(Stdio::null());
  });
  add("stdin_", [](const Ctx&) { return plain().stdin_(Stdio::pipe()); });
  add("stdout_", [](const Ctx&) { return plain().stdout_(Stdio::pipe()); });
  add("stderr_", [](const Ctx&) { return plain().stderr_(Stdio::pipe()); });
  add("keep_fd", [](const Ctx&) { return plain().keep_fd(0, 9); });
  add("new_session", [](const Ctx&) { return plain().new_session(); });
  add("parent_death_signal", [](const Ctx&) { return plain().parent_death_signal(SIGKILL); });
  add("user", [](const Ctx&) { return plain().user(65534, 65534); });
  add("spawn_mode",
      [](const Ctx&) { return plain().spawn_mode(SpawnMode::vm).user(65534, 65534); });
  add("groups", [](const Ctx&) { return plain().groups({1, 2, 3}); });
  add("keep_groups", [](const Ctx&) { return plain().user(65534, 65534).keep_groups(); });
  add("session_keyring", [](const Ctx&) { return plain().session_keyring("_ses.caller-state"); });
  add("capabilities", [](const Ctx&) {
    return plain().capabilities(Capabilities::only(CapabilitySet{CAP_CHOWN}));
  });
  add("securebits",
      [](const Ctx&) { return plain().securebits(1U << 2 /* SECBIT_NO_SETUID_FIXUP */); });
  add("rlimit",
      [](const Ctx&) { return plain().rlimit(RLIMIT_NOFILE, 64, 64).rlimit(RLIMIT_CORE, 0, 0); });
  add("umask", [](const Ctx&) { return plain().umask(077); });
  add("oom_score_adj", [](const Ctx&) { return plain().oom_score_adj(500); });
  // The second stage that keeps oom_score_adj its own must be the new pid
  // namespace's init (see Sandbox::plan).
  add("oom_score_adj", [](const Ctx&) {
    return Sandbox({"/bin/sh", "-c", "test $$ = 1 && test $(cat /proc/self/oom_score_adj) = 500"})
        .oom_score_adj(500)
        .unshare(NsSet{NsKind::user, NsKind::pid, NsKind::mount})
        .uid_map(IdMap{{0, 100000, 1000}})
        .gid_map(IdMap{{0, 100000, 1000}});
  });
  add("nice", [](const Ctx&) { return plain().nice(10); });
  add("scheduler", [](const Ctx&) { return plain().scheduler(SCHED_BATCH); });
  add("io_priority", [](const Ctx&) { return plain().io_priority(3 /* IOPRIO_CLASS_IDLE */, 0); });
  add("cpu_affinity", [](const Ctx&) { return plain().cpu_affinity({0}); });
  add("personality", [](const Ctx&) { return plain().personality(ADDR_NO_RANDOMIZE); });
  // MPOL_BIND (2) to node 0 (every NUMA kernel has it). A CLONE_VM child
  // shares no mempolicy with its parent (each task has its own), and this
  // case proves it.
  add("memory_policy", [](const Ctx&) { return plain().memory_policy({2, 0, {0}}); });
  add("sysctl",
      [](const Ctx&) { return plain().unshare(NsKind::ipc).sysctl("kernel.msgmax", "4096"); });
  add("nondumpable_setup", [](const Ctx&) { return plain().nondumpable_setup(true); });
  // The one option whose purpose is to change the caller: it makes it
  // non-dumpable for good (Nondumpable::caller, sandbox.hpp). Nothing else.
  add("nondumpable_setup",
      [](const Ctx&) { return plain().nondumpable_setup(Nondumpable::caller); }, false,
      {"dumpable"});
  add("sealed_exec", [](const Ctx&) { return plain().sealed_exec(); });
  add(
      "init_process", [](const Ctx& c) { return in_rootfs(c).init_process(); }, true);
  add("terminal", [](const Ctx&) { return plain().terminal(24, 80, PtySource::caller); });
  add(
      "console", [](const Ctx& c) { return in_rootfs(c).standard_dev().terminal().console(); },
      true);
  add("landlock", [](const Ctx&) {
    LandlockRuleset rs({.handled_fs = LandlockFs::read_only()});
    rs.create().allow_path("/", LandlockFs::read_only());
    return plain().landlock(rs);
  });
  add("no_new_privs", [](const Ctx&) { return plain().no_new_privs(true); });
  add("seccomp", [](const Ctx&) { return plain().seccomp(small_filter()); });
  add("unshare", [](const Ctx&) {
    return plain().unshare(
        NsSet{NsKind::mount, NsKind::pid, NsKind::net, NsKind::ipc, NsKind::uts, NsKind::cgroup});
  });
  add("join", [](const Ctx&) { return plain().join(NsKind::net, "/proc/self/ns/net"); });
  add("user_namespace", [](const Ctx&) {
    return plain().user_namespace(
        {IdMap{{0, 100000, 65536}}, IdMap{{0, 100000, 65536}}, Setgroups::allow});
  });
  add("uid_map", [](const Ctx&) {
    return plain()
        .unshare(NsKind::user)
        .uid_map(IdMap{{0, 100000, 1000}})
        .gid_map(IdMap{{0, 100000, 1000}});
  });
  add("gid_map", [](const Ctx&) {
    return plain()
        .unshare(NsKind::user)
        .uid_map(IdMap::single(0, 0))
        .gid_map(IdMap{{0, 100000, 1000}});
  });
  add("setgroups", [](const Ctx&) {
    return plain()
        .unshare(NsKind::user)
        .uid_map(IdMap::single(0, 0))
        .gid_map(IdMap::single(0, 0))
        .setgroups(Setgroups::deny);
  });
  add("hostname", [](const Ctx&) { return plain().unshare(NsKind::uts).hostname("sandbox"); });
  add("domainname", [](const Ctx&) { return plain().unshare(NsKind::uts).domainname("dom"); });
  add("time_offsets", [](const Ctx&) {
    return plain().unshare(NsKind::time).time_offsets({.monotonic_ns = 86400'000'000'000});
  });
  add("loopback", [](const Ctx&) { return plain().unshare(NsKind::net).loopback(true); });
  add(
      "rootfs", [](const Ctx& c) { return in_rootfs(c); }, true);
  // chroot(2) in the child, in the caller's mount namespace: the child has
  // its own fs_struct (no CLONE_FS), so the caller's root and cwd stay.
  add(
      "chroot", [](const Ctx& c) { return Sandbox({"/bin/true"}).chroot(c.rootfs); }, true);
  add(
      "mount", [](const Ctx& c) { return in_rootfs(c).mount(MountSpec::tmpfs("/tmp")); }, true);
  add(
      "standard_dev", [](const Ctx& c) { return in_rootfs(c).standard_dev(); }, true);
  add(
      "default_devices",
      [](const Ctx& c) { return in_rootfs(c).mount(MountSpec::tmpfs("/dev")).default_devices(); },
      true);
  add(
      "device",
      [](const Ctx& c) {
        return in_rootfs(c).mount(MountSpec::tmpfs("/dev")).device("/dev/null", 'c', 1, 3);
      },
      true);
  add(
      "directory",
      [](const Ctx& c) {
        return in_rootfs(c).mount(MountSpec::tmpfs("/tmp")).directory("/tmp/a/b");
      },
      true);
  add(
      "symlink",
      [](const Ctx& c) {
        return in_rootfs(c).mount(MountSpec::tmpfs("/tmp")).symlink("/tmp/l", "/bin");
      },
      true);
  add(
      "masked_paths",
      [](const Ctx& c) {
        // Masking binds the container's /dev/null (which must be the null
        // device) over each path that exists: /proc/kcore does where the
        // kernel has CONFIG_PROC_KCORE (the vm tier's), not on every host.
        return in_rootfs(c).standard_dev().masked_paths(
            {"/proc/kcore", "/proc/version", "/proc/sys/kernel"});
      },
      true);
  add(
      "readonly_paths", [](const Ctx& c) { return in_rootfs(c).readonly_paths({"/proc/sys"}); },
      true);
  add(
      "readonly_root", [](const Ctx& c) { return in_rootfs(c).readonly_root(); }, true);
  add(
      "recursive_readonly_root",
      [](const Ctx& c) { return in_rootfs(c).recursive_readonly_root(); }, true);
  add(
      "rootfs_propagation",
      [](const Ctx& c) { return in_rootfs(c).rootfs_propagation(Propagation::slave); }, true);
  add(
      "pivot", [](const Ctx& c) { return in_rootfs(c).pivot(Pivot::move_and_chroot); }, true);
  add("before_exec", [](const Ctx&) { return plain().before_exec([] {}); });
  add(
      "before_pivot", [](const Ctx& c) { return in_rootfs(c).before_pivot([](pid_t) {}); }, true);
  // Mounts in the caller's own mount namespace, below a clone of the rootfs
  // that the Child detaches when it goes (spawn_to_end): the mount table
  // compared after is the caller's as it was.
  auto shared = [](const Ctx& c) {
    return Sandbox({"/bin/true"})
        .rootfs(c.rootfs)
        .shared_mount_namespace()
        .mount(MountSpec::proc())
        .unshare(NsKind::pid);
  };
  add("shared_mount_namespace", shared, true);
  add(
      "on_rootfs_mount",
      [shared](const Ctx& c) { return shared(c).on_rootfs_mount([](const RootfsMount&) {}); },
      true);
  // into_cgroup, cgroup and start_gate need resources of their own: see
  // run_case.
  add("into_cgroup", nullptr);
  add("cgroup", nullptr);
  add("start_gate", nullptr);
  return v;
}

// Spawns `sb` to its end: through its start gate when it has one.
void spawn_to_end(Sandbox sb, int gate_wr = -1) {
  Child c = sb.spawn();
  if (gate_wr >= 0) {
    char go = 1;
    REQUIRE(::write(gate_wr, &go, 1) == 1);
  }
  ExitStatus st = c.wait();
  INFO(st.describe());
  CHECK(st.success());
}

void run_case(const Case& k, const Ctx& ctx) {
  constexpr int kSpawns = 3;
  if (k.option == "into_cgroup" || k.option == "cgroup") {
    CgroupV2 cg = CgroupV2::create(ward_test::cgroup_test_name(), ward_test::cgroup_parent());
    auto before = caller_state();
    for (int i = 0; i < kSpawns; ++i)
      spawn_to_end(k.option == "cgroup" ? plain().cgroup(cg) : plain().into_cgroup(cg.dir_fd()));
    CHECK(changes(before, caller_state()) == "");
    return;
  }
  if (k.option == "start_gate") {
    int gate[2];
    REQUIRE(::pipe2(gate, O_CLOEXEC) == 0);
    auto before = caller_state();
    for (int i = 0; i < kSpawns; ++i) {
      // One gate byte per spawn; the pipe stays open across them.
      spawn_to_end(plain().start_gate(gate[0]).oom_score_adj(300).user(65534, 65534), gate[1]);
    }
    auto after = caller_state();
    ::close(gate[0]);
    ::close(gate[1]);
    CHECK(changes(before, after) == "");
    return;
  }
  auto before = caller_state();
  for (int i = 0; i < kSpawns; ++i) spawn_to_end(k.make(ctx));
  auto after = caller_state();
  for (const auto& key : k.may_change) {
    before.erase(key);
    after.erase(key);
  }
  CHECK(changes(before, after) == "");
}

}  // namespace

TEST_CASE("caller: no builder option changes the caller's observable state") {
  WARD_SKIP_UNLESS_ROOT();
  ward_test::isolate_mounts();
  ward_test::ScratchDir tmp("caller");
  std::string busybox = ward_test::static_busybox();
  std::optional<ward_test::BusyboxRootfs> rootfs;
  if (!busybox.empty()) rootfs.emplace(busybox);
  Ctx ctx{rootfs ? rootfs->path : "", tmp.path};
  // A caller whose state differs from every default, so that a child's
  // setting that leaked back would show.
  REQUIRE(::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
  std::ofstream("/proc/self/oom_score_adj") << "100";  // raising needs no privilege
  std::string skipped;
  int index = 0;
  for (const Case& k : cases()) {
    ++index;  // two cases may cover one option: the section names differ by it
    if (k.needs_rootfs && ctx.rootfs.empty()) {
      skipped += " " + k.option + " (no static busybox: busybox-static)";
      continue;
    }
    if (k.option == "landlock" && landlock_abi() == 0) {
      skipped += " landlock (the kernel has no Landlock)";
      continue;
    }
    DYNAMIC_SECTION(index << ": " << k.option
                          << (k.may_change.empty() ? "" : " (documented effect)")) {
      run_case(k, ctx);
    }
  }
  std::ofstream("/proc/self/oom_score_adj") << "0";
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  if (!skipped.empty()) WARD_SKIP("cases not run:" + skipped);
}

TEST_CASE("caller: every builder option of Sandbox has a caller-state case") {
  std::ifstream header(std::string(WARD_SOURCE_DIR) + "/include/ward/sandbox.hpp");
  REQUIRE(header);
  std::stringstream ss;
  ss << header.rdbuf();
  std::string text = ss.str();
  std::regex option(R"(\n  Sandbox& ([a-z_]+)\()");
  std::set<std::string> options;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), option);
       it != std::sregex_iterator(); ++it)
    options.insert((*it)[1]);
  INFO("builder options found in sandbox.hpp: " << options.size());
  REQUIRE(options.size() > 40);  // the pattern still matches the header's style
  std::set<std::string> covered;
  for (const Case& k : cases()) covered.insert(k.option);
  for (const auto& o : options) {
    INFO("Sandbox::" << o << " has no case in tests/root/caller_state_test.cpp");
    CHECK(covered.count(o) == 1);
  }
  for (const auto& c : covered) {
    INFO("the case " << c << " names no builder option");
    CHECK(options.count(c) == 1);
  }
}

namespace {

// A secret in the caller's memory, at the same address in a CLONE_VM child.
char g_secret[32] = "caller-secret-7f3a9c";

// The children of this process (its threads' "children" files).
std::vector<pid_t> own_children() {
  std::vector<pid_t> out;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::istringstream in(ward_test::read_file(t.path().string() + "/children"));
    for (pid_t p; in >> p;) out.push_back(p);
  }
  return out;
}

// From a process of uid 65534 (the sandbox's), reads g_secret through
// /proc/PID/mem of `target`. Returns what it read, or "errno N".
std::string read_secret_as_nobody(pid_t target) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string out;
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0) {
      out = "setuid failed";
    } else {
      std::string mem = "/proc/" + std::to_string(target) + "/mem";
      int fd = ::open(mem.c_str(), O_RDONLY | O_CLOEXEC);
      char buf[sizeof g_secret] = {};
      if (fd < 0) {
        out = "errno " + std::to_string(errno) + " (open)";
      } else if (::pread(fd, buf, sizeof buf - 1, reinterpret_cast<off_t>(g_secret)) < 0) {
        out = "errno " + std::to_string(errno) + " (read)";
      } else {
        out = buf;
      }
    }
    (void)!::write(p[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(p[1]);
  std::string got = ward_test::read_all(p[0]);
  ::close(p[0]);
  ::waitpid(pid, nullptr, 0);
  return got;
}

}  // namespace

// The caller's "dumpable" comes back after a spawn (the test above), but
// not before the child that took another uid stops sharing its memory:
// until then it is what keeps that uid out of the caller's memory
// (CallerDumpable in detail/spawn.hpp). The control section shows the
// attack works once the caller is dumpable, so the first can fail.
TEST_CASE(
    "caller: a process of the sandbox's uid cannot read the caller's memory through the setup "
    "child") {
  WARD_SKIP_UNLESS_ROOT();
  REQUIRE(::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
  auto attack = [](bool make_caller_dumpable) {
    std::string got;
    pid_t seen = -1;
    Sandbox sb({ward_test::probe(), "exit", "0"});
    sb.user(65534, 65534).capabilities(Capabilities::none()).spawn_mode(SpawnMode::vm);
    sb.before_exec([&] {
      // The child has taken uid 65534 and waits for this callback to end.
      auto kids = own_children();
      REQUIRE(kids.size() == 1);
      seen = kids[0];
      // This runs while the child sets up: wait until it has taken the uid
      // (then it waits for us). 10 s bound: a child that never gets there
      // fails the test below, it does not pass it.
      std::string status = "/proc/" + std::to_string(seen) + "/status";
      for (int i = 0; i < 10000; ++i) {
        if (ward_test::read_file(status).find("\nUid:\t65534\t65534\t65534\t65534\n") !=
            std::string::npos)
          break;
        ::usleep(1000);
      }
      REQUIRE(ward_test::read_file(status).find("\nUid:\t65534\t65534\t65534\t65534\n") !=
              std::string::npos);
      if (make_caller_dumpable) ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
      got = read_secret_as_nobody(seen);
    });
    CHECK(sb.spawn().wait().success());
    CHECK(seen > 0);
    return got;
  };
  SECTION("the setup child's memory, which is the caller's, stays out of reach") {
    std::string got = attack(false);
    INFO(got);
    CHECK(got.rfind("errno", 0) == 0);
    CHECK(got.find("caller-secret") == std::string::npos);
    CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);  // and afterwards it is back
  }
  SECTION("control: with the caller made dumpable too early, the attack reads the secret") {
    CHECK(attack(true) == g_secret);
  }
}

// The dumpable flag is put back by the last of the spawns in flight; with
// several threads spawning at once that is a count, not a save and
// restore per spawn (which would restore 0, saved while another spawn's
// child held the mark).
TEST_CASE("caller: spawns from several threads at once leave the caller as it was") {
  WARD_SKIP_UNLESS_ROOT();
  REQUIRE(::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0);
  const std::string oom_before = ward_test::read_file("/proc/self/oom_score_adj");
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        Sandbox sb({ward_test::probe(), "exit", "0"});
        if (t % 2 == 0) sb.user(65534, 65534);
        if (t == 1) sb.oom_score_adj(900);
        if (t == 3)
          sb.unshare(NsKind::user)
              .uid_map(IdMap{{0, 100000, 1000}})
              .gid_map(IdMap{{0, 100000, 1000}});
        if (sb.spawn().wait().success()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 100);
  CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
  CHECK(ward_test::read_file("/proc/self/oom_score_adj") == oom_before);
}
