// SPDX-License-Identifier: Apache-2.0
// The `ward` runtime's shared declarations: one program, split by concern
// (see main.cpp for the map of files).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <ward/oci_sandbox.hpp>
#include <ward/ward.hpp>

namespace wardrt {

using ward::Error;
namespace json = ward::detail::json;
namespace fs = std::filesystem;

// ------------------------------------------------------------------ log.cpp

struct Globals {
  std::string root;
  std::string log_path;
  bool log_json = false;
  bool debug = false;
  bool rootless = false;
  bool systemd_cgroup = false;
};
extern Globals g;

std::string now_rfc3339();
void out(std::string_view s);
void err_out(std::string_view s);
void log_line(const char* level, const std::string& msg);
void debug(const std::string& msg);

struct Fatal {
  std::string msg;
};
[[noreturn]] void fail(std::string msg);

// ------------------------------------------------------------------ cli.cpp

struct Args {
  std::vector<std::string> pos;
  std::multimap<std::string, std::string> opts;  // "--name" -> value ("" for switches)
  bool has(const std::string& k) const { return opts.count(k) != 0; }
  std::string get(const std::string& k, std::string def = {}) const {
    auto it = opts.find(k);
    return it == opts.end() ? def : it->second;
  }
  std::vector<std::string> all(const std::string& k) const {
    std::vector<std::string> v;
    for (auto [a, b] = opts.equal_range(k); a != b; ++a) v.push_back(a->second);
    return v;
  }
};

// Flags that take a value (runc accepts "--flag value" and "--flag=value",

extern std::string g_cmd;  // the command being run ("-f" means --format for some)
Args parse_args(const std::vector<std::string>& in, std::size_t& i, bool stop_at_pos,
                std::size_t max_pos = ~std::size_t{0});

// ------------------------------------------------------------------ state.cpp

bool read_fd(int fd, std::string& text);
std::string read_text(const std::string& path);
void write_atomic(const std::string& path, const std::string& text, mode_t mode = 0644);
void remove_state_dir(const std::string& dir);
void check_id(const std::string& id);
std::string container_dir(const std::string& id);
std::optional<std::uint64_t> start_time(pid_t pid);

// flock(2) on the container's directory: one runtime process changes a
// container at a time.
struct DirLock {
  int fd = -1;
  explicit DirLock(const std::string& dir) {
    fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) ::flock(fd, LOCK_EX);
  }
  ~DirLock() {
    // Unlock explicitly: a child forked while we held the lock shares the
    // open file description until it execs, and close() alone would leave
    // the lock to it.
    if (fd >= 0) {
      ::flock(fd, LOCK_UN);
      ::close(fd);
    }
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
};

struct Container {
  std::string id, dir;
  ward::oci::State state;
  std::uint64_t starttime = 0;
  std::string cgroup;  // path inside the cgroup2 hierarchy, "" if none

  bool alive() const {
    if (state.pid <= 0) return false;
    auto st = start_time(state.pid);
    return st && *st == starttime;
  }
  // The container's cgroup, not owned: queries and signals only.
  std::optional<ward::CgroupV2> open_cgroup() const {
    auto cg = adopt_cgroup();
    if (cg) cg->release();
    return cg;
  }
  // Owned: destroying the object removes the cgroup (delete).
  std::optional<ward::CgroupV2> adopt_cgroup() const {
    if (cgroup.empty()) return std::nullopt;
    try {
      return ward::CgroupV2::adopt(cgroup);
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  // The status now: stored "created" until started, then running or
  // paused while the process lives, stopped after.
  ward::oci::Status status() const {
    if (!alive()) return ward::oci::Status::stopped;
    if (::access((dir + "/exec.fifo").c_str(), F_OK) == 0) return ward::oci::Status::created;
    if (auto cg = open_cgroup()) {
      try {
        if (cg->events().frozen) return ward::oci::Status::paused;
      } catch (const Error&) {
      }
    }
    return ward::oci::Status::running;
  }
  ward::oci::State current_state() const {
    ward::oci::State s = state;
    s.status = status();
    if (s.status == ward::oci::Status::stopped) s.pid = 0;
    return s;
  }
  void save() const {
    write_atomic(dir + "/state.json", ward::oci::to_json(state, 2));
    write_atomic(dir + "/runtime.json",
                 json::dump(json::Value::object({{"starttime", starttime}, {"cgroup", cgroup}})));
  }
};

Container load(const std::string& id);

// ------------------------------------------------------------------ hooks.cpp

void join_namespaces_of(ward::Sandbox& sb, pid_t pid);
void run_hooks(const std::vector<ward::oci::Hook>& hooks, const ward::oci::State& st,
               const char* which, pid_t in_container = 0);
void send_console(const std::string& socket_path, int master);

// What every process ward puts into a container gets (create, run, exec):
//  - the program is exec'd through the sealed-memfd trampoline
//    (Sandbox::sealed_exec): a "#!/proc/self/exe" image never runs ward's
//    own binary in the container, so none of its processes can hold and
//    write it (CVE-2019-5736);
//  - ward makes itself non-dumpable before it spawns
//    (Nondumpable::caller), so the setup process, which shares or copies
//    our memory and descriptors while it is still ward, cannot be opened
//    through /proc/PID/{exe,mem,fd} by the container's processes, which
//    lack CAP_SYS_PTRACE in our user namespace (CVE-2016-9962). Not
//    rootless: our children's uid_map would then be root's to write.
// tests/attack/exe_attack_test.cpp attacks both.
inline void guard_runtime(ward::Sandbox& sb) {
  if (ward::Sandbox::sealed_exec_supported()) sb.sealed_exec();
  if (::geteuid() == 0 && !g.rootless) sb.nondumpable_setup(ward::Nondumpable::caller);
}

// ------------------------------------------------------------------ commands

struct CreateOpts {
  std::string id, bundle, console_socket, pid_file;
  int preserve_fds = 0;
  bool no_pivot = false;
  bool detach = false;
  bool gate = true;  // create (true) or run in the foreground (false)
};

// create.cpp
int cmd_create_or_run(const CreateOpts& o);
int cmd_start(const std::string& id);
// control.cpp
int parse_signal(std::string s);
void signal_init(const Container& c, int sig);
int cmd_kill(const std::string& id, const std::string& sig_s, bool all);
int cmd_delete(const std::string& id, bool force);
int cmd_pause(const std::string& id, bool pause);
int cmd_update(const std::string& id, const Args& a);
// query.cpp
std::vector<pid_t> container_pids(const Container& c);
int cmd_state(const std::string& id);
int cmd_list(const std::string& format, bool quiet);
int cmd_ps(const std::string& id, const std::string& format,
           const std::vector<std::string>& ps_args);
int cmd_events(const std::string& id, bool stats, const std::string& interval);
// exec.cpp
int cmd_exec(const Args& a);
// spec.cpp
int cmd_spec(const std::string& bundle, bool rootless);

}  // namespace wardrt
