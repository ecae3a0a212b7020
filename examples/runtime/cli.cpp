// SPDX-License-Identifier: Apache-2.0
// runc's command line, read the way runc reads it: urfave/cli v1 on top of
// Go's flag package (runc vendors both). Every command has a table of the
// flags runc 1.2-1.5 defines for it (main.go, create.go, run.go, exec.go,
// ...), plus the few crun spells differently that crun's own tests use.
// What that means, rule by rule:
//  - "-name" and "--name" are the same; a value is "--name value" or
//    "--name=value"; a flag with a value always takes the next argument,
//    even one starting with '-' (flag.FlagSet.parseOne).
//  - a bool flag never takes the next argument; "--name=false" sets it.
//  - an unknown flag is an error, "flag provided but not defined: -name",
//    never a switch: a switch would leave its value to be read as the
//    container id (--pidfd-socket PATH, as containerd's go-runc sends it).
//  - flags may follow the positional arguments for every command but exec
//    (urfave's reorderArgs moves the command's own flags to the front;
//    exec sets SkipArgReorder: what follows its id is the command); "--"
//    ends the flags.
//  - values are checked as Go parses them: int (strconv.ParseInt base 0),
//    int64 lists (one value per use), durations, booleans.
#include "runtime.hpp"

namespace wardrt {

namespace {

std::vector<std::string> split_names(const char* names) {
  std::vector<std::string> v;
  std::string_view s = names;
  while (!s.empty()) {
    auto c = s.find(',');
    std::string_view n = s.substr(0, c);
    while (!n.empty() && n.front() == ' ') n.remove_prefix(1);
    v.emplace_back(n);
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return v;
}

const FlagDef* find_flag(const std::vector<FlagDef>& defs, std::string_view name) {
  for (auto& d : defs)
    for (auto& n : split_names(d.names))
      if (n == name) return &d;
  return nullptr;
}

// urfave/cli argIsFlag: "-x", "--x", "-x=v", "--x=v" naming a flag of the
// command ("-" and "--" are never flags).
bool arg_is_flag(const std::vector<FlagDef>& defs, const std::string& arg) {
  if (arg == "-" || arg == "--" || arg.empty() || arg[0] != '-') return false;
  std::string_view n = arg;
  n.remove_prefix(n.rfind("--", 0) == 0 ? 2 : 1);
  n = n.substr(0, n.find('='));
  return find_flag(defs, n) != nullptr;
}

// urfave/cli reorderArgs: the command's own flags (and the argument after
// each one without "=") first, the rest after, "--" and what follows last.
std::vector<std::string> reorder(const std::vector<FlagDef>& defs,
                                 const std::vector<std::string>& args) {
  std::vector<std::string> flags, rest;
  bool may_be_value = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (may_be_value && !arg_is_flag(defs, a)) {
      may_be_value = false;
      flags.push_back(a);
    } else if (a == "--") {
      rest.insert(rest.begin(), "--");
      rest.insert(rest.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    } else if (arg_is_flag(defs, a)) {
      flags.push_back(a);
      may_be_value = a.find('=') == std::string::npos;
    } else {
      rest.push_back(a);
    }
  }
  flags.insert(flags.end(), rest.begin(), rest.end());
  return flags;
}

// strconv.ParseBool.
std::optional<bool> parse_bool(const std::string& v) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    if (v == t) return true;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    if (v == f) return false;
  return std::nullopt;
}

// strconv.ParseInt(s, 0, 64): optional sign, then decimal, 0x hex, 0o or
// leading-0 octal, 0b binary; '_' between digits only with a base prefix.
// "" on success, else "invalid syntax" or "value out of range".
std::string parse_int(const std::string& s, std::int64_t& out) {
  std::string_view v = s;
  bool neg = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  int base = 10;
  bool prefixed = false;
  if (v.size() > 1 && v[0] == '0') {
    char b = static_cast<char>(std::tolower(static_cast<unsigned char>(v[1])));
    if (b == 'x' || b == 'o' || b == 'b') {
      base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
      v.remove_prefix(2);
    } else {
      base = 8;
      v.remove_prefix(1);
    }
    prefixed = true;
  }
  std::string digits;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '_' && prefixed && i > 0 && i + 1 < v.size() && v[i - 1] != '_') continue;
    digits += v[i];
  }
  if (digits.empty()) return "invalid syntax";
  unsigned long long u = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
  if (p != digits.data() + digits.size()) return "invalid syntax";
  const unsigned long long lim = neg ? (1ULL << 63) : (1ULL << 63) - 1;
  if (ec == std::errc::result_out_of_range || u > lim) return "value out of range";
  out = neg ? static_cast<std::int64_t>(0 - u) : static_cast<std::int64_t>(u);
  return {};
}

// time.ParseDuration, to seconds: [-+]? then one or more <decimal><unit>
// (ns, us, µs, ms, s, m, h); "0" alone is allowed.
std::optional<double> parse_duration(const std::string& s) {
  std::string_view v = s;
  double sign = 1;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    sign = v[0] == '-' ? -1 : 1;
    v.remove_prefix(1);
  }
  if (v == "0") return 0.0;
  if (v.empty()) return std::nullopt;
  double total = 0;
  while (!v.empty()) {
    std::size_t n = 0;
    while (n < v.size() && (std::isdigit(static_cast<unsigned char>(v[n])) || v[n] == '.')) ++n;
    if (n == 0) return std::nullopt;
    std::string num(v.substr(0, n));
    if (std::count(num.begin(), num.end(), '.') > 1 || num == ".") return std::nullopt;
    v.remove_prefix(n);
    static const std::pair<const char*, double> units[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"\xce\xbcs", 1e-6},
        {"ms", 1e-3}, {"s", 1},     {"m", 60},           {"h", 3600}};
    double mult = 0;
    for (auto& [u, m] : units) {
      std::string_view us = u;
      if (v.rfind(us, 0) == 0) {
        mult = m;
        v.remove_prefix(us.size());
        break;
      }
    }
    if (mult == 0) return std::nullopt;
    total += std::strtod(num.c_str(), nullptr) * mult;
  }
  return sign * total;
}

// One value into the flag's list, checked as Go's flag package (and
// urfave's Int64Slice) would; the error texts are theirs.
void set_value(const FlagDef& d, const std::string& shown, const std::string& value, Args& a) {
  const std::string key = split_names(d.names)[0];
  switch (d.kind) {
    case FlagKind::boolean:
      if (!parse_bool(value))
        throw UsageError{"invalid boolean value \"" + value + "\" for -" + shown + ": parse error"};
      break;
    case FlagKind::integer: {
      std::int64_t v = 0;
      if (!parse_int(value, v).empty())
        throw UsageError{"invalid value \"" + value + "\" for flag -" + shown + ": parse error"};
      break;
    }
    case FlagKind::int64_list: {
      std::int64_t v = 0;
      std::string e = parse_int(value, v);
      if (!e.empty())
        throw UsageError{"invalid value \"" + value + "\" for flag -" + shown +
                         ": strconv.ParseInt: parsing \"" + value + "\": " + e};
      break;
    }
    case FlagKind::duration:
      if (!parse_duration(value))
        throw UsageError{"invalid value \"" + value + "\" for flag -" + shown + ": parse error"};
      break;
    case FlagKind::string:
    case FlagKind::string_list: break;
  }
  auto& slot = a.vals[key];
  // A flag given twice: the last value wins, but lists keep every one.
  if (d.kind != FlagKind::string_list && d.kind != FlagKind::int64_list) slot.clear();
  slot.push_back(value);
  a.form[shown] = key;
}

// urfave normalizeFlags: two names of one flag ("--bundle x -b y") is an
// error, naming the second and the first in the table's order. Not for a
// list ("--env A=1 -e B=2"): each value is kept, nothing is ambiguous, and
// crun takes both (its test exec-add-environment_variable does).
void check_forms(const std::vector<FlagDef>& defs, const Args& a) {
  for (auto& d : defs) {
    if (d.kind == FlagKind::string_list || d.kind == FlagKind::int64_list) continue;
    std::vector<std::string> used;
    for (auto& n : split_names(d.names))
      if (a.form.count(n)) used.push_back(n);
    if (used.size() > 1)
      throw UsageError{"Cannot use two forms of the same flag: " + used[1] + " " + used[0]};
  }
}

}  // namespace

bool Args::has(const std::string& k) const { return vals.count(k) != 0; }

std::string Args::get(const std::string& k, std::string def) const {
  auto it = vals.find(k);
  return it == vals.end() || it->second.empty() ? def : it->second.back();
}

std::vector<std::string> Args::all(const std::string& k) const {
  auto it = vals.find(k);
  return it == vals.end() ? std::vector<std::string>{} : it->second;
}

bool Args::flag(const std::string& k) const { return has(k) && *parse_bool(get(k)); }

std::int64_t Args::integer(const std::string& k, std::int64_t def) const {
  if (!has(k)) return def;
  std::int64_t v = 0;
  parse_int(get(k), v);
  return v;
}

std::vector<std::int64_t> Args::integers(const std::string& k) const {
  std::vector<std::int64_t> out;
  for (auto& s : all(k)) {
    std::int64_t v = 0;
    parse_int(s, v);
    out.push_back(v);
  }
  return out;
}

double Args::seconds(const std::string& k, double def) const {
  return has(k) ? *parse_duration(get(k)) : def;
}

bool parse_int64(const std::string& s, std::int64_t& out) { return parse_int(s, out).empty(); }

Args parse_flags(const std::vector<FlagDef>& defs, std::vector<std::string> in, bool reorder_args) {
  if (reorder_args) in = reorder(defs, in);
  Args a;
  std::size_t i = 0;
  // flag.FlagSet.Parse: flags until the first argument that is not one.
  for (; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (s.size() < 2 || s[0] != '-') break;
    std::size_t dashes = s[1] == '-' ? 2 : 1;
    if (dashes == 2 && s.size() == 2) {
      ++i;
      break;
    }
    std::string name = s.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') throw UsageError{"bad flag syntax: " + s};
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help" || name == "h") {
      a.help = true;
      continue;
    }
    const FlagDef* d = find_flag(defs, name);
    if (d == nullptr) throw UsageError{"flag provided but not defined: -" + name};
    if (d->kind == FlagKind::boolean) {
      set_value(*d, name, value.value_or("true"), a);
      continue;
    }
    if (!value) {
      if (i + 1 >= in.size()) throw UsageError{"flag needs an argument: -" + name};
      value = in[++i];
    }
    set_value(*d, name, *value, a);
  }
  check_forms(defs, a);
  a.pos.assign(in.begin() + static_cast<std::ptrdiff_t>(i), in.end());
  return a;
}

}  // namespace wardrt
