// SPDX-License-Identifier: Apache-2.0
// What engines hand the runtime besides config.json, as runc and crun take
// it (issue #13): systemd socket activation (LISTEN_FDS, sd_listen_fds(3))
// and crun's run.oci.keep_original_groups annotation (podman's
// --group-add keep-groups). Each drives the real `ward` binary with the
// environment, descriptors and groups an engine would give it.
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runtime_util.hpp"

namespace {

using ward_test::Bundle;
namespace json = ward::json;

using ward_test::ward_as;

}  // namespace

TEST_CASE("runtime: socket activation hands LISTEN_FDS descriptors to the init, LISTEN_PID 1") {
  NEED_RUNTIME(b);
  ward_test::ScratchDir host("host");
  ward_test::write_file(host / "socket", "activated\n");
  int fd = ::open((host / "socket").c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  b.set({"sh", "-c", "echo ${LISTEN_FDS:-none} ${LISTEN_PID:-none}; cat <&3 || echo closed"});

  SECTION("LISTEN_FDS=1, LISTEN_PID absent (crun's way): passed on") {
    auto r = ward_as(b, {"run", "--bundle", b.dir.path, b.id("lfd")},
                     {{{"LISTEN_FDS", "1"}}, fd, {}, false});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "1 1\nactivated\n");
  }
  SECTION("LISTEN_PID names another process: not ours, nothing passed") {
    auto r = ward_as(b, {"run", "--bundle", b.dir.path, b.id("lfd")},
                     {{{"LISTEN_FDS", "1"}, {"LISTEN_PID", "1"}}, fd, {}, false});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "none none\nclosed\n");
  }
  SECTION("no LISTEN_FDS: fd 3 of the runtime is not the container's") {
    auto r = ward_as(b, {"run", "--bundle", b.dir.path, b.id("lfd")}, {{}, fd, {}, false});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "none none\nclosed\n");
  }
  SECTION("LISTEN_FDS that is not a count: an error naming it, nothing left") {
    auto r = ward_as(b, {"run", "--bundle", b.dir.path, b.id("lfd")},
                     {{{"LISTEN_FDS", "1x"}}, fd, {}, false});
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains("LISTEN_FDS=1x"));
    CHECK(ward_test::ward_cmd({"--root", b.state.path, "list", "-q"}).out.empty());
  }
  ::close(fd);
}

TEST_CASE("runtime: run.oci.keep_original_groups keeps the runtime's supplementary groups") {
  NEED_RUNTIME(b);
  auto groups_line = [&](bool annotate) {
    b.set({"grep", "^Groups:", "/proc/self/status"}, [&](json::Value& cfg) {
      cfg.find("process")->find("user")->set("additionalGids",
                                             json::Value::array({json::Value(std::int64_t{7})}));
      if (annotate)
        cfg.set("annotations",
                json::Value::object({{"run.oci.keep_original_groups", json::Value("1")}}));
    });
    auto r =
        ward_as(b, {"run", "--bundle", b.dir.path, b.id("kg")}, {{}, -1, {1, 2, 3, 4, 5}, false});
    INFO(r.err);
    CHECK(r.status == 0);
    return r;
  };
  // Without it, the config's additionalGids replace them.
  CHECK(groups_line(false).out == "Groups:\t7 \n");
  // With it, the runtime's stay, and additionalGids are ignored with a warning.
  auto kept = groups_line(true);
  CHECK(kept.out == "Groups:\t1 2 3 4 5 \n");
  CHECK_THAT(kept.err, Catch::Contains("additionalGids: ignored"));
}
