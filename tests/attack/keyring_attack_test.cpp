// SPDX-License-Identifier: Apache-2.0
// The runtime's session keyring from inside a container: every key the
// runtime possesses through its session keyring (an engine's registry
// credentials, a login's kerberos tickets) would be the container's to read
// if the container's processes shared that keyring (keyrings(7),
// "Possession"). The runtime here runs in a session keyring holding a
// canary key; the attacker in the container searches its session keyring
// for the canary and reads it. runc joins a new "_ses.<id>" keyring for
// every container process for this reason (--no-new-keyring turns that
// off: the control that shows the attack works).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runtime_util.hpp"

#ifndef WARD_EXE_ATTACKER
#define WARD_EXE_ATTACKER ""
#endif

namespace {

using ward_test::Bundle;
using ward_test::Out;
namespace json = ward::json;

constexpr const char* kCanary = "ward-keyring-canary";
constexpr const char* kSecret = "the-runtime-s-secret";

// `ward --root <state> args...` from a process whose session keyring holds
// the canary key (a fresh keyring, so the test's own is left alone). Not
// ward_test::ward_as: the key goes in between fork and exec, which the
// library offers no hook for (on purpose: the child runs raw syscalls only).
Out ward_with_canary_key(const Bundle& b, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {WARD_RUNTIME_BIN, "--root", b.state.path};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  ward_test::ScratchDir io("io");
  const std::string out = io / "out", err = io / "err";
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int n = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || n < 0 || ::dup2(n, 0) < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0)
      ::_exit(120);
    constexpr long kJoin = 1, kSession = -3;
    if (::syscall(SYS_keyctl, kJoin, "ward-test-runtime-session") < 0) ::_exit(121);
    if (::syscall(SYS_add_key, "user", kCanary, kSecret, __builtin_strlen(kSecret), kSession) < 0)
      ::_exit(122);
    ::execv(cargv[0], cargv.data());
    ::_exit(123);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  Out o;
  o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  o.out = ward_test::read_file(out);
  o.err = ward_test::read_file(err);
  REQUIRE(o.status < 120);  // the setup of the keyring worked
  return o;
}

void arm(Bundle& b, const std::vector<std::string>& args) {
  ward_test::write_file(b.rootfs->path + "/attacker", ward_test::read_file(WARD_EXE_ATTACKER));
  REQUIRE(::chmod((b.rootfs->path + "/attacker").c_str(), 0755) == 0);
  b.set(args);
}

}  // namespace

TEST_CASE("keyring: a container never reads the runtime's session keyring") {
  NEED_RUNTIME(b);
  if (std::string(WARD_EXE_ATTACKER).empty()) WARD_SKIP("no exe_attacker");
  if (::syscall(SYS_keyctl, 0L /* KEYCTL_GET_KEYRING_ID */, -3L, 0L) < 0 && errno == ENOSYS)
    WARD_SKIP("this kernel has no keyrings (CONFIG_KEYS)");
  const std::vector<std::string> attack = {"/attacker", "keyring", kCanary};

  SECTION("run") {
    arm(b, attack);
    auto r = ward_with_canary_key(b, {"run", "--bundle", b.dir.path, b.id("key")});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::StartsWith("NO-KEY"));
    CHECK(r.out.find(kSecret) == std::string::npos);
  }
  SECTION("exec into a running container") {
    arm(b, {"sleep", "30"});
    const std::string id = b.id("keyx");
    REQUIRE(b.cmd({"run", "-d", "--bundle", b.dir.path, id}).status == 0);
    auto r = ward_with_canary_key(b, {"exec", id, "/attacker", "keyring", kCanary});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK_THAT(r.out, Catch::StartsWith("NO-KEY"));
    CHECK(r.out.find(kSecret) == std::string::npos);
    CHECK(b.cmd({"delete", "--force", id}).status == 0);
  }
  SECTION("--no-new-keyring, the control: the container shares it and reads the key") {
    arm(b, attack);
    auto r =
        ward_with_canary_key(b, {"run", "--no-new-keyring", "--bundle", b.dir.path, b.id("keyn")});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == std::string("KEY-READ ") + kSecret + "\n");
  }
}

// Another container's session keyring, by name: runc's is "_ses.<id>",
// which any process of the same uid may join (its owner may search it), or
// create first, open to all, so that the victim joins the attacker's
// keyring. The victim keeps a key in its session keyring; the attacker, a
// container of the same uid (host root, no user namespace), joins or plants
// the keyring by name. Against the runtime of b371037 (named, searchable
// by its owner) both read the victim's key.
TEST_CASE("keyring: a container can neither join nor plant another container's session keyring") {
  NEED_RUNTIME(b);
  if (std::string(WARD_EXE_ATTACKER).empty()) WARD_SKIP("no exe_attacker");
  if (::syscall(SYS_keyctl, 0L /* KEYCTL_GET_KEYRING_ID */, -3L, 0L) < 0 && errno == ENOSYS)
    WARD_SKIP("this kernel has no keyrings (CONFIG_KEYS)");
  ward_test::write_file(b.rootfs->path + "/attacker", ward_test::read_file(WARD_EXE_ATTACKER));
  REQUIRE(::chmod((b.rootfs->path + "/attacker").c_str(), 0755) == 0);
  auto writable = [](json::Value& cfg) { cfg.find("root")->set("readonly", false); };
  const std::string victim = b.id("kvictim");
  const std::string result = b.rootfs->path + "/result-plant";

  SECTION("join by name, while the victim runs") {
    b.set({"/attacker", "keyring-join", "-", "victim-key", "victim-data", "30"}, writable);
    REQUIRE(b.cmd({"run", "-d", "--bundle", b.dir.path, victim}).status == 0);
    ::usleep(300000);  // its key is in place
    for (const std::string& name : {"_ses." + victim, std::string("_ses")}) {
      b.set({"/attacker", "keyring-join", name, "victim-key", "", "0"}, writable);
      auto r = b.cmd({"run", "--bundle", b.dir.path, b.id("kjoin")});
      INFO(name << ": " << r.err);
      CHECK(r.status == 0);
      CHECK_THAT(r.out, Catch::StartsWith("NO-KEY"));
    }
    CHECK(b.cmd({"delete", "--force", victim}).status == 0);
  }
  SECTION("plant the victim's keyring before it starts") {
    b.set({"sh", "-c",
           "/attacker keyring-join _ses." + victim +
               " victim-key '' 3 > /result-plant.tmp; "
               "mv /result-plant.tmp /result-plant"},
          writable);
    const std::string planter = b.id("kplant");
    REQUIRE(b.cmd({"run", "-d", "--bundle", b.dir.path, planter}).status == 0);
    ::usleep(500000);  // planted
    b.set({"/attacker", "keyring-join", "-", "victim-key", "victim-data", "0"}, writable);
    REQUIRE(b.cmd({"run", "--bundle", b.dir.path, victim}).status == 0);
    for (int i = 0; i < 100 && ::access(result.c_str(), F_OK) != 0; ++i) ::usleep(50000);
    std::string got = ward_test::read_file(result);
    INFO("planter: " << got);
    CHECK_THAT(got, Catch::StartsWith("NO-KEY"));
    b.cmd({"delete", "--force", planter});
  }
}
