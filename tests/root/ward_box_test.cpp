// SPDX-License-Identifier: Apache-2.0
// ward-box (examples/ward-box.cpp, issue #16) as its users run it: the
// binary, its command line, its report file, as root and as uid 65534
// (through setpriv(1), with no XDG_RUNTIME_DIR: its skeleton then lives in
// /tmp/ward-box-65534). Each case runs in both roles (GENERATE).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "rootfs_util.hpp"
#include "run_util.hpp"
#include "test_util.hpp"

#ifndef WARD_BOX_BIN
#define WARD_BOX_BIN ""
#endif

namespace {

namespace fs = std::filesystem;
constexpr uid_t kUser = 65534;

std::string setpriv() {
  for (const char* p : {"/usr/bin/setpriv", "/bin/setpriv"})
    if (::access(p, X_OK) == 0) return p;
  return {};
}

struct Box {
  ward::ExitStatus status;
  std::string out, err;
  std::map<std::string, std::string> meta;  // the report, key -> last value
  std::string report;                       // its text
};

// ward-box ARGS as `who` ("root" or "nobody"); the report goes to a file
// in a scratch directory that uid 65534 may write.
Box box(const std::string& who, std::vector<std::string> args) {
  ward_test::ScratchDir d("box");
  REQUIRE(::chown(d.path.c_str(), kUser, kUser) == 0);
  const std::string report = d / "report";
  std::vector<std::string> argv;
  if (who == "nobody") argv = {setpriv(), "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  argv.push_back(WARD_BOX_BIN);
  argv.insert(argv.end(), {"--report", report});
  argv.insert(argv.end(), args.begin(), args.end());
  ward::Sandbox sb(argv);
  sb.setenv("PATH", "/usr/bin:/bin").stdin_(ward::Stdio::null());
  auto r = ward_test::run_out_err(std::move(sb));
  Box b{r.status, r.out, r.err, {}, {}};
  try {
    b.report = ward_test::read_file(report);
  } catch (...) {
  }
  std::size_t at = 0;
  while (at < b.report.size()) {
    auto nl = b.report.find('\n', at);
    if (nl == std::string::npos) nl = b.report.size();
    const std::string line = b.report.substr(at, nl - at);
    const auto colon = line.find(':');
    if (colon != std::string::npos) b.meta[line.substr(0, colon)] = line.substr(colon + 1);
    at = nl + 1;
  }
  return b;
}

#define NEED_BOX(who)                                                                 \
  WARD_SKIP_UNLESS_ROOT();                                                            \
  if (std::string(WARD_BOX_BIN).empty()) WARD_SKIP("built without examples");         \
  if (setpriv().empty()) WARD_SKIP("no setpriv(1) (util-linux) to run as uid 65534"); \
  if (!ward_test::userns_allowed()) WARD_SKIP("this kernel refuses user namespaces"); \
  const std::string who = GENERATE(as<std::string>{}, "root", "nobody");              \
  INFO("as " << who)

}  // namespace

TEST_CASE("ward-box: the view is the host's system read-only, its own /tmp, /proc, /dev and lo") {
  NEED_BOX(who);
  auto b = box(who, {"--tmp", "1M", "--", "/bin/sh", "-c",
                     "ls / | tr '\\n' ' '; echo; echo pid=$$ host=$(hostname);"
                     "grep CapEff /proc/self/status;"
                     "touch /usr/x /etc/x / 2>&1 | grep -c 'Read-only';"
                     "echo hi > /tmp/a && cat /tmp/a;"
                     "head -c 2000000 /dev/zero > /tmp/big || echo tmp-full;"
                     "ls /sys/class/net | tr '\\n' ' '; echo;"
                     "echo x > /sys/kernel/uevent_helper 2>/dev/null || echo sys-ro;"
                     "ls /dev/null /dev/zero /dev/urandom /dev/pts >/dev/null && echo dev-ok"});
  INFO(b.out << b.err << b.report);
  CHECK(b.status.exit_code() == 0);
  CHECK_THAT(b.out, Catch::StartsWith("bin dev etc lib "));
  CHECK_THAT(b.out, Catch::Contains(" proc sbin sys tmp usr \n"));
  CHECK_THAT(b.out, Catch::Contains("pid=2 host=ward-box\n"));  // ward's init is pid 1
  CHECK_THAT(b.out, Catch::Contains("CapEff:\t0000000000000000\n"));
  CHECK_THAT(b.out, Catch::Contains("\n3\nhi\ntmp-full\n"));  // /usr, /etc and / refused
  CHECK_THAT(b.out, Catch::Contains("\nlo \n"));
  CHECK_THAT(b.out, Catch::Contains("sys-ro\ndev-ok\n"));
  CHECK(b.meta.count("status") == 0);  // OK, as isolate leaves it out
  CHECK(b.meta["exitcode"] == "0");
}

TEST_CASE("ward-box: CPU and wall time limits end the run with TO and exit 0") {
  NEED_BOX(who);
  auto cpu = box(who, {"--time", "0.3", "--", "/bin/sh", "-c", "while :; do :; done"});
  INFO(cpu.err << cpu.report);
  CHECK(cpu.status.exit_code() == 0);
  CHECK(cpu.meta["status"] == "TO");
  CHECK(cpu.meta["killed"] == "1");
  CHECK(std::stod(cpu.meta["time"]) >= 0.3);
  auto wall = box(who, {"--wall", "0.3", "--", "/bin/sleep", "5"});
  INFO(wall.err << wall.report);
  CHECK(wall.status.exit_code() == 0);
  CHECK(wall.meta["status"] == "TO");
  CHECK(std::stod(wall.meta["time-wall"]) < 4);
}

TEST_CASE("ward-box: exit status, signal, output and file size reach the report") {
  NEED_BOX(who);
  auto re = box(who, {"--", "/bin/sh", "-c", "exit 3"});
  CHECK(re.status.exit_code() == 0);
  CHECK(re.meta["status"] == "RE");
  CHECK(re.meta["exitcode"] == "3");
  // The program's own signal: it is pid 2, below ward's init (as pid 1 it
  // would ignore what it sends itself, pid_namespaces(7)).
  auto ab = box(who, {"--", "/bin/sh", "-c", "kill -ABRT $$"});
  INFO(ab.err << ab.report);
  CHECK(ab.meta["status"] == "SG");
  CHECK(ab.meta["exitsig"] == "6");
  CHECK(ab.meta["ward-init"] == "1");
  // A real fault.
  if (::access("/usr/bin/python3", X_OK) != 0) WARD_SKIP("no /usr/bin/python3 to fault");
  auto sg = box(who, {"--", "/usr/bin/python3", "-c", "import ctypes; ctypes.string_at(0)"});
  INFO(sg.err << sg.report);
  CHECK(sg.meta["status"] == "SG");
  CHECK(sg.meta["exitsig"] == "11");
  auto ol = box(who, {"--output", "100", "--", "/usr/bin/yes"});
  INFO(ol.report);
  CHECK(ol.status.exit_code() == 0);
  CHECK(ol.meta["status"] == "OL");
  CHECK(ol.out.size() == 100);
  // head, below the init, is killed by SIGXFSZ; the shell exits 128 + 25.
  auto fz = box(
      who, {"--fsize", "1M", "--", "/bin/sh", "-c", "head -c 2000000 /dev/zero > /tmp/f; exit $?"});
  INFO(fz.report);
  CHECK(fz.meta["status"] == "RE");
  CHECK(fz.meta["exitcode"] == "153");
  CHECK(fz.meta["ward-enforced-file-size"] == "rlimit");
  // The program itself past --fsize: killed by SIGXFSZ below ward's init;
  // as pid 1 (--no-init) the kernel sends it no SIGXFSZ and the write
  // fails with EFBIG.
  const std::vector<std::string> head = {"--", "/bin/sh", "-c",
                                         "exec head -c 2000000 /dev/zero > /tmp/f"};
  std::vector<std::string> args = {"--fsize", "1M"};
  args.insert(args.end(), head.begin(), head.end());
  auto xf = box(who, args);
  INFO(xf.err << xf.report);
  CHECK(xf.status.exit_code() == 0);
  CHECK(xf.meta["status"] == "SG");
  CHECK(xf.meta["exitsig"] == "25");
  args.insert(args.begin(), "--no-init");
  auto ef = box(who, args);
  INFO(ef.err << ef.report);
  CHECK(ef.meta["status"] == "RE");
  CHECK(ef.meta["exitcode"] == "1");
  CHECK(ef.meta.count("ward-init") == 0);
  CHECK_THAT(ef.err, Catch::Contains("File too large"));
}

TEST_CASE("ward-box: a memory hog is stopped and the report says by what") {
  NEED_BOX(who);
  auto m = box(who, {"--memory", "32M", "--", "/usr/bin/tail", "/dev/zero"});
  INFO(m.err << m.report);
  CHECK(m.status.exit_code() == 0);
  const std::string by = m.meta["ward-enforced-memory"];
  CHECK((by == "cgroup-v1" || by == "cgroup-v2" || by == "rlimit"));
  // A cgroup OOM-kills (ML); under RLIMIT_AS the allocation fails inside
  // the program, which then ends on its own (RE or SG).
  if (by == "rlimit")
    CHECK((m.meta["status"] == "RE" || m.meta["status"] == "SG"));
  else
    CHECK(m.meta["status"] == "ML");
}

TEST_CASE("ward-box: nothing the program started outlives ward-box") {
  NEED_BOX(who);
  const std::string marker = "1000." + std::to_string(std::random_device{}() % 900000 + 100000);
  auto b = box(who, {"--", "/bin/sh", "-c",
                     "(setsid /bin/sh -c '/bin/sleep " + marker +
                         " </dev/null >/dev/null 2>&1 &' &); sleep 0.2; exit 0"});
  INFO(b.err << b.report);
  CHECK(b.status.exit_code() == 0);
  std::vector<std::string> left;
  for (auto& p : fs::directory_iterator("/proc")) {
    const std::string name = p.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd;
    try {
      cmd = ward_test::read_file(p.path() / "cmdline");
    } catch (...) {
    }
    if (cmd.find(marker) != std::string::npos) left.push_back(name);
  }
  for (const auto& pid : left) ::kill(std::stoi(pid), SIGKILL);
  CHECK(left.empty());
}

TEST_CASE("ward-box: --bind is read-only unless :rw and a missing source fails naming it") {
  NEED_BOX(who);
  ward_test::ScratchDir d("boxbind");
  REQUIRE(::chmod(d.path.c_str(), 0777) == 0);  // root in the box has no capabilities
  auto b = box(who, {"--bind", d.path + ":/in", "--bind", d.path + ":/out:rw", "--", "/bin/sh",
                     "-c", "touch /in/a 2>/dev/null || echo in-ro; touch /out/b && echo out-rw"});
  INFO(b.err << b.report);
  CHECK(b.out == "in-ro\nout-rw\n");
  CHECK(fs::exists(d / "b"));
  CHECK(!fs::exists(d / "a"));
  auto bad = box(who, {"--bind", "/nonexistent-ward-box:/x", "--", "/bin/true"});
  CHECK(bad.status.exit_code() == 2);
  CHECK_THAT(bad.err, Catch::Contains("/nonexistent-ward-box"));
  CHECK(bad.meta["status"] == "XX");
}

TEST_CASE("ward-box: a bad command line fails with 1 naming the option") {
  NEED_BOX(who);
  for (const auto& [args, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--time", "abc", "--", "/bin/true"}, "--time: 'abc'"},
           {{"--time", "-1", "--", "/bin/true"}, "--time: '-1'"},
           {{"--memory", "12Q", "--", "/bin/true"}, "--memory: '12Q'"},
           {{"--processes", "0", "--", "/bin/true"}, "--processes: '0'"},
           {{"--bind", "rel:/x", "--", "/bin/true"}, "--bind: 'rel:/x'"},
           {{"--seccomp", "loose", "--", "/bin/true"}, "--seccomp: 'loose'"},
           {{"--frobnicate", "--", "/bin/true"}, "unknown option '--frobnicate'"},
           {{"--"}, "no program given"}}) {
    auto b = box(who, args);
    INFO(args[0] << ": " << b.err);
    CHECK(b.status.exit_code() == 1);
    CHECK_THAT(b.err, Catch::Contains(says));
  }
}

// The attack: another user plants the skeleton directory ward-box would
// pivot into (uid 65534 without XDG_RUNTIME_DIR uses /tmp/ward-box-65534),
// as a directory of theirs or a symlink to one, to put mount points or
// symlinks of their choosing into the sandbox's root, or just to keep
// uid 65534 from running anything. ward-box leaves it alone and runs in a
// skeleton of its own, which it removes afterwards. (Seen to fail with the
// ownership and mode check removed: the run goes ahead inside the planted
// directory and sees the plant; and against the ward-box that refused the
// run: exit status 2, nothing ran.)
TEST_CASE("ward-box attack: a skeleton directory planted by another user is not used") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_BOX_BIN).empty()) WARD_SKIP("built without examples");
  if (setpriv().empty()) WARD_SKIP("no setpriv(1) (util-linux) to run as uid 65534");
  const std::string base = "/tmp/ward-box-65534";
  auto own_dirs = [] {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator("/tmp"))
      if (e.path().filename().string().rfind("ward-box-65534-", 0) == 0) v.push_back(e.path());
    return v;
  };
  const auto before = own_dirs();
  // Whatever a previous run left: ward-box's own, made again afterwards.
  fs::remove_all(base);
  ward_test::ScratchDir elsewhere("planted");
  REQUIRE(::chmod(elsewhere.path.c_str(), 0777) == 0);
  for (int form = 0; form < 2; ++form) {
    std::string plant_root;
    if (form == 0) {
      REQUIRE(::mkdir(base.c_str(), 0777) == 0);  // root's, world-writable
      REQUIRE(::chmod(base.c_str(), 0777) == 0);
      plant_root = base + "/root";
    } else {
      REQUIRE(::symlink(elsewhere.path.c_str(), base.c_str()) == 0);
      plant_root = elsewhere.path + "/root";
    }
    // What the planter wants the sandbox to see: a file at its root.
    REQUIRE(::mkdir(plant_root.c_str(), 0777) == 0);
    REQUIRE(::chmod(plant_root.c_str(), 0777) == 0);
    { std::ofstream(plant_root + "/planted-marker") << "x"; }
    auto b = box("nobody", {"--", "/bin/sh", "-c", "ls -a /; echo ran"});
    INFO("form " << form << ": " << b.err << b.out);
    CHECK(b.status.exit_code() == 0);
    CHECK_THAT(b.out, Catch::Contains("ran"));
    CHECK_THAT(b.out, !Catch::Contains("planted-marker"));
    CHECK_THAT(b.err, Catch::Contains(base));
    CHECK_THAT(b.err, Catch::Contains("not used"));
    // Untouched: only the planter's file, nothing of the run's.
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(plant_root)) left.push_back(e.path().filename());
    CHECK(left == std::vector<std::string>{"planted-marker"});
    fs::remove_all(plant_root);
    fs::remove_all(base);
  }
  // The runs' own skeletons are gone with them.
  CHECK(own_dirs() == before);
}

// The attack: root's skeleton base (/run/ward-box) is not root's 0700
// directory (or cannot be made), so the run takes a skeleton of its own; a
// host process running as the box uid (65534) watches /run for it and
// plants files and programs there between its chown and the run, which
// then execute in root's job. The run's own directory is root's and 0700;
// only the root inside it is the box uid's. Seen to fail against the
// ward-box whose mkdtemp directory in /run was itself chowned to the box
// uid: both plants landed and `ls -a /` showed them. In a mount namespace
// of its own with a tmpfs on /run: the host's /run is not touched.
TEST_CASE("ward-box attack: root's own skeleton is not open to the box uid") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_BOX_BIN).empty()) WARD_SKIP("built without examples");
  if (setpriv().empty()) WARD_SKIP("no setpriv(1) (util-linux) to act as uid 65534");
  const std::string script = R"(set -e
mount --make-rprivate /
mount -t tmpfs tmpfs /run
mkdir -m 0755 /run/ward-box
"$1" -- /bin/sh -c 'sleep 2; ls -a /' &
d=
for i in $(seq 200); do
  d=$(ls -d /run/ward-box-* 2>/dev/null | head -n 1)
  [ -n "$d" ] && [ -d "$d/root" ] && break
  sleep 0.01
done
[ -n "$d" ] || { echo "no skeleton of the run's own"; exit 3; }
for p in "$d/PLANTED" "$d/root/PLANTED"; do
  "$2" --reuid=65534 --regid=65534 --clear-groups -- touch "$p" 2>/dev/null && echo "planted $p"
done
wait $!
ls -d /run/ward-box-* 2>/dev/null | sed 's/^/left /'
true)";
  ward::Sandbox sb({"/bin/sh", "-c", script, "sh", WARD_BOX_BIN, setpriv()});
  sb.unshare(ward::NsSet{ward::NsKind::mount}).setenv("PATH", "/usr/bin:/bin");
  sb.stdin_(ward::Stdio::null());
  auto r = ward_test::run_out_err(std::move(sb));
  INFO(r.out << r.err);
  CHECK(r.status.exit_code() == 0);
  CHECK_THAT(r.err, Catch::Contains("/run/ward-box is not"));
  CHECK_THAT(r.out, !Catch::Contains("planted"));
  CHECK_THAT(r.out, !Catch::Contains("PLANTED"));
  CHECK_THAT(r.out, Catch::Contains("proc"));  // the program's `ls -a /` ran
  CHECK_THAT(r.out, !Catch::Contains("left "));
}

// vm.memfd_noexec=2 (Linux 6.3, per pid namespace) refuses the memfd ward's
// init is executed from: the run goes on with the program as the pid
// namespace's init and the report says what was not granted. (Seen to fail
// when supervise did not recognise that refusal as the init's: exit 2.)
TEST_CASE(
    "ward-box: where memfds may not be executed the program runs as pid 1 and the report says so") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_BOX_BIN).empty()) WARD_SKIP("built without examples");
  if (::access("/proc/sys/vm/memfd_noexec", F_OK) != 0)
    WARD_SKIP("no vm.memfd_noexec on this kernel (Linux 6.3)");
  ward_test::ScratchDir d("box-memfd");
  const std::string report = d / "report";
  const std::string script = R"(mount --make-rprivate / && mount -t proc proc /proc &&
echo 2 > /proc/sys/vm/memfd_noexec &&
exec "$1" --report "$2" -- /bin/sh -c 'echo pid $$')";
  ward::Sandbox sb({"/bin/sh", "-c", script, "sh", WARD_BOX_BIN, report});
  sb.unshare(ward::NsSet{ward::NsKind::pid, ward::NsKind::mount}).setenv("PATH", "/usr/bin:/bin");
  sb.stdin_(ward::Stdio::null());
  auto r = ward_test::run_out_err(std::move(sb));
  const std::string rep = ward_test::read_file(report);
  INFO(r.out << r.err << rep);
  CHECK(r.status.exit_code() == 0);
  CHECK(r.out == "pid 1\n");
  CHECK_THAT(rep, Catch::Contains("ward-not-granted:init: "));
  CHECK_THAT(rep, Catch::Contains("memfd_noexec"));
  CHECK_THAT(rep, !Catch::Contains("status:"));
}

// A caller in a pid namespace of its own with its parent's /proc still
// mounted: /proc/PID there is another process than the child. ward writes
// no id map through it and says why. (Seen against the ward that did: it
// wrote '0 65534 1' to /proc/2/uid_map, the host's pid 2, refused only
// because that one has no new user namespace.)
TEST_CASE("ward-box: a /proc of another pid namespace is refused before any id map is written") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_BOX_BIN).empty()) WARD_SKIP("built without examples");
  ward::Sandbox sb({WARD_BOX_BIN, "--", "/bin/true"});
  sb.unshare(ward::NsSet{ward::NsKind::pid}).setenv("PATH", "/usr/bin:/bin");
  sb.stdin_(ward::Stdio::null());
  auto r = ward_test::run_out_err(std::move(sb));
  INFO(r.out << r.err);
  CHECK(r.status.exit_code() == 2);
  CHECK_THAT(r.err, Catch::Contains("/proc mounted here is not of this process's pid namespace"));
  CHECK_THAT(r.err, !Catch::Contains("/proc/2/uid_map"));
}

// Root's sandbox as root of the host: without capabilities, the host's uid
// and gid 0 still own /etc/shadow, /proc/sys/kernel/core_pattern (a pipe
// there runs as root on the next crash) and whatever the program makes in
// a writable bind (a set-user-ID copy of a shell). As root's, ward-box runs
// the program as --box-uid (65534). Failed against the ward-box that mapped
// root: shadow read, core_pattern opened for writing, the file root's.
TEST_CASE("ward-box attack: root's program is not the host's root") {
  NEED_BOX(who);
  ward_test::ScratchDir d("box-rw");
  REQUIRE(::chown(d.path.c_str(), kUser, kUser) == 0);
  auto b = box(who, {"--bind", d.path + ":/w:rw", "--", "/bin/sh", "-c",
                     "cat /proc/self/uid_map;"
                     "head -c 1 /etc/shadow >/dev/null 2>&1 && echo shadow-read;"
                     "(: >> /proc/sys/kernel/core_pattern) 2>/dev/null && echo sysctl-open;"
                     "cp /bin/sh /w/sh && chmod 4755 /w/sh && echo made;"
                     "grep -c ' /w .*nosuid' /proc/self/mountinfo"});
  INFO(b.out << b.err << b.report);
  CHECK(b.meta["exitcode"] == "0");
  CHECK_THAT(b.out, Catch::Contains(" 65534 "));  // the host uid behind the program's 0
  CHECK_THAT(b.out, !Catch::Contains("shadow-read"));
  CHECK_THAT(b.out, !Catch::Contains("sysctl-open"));
  CHECK_THAT(b.out, Catch::Contains("made\n1\n"));  // the bind is nosuid
  struct stat st {};
  REQUIRE(::stat((d / "sh").c_str(), &st) == 0);
  CHECK(st.st_uid == kUser);  // set-user-ID 65534 at worst, never root
}

namespace {

// ward-box run by a session leader whose controlling terminal, stdin,
// stdout and stderr are a pty's peer, like an interactive shell's child;
// returns what is left queued on that terminal afterwards: what the shell
// would read next.
std::string queued_after_box_on_terminal(const std::string& who,
                                         const std::vector<std::string>& args, int& status) {
  int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  REQUIRE(master >= 0);
  REQUIRE(::unlockpt(master) == 0);
  int peer = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  REQUIRE(peer >= 0);
  std::vector<std::string> a;
  if (who == "nobody") a = {setpriv(), "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  a.push_back(WARD_BOX_BIN);
  a.insert(a.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::setsid() < 0 || ::ioctl(peer, TIOCSCTTY, 0) != 0) ::_exit(120);
    for (int i = 0; i < 3; ++i)
      if (::dup2(peer, i) != i) ::_exit(121);
    ::execv(argv[0], argv.data());
    ::_exit(122);
  }
  // Drain what it prints so that it never blocks on a full terminal.
  int st = 0;
  for (int i = 0; i < 3000; ++i) {
    char buf[4096];
    pollfd p{master, POLLIN, 0};
    if (::poll(&p, 1, 10) > 0 && (p.revents & POLLIN)) (void)!::read(master, buf, sizeof buf);
    if (::waitpid(pid, &st, WNOHANG) == pid) break;
  }
  if (::waitpid(pid, &st, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &st, 0);
  }
  status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  termios t{};
  REQUIRE(::tcgetattr(peer, &t) == 0);
  t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  REQUIRE(::tcsetattr(peer, TCSANOW, &t) == 0);
  std::string queued;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(peer, buf, sizeof buf)) > 0) queued.append(buf, static_cast<size_t>(n));
  ::close(master);
  ::close(peer);
  return queued;
}

}  // namespace

// TIOCSTI (ioctl_tty(2)) pushes bytes into a terminal's input queue, which
// the caller's shell reads next: the program's own session has no
// controlling terminal, so the kernel refuses it on the caller's terminal
// it got as stdin, and /dev/tty names none. Failed against the ward-box
// without a new session: the caller's queue held "echo pwned".
TEST_CASE("ward-box attack: the program cannot type into the caller's terminal") {
  NEED_BOX(who);
  std::string legacy;
  try {
    legacy = ward_test::read_file("/proc/sys/dev/tty/legacy_tiocsti");
  } catch (...) {
  }
  if (!legacy.empty() && legacy[0] == '0')
    WARD_SKIP("dev.tty.legacy_tiocsti is 0: TIOCSTI is refused to everyone here");
  if (::access("/usr/bin/python3", X_OK) != 0) WARD_SKIP("no /usr/bin/python3 to call TIOCSTI");
  const char* sti =
      "import fcntl, os, termios\n"
      "for f in (0, '/dev/tty'):\n"
      "  try:\n"
      "    fd = f if f == 0 else os.open(f, os.O_RDWR)\n"
      "    for c in b'echo pwned\\n': fcntl.ioctl(fd, termios.TIOCSTI, bytes([c]))\n"
      "  except OSError as e: print(f, e)\n";
  int status = -1;
  auto queued = queued_after_box_on_terminal(who, {"--", "/usr/bin/python3", "-c", sti}, status);
  CHECK(status == 0);
  CHECK(queued.find("pwned") == std::string::npos);
}

// The program's `kill 0` reaches its own process group only: sharing
// ward-box's, it killed ward-box (and the caller's group with it) before
// any report, or stopped it with SIGSTOP and every limit with it.
TEST_CASE("ward-box attack: the program cannot stop or kill ward-box's process group") {
  NEED_BOX(who);
  auto b = box(who, {"--wall", "5", "--", "/bin/sh", "-c", "kill -TERM 0; sleep 3"});
  INFO(b.err << b.report);
  CHECK(b.status.exit_code() == 0);
  CHECK(b.meta["status"] == "SG");
  CHECK(b.meta["exitsig"] == "15");
}

// --report is opened before the run, never through a symlink: one planted
// in its place beforehand is refused, and one the program swaps in during
// the run (through a writable bind) is not followed. Failed against the
// ward-box that opened it by name afterwards: the victim was overwritten.
TEST_CASE("ward-box attack: --report never writes through a symlink") {
  NEED_BOX(who);
  ward_test::ScratchDir d("box-report");
  REQUIRE(::chown(d.path.c_str(), kUser, kUser) == 0);
  const std::string victim = d / "victim";
  ward_test::write_file(victim, "precious\n");
  REQUIRE(::symlink(victim.c_str(), (d / "planted").c_str()) == 0);
  auto planted = box(who, {"--report", d / "planted", "--", "/bin/true"});
  CHECK(planted.status.exit_code() == 2);
  CHECK_THAT(planted.err, Catch::Contains("symlink"));
  auto swapped = box(who, {"--bind", d.path + ":/w:rw", "--report", d / "meta", "--", "/bin/sh",
                           "-c", "rm -f /w/meta && ln -s /w/victim /w/meta && echo swapped"});
  INFO(swapped.out << swapped.err);
  CHECK(swapped.out == "swapped\n");
  CHECK(swapped.status.exit_code() == 0);
  CHECK(ward_test::read_file(victim) == "precious\n");
}

// What the program writes is held by ward-box until it ends; without
// --output it is still bounded (64 MiB a stream), so that it cannot fill
// ward-box's memory, which is outside the program's memory limit.
TEST_CASE("ward-box: output without --output is bounded") {
  NEED_BOX(who);
  auto b = box(who, {"--", "/bin/sh", "-c", "head -c 100000000 /dev/zero"});
  INFO(b.err << b.report);
  CHECK(b.status.exit_code() == 0);
  CHECK(b.meta["status"] == "OL");
  CHECK(b.out.size() <= (64u << 20));
}

// A reader of ward-box's output that goes away early (`| head -c 1`) does
// not kill it before the report: SIGPIPE is ignored and the report written
// first.
TEST_CASE("ward-box: the report is written when the output's reader goes away") {
  NEED_BOX(who);
  ward_test::ScratchDir d("box-pipe");
  REQUIRE(::chown(d.path.c_str(), kUser, kUser) == 0);
  const std::string prefix =
      who == "nobody" ? setpriv() + " --reuid=65534 --regid=65534 --clear-groups -- " : "";
  ward::Sandbox sb({"/bin/bash", "-c",
                    prefix + WARD_BOX_BIN + " --report " + (d / "r") +
                        " -- /bin/sh -c 'head -c 2000000 /dev/zero' | head -c 1 >/dev/null;"
                        "echo ${PIPESTATUS[0]}"});
  sb.setenv("PATH", "/usr/bin:/bin").stdin_(ward::Stdio::null());
  auto r = ward_test::run_out_err(std::move(sb));
  INFO(r.err);
  CHECK(r.out == "0\n");
  CHECK_THAT(ward_test::read_file(d / "r"), Catch::Contains("exitcode:0\n"));
}
