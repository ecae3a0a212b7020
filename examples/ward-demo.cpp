// SPDX-License-Identifier: Apache-2.0
// ward-demo: start a sandboxed child and show what it sees.
//
// The child gets new user, pid, mount, uts, ipc, cgroup and network
// namespaces; it runs /bin/sh, which prints its pid, hostname, uid map and
// network interfaces. Run as root or as any user (the user namespace maps
// the caller to root inside, the way `unshare -r` does).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <ward/ward.hpp>

int main() {
  using namespace ward;
  const char* script =
      "echo \"  pid inside:        $$\"\n"
      "echo \"  hostname:          $(hostname)\"\n"
      "echo \"  uid inside:        $(id -u)\"\n"
      "echo \"  uid map:           $(tr -s ' ' < /proc/self/uid_map | sed 's/^ //')\"\n"
      "echo \"  interfaces:        $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' "
      "' ')\"\n"
      "echo \"  lo flags:          $(ip -o link show lo 2>/dev/null | grep -o '<[^>]*>' || echo "
      "'(no ip tool)')\"\n"
      "echo \"  open descriptors:  $(ls /proc/self/fd | tr '\\n' ' ')(3 is ls reading the "
      "list)\"\n";
  try {
    Sandbox sb({"/bin/sh", "-c", script});
    sb.unshare(NsSet{NsKind::user, NsKind::pid, NsKind::mount, NsKind::uts, NsKind::ipc,
                     NsKind::cgroup, NsKind::net})
        .hostname("ward-demo")
        .setenv("PATH", "/usr/bin:/bin")
        .stdin_(Stdio::null());
    std::cout << "ward " << version << ": spawning /bin/sh in new "
              << NsSet{NsKind::user, NsKind::pid,    NsKind::mount, NsKind::uts,
                       NsKind::ipc,  NsKind::cgroup, NsKind::net}
                     .to_string()
              << " namespaces\n"
              << "  (parent: pid " << ::getpid() << ", uid " << ::geteuid() << ")\n";
    std::cout.flush();
    Child child = sb.spawn();
    ExitStatus st = child.wait();
    std::cout << "child " << st.describe() << "\n";
    return st.shell_status();
  } catch (const Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
