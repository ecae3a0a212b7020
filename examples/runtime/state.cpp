// SPDX-License-Identifier: Apache-2.0
// The state store: <root>/<id>/ with state.json, runtime.json and exec.fifo.
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

// Atomic replacement: readers see the old or the new file, never half.
void write_atomic(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) fail("open " + tmp + ": " + std::strerror(errno));
  // No fsync: the state lives under /run (tmpfs), which does not outlive
  // a reboot, and rename alone makes the replacement atomic for readers.
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail("write " + path + ": " + std::strerror(e));
  }
}

// A container's state directory: the files ward puts there, then the
// directory; anything else found in it (not ward's) by a recursive removal.
void remove_state_dir(const std::string& dir) {
  for (const char* name : {"state.json", "runtime.json", "exec.fifo"})
    ::unlink((dir + "/" + name).c_str());
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

void check_id(const std::string& id) {
  if (id.empty()) fail("container id cannot be empty");
  for (char ch : id)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.' ||
          ch == '+' || ch == ':'))
      fail("invalid id format: " + id);
  if (id == "." || id == "..") fail("invalid id format: " + id);
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

Container load(const std::string& id) {
  check_id(id);
  Container c;
  c.id = id;
  c.dir = container_dir(id);
  struct stat st;
  if (::stat((c.dir + "/state.json").c_str(), &st) != 0) fail("container does not exist");
  c.state = ward::oci::parse_state(read_text(c.dir + "/state.json"), c.dir + "/state.json");
  auto rt = json::parse(read_text(c.dir + "/runtime.json"));
  if (auto* v = rt.find("starttime")) c.starttime = v->as_uint64();
  if (auto* v = rt.find("cgroup")) c.cgroup = v->as_string();
  return c;
}

}  // namespace wardrt
