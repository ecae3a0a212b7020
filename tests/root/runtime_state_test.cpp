// SPDX-License-Identifier: Apache-2.0
// The runtime's state store: behaviour that is not an attack (see
// tests/attack/state_attack_test.cpp for those).
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "runtime_util.hpp"

using ward_test::Bundle;
using ward_test::ScratchDir;
namespace json = ward::json;

// `start` writes nothing to the state store after the byte that starts the
// container (the status is derived): a full state filesystem cannot make a
// start that happened report a failure.
TEST_CASE("runtime state: start succeeds on a full state filesystem") {
  NEED_RUNTIME(b);
  b.set({"sleep", "100"});
  ScratchDir root("state-full");
  REQUIRE(::mount("tmpfs", root.path.c_str(), "tmpfs", 0, "size=256k,mode=0700") == 0);
  struct Unmount {
    std::string p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{root.path};
  const std::string id = Bundle::id("full");
  auto cmd = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--root", root.path});
    return ward_test::ward_cmd(args);
  };
  auto cr = cmd({"create", "--bundle", b.dir.path, id});
  INFO(cr.err);
  REQUIRE(cr.status == 0);
  {
    // Fill it: every block taken.
    int fd = ::open((root / "filler").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    CHECK(errno == ENOSPC);
    ::close(fd);
  }
  auto st = cmd({"start", id});
  INFO(st.err);
  CHECK(st.status == 0);
  auto state = cmd({"state", id});
  REQUIRE(state.status == 0);
  CHECK(ward::oci::parse_state(state.out).status == ward::oci::Status::running);
  auto del = cmd({"delete", "--force", id});
  INFO(del.err);
  CHECK(del.status == 0);
  CHECK(!std::filesystem::exists(root / id));
}

// A record whose runtime died while creating (status "creating", the lock
// free) is listed as stopped, and a directory without a record is listed
// too, until delete --force removes it.
TEST_CASE("runtime state: what a dead create left is listed and deletable") {
  NEED_RUNTIME(b);
  b.set({"true"});
  const std::string id = Bundle::id("left");
  REQUIRE(::mkdir((b.state / id).c_str(), 0700) == 0);
  auto l = b.cmd({"list", "--format", "json"});
  REQUIRE(l.status == 0);
  auto arr = json::parse(l.out).as_array();
  REQUIRE(arr.size() == 1);
  CHECK(arr[0].find("id")->as_string() == id);
  CHECK(arr[0].find("status")->as_string() == "stopped");
  CHECK(b.cmd({"state", id}).status == 1);
  CHECK(b.cmd({"delete", "--force", id}).status == 0);
  CHECK(std::filesystem::is_empty(b.state.path));
}
