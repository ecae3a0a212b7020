// SPDX-License-Identifier: Apache-2.0
// The state store: <root>/<id>/ (0700) with state.json (0600) and exec.fifo.
#include "runtime.hpp"

namespace wardrt {

// The whole of a descriptor; false on a read error (errno set).
bool read_fd(int fd, std::string& text) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) return true;
    text.append(buf, static_cast<std::size_t>(n));
  }
}

std::string read_text(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open " + path + ": " + std::strerror(errno));
  std::string text;
  bool ok = read_fd(fd, text);
  int e = errno;
  ::close(fd);
  if (!ok) fail("read " + path + ": " + std::strerror(e));
  return text;
}

namespace {

std::string hex_random() {
  unsigned char b[8];
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
    fail("getrandom: " + std::string(std::strerror(errno)));
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned char x : b) {
    s += digits[x >> 4];
    s += digits[x & 15];
  }
  return s;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Removes `name` below `parent`: unlinks it (a file, a fifo, a symlink:
// the link itself, never its target), or empties and removes it when it is
// a directory of the same filesystem, opened O_NOFOLLOW at every level.
void remove_below(int parent, const std::string& name, const std::string& shown, int depth) {
  if (::unlinkat(parent, name.c_str(), 0) == 0 || errno == ENOENT) return;
  if (errno != EISDIR) fail("remove " + shown + ": " + std::strerror(errno));
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
  if (errno != ENOTEMPTY && errno != EEXIST) fail("remove " + shown + ": " + std::strerror(errno));
  if (depth > 32) fail("remove " + shown + ": nested too deep");
  ward::UniqueFd d(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d) fail("open " + shown + ": " + std::strerror(errno));
  struct stat ps, ds;
  if (::fstat(parent, &ps) != 0 || ::fstat(d.get(), &ds) != 0)
    fail("stat " + shown + ": " + std::strerror(errno));
  // A mount planted in the state directory is not ours to empty.
  if (ps.st_dev != ds.st_dev) fail("remove " + shown + ": another filesystem is mounted there");
  auto entries = dir_entries(d.get());
  if (!entries) fail("open " + shown + ": " + std::strerror(errno));
  std::vector<std::string> names = std::move(*entries);
  // The record last: a removal cut short still shows in `list`.
  std::stable_partition(names.begin(), names.end(),
                        [](const std::string& n) { return n != "state.json"; });
  for (auto& n : names) remove_below(d.get(), n, shown + "/" + n, depth + 1);
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    fail("remove " + shown + ": " + std::strerror(errno));
}

}  // namespace

void write_atomic_at(int dirfd, const std::string& name, const std::string& text, mode_t mode,
                     const std::string& shown) {
  // O_EXCL|O_NOFOLLOW: a name planted in the directory (a symlink to a
  // host file) makes the open fail instead of redirecting the write, and
  // the random name makes planting it in advance pointless (open(2);
  // tests/attack/state_attack_test.cpp "pid-file temp symlink").
  std::string tmp;
  int fd = -1;
  for (int attempt = 0; fd < 0 && attempt < 8; ++attempt) {
    tmp = "." + name + "." + hex_random() + ".tmp";
    fd = ::openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) fail("open a temporary file for " + shown + ": " + std::strerror(errno));
  // No fsync: the state lives under /run (tmpfs), which does not outlive
  // a reboot, and rename alone makes the replacement atomic for readers.
  bool ok = write_all(fd, text);
  int e = errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    e = errno;
  }
  if (ok && ::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
    ok = false;
    e = errno;
  }
  if (!ok) {
    ::unlinkat(dirfd, tmp.c_str(), 0);
    fail("write " + shown + ": " + std::strerror(e));
  }
}

void write_atomic(const std::string& path, const std::string& text, mode_t mode) {
  fs::path p(path);
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..") fail("write " + path + ": not a file name");
  std::string parent = p.has_parent_path() ? p.parent_path().string() : ".";
  ward::UniqueFd d(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) fail("open " + parent + ": " + std::strerror(errno));
  write_atomic_at(d.get(), name, text, mode, path);
}

void check_id(const std::string& id) {
  auto ok_char = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '+' || ch == '-' || ch == '.';
  };
  // The first character may not be '.', which also rules out "." and "..";
  // no '/' anywhere: the id is one directory entry below --root.
  bool ok = !id.empty() && id.size() <= NAME_MAX && id[0] != '.' &&
            std::all_of(id.begin(), id.end(), ok_char);
  if (!ok) {
    std::string shown;
    for (char ch : id.substr(0, 64))
      shown += std::isprint(static_cast<unsigned char>(ch)) ? ch : '?';
    if (id.size() > 64) shown += "...";
    fail("invalid id format: " + shown);
  }
}

namespace {
int g_root_fd = -1;
}

bool in_user_namespace() {
  // The initial user namespace maps every id: "0 0 4294967295" (moby's
  // userns.RunningInUserNS, which runc asks).
  int fd = ::open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string text;
  bool ok = read_fd(fd, text);
  ::close(fd);
  unsigned long long inside = 1, outside = 1, count = 0;
  char extra = 0;
  if (!ok) return false;
  int n = std::sscanf(text.c_str(), "%llu %llu %llu %c", &inside, &outside, &count, &extra);
  return !(n == 3 && inside == 0 && outside == 0 && count == 4294967295ULL);
}

void open_xdg_root(const std::string& xdg) {
  // runc (main.go): MkdirAll($XDG_RUNTIME_DIR/runc, 0700), then chmod it
  // 0700 with the sticky bit (the XDG spec's "not to be pruned"), which
  // fails on a directory of another user's. Here, more strictly, and
  // without following anything planted:
  //  - $XDG_RUNTIME_DIR is made (0700, parents too) when missing, and must
  //    then be a directory of ours: one of another user's, who could
  //    rename our state directory away and put theirs in its place, is
  //    refused;
  //  - <it>/ward is made 0700 below a descriptor of it and opened
  //    O_NOFOLLOW: a symlink planted there (to a directory of the planter's)
  //    is refused, never followed, and so is a directory of another user's.
  // tests/root/runtime_rootless_test.cpp "state dir attacks".
  const std::string hint =
      ": set XDG_RUNTIME_DIR to a directory of yours (mode 0700) or pass --root";
  if (xdg.empty() || xdg[0] != '/')
    fail("XDG_RUNTIME_DIR=" + xdg + " is not an absolute path" + hint);
  std::string p;
  for (auto& part : fs::path(xdg)) {
    p = (fs::path(p) / part).string();
    if (p != "/" && ::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST)
      fail("XDG_RUNTIME_DIR: mkdir " + p + ": " + std::strerror(errno) + hint);
  }
  ward::UniqueFd x(::open(xdg.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!x) fail("XDG_RUNTIME_DIR: open " + xdg + ": " + std::strerror(errno) + hint);
  struct stat xs {};
  if (::fstat(x.get(), &xs) != 0)
    fail("XDG_RUNTIME_DIR: stat " + xdg + ": " + std::strerror(errno));
  const uid_t me = ::geteuid();
  if (xs.st_uid != me)
    fail("XDG_RUNTIME_DIR " + xdg + " is owned by uid " + std::to_string(xs.st_uid) +
         ", not by uid " + std::to_string(me) + " (who runs ward): refusing to keep state there" +
         hint);
  const std::string root = xdg + "/ward";
  if (::mkdirat(x.get(), "ward", 0700) != 0 && errno != EEXIST)
    fail("mkdir " + root + ": " + std::strerror(errno) + hint);
  ward::UniqueFd r(::openat(x.get(), "ward", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!r) {
    if (errno == ELOOP || errno == ENOTDIR)
      fail(root +
           " is not a directory (a symlink or another file planted there?): refusing to "
           "follow it; remove it or pass --root");
    fail("open " + root + ": " + std::strerror(errno));
  }
  struct stat rs {};
  if (::fstat(r.get(), &rs) != 0) fail("stat " + root + ": " + std::strerror(errno));
  if (rs.st_uid != me)
    fail(root + " is owned by uid " + std::to_string(rs.st_uid) + ", not by uid " +
         std::to_string(me) + ": refusing to keep state there; remove it or pass --root");
  if (::fchmod(r.get(), 0700 | S_ISVTX) != 0)
    fail("chmod " + root + ": " + std::strerror(errno) + hint);
  g_root_fd = r.release();
}

ward::Child spawn_into_cgroup(ward::Sandbox& sb, const std::string& cgroup) {
  try {
    return sb.spawn();
  } catch (const Error& e) {
    // clone3(CLONE_INTO_CGROUP) moves the child across the tree: that needs
    // write access to cgroup.procs of the common ancestor of our cgroup and
    // the target (cgroup-v2.rst "Delegation Containment"). A rootless
    // caller outside its delegated subtree gets a bare EACCES: say so.
    if (!g.rootless || cgroup.empty() || e.code().value() != EACCES) throw;
    std::string what = e.what();
    if (what.rfind("ward: ", 0) == 0) what.erase(0, 6);
    fail(what + ": joining the container's cgroup " + cgroup +
         " needs write access to cgroup.procs of the closest cgroup above both it and ours (" +
         main_cgroup_of(read_text("/proc/self/cgroup")).value_or("?") +
         "): run ward from a cgroup inside the subtree delegated to uid " +
         std::to_string(::geteuid()));
  }
}

std::string root_hint(int err) {
  if (!g.rootless || (err != EACCES && err != EPERM)) return "";
  return " (rootless: set XDG_RUNTIME_DIR to a directory of yours, or pass --root)";
}

int root_fd(bool create) {
  int& fd = g_root_fd;
  if (fd >= 0) return fd;
  if (create) {
    // runc makes --root and its parents 0700 (MkdirAll); an existing one
    // is left as it is.
    std::string p;
    for (auto& part : fs::path(g.root)) {
      p = (fs::path(p) / part).string();
      if (p != "/" && ::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST)
        fail("mkdir " + p + ": " + std::strerror(errno) + root_hint(errno));
    }
  }
  fd = ::open(g.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && (create || errno != ENOENT))
    fail("open --root " + g.root + ": " + std::strerror(errno));
  return fd;
}

std::vector<std::string> cgroup_mounts() {
  const auto& host = ward::cgroup_host();
  std::vector<std::string> mounts;
  if (!host.unified_mount.empty()) mounts.push_back(host.unified_mount);
  for (const auto& h : host.v1_hierarchies) mounts.push_back(h.mount);
  return mounts;
}

void remove_default_parent(const Container& c) {
  if (c.cgroup.empty() || c.cgroup_path() != "/ward/" + c.id) return;
  for (const auto& mnt : cgroup_mounts()) {
    const std::string path = mnt + "/ward";
    if (::rmdir(path.c_str()) == 0) continue;
    const int e = errno;
    // In use (another container's cgroup below it), gone, or not ours to
    // remove (a rootless caller): all fine.
    if (e != ENOENT && e != EBUSY && e != ENOTEMPTY && e != EACCES && e != EPERM && e != EROFS)
      log_line("warning", "rmdir " + path + ": " + std::strerror(e));
  }
}

std::optional<std::vector<std::string>> dir_entries(int dirfd) {
  const int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (d == nullptr) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    errno = e;
    return std::nullopt;
  }
  std::vector<std::string> names;
  while (dirent* ent = ::readdir(d)) {
    std::string_view n = ent->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

std::vector<std::string> container_entries() {
  const int r = root_fd();
  auto names = r >= 0 ? dir_entries(r) : std::nullopt;
  if (!names) return {};
  std::erase_if(*names, [](const std::string& n) { return n[0] == '.'; });
  return std::move(*names);
}

ward::UniqueFd open_container_dir(const std::string& id) {
  check_id(id);
  int r = root_fd();
  if (r < 0) return ward::UniqueFd();
  return ward::UniqueFd(::openat(r, id.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

void remove_state_dir(const std::string& id) {
  check_id(id);
  int r = root_fd();
  if (r < 0) return;
  // The usual case first, ward's own files then the directory (a few
  // system calls; bench/README.md): the full walk only when something
  // else is in it, or it is not a directory.
  if (ward::UniqueFd d = open_container_dir(id)) {
    ::unlinkat(d.get(), "exec.fifo", 0);
    ::unlinkat(d.get(), "state.json", 0);
    if (::unlinkat(r, id.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
  }
  remove_below(r, id, container_dir(id), 0);
}

std::string container_dir(const std::string& id) { return g.root + "/" + id; }

// The process's start time (proc(5) stat field 22): with the pid, it names
// one process for the life of the system.
std::optional<std::uint64_t> start_time(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string s;
  bool ok = read_fd(fd, s);
  ::close(fd);
  if (!ok) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold anything, so fields are
  // counted from the last ')'. Field 3 is the state, 22 the start time.
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::size_t pos = rp + 1;
  std::string_view field;
  for (int i = 3; i <= 22; ++i) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    std::size_t end = s.find_first_of(" \n", pos);
    if (end == std::string::npos) end = s.size();
    if (end == pos) return std::nullopt;
    field = std::string_view(s).substr(pos, end - pos);
    pos = end;
    if (i == 3 && field == "Z") return std::nullopt;  // a zombie has exited
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc() || p != field.data() + field.size()) return std::nullopt;
  return v;
}

DirLock::DirLock(const Container& c) {
  // A descriptor of its own (its own open file description): flock locks
  // belong to the description, and c.dfd is shared with nothing.
  fd = ::openat(c.dfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("open " + c.dir + ": " + std::strerror(errno));
  while (::flock(fd, LOCK_EX) != 0 && errno == EINTR) {
  }
  c.locked = true;
}

std::string Container::cgroup_path() const {
  std::string rel = cgroup;  // absolute under the unified mount, or relative to it
  const std::string& mnt = ward::cgroup_host().unified_mount;
  if (!mnt.empty() && rel.rfind(mnt + "/", 0) == 0) rel = rel.substr(mnt.size());
  if (rel.empty() || rel[0] != '/') rel = "/" + rel;
  return rel;
}

std::optional<std::string> main_cgroup_of(const std::string& proc_cgroup) {
  // The unified hierarchy's line where the host has it (it holds every
  // process), else the first v1 hierarchy's.
  const auto& host = ward::cgroup_host();
  std::string want;
  if (host.unified_mount.empty()) {
    if (host.v1_hierarchies.empty()) return std::nullopt;
    want = host.v1_hierarchies.front().controllers.front();
  }
  return ward::cgroup_parse::hierarchy_path(proc_cgroup, want);
}

bool Container::in_own_cgroup(pid_t pid) const {
  if (cgroup.empty() || !cgroup_owned) return true;
  const std::string rel = cgroup_path();
  int fd = ::open(("/proc/" + std::to_string(pid) + "/cgroup").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string text;
  bool ok = read_fd(fd, text);
  ::close(fd);
  if (!ok) return false;
  const auto& host = ward::cgroup_host();
  if (host.unified_mount.empty() && host.v1_hierarchies.empty()) return true;
  auto path = main_cgroup_of(text);
  return path && (*path == rel || path->rfind(rel + "/", 0) == 0);
}

bool Container::busy() const {
  if (locked) return false;
  ward::UniqueFd fd(::openat(dfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return false;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
    ::flock(fd.get(), LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

ward::oci::Status Container::status() const {
  if (state.status == ward::oci::Status::creating || state.pid <= 0)
    return busy() ? ward::oci::Status::creating : ward::oci::Status::stopped;
  if (!alive()) return ward::oci::Status::stopped;
  if (::faccessat(dfd.get(), "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return ward::oci::Status::created;
  if (auto cg = open_cgroup()) {
    try {
      if (cg->frozen()) return ward::oci::Status::paused;
    } catch (const Error&) {
    }
  }
  return ward::oci::Status::running;
}

void Container::save() const {
  json::Value v = json::parse(ward::oci::to_json(state));
  v.set("wardStarttime", starttime);
  v.set("wardCgroup", cgroup);
  v.set("wardCgroupOwned", cgroup_owned);
  if (!systemd_unit.empty()) v.set("wardSystemdUnit", systemd_unit);
  if (no_new_keyring) v.set("wardNoNewKeyring", true);
  if (rootfs_mount) {
    json::Value m = json::Value::object();
    m.set("path", rootfs_mount.path);
    m.set("id", rootfs_mount.id);
    m.set("unique", rootfs_mount.unique);
    if (rootfs_mount.ns_ino != 0) {
      m.set("nsDev", rootfs_mount.ns_dev);
      m.set("nsIno", rootfs_mount.ns_ino);
    }
    v.set("wardRootfsMount", std::move(m));
  }
  write_atomic_at(dfd.get(), "state.json", json::dump(v, {.indent = 2}), 0600, dir + "/state.json");
}

namespace {
ward::RootfsMount rootfs_mount_of(const json::Value& v) {
  ward::RootfsMount m;
  if (auto* p = v.find("path")) m.path = p->as_string();
  if (auto* i = v.find("id")) m.id = i->as_uint64();
  if (auto* u = v.find("unique")) m.unique = u->as_bool();
  if (auto* d = v.find("nsDev")) m.ns_dev = d->as_uint64();
  if (auto* i = v.find("nsIno")) m.ns_ino = i->as_uint64();
  // Only an absolute path is ever recorded.
  if (m.path.empty() || m.path[0] != '/') m.id = 0;
  return m;
}
}  // namespace

Container load(const std::string& id, bool lenient) {
  check_id(id);
  Container c;
  c.id = id;
  c.dir = container_dir(id);
  c.state.id = id;
  c.dfd = open_container_dir(id);
  if (!c.dfd) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) fail("container does not exist");
    fail("open " + c.dir + ": " + std::strerror(errno));
  }
  const std::string shown = c.dir + "/state.json";
  ward::UniqueFd fd(::openat(c.dfd.get(), "state.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  std::string text;
  if (!fd) {
    // A directory without its record: a create that died before writing
    // it (nothing else exists yet), or a delete cut short.
    if (!lenient) fail("container does not exist");
    return c;
  }
  if (!read_fd(fd.get(), text)) fail("read " + shown + ": " + std::strerror(errno));
  try {
    c.state = ward::oci::parse_state(text, shown);
    auto rt = json::parse(text);
    if (auto* v = rt.find("wardStarttime")) c.starttime = v->as_uint64();
    if (auto* v = rt.find("wardCgroup")) c.cgroup = v->as_string();
    if (auto* v = rt.find("wardCgroupOwned")) c.cgroup_owned = v->as_bool();
    if (auto* v = rt.find("wardSystemdUnit")) c.systemd_unit = v->as_string();
    if (auto* v = rt.find("wardNoNewKeyring")) c.no_new_keyring = v->as_bool();
    if (auto* v = rt.find("wardRootfsMount")) c.rootfs_mount = rootfs_mount_of(*v);
    c.recorded = true;
  } catch (const std::exception&) {
    if (!lenient) throw;
    c.state = ward::oci::State{};
    c.state.id = id;
    // What can still be read of it (records are written atomically, so
    // this is someone else's file or an older ward's).
    try {
      auto rt = json::parse(text);
      if (auto* v = rt.find("bundle")) c.state.bundle = v->as_string();
      if (auto* v = rt.find("wardCgroup")) c.cgroup = v->as_string();
      if (auto* v = rt.find("wardCgroupOwned")) c.cgroup_owned = v->as_bool();
      if (auto* v = rt.find("wardSystemdUnit")) c.systemd_unit = v->as_string();
      if (auto* v = rt.find("wardRootfsMount")) c.rootfs_mount = rootfs_mount_of(*v);
    } catch (const std::exception&) {
    }
  }
  return c;
}

}  // namespace wardrt
