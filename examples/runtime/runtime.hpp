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
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <ward/oci.hpp>
#include <ward/ward.hpp>

namespace wardrt {

using ward::Error;
namespace json = ward::json;
namespace fs = std::filesystem;

// ------------------------------------------------------------------ log.cpp

struct Globals {
  std::string root;
  std::string log_path;
  bool log_json = false;
  bool debug = false;
  bool rootless = false;
  bool systemd_cgroup = false;
  int error_status = 1;  // the exit status of a failure (exec: 255, as runc)
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

// How a flag reads its value (Go's flag package, urfave/cli v1).
enum class FlagKind { boolean, string, integer, string_list, int64_list, duration };
struct FlagDef {
  const char* names;  // "bundle, b": the first is the key in Args
  FlagKind kind;
};

// A command line parsed against a table of FlagDef; every value has been
// checked for its kind already.
struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::vector<std::string>> vals;  // key: the flag's first name
  std::map<std::string, std::string> form;               // name given -> key
  bool help = false;
  bool has(const std::string& k) const;
  std::string get(const std::string& k, std::string def = {}) const;
  std::vector<std::string> all(const std::string& k) const;
  bool flag(const std::string& k) const;  // a bool flag's value
  std::int64_t integer(const std::string& k, std::int64_t def = 0) const;
  std::vector<std::int64_t> integers(const std::string& k) const;
  double seconds(const std::string& k, double def) const;  // a duration
};

// A command line runc would refuse before doing anything: exit status 1,
// the message on stderr (urfave/cli prints "Incorrect Usage: <msg>").
struct UsageError {
  std::string msg;
};

// Parses `in` (what follows the command's name) against `defs`: flags
// moved to the front first (urfave reorderArgs) when `reorder_args`, then
// flags until the first positional argument or "--". Throws UsageError.
Args parse_flags(const std::vector<FlagDef>& defs, std::vector<std::string> in, bool reorder_args);
// strconv.ParseInt(s, 0, 64).
bool parse_int64(const std::string& s, std::int64_t& out);

// ------------------------------------------------------------------ state.cpp
//
// Every file of the state store is reached below a descriptor of --root
// (openat and friends, O_NOFOLLOW, never a joined path string), so an entry
// planted there (a symlink as an id, a symlink as a temporary file) is
// never followed; tests/attack/state_attack_test.cpp proves it.

bool read_fd(int fd, std::string& text);
std::string read_text(const std::string& path);
// Atomic replacement: a temporary file made O_CREAT|O_EXCL|O_NOFOLLOW with
// an unpredictable name in the target's directory, then renameat(2) over
// the target (which replaces a symlink there instead of following it).
void write_atomic_at(int dirfd, const std::string& name, const std::string& text, mode_t mode,
                     const std::string& shown);
void write_atomic(const std::string& path, const std::string& text, mode_t mode = 0644);
// runc's id rule (libcontainer validateID): ^[a-zA-Z0-9_+-][a-zA-Z0-9_+.-]*$,
// at most NAME_MAX bytes; anything else fails with "invalid id format".
void check_id(const std::string& id);
// --root, opened once; with `create`, made 0700 when missing. -1 (errno
// set) when it does not exist and `create` is false.
int root_fd(bool create = false);
// The runtime's one directory walker: the names in the directory `dirfd`
// but "." and "..", read through a descriptor of its own (dirfd's offset is
// untouched). nullopt, errno set, when it cannot be read.
std::optional<std::vector<std::string>> dir_entries(int dirfd);
// The entries of --root that may be containers: every name not starting
// with "." (a record or not: what a crashed create left, a planted file).
// Unsorted; empty when --root does not exist or cannot be read. list,
// delete --regex and create's check of a busy root.path walk this.
std::vector<std::string> container_entries();
// The path of the hierarchy that stands for a process's cgroup in
// /proc/PID/cgroup's text: the unified one where the host has it, else the
// first v1 one. nullopt when the text has no such line.
std::optional<std::string> main_cgroup_of(const std::string& proc_cgroup);
// sb.spawn(), with a rootless EACCES from joining `cgroup` (the container's,
// "" if none) explained.
ward::Child spawn_into_cgroup(ward::Sandbox& sb, const std::string& cgroup);
// What to tell a rootless caller whom `err` kept out of --root's default.
std::string root_hint(int err);
// Whether we run in a user namespace other than the initial one.
bool in_user_namespace();
// Whether we lack privilege over the host's cgroups and BPF: not root, or
// root of a user namespace (--rootless=true as the real root keeps both).
bool unprivileged();
// The state store in $XDG_RUNTIME_DIR/ward (no --root, rootless): made and
// checked (ours, no symlink), and kept open as root_fd()'s descriptor.
void open_xdg_root(const std::string& xdg);
// <root>/<id> as a directory descriptor, never through a symlink (O_NOFOLLOW):
// invalid (errno set) if missing, or ELOOP/ENOTDIR if the entry is not a
// real directory.
ward::UniqueFd open_container_dir(const std::string& id);
// Removes <root>/<id> and everything in it, below the --root descriptor;
// the record (state.json) goes last, so a removal cut short leaves a
// directory that `list` still shows and `delete --force` finishes.
void remove_state_dir(const std::string& id);
std::string container_dir(const std::string& id);  // for messages only
std::optional<std::uint64_t> start_time(pid_t pid);

struct Container;

// The mount of every cgroup hierarchy of the host: the unified one first,
// then each v1 one. Where a cgroup path has a directory of its own.
std::vector<std::string> cgroup_mounts();
// ward's own parent of the cgroups it names when a config names none
// ("/ward/ID", ward::oci::cgroup_path_for): it goes with the last container
// in it, by rmdir(2) in each hierarchy, which the kernel refuses while any
// cgroup is below it. Called wherever a container's cgroup is removed:
// delete, and create's cleanup (a failed create, the end of a foreground
// run); whichever is last out removes it. A create that walks through it
// meanwhile makes it again (create.cpp). It is ward's by name: a budget
// for every container belongs on a parent of one's own (cgroupsPath
// /budget/ID), which stays; the parents a cgroupsPath names are the
// config's and are left, as runc leaves them. Test: "runtime cgroups: ward's default parent cgroup
// goes with the last container in it".
void remove_default_parent(const Container& c);

// flock(2) on the container's directory: one runtime process changes a
// container at a time. A `create` holds it from mkdir until it returns, so
// a container whose record says "creating" and whose lock is free was left
// by a runtime that died.
struct DirLock {
  int fd = -1;
  explicit DirLock(const Container& c);
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
  std::string id, dir;  // dir: <root>/<id>, for messages only
  ward::UniqueFd dfd;   // <root>/<id>, opened O_NOFOLLOW below --root
  ward::oci::State state;
  std::uint64_t starttime = 0;
  // Path of its cgroup in every hierarchy ("/ward/ID"; records of older
  // versions hold the unified hierarchy's absolute path), "" if none.
  std::string cgroup;
  // Whether ward made that cgroup, or found it empty and took it over. Until
  // then the path is only what the config named (cgroupsPath: anything,
  // /system.slice included): nothing acts on it but an rmdir of what create
  // may have just made (tests/attack/state_attack_test.cpp "cgroupsPath").
  bool cgroup_owned = false;
  // --systemd-cgroup: the transient scope unit whose cgroup `cgroup` is
  // ("ward-ID.scope"), stopped by delete. Empty: ward's own cgroupfs path.
  std::string systemd_unit;
  // create --no-new-keyring: its processes keep the runtime's session
  // keyring (exec too, as runc's setns init reads it from the config).
  bool no_new_keyring = false;
  // A config with mounts but no mount namespace of its own: the rootfs's
  // clone they were made below, in the runtime's (or a joined) mount
  // namespace; delete detaches it (Sandbox::shared_mount_namespace).
  ward::RootfsMount rootfs_mount;
  bool recorded = false;        // a readable state.json was found
  mutable bool locked = false;  // this process holds its DirLock

  // The start time has the resolution of a clock tick (proc(5): 1/100 s):
  // a host process given the container's pid within that tick passes for
  // it. It is not in the container's cgroup, which the runtime owns
  // (attack "exec: a pid reused by a host process is never joined").
  bool alive() const {
    if (state.pid <= 0) return false;
    auto st = start_time(state.pid);
    return st && *st == starttime && in_own_cgroup(state.pid);
  }
  // Whether process `pid` is in the container's cgroup (or below it); true
  // when the container has no cgroup of its own.
  bool in_own_cgroup(pid_t pid) const;
  // The container's cgroup, not owned: queries and signals only.
  std::optional<ward::Cgroups> open_cgroup() const {
    auto cg = adopt_cgroup();
    if (cg) cg->release();
    return cg;
  }
  // Owned: destroying the object removes the cgroup (delete).
  std::optional<ward::Cgroups> adopt_cgroup() const {
    if (cgroup.empty() || !cgroup_owned) return std::nullopt;
    try {
      return ward::Cgroups::adopt(cgroup_path());
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  // `cgroup` relative to the hierarchies' roots.
  std::string cgroup_path() const;
  // Whether another runtime process holds the container's lock now.
  bool busy() const;
  // The status now, derived, never stored after create: "creating" while
  // the creating runtime lives (stopped if it died first); then created
  // while the process waits at its gate (exec.fifo exists), running or
  // paused while it lives, stopped after.
  ward::oci::Status status() const;
  ward::oci::State current_state() const {
    ward::oci::State s = state;
    s.status = status();
    if (s.status == ward::oci::Status::stopped) s.pid = 0;
    return s;
  }
  // The one record (state.json, 0600): the OCI state plus ward's own
  // fields, written atomically as one file so no crash leaves half of it.
  void save() const;
};

// The container `id`; fails with "container does not exist" unless its
// directory holds a record. `lenient` (list, delete) also accepts a
// directory whose record is missing or unreadable: what a crash left.
Container load(const std::string& id, bool lenient = false);

// ---------------------------------------------------------------- systemd.cpp

// --systemd-cgroup: a transient scope made by systemd over the system bus
// for the container (runc's and crun's systemd driver); rootless, by the
// user's own systemd over the user bus (runc's rootless systemd driver). Its destructor stops
// the unit unless release()d.
struct SystemdScope {
  std::string unit;                        // "ward-ID.scope"
  std::string cgroup;                      // its cgroup, relative to the cgroup2 mount
  pid_t holder = -1;                       // the scope's placeholder process (ours)
  std::optional<std::uint64_t> tasks_max;  // TasksMax, given once the child is born
  std::unique_ptr<ward::dbus::Bus> bus;
  std::unique_ptr<ward::systemd::Manager> manager;
  bool armed = false;  // the unit is ours to stop
  SystemdScope() = default;
  SystemdScope(SystemdScope&& o) noexcept
      : unit(std::move(o.unit)),
        cgroup(std::move(o.cgroup)),
        holder(std::exchange(o.holder, -1)),
        tasks_max(o.tasks_max),
        bus(std::move(o.bus)),
        manager(std::move(o.manager)),
        armed(std::exchange(o.armed, false)) {}
  SystemdScope& operator=(SystemdScope&&) = delete;
  ~SystemdScope();
  // Once the child is born in the scope: the placeholder goes, and systemd
  // gets what had to wait for the child (TasksMax: a limit the placeholder
  // and the child's birth would count against).
  void child_born();
  void release() { armed = false; }

 private:
  void end_placeholder() noexcept;
};
// Checks the config's cgroupsPath (runc's "slice:prefix:name"), the host
// (cgroup v2 only) and reaches systemd; then starts the scope with this
// process in it, Delegate=yes and the resources systemd has properties for.
SystemdScope start_systemd_scope(const ward::oci::Config& cfg, const std::string& id);
// The unit's name for a cgroupsPath, checked, before any D-Bus call.
std::string systemd_unit_for(const ward::oci::Config& cfg, const std::string& id,
                             std::string* slice);
// SetUnitProperties of what `update` changes and systemd has properties for
// (runc does the same), so systemd's view of the unit stays the cgroup's.
void update_systemd_unit(const std::string& unit, const ward::oci::Resources& r);
// StopUnit + ResetFailedUnit (delete); a unit already gone is no error.
void stop_systemd_unit(const std::string& unit);

// ------------------------------------------------------------------ hooks.cpp

ward::UniqueFd open_container_pidfd(pid_t pid, std::uint64_t starttime,
                                    const Container* c = nullptr);
// Joins every namespace of the pidfd's process that differs from ours; if
// the mount namespace is ours, chroots into its root instead and returns a
// descriptor of it, to keep open until the spawn is done. `in_place`: the
// container's mounts were made in a namespace it shares (its record names
// a RootfsMount): its root is chrooted into even in a joined namespace.
ward::UniqueFd join_namespaces_of(ward::Sandbox& sb, int pidfd, bool in_place = false);
// Where in-container hooks run (see run_hooks).
struct HookTarget {
  int pidfd = -1;                                 // the container's process
  const ward::Cgroups* cgroup = nullptr;          // its cgroup, if any
  const ward::oci::Config* as_process = nullptr;  // run as its process
  bool in_place = false;                          // see join_namespaces_of
};
void run_hooks(const std::vector<ward::oci::Hook>& hooks, const ward::oci::State& st,
               const char* which, const HookTarget* target = nullptr);

// ------------------------------------------------------------------ config.cpp

// What create read is what the container keeps: create stores the bytes of
// config.json it parsed in the state directory, start/exec/delete use
// only those.
ward::oci::Config read_config(const std::string& file, std::string& bytes);
void save_config(const Container& c, const std::string& bytes);
ward::oci::Config saved_config(const Container& c);
// root.path as the plan makes it absolute (Sandbox::rootfs): where a
// config without a mount namespace of its own has its rootfs's clone.
std::string config_rootfs(const std::string& bundle, const ward::oci::Config& cfg);
// A config without a mount namespace of its own whose root.path holds
// another container's clone fails here (create.cpp).
void refuse_rootfs_in_use(const std::string& id, const std::string& bundle,
                          const ward::oci::Config& cfg);
void send_console(const std::string& socket_path, int master);
// runc 1.2's --pidfd-socket: connected before the spawn (a wrong path
// fails before anything is made), then one SCM_RIGHTS message carrying a
// pidfd of the process, named "standard" (init) or "setns" (exec) as
// runc's setupPidfd names it.
// One message on `sock`: `payload` and the descriptor `fd` (SCM_RIGHTS,
// unix(7)), retried on EINTR, never SIGPIPE; sendmsg(2)'s result (hooks.cpp).
ssize_t send_with_fd(int sock, std::string_view payload, int fd);
struct PidfdSocket {
  ward::UniqueFd sock;
  std::string path;
  explicit PidfdSocket(const std::string& p);
  void send(int pidfd, const char* kind);
};

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
//  - a new anonymous session keyring, unless --no-new-keyring: the
//    runtime's keys are not the container's to read, and no other
//    container can join it by name (runc's "_ses.<id>" can be joined, or
//    planted before the container starts, by any process of the same uid;
//    Sandbox::session_keyring; tests/attack/keyring_attack_test.cpp).
inline void guard_runtime(ward::Sandbox& sb, bool no_new_keyring) {
  if (!no_new_keyring) sb.session_keyring();
  if (ward::Sandbox::sealed_exec_supported()) sb.sealed_exec();
  if (::geteuid() == 0 && !g.rootless) sb.nondumpable_setup(ward::Nondumpable::caller);
}

// ------------------------------------------------------------------ commands

struct CreateOpts {
  std::string id, bundle, console_socket, pid_file;
  std::string config;        // crun --config: another file than <bundle>/config.json
  std::string pidfd_socket;  // runc 1.2 --pidfd-socket
  int preserve_fds = 0;
  bool no_pivot = false;
  bool detach = false;
  bool keep = false;            // run --keep: the stopped container stays until `delete`
  bool no_new_keyring = false;  // --no-new-keyring: keep the caller's session keyring
  bool gate = true;             // create (true) or run in the foreground (false)
};

// main.cpp: --preserve-fds N, keeping only the fds open when ward started
void keep_preserved_fds(ward::Sandbox& sb, int n);
// systemd socket activation: how many descriptors from 3 on LISTEN_FDS and
// LISTEN_PID hand to us (sd_listen_fds(3)); 0 when none.
int listen_fds();
// Opens /dev/null onto whichever of fds 0, 1, 2 is closed (main.cpp).
void ensure_stdio();
// create.cpp
int cmd_create_or_run(const CreateOpts& o);
int cmd_start(const std::string& id);
// control.cpp
int parse_signal(std::string s);
void signal_init(const Container& c, int sig);
// SIGKILL to the init, and wait until it has exited (control.cpp).
void kill_init_and_wait(const Container& c);
int cmd_kill(const std::string& id, const std::string& sig_s, bool all);
int cmd_delete(const std::string& id, bool force);
// crun's `delete --regex PATTERN`: every container whose id matches
// (POSIX extended regex, regexec(3)).
int cmd_delete_regex(const std::string& pattern, bool force);
int cmd_pause(const std::string& id, bool pause);
int cmd_update(const std::string& id, const Args& a);
// query.cpp
std::vector<pid_t> container_pids(const Container& c);
// Every process in the pid namespace of the container's init, when it has
// one of its own (a container without a cgroup); empty otherwise.
std::vector<pid_t> pid_namespace_pids(const Container& c);
// Why a container has no cgroup, for errors.
std::string no_cgroup_reason(const Container& c);
int cmd_state(const std::string& id);
int cmd_list(const std::string& format, bool quiet);
int cmd_ps(const std::string& id, const std::string& format,
           const std::vector<std::string>& ps_args);
int cmd_events(const std::string& id, bool stats, double interval_seconds);
// exec.cpp
int cmd_exec(const Args& a);
// spec.cpp
int cmd_spec(const std::string& bundle, bool rootless);
// notify.cpp: sd_notify(3) through the container (NOTIFY_SOCKET, runc's
// layout; the file's head says what is forwarded and why).
std::string caller_notify_socket();  // our NOTIFY_SOCKET, "" when unset
// create/run: the container's notify directory, its read-only bind at
// /run/notify and the process's NOTIFY_SOCKET, when ours is set.
void notify_prepare(const Container& c, ward::oci::Config& cfg);
struct NotifyProxy {
  ward::UniqueFd in;   // the container's socket, bound in <root>/<id>/notify
  ward::UniqueFd out;  // connected to our caller's NOTIFY_SOCKET
  std::string caller;
  // Binds and connects, before the program runs; nullopt when NOTIFY_SOCKET
  // is unset or the container was made without it.
  static std::optional<NotifyProxy> open(const Container& c);
  // Forwards until READY=1 (then MAINPID=`mainpid` and a barrier), or
  // until `pidfd` says the container's init has exited; `until_exit`: on
  // after READY=1 too, until it exits (a foreground run).
  void forward(int pidfd, pid_t mainpid, bool until_exit = false);
};
// tty.cpp
// A foreground run or exec: process.terminal's pty sized like the
// caller's terminal; the wait, with the caller's signals forwarded and,
// with `relay_terminal`, the pty (Child::terminal()) relayed to our stdio.
void size_from_caller(ward::oci::Process& p);
ward::ExitStatus wait_foreground(ward::Child& child, bool relay_terminal);

}  // namespace wardrt
