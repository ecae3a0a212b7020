// SPDX-License-Identifier: Apache-2.0
// runc's command line: flags before and after the command.
#include "runtime.hpp"

namespace wardrt {

// one dash or two).
const std::vector<std::string> kValueFlags = {"root",
                                              "log",
                                              "log-format",
                                              "bundle",
                                              "b",
                                              "console-socket",
                                              "pid-file",
                                              "preserve-fds",
                                              "process",
                                              "p",
                                              "cwd",
                                              "env",
                                              "e",
                                              "user",
                                              "u",
                                              "cap",
                                              "c",
                                              "format",
                                              "f",
                                              "signal",
                                              "interval",
                                              "resources",
                                              "r",
                                              "cgroup-manager",
                                              "memory",
                                              "memory-swap",
                                              "memory-reservation",
                                              "cpu-quota",
                                              "cpu-period",
                                              "cpu-shares",
                                              "cpuset-cpus",
                                              "cpuset-mems",
                                              "pids-limit",
                                              "blkio-weight",
                                              "additional-gids",
                                              "g",
                                              "process-label",
                                              "apparmor",
                                              "criu",
                                              "rootless",
                                              "cpu-rt-runtime",
                                              "cpu-rt-period",
                                              "kernel-memory",
                                              "kernel-memory-tcp",
                                              "l3-cache-schema",
                                              "mem-bw-schema"};

// "-f" is --force for delete but --format for list, ps and events.
std::string g_cmd;
bool takes_value(const std::string& name) {
  if (name == "f") return g_cmd == "list" || g_cmd == "ps" || g_cmd == "events";
  for (auto& f : kValueFlags)
    if (f == name) return true;
  return false;
}

// Parses flags until the first positional argument when `stop_at_pos` (the
// global flags before the command; and exec's command after the id).
Args parse_args(const std::vector<std::string>& in, std::size_t& i, bool stop_at_pos,
                std::size_t max_pos) {
  Args a;
  for (; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (s == "--") {
      ++i;
      break;
    }
    if (s.size() > 1 && s[0] == '-' && a.pos.size() < max_pos) {
      std::string name = s.substr(s[1] == '-' ? 2 : 1);
      std::string value;
      auto eq = name.find('=');
      bool has_eq = eq != std::string::npos;
      if (has_eq) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      // --rootless takes an optional value (true/false/auto).
      if (name == "rootless" && !has_eq) {
        a.opts.emplace(name, "true");
        continue;
      }
      if (!has_eq && takes_value(name)) {
        if (i + 1 >= in.size()) fail("flag needs an argument: -" + name);
        value = in[++i];
      }
      a.opts.emplace(name, value);
      continue;
    }
    if (stop_at_pos) break;
    a.pos.push_back(s);
    if (a.pos.size() >= max_pos) {
      ++i;
      break;
    }
  }
  for (; i < in.size() && max_pos != ~std::size_t{0}; ++i) a.pos.push_back(in[i]);
  return a;
}

}  // namespace wardrt
