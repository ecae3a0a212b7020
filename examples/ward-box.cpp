// SPDX-License-Identifier: Apache-2.0
// ward-box: run one command in a throwaway sandbox under limits, and say how
// it ended (issue #16). Built only from the library: ward::Sandbox for the
// view, ward::supervise for the limits and the verdict.
//
//   ward-box [--time S] [--wall S] [--extra-time S] [--memory SIZE]
//            [--processes N] [--output SIZE] [--fsize SIZE] [--tmp SIZE]
//            [--bind SRC[:DST[:rw]]]... [--env K=V]... [--cwd DIR]
//            [--report FILE] [--seccomp isolate|compute|docker|none]
//            [--no-init] [--box-uid N] -- PROGRAM ARGS...
//
// The sandbox: new user, pid, mount, net, ipc and uts namespaces; the host's
// /usr and /etc read-only (and /bin, /sbin, /lib* as the host has them:
// symlinks into /usr on a merged-/usr system, read-only binds otherwise);
// its own /proc, a read-only /sys, the standard /dev nodes, a private /tmp
// (a tmpfs of --tmp bytes, 64 MiB by default); only loopback networking; no
// capabilities, no_new_privs; a seccomp preset (isolate's side-channel set
// by default). The root of that view is read-only. pid 1 is ward's init
// (Sandbox::init_process) and the program pid 2, so the program dies of
// SIGXFSZ past --fsize, of SIGXCPU, of its own SIGABRT, as it would
// outside, and the report has its own status; --no-init makes the program
// pid 1 instead (which gets EFBIG past --fsize, and no signal of its own).
//
// Who the program is on the host: as an ordinary user's, the user (the
// only id the kernel lets it map). As root's, uid and gid --box-uid
// (65534 by default) with no supplementary groups, never root: with no
// capabilities, the host's root would still own every root-owned file
// (/etc/shadow, /proc/sys/kernel/core_pattern, a set-user-ID file made in a
// writable bind), as isolate runs its boxes as uids of their own. Binds are
// nosuid and nodev, /proc/sys and the other kernel knobs of /proc read-only.
// The program leads a session of its own (ward::supervise): it has no
// controlling terminal to push input into (TIOCSTI) and no process group
// shared with ward-box or its caller to stop or kill.
//
// Exit status: 0 when the sandbox ran, whatever the program did (the
// verdict is in --report, as isolate's meta file); 2 when it could not run
// or ward failed while supervising (XX), with a message on stderr; 1 for a
// bad command line.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ward/ward.hpp>

namespace {

using namespace std::chrono_literals;

// --output's default: what ward-box holds of each stream at most.
constexpr std::uint64_t kDefaultOutput = 64ull << 20;

struct Bind {
  std::string src, dst;
  bool rw = false;
};

struct Options {
  ward::Limits limits;
  std::uint64_t tmp_size = 64ull << 20;
  std::vector<Bind> binds;
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd = "/tmp";
  std::string report;
  std::string seccomp = "isolate";
  bool init = true;
  std::uint32_t box_uid = 65534;  // root's sandboxes: the host uid and gid
  std::vector<std::string> argv;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "ward-box: " << msg
            << "\nusage: ward-box [--time S] [--wall S] [--extra-time S] [--memory SIZE] "
               "[--processes N] [--output SIZE] [--fsize SIZE] [--tmp SIZE] "
               "[--bind SRC[:DST[:rw]]] [--env K=V] [--cwd DIR] [--report FILE] "
               "[--seccomp isolate|compute|docker|none] [--no-init] [--box-uid N] -- PROGRAM "
               "ARGS...\n";
  std::exit(1);
}

// Seconds as a decimal ("1", "0.5", "2.25"), to milliseconds; > 0.
std::chrono::milliseconds parse_seconds(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const double s = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || errno != 0 || !std::isfinite(s) || s <= 0 ||
      s > 1e7)
    usage_error(flag + ": '" + v + "' is not a number of seconds above 0");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(s * 1000)));
}

// Bytes with an optional binary suffix: 4096, 64k, 256M, 2G (K/M/G, upper
// or lower case, powers of 1024); > 0.
std::uint64_t parse_size(const std::string& flag, const std::string& v) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  int shift = 0;
  if (ec == std::errc() && p != v.data() + v.size()) {
    if (p + 1 != v.data() + v.size()) usage_error(flag + ": '" + v + "' is not a size");
    switch (*p) {
      case 'k':
      case 'K': shift = 10; break;
      case 'm':
      case 'M': shift = 20; break;
      case 'g':
      case 'G': shift = 30; break;
      default: usage_error(flag + ": '" + v + "' has an unknown suffix (k, M or G)");
    }
  }
  if (ec != std::errc() || n == 0 || (shift && n > (~0ull >> shift)))
    usage_error(flag + ": '" + v + "' is not a size above 0 (bytes, or with k, M, G)");
  return n << shift;
}

std::uint64_t parse_count(const std::string& flag, const std::string& v) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n == 0)
    usage_error(flag + ": '" + v + "' is not a whole number above 0");
  return n;
}

// SRC[:DST[:rw]], both absolute; DST defaults to SRC.
Bind parse_bind(const std::string& v) {
  Bind b;
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    auto c = v.find(':', start);
    parts.push_back(v.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  if (parts.size() > 3 || (parts.size() == 3 && parts[2] != "rw" && parts[2] != "ro"))
    usage_error("--bind: '" + v + "' is not SRC[:DST[:rw]]");
  b.src = parts[0];
  b.dst = parts.size() > 1 && !parts[1].empty() ? parts[1] : parts[0];
  b.rw = parts.size() == 3 && parts[2] == "rw";
  if (b.src.empty() || b.src[0] != '/' || b.dst[0] != '/')
    usage_error("--bind: '" + v + "': both paths must be absolute");
  if (b.dst == "/") usage_error("--bind: '" + v + "': the root cannot be a bind destination");
  return b;
}

Options parse(int argc, char** argv) {
  Options o;
  int i = 1;
  auto value = [&](const std::string& flag) -> std::string {
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    return argv[++i];
  };
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--time")
      o.limits.cpu_time = parse_seconds(a, value(a));
    else if (a == "--wall")
      o.limits.wall_time = parse_seconds(a, value(a));
    else if (a == "--extra-time")
      o.limits.extra_time = parse_seconds(a, value(a));
    else if (a == "--memory")
      o.limits.memory = parse_size(a, value(a));
    else if (a == "--processes")
      o.limits.processes = parse_count(a, value(a));
    else if (a == "--output")
      o.limits.output = parse_size(a, value(a));
    else if (a == "--fsize")
      o.limits.file_size = parse_size(a, value(a));
    else if (a == "--tmp")
      o.tmp_size = parse_size(a, value(a));
    else if (a == "--bind")
      o.binds.push_back(parse_bind(value(a)));
    else if (a == "--cwd")
      o.cwd = value(a);
    else if (a == "--report")
      o.report = value(a);
    else if (a == "--seccomp")
      o.seccomp = value(a);
    else if (a == "--no-init")
      o.init = false;
    else if (a == "--box-uid") {
      const auto n = parse_count(a, value(a));
      if (n == 0 || n > 0xfffffffeULL) usage_error("--box-uid: 0 (root) or out of range");
      o.box_uid = static_cast<std::uint32_t>(n);
    } else if (a == "--env") {
      const std::string kv = value(a);
      const auto eq = kv.find('=');
      if (eq == 0 || eq == std::string::npos) usage_error("--env: '" + kv + "' is not K=V");
      o.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "-h" || a == "--help") {
      usage_error("runs PROGRAM in a throwaway sandbox under limits");
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  for (; i < argc; ++i) o.argv.emplace_back(argv[i]);
  if (o.argv.empty()) usage_error("no program given (after --)");
  if (o.cwd.empty() || o.cwd[0] != '/') usage_error("--cwd: '" + o.cwd + "' is not absolute");
  if (o.seccomp != "isolate" && o.seccomp != "compute" && o.seccomp != "docker" &&
      o.seccomp != "none")
    usage_error("--seccomp: '" + o.seccomp + "' is not isolate, compute, docker or none");
  return o;
}

// The skeleton the sandbox pivots into: an empty directory whose mount
// points the child's mount steps make on first use and every later run
// finds (mkdir and symlink take EEXIST as done). It is kept, not made and
// removed per run: removing directories that were mount points of a mount
// namespace still being torn down cost ~20 ms a run here, more than the
// whole sandbox. Root's is /run/ward-box, a user's $XDG_RUNTIME_DIR/ward-box
// (else /tmp/ward-box-UID); the directory must be the caller's own, mode
// 0700, and not a symlink (another user must not be able to plant a
// symlink or a mount point in it). Where it is not (another user made it
// first: /tmp is everyone's), it is left alone and the run gets a skeleton
// of its own, made by mkdtemp(3) beside it and removed afterwards: slower,
// but never another user's, and never a way for one to keep the caller
// from running (tests/root/ward_box_test.cpp, "a skeleton directory
// planted by another user").
// Root's sandboxes are --box-uid, not root: the skeleton is theirs, so
// that their setup can make its mount points there (the parent directory,
// root's and 0700, keeps everyone else out).
void own_skeleton(const std::string& dir, std::uint32_t box_uid) {
  if (::geteuid() != 0) return;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0 && st.st_uid == box_uid && st.st_gid == box_uid) return;
  if (::lchown(dir.c_str(), box_uid, box_uid) != 0)
    throw ward::Error(ward::Step::mount, errno, dir, "chown to --box-uid");
}

// Where the skeletons live: the base directory above, made if missing.
// Empty, with `why` set, when it cannot be the caller's (see above).
std::string skeleton_base(std::string& why) {
  const uid_t uid = ::geteuid();
  std::string base;
  if (uid == 0) {
    base = "/run/ward-box";
  } else if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && x[0] == '/') {
    base = std::string(x) + "/ward-box";
  } else {
    base = "/tmp/ward-box-" + std::to_string(uid);
  }
  if (::mkdir(base.c_str(), 0700) != 0 && errno != EEXIST) {
    why = base + ": mkdir: " + std::strerror(errno);
    return {};
  }
  struct stat st {};
  if (::lstat(base.c_str(), &st) != 0) {
    why = base + ": lstat: " + std::strerror(errno);
    return {};
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 07777) != 0700) {
    why = base + " is not a directory of uid " + std::to_string(uid) +
          " with mode 0700 (not used: another user could plant mount points or symlinks there)";
    return {};
  }
  return base;
}

// The shared skeleton, base/root.
std::string skeleton(const std::string& base, std::uint32_t box_uid) {
  const std::string root = base + "/root";
  if (::mkdir(root.c_str(), 0755) != 0 && errno != EEXIST)
    throw ward::Error(ward::Step::mount, errno, root, "mkdir (ward-box's root skeleton)");
  own_skeleton(root, box_uid);
  return root;
}

// A run's own skeleton: `root` in a directory of the run's own (mkdtemp:
// mode 0700, the caller's, a name nobody could have guessed ahead), made
// under the base directory where there is one, else beside where the base
// would be. Only `root` is --box-uid's: the 0700 holder above it keeps
// every other host process out, the box uid's included, which could
// otherwise plant files and programs in root's sandbox between the chown
// and the run (tests/root/ward_box_test.cpp, "root's own skeleton is not
// open to the box uid").
struct TempSkeleton {
  std::string holder;
  std::string dir;
  TempSkeleton(std::uint32_t box_uid, const std::string& base) {
    std::string t;
    if (!base.empty()) {
      t = base + "/run-XXXXXX";
    } else if (::geteuid() == 0) {
      t = "/run/ward-box-XXXXXX";
    } else if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && x[0] == '/') {
      t = std::string(x) + "/ward-box-XXXXXX";
    } else {
      t = "/tmp/ward-box-" + std::to_string(::geteuid()) + "-XXXXXX";
    }
    if (::mkdtemp(t.data()) == nullptr)
      throw ward::Error(ward::Step::mount, errno, t, "mkdtemp (ward-box's root skeleton)");
    holder = t;
    dir = holder + "/root";
    if (::mkdir(dir.c_str(), 0755) != 0) {
      int e = errno;
      ::rmdir(holder.c_str());
      throw ward::Error(ward::Step::mount, e, dir, "mkdir (ward-box's root skeleton)");
    }
    try {
      own_skeleton(dir, box_uid);
    } catch (...) {
      std::error_code ec;
      std::filesystem::remove_all(holder, ec);
      throw;
    }
  }
  TempSkeleton(const TempSkeleton&) = delete;
  TempSkeleton& operator=(const TempSkeleton&) = delete;
  ~TempSkeleton() {
    // Only what the mount steps made (empty directories and files,
    // symlinks); nothing is mounted here in our namespace.
    std::error_code ec;
    std::filesystem::remove_all(holder, ec);
  }
};

ward::Sandbox build(const Options& o, const std::string& root) {
  using ward::MountSpec;
  ward::Sandbox sb(o.argv);
  sb.unshare(ward::NsSet{ward::NsKind::user, ward::NsKind::pid, ward::NsKind::mount,
                         ward::NsKind::net, ward::NsKind::ipc, ward::NsKind::uts});
  if (::geteuid() == 0)
    sb.uid_map(ward::IdMap::single(0, o.box_uid))
        .gid_map(ward::IdMap::single(0, o.box_uid))
        .groups({});
  sb.hostname("ward-box")
      .rootfs(root)
      .mount(MountSpec::bind("/usr", "/usr").read_only())
      .mount(MountSpec::bind("/etc", "/etc").read_only());
  // /bin, /sbin, /lib*: symlinks where the host has them (merged /usr),
  // read-only binds of the directories otherwise.
  for (const char* top : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    struct stat st {};
    if (::lstat(top, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      const auto target = std::filesystem::read_symlink(top, ec);
      if (!ec) sb.symlink(top, target.string());
    } else if (S_ISDIR(st.st_mode)) {
      sb.mount(MountSpec::bind(top, top).read_only());
    }
  }
  sb.mount(MountSpec::proc())
      .mount(MountSpec::sysfs().read_only())
      .standard_dev()
      .mount(MountSpec::tmpfs("/tmp")
                 .nosuid()
                 .nodev()
                 .option("mode", "1777")
                 .option("size", std::to_string(o.tmp_size)));
  for (const Bind& b : o.binds)
    sb.mount(MountSpec::bind(b.src, b.dst).read_only(!b.rw).nosuid().nodev());
  // runc's readonlyPaths of /proc: the kernel's knobs and triggers.
  sb.readonly_paths(ward::default_readonly_paths());
  sb.readonly_root()
      .cwd(o.cwd)
      .setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
      .setenv("HOME", "/tmp")
      .capabilities(ward::Capabilities::none())
      .no_new_privs(true)
      .parent_death_signal(SIGKILL);
  for (const auto& [k, v] : o.env) sb.setenv(k, v);
  if (o.seccomp == "isolate")
    sb.seccomp(ward::seccomp_presets::isolate_default());
  else if (o.seccomp == "compute")
    sb.seccomp(ward::seccomp_presets::compute_only());
  else if (o.seccomp == "docker")
    sb.seccomp(ward::seccomp_presets::docker_default());
  return sb;
}

bool write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

// The report file, opened before the run: never through a symlink (the
// program may plant one in a writable bind, another user in /tmp), and a
// regular file; written once the run is over.
ward::UniqueFd open_report(const std::string& path) {
  ward::UniqueFd fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd) {
    std::cerr << "ward-box: --report " << path << ": " << std::strerror(errno)
              << (errno == ELOOP ? " (a symlink: refused)" : "") << "\n";
    std::exit(2);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::cerr << "ward-box: --report " << path << ": not a regular file\n";
    std::exit(2);
  }
  return fd;
}

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  // A reader of our output that goes away must not kill us before the
  // report is written.
  ::signal(SIGPIPE, SIG_IGN);
  // What the program writes is held until it ends: bounded, so that it
  // cannot fill our memory (ours is outside its memory limit).
  if (!o.limits.output) o.limits.output = kDefaultOutput;
  ward::UniqueFd report;
  if (!o.report.empty()) report = open_report(o.report);
  ward::Verdict v;
  try {
    // A cgroup only for what needs one: the whole tree's CPU time, memory
    // and processes. Joining a cgroup of a v1 hierarchy waits for an RCU
    // grace period (cgroup_threadgroup_rwsem; ~25 ms on this project's
    // hybrid host), and without one the tree still dies with the pid
    // namespace's init.
    ward::SuperviseOptions so;
    so.use_cgroup = o.limits.cpu_time || o.limits.memory || o.limits.processes;
    so.init_process = o.init;
    // A bind outside /tmp (a tmpfs of the run's own) makes its mount point
    // in the skeleton, where every later run would see it: such a run gets
    // a skeleton of its own, removed afterwards.
    std::string why;
    const std::string base = skeleton_base(why);
    if (base.empty()) std::cerr << "ward-box: " << why << "; this run uses a skeleton of its own\n";
    bool need_own = base.empty();
    for (const Bind& b : o.binds)
      need_own = need_own || (b.dst != "/tmp" && b.dst.rfind("/tmp/", 0) != 0);
    std::optional<TempSkeleton> own;
    if (need_own) own.emplace(o.box_uid, base);
    v = ward::supervise(build(o, own ? own->dir : skeleton(base, o.box_uid)), o.limits, so);
  } catch (const std::exception& e) {
    std::cerr << "ward-box: could not run " << o.argv[0] << ": " << e.what() << "\n";
    if (report) {
      std::string m = e.what();
      for (char& c : m)
        if (c == '\n') c = ' ';
      write_all(report.get(), "status:XX\nmessage:" + m + "\n");
    }
    return 2;
  }
  // The report first: a reader of our output that stops early cannot cost it.
  if (report && !write_all(report.get(), v.to_meta())) {
    std::cerr << "ward-box: writing " << o.report << ": " << std::strerror(errno) << "\n";
    return 2;
  }
  write_all(1, v.stdout_data);
  write_all(2, v.stderr_data);
  if (v.status == ward::Verdict::Status::XX) {
    std::cerr << "ward-box: " << v.message << "\n";
    return 2;
  }
  return 0;
}
