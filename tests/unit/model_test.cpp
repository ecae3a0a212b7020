// SPDX-License-Identifier: Apache-2.0
// Value types and builder validation: no process is started here.
#include <ward/ward.hpp>

#include <catch2/catch.hpp>

using namespace ward;

TEST_CASE("Error names the step, the object and the errno") {
  Error e(Step::uid_map, EPERM, "/proc/42/uid_map", "writing '0 0 1'");
  std::string w = e.what();
  CHECK(w == "ward: uid_map /proc/42/uid_map: Operation not permitted (EPERM): writing '0 0 1'");
  CHECK(e.step() == Step::uid_map);
  CHECK(e.code() == std::errc::operation_not_permitted);
  CHECK(e.object() == "/proc/42/uid_map");
  const std::system_error& base = e;  // catchable as the standard type
  CHECK(base.code().value() == EPERM);
}

TEST_CASE("every Step has a name") {
  for (int s = 0; s <= static_cast<int>(Step::landlock); ++s)
    CHECK(to_string(static_cast<Step>(s)) != "unknown");
}

TEST_CASE("IdMap validation rejects what the kernel would") {
  CHECK_NOTHROW(IdMap{{0, 1000, 1}, {1, 100000, 65536}}.validate("uid_map"));
  auto reason = [](const IdMap& m) {
    try {
      m.validate("uid_map");
    } catch (const Error& e) {
      CHECK(e.step() == Step::validate);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(reason(IdMap{{0, 1000, 0}}),
             Catch::Contains("uid_map[0]") && Catch::Contains("count is 0"));
  CHECK_THAT(reason(IdMap{{0, 100, 10}, {5, 500, 10}}), Catch::Contains("inside range overlaps"));
  CHECK_THAT(reason(IdMap{{0, 100, 10}, {50, 105, 10}}), Catch::Contains("outside range overlaps"));
  CHECK_THAT(reason(IdMap{{0xfffffff0u, 0, 0x20}}), Catch::Contains("2^32"));
  CHECK_THAT(reason(IdMap{{0xfffffff0u, 0, 0x10}}), Catch::Contains("4294967295"));
  std::vector<IdMapEntry> many;
  for (std::uint32_t i = 0; i < 341; ++i) many.push_back({i, 1000 + i, 1});
  CHECK_THAT(reason(IdMap(many)), Catch::Contains("341 ranges"));
}

TEST_CASE("IdMap renders /proc text and answers membership") {
  IdMap m{{0, 1000, 1}, {1, 100000, 65536}};
  CHECK(m.to_proc_text() == "0 1000 1\n1 100000 65536\n");
  CHECK(m.maps_inside(0));
  CHECK(m.maps_inside(65536));
  CHECK_FALSE(m.maps_inside(65537));
}

TEST_CASE("NsSet and namespace names") {
  NsSet s{NsKind::user, NsKind::net};
  CHECK(s.contains(NsKind::user));
  CHECK_FALSE(s.contains(NsKind::pid));
  CHECK(s.clone_flags() == static_cast<std::uint64_t>(CLONE_NEWUSER | CLONE_NEWNET));
  CHECK(s.to_string() == "user+net");
  const std::uint64_t all =
      static_cast<std::uint64_t>(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
                                 CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP) |
      0x80u;  // CLONE_NEWTIME
  CHECK(NsSet::all().clone_flags() == all);
  for (NsKind k : all_ns_kinds) {
    CHECK(ns_kind_from_string(to_string(k)) == k);
    CHECK(ns_kind_from_string(proc_name(k)) == k);
    CHECK(ns_kind_from_clone_flag(clone_flag(k)) == k);
  }
  CHECK(ns_kind_from_string("network") == NsKind::net);
  CHECK_FALSE(ns_kind_from_string("bogus"));
}

TEST_CASE("TimeOffsets renders normalised seconds and nanoseconds") {
  CHECK(TimeOffsets{}.to_proc_text().empty());
  CHECK(TimeOffsets{.monotonic_ns = 1'500'000'000}.to_proc_text() == "monotonic 1 500000000\n");
  CHECK(TimeOffsets{.boottime_ns = -1'500'000'000}.to_proc_text() == "boottime -2 500000000\n");
}

namespace {
std::string invalid(const Sandbox& sb) {
  try {
    (void)sb.plan();
  } catch (const Error& e) {
    CHECK(e.step() == Step::validate);
    CHECK(e.code() == std::errc::invalid_argument);
    return e.what();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("the builder rejects impossible combinations before any process exists") {
  CHECK_THAT(invalid(Sandbox()), Catch::Contains("command") && Catch::Contains("argv is empty"));
  CHECK_THAT(invalid(Sandbox({"true"}).hostname("x")),
             Catch::Contains("hostname") && Catch::Contains("UTS namespace"));
  CHECK_THAT(invalid(Sandbox({"true"}).domainname("x")), Catch::Contains("domainname"));
  CHECK_THAT(invalid(Sandbox({"true"}).unshare(NsKind::uts).hostname(std::string(65, 'h'))),
             Catch::Contains("64 bytes"));
  CHECK_THAT(invalid(Sandbox({"true"}).uid_map(IdMap::single(0, 0))),
             Catch::Contains("uid_map") && Catch::Contains("new user namespace"));
  CHECK_THAT(invalid(Sandbox({"true"}).time_offsets({.monotonic_ns = 1})),
             Catch::Contains("time_offsets"));
  CHECK_THAT(invalid(Sandbox({"true"}).unshare(NsKind::user).uid_map(IdMap{{0, 1, 0}})),
             Catch::Contains("uid_map[0]"));
  CHECK_THAT(invalid(Sandbox({"true"}).unshare(NsKind::user).user(5, 5)),
             Catch::Contains("uid 5 is not in the uid_map"));
  CHECK_THAT(invalid(Sandbox({"true"}).keep_fd(0, 1)),
             Catch::Contains("descriptor 1 is given twice"));
  CHECK_THAT(invalid(Sandbox({"true"}).env({"NOEQUALS"})), Catch::Contains("KEY=value"));
  CHECK_THAT(invalid(Sandbox({std::string("a\0b", 3)})), Catch::Contains("NUL"));
  CHECK_THAT(invalid(Sandbox({"true"}).parent_death_signal(99)), Catch::Contains("no signal"));
  auto net = Namespace::current(NsKind::net);
  CHECK_THAT(invalid(Sandbox({"true"}).join(net).unshare(NsKind::net)),
             Catch::Contains("both joined and created"));
  CHECK_THAT(invalid(Sandbox({"true"}).join(net).join(net)), Catch::Contains("two net namespaces"));
  auto time = Namespace::current(NsKind::time);
  CHECK_THAT(invalid(Sandbox({"true"}).join(time).spawn_mode(SpawnMode::vm)),
             Catch::Contains("SpawnMode::fork"));
  CHECK_THAT(invalid(Sandbox({"true"}).unshare(NsKind::time).spawn_mode(SpawnMode::vm)),
             Catch::Contains("SpawnMode::fork"));
}

TEST_CASE("PATH lookup is resolved into candidates in the parent") {
  auto p = Sandbox({"prog"}).setenv("PATH", "/a:/b::/c").plan();
  CHECK(p.exec_candidates() == std::vector<std::string>{"/a/prog", "/b/prog", "./prog", "/c/prog"});
  CHECK(Sandbox({"./x"}).plan().exec_candidates() == std::vector<std::string>{"./x"});
  CHECK(Sandbox({"x"}).executable("/bin/true").plan().exec_candidates() ==
        std::vector<std::string>{"/bin/true"});
  CHECK(Sandbox({"x"}).plan().exec_candidates().size() == 6);  // the default PATH
}

TEST_CASE("plans resolve the namespace strategy") {
  auto simple = Sandbox({"true"}).unshare(NsSet{NsKind::user, NsKind::pid}).plan();
  CHECK(simple.clone_flags() == static_cast<std::uint64_t>(CLONE_NEWUSER | CLONE_NEWPID));
  CHECK_FALSE(simple.two_stage());
  CHECK_FALSE(simple.fork_mode());
  auto joined = Sandbox({"true"}).join(Namespace::current(NsKind::net)).unshare(NsKind::pid).plan();
  CHECK(joined.clone_flags() == 0);  // joins first, then unshare
  CHECK(joined.two_stage());         // a new pid namespace only applies to children
  auto time = Sandbox({"true"}).join(Namespace::current(NsKind::time)).plan();
  CHECK(time.fork_mode());
  CHECK(Sandbox({"true"}).unshare(NsKind::time).plan().fork_mode());
}
