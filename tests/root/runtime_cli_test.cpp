// SPDX-License-Identifier: Apache-2.0
// The `ward` runtime's command line, read as runc 1.2-1.5 reads its own
// (urfave/cli v1 on Go's flag package): every flag of every command takes
// its value, never leaving it to be read as the container id; unknown
// flags fail with runc's words and status; ids given to exec are checked;
// and the behaviours engines rely on (kill ID 0, ps options, exec -t,
// exec into a paused container, exit status 255 for exec's own failures,
// --root made on first use, --pidfd-socket).
#include <pty.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <ward/ward.hpp>

#include <catch2/catch.hpp>

#include "runtime_util.hpp"

using namespace ward_test;

namespace {

struct Case {
  std::vector<std::string> args;  // after --root
  int status;                     // expected exit status
  std::string err;                // expected in stderr ("" : stderr empty of errors)
};

// A listening unix socket for --pidfd-socket; receive() takes the one
// descriptor a connection sent and the message's payload.
struct PidfdListener {
  ScratchDir dir{"pidfd"};
  std::string path = dir.path + "/s";
  ward::UniqueFd sock;
  PidfdListener() {
    sock = ward_test::bound_unix_socket(path, SOCK_STREAM);
    REQUIRE(::listen(sock.get(), 4) == 0);
  }
  ward::UniqueFd receive(std::string& payload) {
    ward::UniqueFd conn(::accept4(sock.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(conn);
    char buf[64] = {};
    iovec iov{buf, sizeof buf};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(conn.get(), &m, MSG_CMSG_CLOEXEC);
    REQUIRE(n > 0);
    payload.assign(buf, static_cast<std::size_t>(n));
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    REQUIRE(c != nullptr);
    REQUIRE(c->cmsg_type == SCM_RIGHTS);
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return ward::UniqueFd(fd);
  }
};

// The pid a pidfd refers to (proc(5): /proc/self/fdinfo "Pid:").
pid_t pidfd_pid(int fd) {
  std::ifstream f("/proc/self/fdinfo/" + std::to_string(fd));
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Pid:", 0) == 0) return static_cast<pid_t>(std::stol(line.substr(4)));
  return -1;
}

std::string link_of(int fd) {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
}

pid_t state_pid(Bundle& b, const std::string& id) {
  auto s = b.cmd({"state", id});
  REQUIRE(s.status == 0);
  return ward::oci::parse_state(s.out).pid;
}

}  // namespace

TEST_CASE("runtime cli: every flag takes its value, none is read as the container id") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");
  ScratchDir root("cli-root");
  const std::string nope = "nope-" + std::to_string(::getpid());
  const std::string gone = "container does not exist";
  const std::string nob = "/nonexistent-ward-bundle";
  const std::string nob_err = "open " + nob + "/config.json";
  // Each value starts with '/' (or is a number) where the flag takes one:
  // a value misread as the id would fail "invalid id format" or the
  // argument count, not with the expected message.
  std::vector<Case> cases = {
      // create and run (runc create.go, run.go; crun run.c --config)
      {{"create", "--bundle", nob, nope}, 1, nob_err},
      {{"create", "-b", nob, nope}, 1, nob_err},
      {{"create", "--bundle=" + nob, nope}, 1, nob_err},
      {{"create", "-b", nob, "--console-socket", "/v", nope}, 1, nob_err},
      {{"create", "-b", nob, "--pid-file", "/v", nope}, 1, nob_err},
      {{"create", "-b", nob, "--no-pivot", nope}, 1, nob_err},
      {{"create", "-b", nob, "--no-new-keyring", nope}, 1, nob_err},
      {{"create", "-b", nob, "--preserve-fds", "0", nope}, 1, nob_err},
      {{"create", "-b", nob, "--pidfd-socket", "/nonexistent-sock", nope},
       1,
       "--pidfd-socket: connect to /nonexistent-sock"},
      {{"create", "--config", "/nonexistent-cfg.json", nope}, 1, "open /nonexistent-cfg.json"},
      {{"create", "-f", "/nonexistent-cfg.json", nope}, 1, "open /nonexistent-cfg.json"},
      {{"run", "-b", nob, "--detach", nope}, 1, nob_err},
      {{"run", "-b", nob, "-d", nope}, 1, nob_err},
      {{"run", "-b", nob, "--keep", nope}, 1, nob_err},
      {{"run", "-b", nob, "--no-subreaper", nope}, 1, nob_err},
      {{"run", "-b", nob, "--pid-file", "/v", "--console-socket", "/v", nope}, 1, nob_err},
      {{"run", nope, "--bundle", nob}, 1, nob_err},  // flags after the id (reordered)
      // exec (runc exec.go; crun exec.c): 255 for everything past the flags
      {{"exec", "--console-socket", "/v", nope, "true"}, 255, gone},
      {{"exec", "--pidfd-socket", "/v", nope, "true"}, 255, gone},
      {{"exec", "--cwd", "/v", nope, "true"}, 255, gone},
      {{"exec", "--cwd=/v", nope, "true"}, 255, gone},
      {{"exec", "--env", "A=/v", nope, "true"}, 255, gone},
      {{"exec", "-e", "A=/v", "-e", "B=/w", nope, "true"}, 255, gone},
      {{"exec", "--tty", nope, "true"}, 255, gone},
      {{"exec", "-t", nope, "true"}, 255, gone},
      {{"exec", "--user", "0:0", nope, "true"}, 255, gone},
      {{"exec", "-u", "0", nope, "true"}, 255, gone},
      {{"exec", "--additional-gids", "1", nope, "true"}, 255, gone},
      {{"exec", "-g", "1", nope, "true"}, 255, gone},
      {{"exec", "--process", "/v", nope}, 255, gone},
      {{"exec", "-p", "/v", nope}, 255, gone},
      {{"exec", "--detach", nope, "true"}, 255, gone},
      {{"exec", "-d", nope, "true"}, 255, gone},
      {{"exec", "--pid-file", "/v", nope, "true"}, 255, gone},
      {{"exec", "--no-new-privs", nope, "true"}, 255, gone},
      {{"exec", "--cap", "CAP_KILL", nope, "true"}, 255, gone},
      {{"exec", "-c", "CAP_KILL", nope, "true"}, 255, gone},
      {{"exec", "--preserve-fds", "0", nope, "true"}, 255, gone},
      {{"exec", "--cgroup", "/v", nope, "true"}, 255, gone},
      {{"exec", "--cgroup=/v", nope, "true"}, 255, gone},
      {{"exec", "--ignore-paused", nope, "true"}, 255, gone},
      {{"exec", "--apparmor", "/v", nope, "true"}, 255, "--apparmor /v: "},
      {{"exec", "--process-label", "/v", nope, "true"}, 255, "--process-label /v: "},
      // kill, delete, state, start, pause, resume, ps, events
      {{"kill", "--all", nope, "KILL"}, 1, gone},
      {{"kill", "-a", nope}, 1, gone},
      {{"delete", "--force", nope}, 0, ""},
      {{"delete", "-f", nope}, 0, ""},
      {{"delete", nope, "--force"}, 0, ""},
      {{"delete", "--regex", "^" + nope}, 0, ""},  // crun
      {{"delete", "-r", "-f", "^" + nope}, 0, ""},
      {{"ps", "--format", "json", nope}, 1, gone},
      {{"ps", "-f", "json", nope}, 1, gone},
      {{"events", "--interval", "1s", nope}, 1, gone},
      {{"events", "--stats", nope}, 1, gone},
      {{"state", nope}, 1, gone},
      {{"start", nope}, 1, gone},
      {{"pause", nope}, 1, gone},
      {{"resume", nope}, 1, gone},
      // update (runc update.go; crun's --cpu-share)
      {{"update", "--resources", "/v", nope}, 1, gone},
      {{"update", "-r", "/v", nope}, 1, gone},
      {{"update", "--blkio-weight", "500", nope}, 1, gone},
      {{"update", "--cpu-period", "/v", nope}, 1, gone},
      {{"update", "--cpu-quota", "/v", nope}, 1, gone},
      {{"update", "--cpu-burst", "/v", nope}, 1, gone},
      {{"update", "--cpu-share", "/v", nope}, 1, gone},
      {{"update", "--cpu-rt-period", "/v", nope}, 1, gone},
      {{"update", "--cpu-rt-runtime", "/v", nope}, 1, gone},
      {{"update", "--cpuset-cpus", "/v", nope}, 1, gone},
      {{"update", "--cpuset-mems", "/v", nope}, 1, gone},
      {{"update", "--kernel-memory", "/v", nope}, 1, gone},
      {{"update", "--kernel-memory-tcp", "/v", nope}, 1, gone},
      {{"update", "--memory", "/v", nope}, 1, gone},
      {{"update", "--cpu-idle", "/v", nope}, 1, gone},
      {{"update", "--memory-reservation", "/v", nope}, 1, gone},
      {{"update", "--memory-swap", "/v", nope}, 1, gone},
      {{"update", "--pids-limit", "10", nope}, 1, gone},
      {{"update", "--l3-cache-schema", "/v", nope}, 1, gone},
      {{"update", "--mem-bw-schema", "/v", nope}, 1, gone},
      // list, spec
      {{"list", "--format", "json"}, 0, ""},
      {{"list", "-f", "json", "-q"}, 0, ""},
      {{"list", "--quiet"}, 0, ""},
      {{"spec", "--bundle", "/nonexistent-spec-dir"}, 1, "/nonexistent-spec-dir"},
      {{"spec", "-b", "/nonexistent-spec-dir", "--rootless"}, 1, "/nonexistent-spec-dir"},
      // checkpoint and restore: refused, clearly
      {{"checkpoint", "--image-path", "/v", nope}, 1, "checkpoint is not supported"},
      {{"restore", nope}, 1, "restore is not supported"},
  };
  for (auto& c : cases) {
    std::vector<std::string> args = {"--root", root.path};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = ward_cmd(args);
    std::string shown;
    for (auto& s : c.args) shown += s + " ";
    INFO("ward " << shown << "-> " << r.status << ": " << r.err);
    CHECK(r.status == c.status);
    if (c.err.empty())
      CHECK(r.err.empty());
    else
      CHECK_THAT(r.err, Catch::Contains(c.err));
  }
}

TEST_CASE("runtime cli: global flags take their values, and --version and spec say 1.3.0") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");
  ScratchDir root("cli-root");
  const std::string log = root.path + "/log.json";
  for (std::vector<std::string> g : std::vector<std::vector<std::string>>{
           {"--debug"},
           {"--log", log},
           {"--log=" + log, "--log-format", "json"},
           {"--systemd-cgroup"},
           {"--rootless", "false"},
           {"--rootless=auto"},
           {"--cgroup-manager", "cgroupfs"},  // crun
           {"--criu", "/v"},                  // runc 1.2 (hidden; a warning)
       }) {
    std::vector<std::string> args = {"--root", root.path};
    args.insert(args.end(), g.begin(), g.end());
    args.insert(args.end(), {"list", "-q"});
    auto r = ward_cmd(args);
    INFO(g[0] << ": " << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.empty());
  }
  auto bad = ward_cmd({"--log-format", "xml", "list"});
  CHECK(bad.status == 1);
  CHECK_THAT(bad.err, Catch::Contains("invalid log-format: xml"));
  for (const char* v : {"--version", "-v"}) {
    auto r = ward_cmd({v});
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::Contains("\nspec: 1.3.0\n"));
  }
  ScratchDir d("spec");
  REQUIRE(ward_cmd({"spec", "-b", d.path}).status == 0);
  CHECK(json::parse(ward_test::read_file(d / "config.json")).find("ociVersion")->as_string() ==
        "1.3.0");
  auto f = ward_cmd({"features"});
  REQUIRE(f.status == 0);
  auto doc = json::parse(f.out);
  CHECK(doc.find("ociVersionMax")->as_string() == "1.3.0");
  CHECK(doc.find("linux")->find("mountExtensions")->find("idmap")->find("enabled")->as_bool());
}

TEST_CASE("runtime cli: unknown flags and bad values fail with runc's words and status 1") {
  WARD_SKIP_UNLESS_ROOT();
  if (std::string(WARD_RUNTIME_BIN).empty()) WARD_SKIP("built without examples");
  ScratchDir root("cli-root");
  std::vector<Case> cases;
  for (const char* cmd : {"create", "run", "start", "exec", "state", "list", "kill", "delete", "ps",
                          "pause", "resume", "events", "update", "spec", "features"}) {
    cases.push_back({{cmd, "--xyz", "c1"}, 1, "flag provided but not defined: -xyz"});
    cases.push_back({{cmd, "-xyz=1", "c1"}, 1, "flag provided but not defined: -xyz"});
  }
  cases.push_back({{"--xyz", "list"}, 1, "flag provided but not defined: -xyz"});
  // ward's old reading of these: a switch, and the value became the id.
  cases.push_back({{"update", "--cpu-shares", "5", "c1"}, 1, "not defined: -cpu-shares"});
  cases.push_back({{"kill", "--signal", "KILL", "c1"}, 1, "not defined: -signal"});
  cases.push_back({{"exec", "--pid-file"}, 1, "flag needs an argument: -pid-file"});
  cases.push_back({{"create", "--preserve-fds", "abc", "c1"},
                   1,
                   "invalid value \"abc\" for flag -preserve-fds: parse error"});
  cases.push_back({{"exec", "--additional-gids", "1x", "c1", "true"},
                   1,
                   "invalid value \"1x\" for flag -additional-gids: strconv.ParseInt: parsing "
                   "\"1x\": invalid syntax"});
  cases.push_back({{"list", "-q=maybe"}, 1, "invalid boolean value \"maybe\" for -q: parse error"});
  cases.push_back({{"events", "--interval", "5", "c1"},
                   1,
                   "invalid value \"5\" for flag -interval: parse error"});
  cases.push_back({{"delete", "c1", "c2"}, 1, "\"delete\" requires exactly 1 argument(s)"});
  cases.push_back({{"kill", "c1", "KILL", "x"}, 1, "\"kill\" requires a maximum of 2 argument(s)"});
  cases.push_back({{"exec"}, 1, "\"exec\" requires a minimum of 1 argument(s)"});
  cases.push_back({{"create", "--bundle", "/a", "-b", "/b", "c1"},
                   1,
                   "Cannot use two forms of the same flag: b bundle"});
  cases.push_back({{"list", "--format", "xml"}, 1, "invalid format option"});
  for (auto& c : cases) {
    std::vector<std::string> args = {"--root", root.path};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = ward_cmd(args);
    std::string shown;
    for (auto& s : c.args) shown += s + " ";
    INFO("ward " << shown << "-> " << r.status << ": " << r.err);
    CHECK(r.status == c.status);
    CHECK_THAT(r.err, Catch::Contains(c.err));
  }
  // Nothing was made by any of them.
  CHECK(std::filesystem::is_empty(root.path));
}

TEST_CASE("runtime cli: exec takes uids and gids as decimal numbers in 0..4294967294 only") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = b.id("ids");
  ward::Child bg = b.run_in_background(id);
  // The bug class of crun's CVE-2026-30892: a number with junk after it,
  // or a negative one, must not become some other user.
  for (std::vector<std::string> flags : std::vector<std::vector<std::string>>{
           {"-u", "1000x"},
           {"-u", "-1"},
           {"-u", "4294967295"},
           {"-u", "99999999999"},
           {"-u", " 1"},
           {"-u", "+1"},
           {"-u", ""},
           {"-u", ":0"},
           {"-u", "0:"},
           {"-u", "0:1000x"},
           {"-u", "0:-1"},
           {"--user=0x10"},
           {"-g", "-1"},
           {"-g", "4294967295"},
       }) {
    std::vector<std::string> args = {"exec"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {id, "id"});
    auto r = b.cmd(args);
    INFO(flags.back() << ": " << r.status << " " << r.out << r.err);
    CHECK(r.status == 255);
    CHECK_THAT(r.err, Catch::Contains("bad uid") || Catch::Contains("bad gid"));
    CHECK(r.out.empty());
  }
  auto ok = b.cmd({"exec", "-u", "1000:1001", "-g", "5", "-g=7", id, "id"});
  INFO(ok.err);
  CHECK(ok.status == 0);
  CHECK(ok.out == "uid=1000 gid=1001 groups=5,7\n");
  auto top = b.cmd({"exec", "--user", "4294967294", id, "id", "-u"});
  CHECK(top.status == 0);
  CHECK(top.out == "4294967294\n");
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  bg.wait();
}

TEST_CASE("runtime cli: exec flags act: --no-new-privs, --cwd, --env, --cgroup, --pidfd-socket") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = b.id("flags");
  ward::Child bg = b.run_in_background(id);
  // `ward spec` sets noNewPrivileges; runc applies --no-new-privs=VALUE
  // when the flag is set at all.
  auto nnp = [&](std::vector<std::string> f) {
    std::vector<std::string> args = {"exec"};
    args.insert(args.end(), f.begin(), f.end());
    args.insert(args.end(), {id, "grep", "NoNewPrivs", "/proc/self/status"});
    auto r = b.cmd(args);
    INFO(r.err);
    CHECK(r.status == 0);
    return r.out;
  };
  CHECK_THAT(nnp({}), Catch::Contains("NoNewPrivs:\t1"));
  CHECK_THAT(nnp({"--no-new-privs=false"}), Catch::Contains("NoNewPrivs:\t0"));
  CHECK_THAT(nnp({"--no-new-privs"}), Catch::Contains("NoNewPrivs:\t1"));
  auto cwd =
      b.cmd({"exec", "--cwd", "/proc", "-e", "X=1", "-e", "Y=2", id, "sh", "-c", "echo $PWD $X$Y"});
  CHECK(cwd.out == "/proc 12\n");

  // --cgroup: an existing cgroup below the container's.
  std::string cg_line;
  {
    std::ifstream f("/proc/" + std::to_string(state_pid(b, id)) + "/cgroup");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("0::", 0) == 0) cg_line = line.substr(3);
  }
  const std::string mnt = ward::cgroup_host().unified_mount;
  if (!cg_line.empty() && !mnt.empty()) {
    // "sub" in the unified hierarchy only: on a host with v1 hierarchies the
    // process would stay in the runtime's cgroup of those (outside the
    // container's limits): refused, naming them.
    const std::string sub = mnt + cg_line + "/sub";
    REQUIRE(::mkdir(sub.c_str(), 0755) == 0);
    std::vector<std::string> v1subs;
    for (const auto& h : ward::cgroup_host().v1_hierarchies)
      v1subs.push_back(h.mount + cg_line + "/sub");
    if (!v1subs.empty()) {
      auto partial = b.cmd({"exec", "--cgroup=/sub", id, "true"});
      INFO(partial.err);
      CHECK(partial.status == 255);
      CHECK_THAT(partial.err,
                 Catch::Contains("does not exist in every hierarchy of the container") &&
                     Catch::Contains(ward::cgroup_host().v1_hierarchies[0].controllers[0]));
    }
    for (const auto& d : v1subs) {
      REQUIRE(::mkdir(d.c_str(), 0755) == 0);
      // A new v1 cpuset has no CPUs and no memory nodes, and takes no task
      // until it is given some (cpusets.rst: ENOSPC): as its maker would.
      const std::string parent = d.substr(0, d.rfind('/'));
      for (const char* f : {"cpuset.cpus", "cpuset.mems"})
        if (std::filesystem::exists(parent + "/" + f))
          ward_test::write_file(d + "/" + f, ward_test::read_file(parent + "/" + f));
    }
    for (const char* form : {"/sub", "sub", "hugetlb:/sub"}) {
      auto r = b.cmd({"exec", std::string("--cgroup=") + form, id, "cat", "/proc/self/cgroup"});
      INFO(form << ": " << r.err);
      CHECK(r.status == 0);
      // Every hierarchy's line (name=systemd aside) names the sub-cgroup.
      std::size_t lines = 0;
      for (auto at = r.out.find("/sub\n"); at != std::string::npos;
           at = r.out.find("/sub\n", at + 1))
        ++lines;
      CHECK(lines == v1subs.size() + 1);
    }
    // Never out of the container's cgroup.
    auto out = b.cmd({"exec", "--cgroup", "../..", id, "true"});
    CHECK(out.status == 255);
    CHECK_THAT(out.err, Catch::Contains("would leave the container's cgroup"));
    auto missing = b.cmd({"exec", "--cgroup", "/nothing", id, "true"});
    CHECK(missing.status == 255);
    CHECK_THAT(missing.err, Catch::Contains("--cgroup /nothing"));
    ::rmdir(sub.c_str());
    for (const auto& d : v1subs) ::rmdir(d.c_str());
  }

  // --pidfd-socket: a pidfd of the exec'd process, named "setns" (runc).
  PidfdListener l;
  auto r = b.cmd({"exec", "-d", "--pidfd-socket", l.path, "--pid-file", l.dir.path + "/pid", id,
                  "sleep", "100"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::string payload;
  ward::UniqueFd pfd = l.receive(payload);
  CHECK(payload == "setns");
  CHECK(link_of(pfd.get()) == "anon_inode:[pidfd]");
  CHECK(std::to_string(pidfd_pid(pfd.get())) == ward_test::read_file(l.dir.path + "/pid"));
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  bg.wait();
}

TEST_CASE("runtime cli: create --pidfd-socket sends a pidfd of the container's init") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = b.id("pidfd");
  PidfdListener l;
  auto r = b.cmd({"create", "--pidfd-socket", l.path, "--bundle", b.dir.path, id});
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::string payload;
  ward::UniqueFd pfd = l.receive(payload);
  CHECK(payload == "standard");
  CHECK(link_of(pfd.get()) == "anon_inode:[pidfd]");
  CHECK(pidfd_pid(pfd.get()) == state_pid(b, id));
  // It is the init: a signal through it ends the container.
  CHECK(::syscall(SYS_pidfd_send_signal, pfd.get(), SIGKILL, nullptr, 0) == 0);
  pollfd p{pfd.get(), POLLIN, 0};
  CHECK(::poll(&p, 1, 10000) == 1);
  CHECK(b.cmd({"delete", id}).status == 0);
}

TEST_CASE("runtime cli: kill ID 0 checks that the container's init exists") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = b.id("kill0");
  ward::Child bg = b.run_in_background(id);
  auto r = b.cmd({"kill", id, "0"});
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(b.cmd({"kill", "--all", id, "0"}).status == 0);
  // Nothing was sent: it still runs.
  CHECK(ward::oci::parse_state(b.cmd({"state", id}).out).status == ward::oci::Status::running);
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  bg.wait();
  auto gone = b.cmd({"kill", id, "0"});
  CHECK(gone.status != 0);
}

TEST_CASE("runtime cli: list shows containers sorted by id") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  std::vector<std::string> ids = {b.id("c"), b.id("a"), b.id("b")};
  for (auto& id : ids) REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  auto l = b.cmd({"list", "-q"});
  CHECK(l.out == b.id("a") + "\n" + b.id("b") + "\n" + b.id("c") + "\n");
  auto j = json::parse(b.cmd({"list", "--format", "json"}).out);
  REQUIRE(j.as_array().size() == 3);
  CHECK(j.as_array()[0].find("id")->as_string() == b.id("a"));
  CHECK(j.as_array()[2].find("id")->as_string() == b.id("c"));
  for (auto& id : ids) CHECK(b.cmd({"delete", "-f", id}).status == 0);
}

TEST_CASE("runtime cli: ps passes its options to ps(1), and -f json lists the pids") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = b.id("ps");
  ward::Child bg = b.run_in_background(id);
  const std::string pid = std::to_string(state_pid(b, id));
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"ps", id, "--", "-o", "pid,args"}, {"ps", id, "-o", "pid,args"}}) {
    auto r = b.cmd(args);
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.out,
               Catch::StartsWith("  PID COMMAND\n") || Catch::StartsWith("    PID COMMAND\n"));
    CHECK_THAT(r.out, Catch::Contains(pid + " sleep 100\n"));
  }
  auto j = b.cmd({"ps", "-f", "json", id});
  CHECK(j.out == "[" + pid + "]\n");
  auto bad = b.cmd({"ps", "--format", "xml", id});
  CHECK(bad.status == 1);
  CHECK_THAT(bad.err, Catch::Contains("invalid format option"));
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  bg.wait();
}

TEST_CASE("runtime cli: exec -t gives the process a terminal and relays its output") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = b.id("tty");
  ward::Child bg = b.run_in_background(id);
  int master = -1, slave = -1;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  ward::UniqueFd m(master), s(slave);
  ward::Sandbox sb({WARD_RUNTIME_BIN, "--root", b.state.path, "exec", "-t", id, "sh", "-c",
                    "test -t 0 && test -t 1 && test -t 2 && echo terminal; exit 3"});
  sb.stdin_(ward::Stdio::fd(s.get()))
      .stdout_(ward::Stdio::fd(s.get()))
      .stderr_(ward::Stdio::fd(s.get()));
  ward::Child c = sb.spawn();
  s.reset();
  CHECK(c.wait().shell_status() == 3);
  std::string got;
  char buf[4096];
  for (;;) {
    pollfd p{m.get(), POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    ssize_t n = ::read(m.get(), buf, sizeof buf);
    if (n <= 0) break;  // EIO: no one holds the pty's other end
    got.append(buf, static_cast<std::size_t>(n));
  }
  INFO(got);
  CHECK_THAT(got, Catch::Contains("terminal\r\n"));
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  bg.wait();
}

TEST_CASE("runtime cli: exec into a paused container is refused unless --ignore-paused") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() == ward::CgroupMode::none) WARD_SKIP("no cgroup v2 hierarchy");
  b.set({"sleep", "100"});
  const std::string id = b.id("paused");
  ward::Child bg = b.run_in_background(id);
  auto pause = b.cmd({"pause", id});
  INFO(pause.err);
  REQUIRE(pause.status == 0);
  auto r = b.cmd({"exec", id, "true"});
  CHECK(r.status == 255);
  CHECK_THAT(r.err, Catch::Contains(
                        "cannot exec in a paused container (use --ignore-paused to override)"));
  // --ignore-paused: accepted; the process runs once the container resumes.
  ward::Sandbox sb({WARD_RUNTIME_BIN, "--root", b.state.path, "exec", "--ignore-paused", id, "sh",
                    "-c", "exit 4"});
  ward::Child ex = sb.stdin_(ward::Stdio::null()).spawn();
  REQUIRE(b.cmd({"resume", id}).status == 0);
  CHECK(ex.wait().shell_status() == 4);
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  bg.wait();
}

TEST_CASE("runtime cli: exec's own failures exit 255, the process's status is its own") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  const std::string id = b.id("x255");
  ward::Child bg = b.run_in_background(id);
  auto missing = b.cmd({"exec", id, "/nonexistent-binary"});
  CHECK(missing.status == 255);
  CHECK_THAT(missing.err, Catch::Contains("exec failed: "));
  auto empty = b.cmd({"exec", id});
  CHECK(empty.status == 255);
  CHECK_THAT(empty.err, Catch::Contains("exec args cannot be empty"));
  CHECK(b.cmd({"exec", id, "sh", "-c", "exit 255"}).status == 255);
  CHECK(b.cmd({"exec", id, "sh", "-c", "exit 7"}).status == 7);
  CHECK(b.cmd({"kill", id, "KILL"}).status == 0);
  bg.wait();
  // A container that stays after its process ended (create, start, end).
  const std::string id2 = b.id("x255s");
  b.set({"true"});
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id2}).status == 0);
  REQUIRE(b.cmd({"start", id2}).status == 0);
  for (int i = 0; i < 500; ++i) {
    auto s = b.cmd({"state", id2});
    if (ward::oci::parse_state(s.out).status == ward::oci::Status::stopped) break;
    ::usleep(10000);
  }
  auto stopped = b.cmd({"exec", id2, "true"});
  CHECK(stopped.status == 255);
  CHECK_THAT(stopped.err, Catch::Contains("cannot exec in a stopped container"));
}

TEST_CASE("runtime cli: --root and its parents are made 0700 on first use") {
  NEED_RUNTIME(b);
  b.set({"true"});
  ScratchDir top("cli-root");
  const std::string root = top.path + "/run/containerd/runc/ns";
  const std::string id = b.id("root");
  auto r = ward_cmd({"--root", root, "create", "--bundle", b.dir.path, id});
  INFO(r.err);
  CHECK(r.status == 0);
  for (const std::string& d : {top.path + "/run", top.path + "/run/containerd", root}) {
    struct stat st {};
    REQUIRE(::stat(d.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0700);
  }
  CHECK(ward_cmd({"--root", root, "delete", "-f", id}).status == 0);
}

TEST_CASE(
    "runtime cli: run --keep leaves the stopped container for delete, and --config names another "
    "file") {
  NEED_RUNTIME(b);
  b.set({"sh", "-c", "exit 5"});
  const std::string id = b.id("keep");
  auto r = b.cmd({"run", "--keep", "--bundle", b.dir.path, id});
  INFO(r.err);
  CHECK(r.status == 5);
  auto st = b.cmd({"state", id});
  REQUIRE(st.status == 0);
  CHECK(ward::oci::parse_state(st.out).status == ward::oci::Status::stopped);
  CHECK(b.cmd({"list", "-q"}).out == id + "\n");
  CHECK(b.cmd({"delete", id}).status == 0);
  CHECK(b.cmd({"state", id}).status == 1);

  // crun's --config FILE: relative to the caller's directory, not the bundle.
  json::Value cfg = json::parse(ward_test::read_file(b.dir / "config.json"));
  cfg.find("process")->set("args", json::Value::array({"echo", "from-other-config"}));
  cfg.find("root")->set("path", b.dir.path + "/rootfs");
  ScratchDir other("cli-cfg");
  ward_test::write_file(other.path + "/other.json", json::dump(cfg));
  auto c =
      b.cmd({"run", "--bundle", b.dir.path, "--config", other.path + "/other.json", b.id("cfg")});
  INFO(c.err);
  CHECK(c.status == 0);
  CHECK(c.out == "from-other-config\n");

  // crun's delete --regex: every match goes.
  b.set({"sleep", "100"});
  for (const char* n : {"rx-a", "rx-b", "keep-rx"})
    REQUIRE(b.cmd({"create", "--bundle", b.dir.path, b.id(n)}).status == 0);
  CHECK(b.cmd({"delete", "--force", "--regex", "^rx-"}).status == 0);
  CHECK(b.cmd({"list", "-q"}).out == b.id("keep-rx") + "\n");
  CHECK(b.cmd({"delete", "-f", b.id("keep-rx")}).status == 0);
}

TEST_CASE("runtime cli: update flags act, or are refused by name") {
  NEED_RUNTIME(b);
  if (ward::cgroup_mode() == ward::CgroupMode::none) WARD_SKIP("no cgroup hierarchy");
  b.set({"sleep", "100"});
  const std::string id = b.id("upd");
  REQUIRE(b.cmd({"create", "--bundle", b.dir.path, id}).status == 0);
  const bool cpu_v1 = ward::cgroup_backend("cpu") == ward::CgroupBackend::v1;
  std::vector<std::tuple<std::string, std::string, std::string>> refused = {
      {"--l3-cache-schema", "L3:0=f", "--l3-cache-schema: Intel RDT"},
      {"--mem-bw-schema", "MB:0=70", "--mem-bw-schema: Intel RDT"},
      {"--memory", "12x", "invalid value for memory"},
      {"--cpu-share", "-5", "invalid value for cpu-share"},
      {"--blkio-weight", "5", "--blkio-weight 5: out of 10..1000"},
  };
  // Real-time CPU bandwidth exists on cgroup v1 only (cpu.rt_*).
  if (!cpu_v1) {
    refused.push_back({"--cpu-rt-runtime", "1000", "--cpu-rt-runtime: real-time CPU bandwidth"});
    refused.push_back({"--cpu-rt-period", "1000", "--cpu-rt-period: real-time CPU bandwidth"});
  }
  for (auto& [flag, value, msg] : refused) {
    auto r = b.cmd({"update", flag, value, id});
    INFO(flag << ": " << r.err);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains(msg));
  }
  // Values that reach the cgroup land in the hierarchy that holds their
  // controller on this host (v1 on a hybrid host, v2 in the vm tier), read
  // back from the host; where the host has the controller nowhere, the error
  // names it.
  const pid_t pid = ward::oci::parse_state(b.cmd({"state", id}).out).pid;
  REQUIRE(pid > 0);
  struct Case {
    std::vector<std::string> flags;
    std::string ctl, v1file, v2file, v1want, v2want;
  };
  std::vector<Case> cases = {
      {{"--memory", "64m"},
       "memory",
       "memory.limit_in_bytes",
       "memory.max",
       "67108864",
       "67108864"},
      {{"--pids-limit", "50"}, "pids", "pids.max", "pids.max", "50", "50"},
      {{"--cpu-share", "1024"}, "cpu", "cpu.shares", "cpu.weight", "1024", "100"},
      {{"--cpu-idle", "1"}, "cpu", "cpu.idle", "cpu.idle", "1", "1"},
      {{"--cpu-burst", "1000"}, "cpu", "cpu.cfs_burst_us", "cpu.max.burst", "1000", "1000"},
      {{"--cpu-period", "50000", "--cpu-quota", "20000"},
       "cpu",
       "cpu.cfs_quota_us",
       "cpu.max",
       "20000",
       "20000 50000"},
  };
  if (cpu_v1) {
    // The period lands; a runtime needs a real-time budget in every parent
    // (sched-rt-group.rst, 2.3), which /ward does not have: the kernel's
    // EINVAL, naming the field and file, as with runc.
    cases.push_back({{"--cpu-rt-period", "100000"}, "cpu", "cpu.rt_period_us", "-", "100000", "-"});
    auto rt = b.cmd({"update", "--cpu-rt-runtime", "1000", id});
    INFO(rt.err);
    CHECK(rt.status == 1);
    CHECK_THAT(rt.err, Catch::Contains("linux.resources.cpu.realtimeRuntime") &&
                           Catch::Contains("cpu.rt_runtime_us") && Catch::Contains("EINVAL"));
  }
  for (auto& c : cases) {
    std::vector<std::string> args = {"update"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    args.push_back(id);
    auto r = b.cmd(args);
    INFO(c.flags[0] << ": " << r.err);
    auto backend = ward::cgroup_backend(c.ctl);
    if (backend == ward::CgroupBackend::none) {
      CHECK(r.status == 1);
      CHECK_THAT(r.err, Catch::Contains(c.ctl));
      continue;
    }
    CHECK(r.status == 0);
    CHECK(ward_test::cgroup_file_of(pid, c.ctl, c.v1file, c.v2file) ==
          (backend == ward::CgroupBackend::v1 ? "v1:" + c.v1want : "v2:" + c.v2want));
  }
  // blkio/io weights need a weight file (BFQ or CFQ on v1; io.weight or
  // io.bfq.weight on v2): where this host has none, the error names it.
  auto bw = b.cmd({"update", "--blkio-weight", "500", id});
  INFO("--blkio-weight 500: " << bw.err);
  if (bw.status == 0) {
    // (v2's conversion of the value is oci_sandbox_unit_test's)
    if (ward::cgroup_backend("io") == ward::CgroupBackend::v1)
      CHECK_THAT(ward_test::cgroup_file_of(pid, "io", "blkio.bfq.weight", "-"),
                 Catch::Contains("500"));
  } else {
    CHECK(bw.status == 1);
    CHECK_THAT(bw.err, Catch::Contains("blockIO.weight"));
  }
  auto km = b.cmd({"update", "--kernel-memory", "64m", id});
  CHECK(km.status == 0);
  CHECK_THAT(km.err, Catch::Contains("--kernel-memory: kernel memory settings are ignored"));
  CHECK(b.cmd({"delete", "-f", id}).status == 0);
}
