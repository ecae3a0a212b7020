// SPDX-License-Identifier: Apache-2.0
// Commands that only look: state, list, ps, events.
#include "runtime.hpp"

namespace wardrt {

// ------------------------------------------------------------------ queries

int cmd_state(const std::string& id) {
  Container c = load(id);
  out(ward::oci::to_json(c.current_state(), 2) + "\n");
  return 0;
}

namespace {

// The owner `list` shows, as runc's: the name /etc/passwd gives the user
// that owns the container's state directory (runc's user.LookupUid reads
// the file too; ward is linked statically, without NSS), "#UID" when none.
std::string owner_of(const Container& c) {
  struct stat st {};
  if (!c.dfd || ::fstat(c.dfd.get(), &st) != 0) return "";
  const std::string uid = std::to_string(st.st_uid);
  int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
  std::string text;
  if (fd >= 0) {
    read_fd(fd, text);
    ::close(fd);
  }
  for (std::size_t p = 0; p < text.size();) {
    std::size_t end = text.find('\n', p);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + p, end - p);
    p = end + 1;
    // name:password:UID:...
    auto c1 = line.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    auto c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
    if (c3 != std::string_view::npos && line.substr(c2 + 1, c3 - c2 - 1) == uid)
      return std::string(line.substr(0, c1));
  }
  return "#" + uid;
}

}  // namespace

int cmd_list(const std::string& format, bool quiet) {
  if (format != "table" && format != "json") fail("invalid format option");
  // Every container directory, a record or not: what a crashed create or
  // delete left shows until `delete --force` removes it. Entries that are
  // not a valid id or not a real directory (a planted symlink) are not ours.
  std::vector<Container> cs;
  for (const auto& n : container_entries()) {
    try {
      cs.push_back(load(n, true));
    } catch (...) {
    }
  }
  std::sort(cs.begin(), cs.end(),
            [](const Container& a, const Container& b) { return a.id < b.id; });
  if (quiet) {
    for (auto& c : cs) out(c.id + "\n");
    return 0;
  }
  if (format == "json") {
    json::Array arr;
    for (auto& c : cs) {
      auto s = c.current_state();
      arr.push_back(json::Value::object({{"ociVersion", s.oci_version},
                                         {"id", s.id},
                                         {"pid", s.pid},
                                         {"status", std::string(ward::oci::to_string(s.status))},
                                         {"bundle", s.bundle},
                                         {"rootfs", s.rootfs},
                                         {"created", s.created},
                                         {"owner", owner_of(c)}}));
    }
    out(json::dump(json::Value(std::move(arr))) + "\n");
    return 0;
  }
  std::printf("%-12s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
              "OWNER");
  for (auto& c : cs) {
    auto s = c.current_state();
    std::printf("%-12s %-8d %-10s %-40s %-32s %s\n", s.id.c_str(), s.pid,
                std::string(ward::oci::to_string(s.status)).c_str(), s.bundle.c_str(),
                s.created.c_str(), owner_of(c).c_str());
  }
  return 0;
}

std::string no_cgroup_reason(const Container& c) {
  (void)c;
  return g.rootless ? "it runs rootless, and no cgroup was delegated to uid " +
                          std::to_string(::geteuid()) + " when it was created"
                    : "the host gave it none when it was created";
}

std::vector<pid_t> pid_namespace_pids(const Container& c) {
  if (!c.alive()) return {};
  struct stat init_ns {
  }, own_ns{};
  const std::string init = "/proc/" + std::to_string(c.state.pid) + "/ns/pid";
  if (::stat(init.c_str(), &init_ns) != 0 || ::stat("/proc/self/ns/pid", &own_ns) != 0) return {};
  if (init_ns.st_ino == own_ns.st_ino && init_ns.st_dev == own_ns.st_dev) return {};
  std::vector<pid_t> out;
  ward::UniqueFd proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto names = proc ? dir_entries(proc.get()) : std::nullopt;
  if (!names) return {};
  for (const auto& n : *names) {
    char* end = nullptr;
    long pid = std::strtol(n.c_str(), &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    struct stat st {};
    const std::string ns = "/proc/" + n + "/ns/pid";
    if (::stat(ns.c_str(), &st) == 0 && st.st_ino == init_ns.st_ino && st.st_dev == init_ns.st_dev)
      out.push_back(static_cast<pid_t>(pid));
  }
  // Still ours: the init checked again after the walk (a pid reused meanwhile
  // would not be in that namespace anyway).
  if (!c.alive()) return {};
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<pid_t> container_pids(const Container& c) {
  if (auto cg = c.open_cgroup()) return cg->procs();
  if (c.alive()) return {c.state.pid};
  return {};
}

int cmd_ps(const std::string& id, const std::string& format,
           const std::vector<std::string>& ps_args) {
  if (format != "table" && format != "json") fail("invalid format option");
  Container c = load(id);
  if (!c.open_cgroup() && c.alive())
    fail("ps: container " + c.id + " has no cgroup of its own (" + no_cgroup_reason(c) +
         "), and ps lists a container's processes from its cgroup");
  auto pids = container_pids(c);
  if (format == "json") {
    json::Array arr;
    for (pid_t p : pids) arr.emplace_back(static_cast<std::int64_t>(p));
    out(json::dump(json::Value(std::move(arr))) + "\n");
    return 0;
  }
  // The table: ps(1)'s own output, filtered to the container's pids (runc
  // does the same). ps runs with the caller's arguments as its argv, never
  // through a shell: "-ef; touch x" or "$(...)" must reach ps as text
  // (test: attack."ps: its arguments never reach a shell", proc_attack_test.cpp).
  std::vector<std::string> argv = {"ps"};
  if (ps_args.empty()) argv.emplace_back("-ef");
  argv.insert(argv.end(), ps_args.begin(), ps_args.end());
  ward::Sandbox ps_sb(argv);
  ward::Child ps = ps_sb.stdin_(ward::Stdio::null()).stdout_(ward::Stdio::pipe()).spawn();
  FILE* f = ::fdopen(ps.stdout_pipe().release(), "r");
  if (!f) fail("ps: " + std::string(std::strerror(errno)));
  char line[4096];
  int pid_col = -1;
  bool header = true;
  while (std::fgets(line, sizeof line, f)) {
    std::vector<std::string> cols;
    for (std::size_t p = 0, n = std::strlen(line); p < n;) {
      while (p < n && std::isspace(static_cast<unsigned char>(line[p]))) ++p;
      std::size_t e = p;
      while (e < n && !std::isspace(static_cast<unsigned char>(line[e]))) ++e;
      if (e > p) cols.emplace_back(line + p, e - p);
      p = e;
    }
    if (header) {
      for (std::size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      out(line);
      header = false;
      continue;
    }
    if (pid_col < 0 || pid_col >= static_cast<int>(cols.size())) continue;
    pid_t p = std::atoi(cols[static_cast<std::size_t>(pid_col)].c_str());
    if (std::find(pids.begin(), pids.end(), p) != pids.end()) out(line);
  }
  std::fclose(f);
  ward::ExitStatus st = ps.wait();
  if (st.shell_status() != 0) fail("ps: " + st.describe());
  return 0;
}

json::Value stats_json(const Container& c) {
  json::Value data = json::Value::object();
  if (auto cg = c.open_cgroup()) {
    auto s = cg->stats();
    if (s.cpu)
      data.set("cpu",
               json::Value::object(
                   {{"usage", json::Value::object({{"total", s.cpu->usage_usec * 1000},
                                                   {"user", s.cpu->user_usec * 1000},
                                                   {"kernel", s.cpu->system_usec * 1000}})}}));
    json::Value mem = json::Value::object();
    if (s.memory_current)
      mem.set("usage", json::Value::object(
                           {{"usage", *s.memory_current}, {"max", s.memory_peak.value_or(0)}}));
    data.set("memory", std::move(mem));
    data.set("pids",
             json::Value::object({{"current", s.pids_current.value_or(container_pids(c).size())}}));
  }
  return json::Value::object({{"type", "stats"}, {"id", c.id}, {"data", std::move(data)}});
}

int cmd_events(const std::string& id, bool stats, double secs) {
  Container c = load(id);
  if (stats) {
    out(json::dump(stats_json(c)) + "\n");
    return 0;
  }
  if (secs <= 0) fail("duration interval must be greater than 0");
  // OOM kills, as runc's events reports them ({"type":"oom"}): the
  // container's count (memory.events on v2, memory.oom_control on v1:
  // Cgroups::oom_kills) against the one when we began, checked every 100 ms
  // between the stats lines.
  auto oom_kills = [&c]() -> std::uint64_t {
    try {
      if (auto cg = c.open_cgroup()) return cg->oom_kills();
    } catch (const Error&) {
    }
    return 0;
  };
  std::uint64_t ooms = oom_kills();
  const auto every = std::chrono::duration<double>(secs);
  auto next_stats = std::chrono::steady_clock::now();
  while (c.alive()) {
    if (std::chrono::steady_clock::now() >= next_stats) {
      out(json::dump(stats_json(c)) + "\n");
      next_stats += std::chrono::duration_cast<std::chrono::steady_clock::duration>(every);
    }
    if (std::uint64_t now = oom_kills(); now > ooms) {
      ooms = now;
      out(json::dump(json::Value::object({{"type", "oom"}, {"id", c.id}})) + "\n");
    }
    std::fflush(stdout);
    std::this_thread::sleep_for(std::min(std::chrono::duration<double>(0.1), every));
  }
  return 0;
}

}  // namespace wardrt
