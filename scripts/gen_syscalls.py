#!/usr/bin/env python3
"""Generate include/ward/detail/syscall_tables.hpp from the kernel's uapi headers.

ward compiles seccomp rules to classic BPF itself (no libseccomp at run time),
so it needs, for every architecture a filter may have to match, the system
call numbers by name. They come from the uapi `asm/unistd*.h` headers that
Debian ships:

  x86_64, i386, x32   linux-libc-dev (native on amd64), /usr/include
  aarch64             linux-libc-dev-arm64-cross,   /usr/aarch64-linux-gnu/include
  arm (EABI)          linux-libc-dev-armhf-cross,   /usr/arm-linux-gnueabihf/include
  riscv64             linux-libc-dev-riscv64-cross, /usr/riscv64-linux-gnu/include

The headers are not parsed by hand: aarch64 and riscv64 use
asm-generic/unistd.h, whose numbers go through `__NR3264_*` indirections and
`#if __BITS_PER_LONG` / `__ARCH_WANT_*` blocks. Instead the C preprocessor
reads each arch's headers with `-undef -nostdinc` and exactly the predefined
macros that arch's compiler would set (so the host's __x86_64__ etc. cannot
leak in), once with -dM to list the `__NR_*` macros and once more to expand
each of them to an integer expression, which is evaluated here (integers,
parentheses, + - | & << >>, nothing else).

Usage:
  python3 scripts/gen_syscalls.py            write include/ward/detail/syscall_tables.hpp
  python3 scripts/gen_syscalls.py --check    exit 1 if that file is stale,
                                             77 ("WARD-SKIP: ...") if a header is missing
  python3 scripts/gen_syscalls.py --stdout   print the result instead of writing it

Needs python3 (standard library only) and cpp (gcc's C preprocessor).
"""

import argparse
import ast
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "include", "ward", "detail", "syscall_tables.hpp")
SKIP_EXIT_CODE = 77  # ctest SKIP_RETURN_CODE of every ward test

# enum name, libseccomp/OCI name, extra libseccomp name, include dirs, the
# header that must exist, predefined macros of that arch's compiler (only the
# ones the uapi headers look at), AUDIT_ARCH_* macro of <linux/audit.h>, and
# the Debian package that provides the headers.
ARCHES = [
    ("x86_64", "SCMP_ARCH_X86_64", None,
     ["/usr/include/x86_64-linux-gnu", "/usr/include"], "asm/unistd_64.h",
     ["__x86_64__", "__LP64__", "__SIZEOF_POINTER__=8", "__SIZEOF_LONG__=8"],
     "AUDIT_ARCH_X86_64", "linux-libc-dev"),
    ("i386", "SCMP_ARCH_X86", "x86",
     ["/usr/include/x86_64-linux-gnu", "/usr/include"], "asm/unistd_32.h",
     ["__i386__", "__SIZEOF_POINTER__=4", "__SIZEOF_LONG__=4"],
     "AUDIT_ARCH_I386", "linux-libc-dev"),
    # x32 reports AUDIT_ARCH_X86_64 and marks its calls with __X32_SYSCALL_BIT
    # in the number instead (see seccomp(2), "Caveats").
    ("x32", "SCMP_ARCH_X32", None,
     ["/usr/include/x86_64-linux-gnu", "/usr/include"], "asm/unistd_x32.h",
     ["__x86_64__", "__ILP32__", "__SIZEOF_POINTER__=4", "__SIZEOF_LONG__=4"],
     "AUDIT_ARCH_X86_64", "linux-libc-dev"),
    ("aarch64", "SCMP_ARCH_AARCH64", None,
     ["/usr/aarch64-linux-gnu/include"], "asm/unistd.h",
     ["__aarch64__", "__LP64__", "__SIZEOF_POINTER__=8", "__SIZEOF_LONG__=8"],
     "AUDIT_ARCH_AARCH64", "linux-libc-dev-arm64-cross"),
    ("arm", "SCMP_ARCH_ARM", None,
     ["/usr/arm-linux-gnueabihf/include"], "asm/unistd.h",
     ["__arm__", "__ARM_EABI__", "__ARMEL__", "__SIZEOF_POINTER__=4", "__SIZEOF_LONG__=4"],
     "AUDIT_ARCH_ARM", "linux-libc-dev-armhf-cross"),
    ("riscv64", "SCMP_ARCH_RISCV64", None,
     ["/usr/riscv64-linux-gnu/include"], "asm/unistd.h",
     ["__riscv", "__riscv_xlen=64", "__LP64__", "__SIZEOF_POINTER__=8", "__SIZEOF_LONG__=8"],
     "AUDIT_ARCH_RISCV64", "linux-libc-dev-riscv64-cross"),
]

# `__NR_*` macros that are not system calls: asm-generic's table size and the
# start of its arch-private range; ARM's base/mask constants (upper case, and
# dropped by the lower-case rule below anyway).
NOT_SYSCALLS = {"syscalls", "arch_specific_syscall"}

# ARM's private calls (arch/arm/kernel/traps.c arm_syscall()) are
# `__ARM_NR_<name>` = 0x0f0000 + n. libseccomp and OCI profiles (e.g. Docker's
# default profile allows "breakpoint", "cacheflush", "set_tls") call them by
# their bare names, so they are listed under those; none clashes with an
# `__NR_` name.
ARM_PRIVATE_PREFIX = "__ARM_NR_"
ARM_PRIVATE_SKIP = {"BASE"}

NR_NAME_RE = re.compile(r"^#define (__NR_([A-Za-z0-9_]+)|__ARM_NR_([A-Za-z0-9_]+))[ \t]+(.*)$")
VERSION_RE = re.compile(r"^#define LINUX_VERSION_CODE (\d+)$", re.M)
INT_RE = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")


class GenError(Exception):
    pass


class MissingHeader(GenError):
    pass


def find_cpp():
    for name in ("cpp", "gcc"):
        path = shutil.which(name)
        if path:
            return [path, "-E"] if name == "gcc" else [path]
    raise MissingHeader("no C preprocessor (cpp or gcc) found; apt-get install cpp")


def run_cpp(cpp, include_dirs, defines, source, dump_macros):
    args = list(cpp) + ["-undef", "-nostdinc", "-P", "-x", "c"]
    if dump_macros:
        args.append("-dM")
    for d in include_dirs:
        args += ["-I", d]
    for d in defines:
        args += ["-D", d]
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(source)
        name = f.name
    try:
        res = subprocess.run(args + [name], capture_output=True, text=True)
    finally:
        os.unlink(name)
    if res.returncode != 0:
        raise GenError("%s failed:\n%s" % (" ".join(args), res.stderr))
    return res.stdout


def evaluate(expr, what):
    """Value of a preprocessed integer expression, e.g. `((0x0f0000 +0)+2)`."""
    text = INT_RE.sub(r"\1", expr.strip())
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise GenError("%s: cannot parse %r" % (what, expr))

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            v = ev(node.operand)
            return v if isinstance(node.op, ast.UAdd) else -v
        if isinstance(node, ast.BinOp):
            ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
                   ast.BitOr: lambda a, b: a | b, ast.BitAnd: lambda a, b: a & b,
                   ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b}
            for op, fn in ops.items():
                if isinstance(node.op, op):
                    return fn(ev(node.left), ev(node.right))
        raise GenError("%s: %r is not a plain integer expression" % (what, expr))

    return ev(tree)


def kernel_version(include_dirs, cpp):
    for d in include_dirs:
        path = os.path.join(d, "linux", "version.h")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                m = VERSION_RE.search(f.read())
            if m:
                code = int(m.group(1))
                return "%d.%d.%d" % (code >> 16, (code >> 8) & 0xff, code & 0xff), code
    raise MissingHeader("no linux/version.h under %s" % " ".join(include_dirs))


def audit_arch_values(cpp):
    """AUDIT_ARCH_* of every arch, from the native <linux/audit.h>."""
    macros = sorted({a[6] for a in ARCHES})
    src = "#include <linux/audit.h>\n" + "".join(
        'WARD_AUDIT "%s" %s\n' % (m, m) for m in macros)
    out = run_cpp(cpp, ["/usr/include/x86_64-linux-gnu", "/usr/include"], [], src, False)
    values = {}
    for line in out.splitlines():
        if line.startswith("WARD_AUDIT "):
            _, name, expr = line.split(" ", 2)
            name = name.strip('"')
            values[name] = evaluate(expr, name) & 0xFFFFFFFF
    missing = [m for m in macros if m not in values]
    if missing:
        raise GenError("could not evaluate %s from linux/audit.h" % ", ".join(missing))
    return values


def arch_table(cpp, arch):
    name, _, _, include_dirs, header, defines, _, package = arch
    found = [d for d in include_dirs if os.path.isfile(os.path.join(d, header))]
    if not found:
        raise MissingHeader("%s is missing for %s (apt-get install %s)"
                            % (os.path.join(include_dirs[0], header), name, package))
    header_path = os.path.join(found[0], header)
    # Always through asm/unistd.h: on x86 it picks unistd_{64,32,x32}.h by the
    # predefined macros and defines __X32_SYSCALL_BIT, which x32's numbers use.
    src = "#include <asm/unistd.h>\n"
    macros = run_cpp(cpp, include_dirs, defines, src, True)

    names = []  # (syscall name, macro)
    bodies = {}
    for line in macros.splitlines():
        m = NR_NAME_RE.match(line)
        if not m:
            continue
        macro, nr_name, arm_name, body = m.group(1), m.group(2), m.group(3), m.group(4)
        bodies[macro] = body.strip()
        if nr_name is not None:
            if nr_name in NOT_SYSCALLS or nr_name != nr_name.lower():
                continue
            names.append((nr_name, macro))
        elif name == "arm" and arm_name not in ARM_PRIVATE_SKIP:
            names.append((arm_name, macro))
    if not names:
        raise GenError("%s: no __NR_* macros found" % header_path)

    # Expand every macro fully in a second pass and evaluate the result.
    # The name goes in quotes so that it is never itself macro-expanded.
    src += "".join('WARD_NR "%s" %s\n' % (n, macro) for n, macro in names)
    out = run_cpp(cpp, include_dirs, defines, src, False)
    table = {}
    for line in out.splitlines():
        if not line.startswith("WARD_NR "):
            continue
        _, n, expr = line.split(" ", 2)
        n = n.strip('"')
        table[n] = evaluate(expr, "%s %s" % (name, n))
    # A macro defined as another `__NR_` name is an alias (ARM's
    # sync_file_range2 = arm_sync_file_range); syscall_name() prefers the
    # name it aliases.
    aliases = {n for n, macro in names if re.fullmatch(r"__NR_\w+", bodies[macro])}
    for n, nr in table.items():
        if not 0 <= nr <= 0xFFFFFFFF:
            raise GenError("%s %s = %d is not a 32-bit syscall number" % (name, n, nr))
    version, code = kernel_version(include_dirs, cpp)
    return {"header": header_path, "table": table, "aliases": aliases,
            "version": version, "code": code}


def cxx_ident(arch_name):
    return arch_name  # all enum names are valid identifiers


def render(results, audit):
    out = []
    w = out.append
    w("// SPDX-License-Identifier: Apache-2.0")
    w("// System call numbers of the architectures ward's seccomp filters can match.")
    w("// Generated by scripts/gen_syscalls.py; do not edit.")
    w("//")
    w("// Source: the Linux uapi headers of Debian's linux-libc-dev packages, read with the")
    w("// C preprocessor as each architecture's compiler would (-undef -nostdinc plus its")
    w("// predefined macros), so asm-generic's __NR3264_* and __ARCH_WANT_* blocks resolve")
    w("// as they do for that architecture's 64- or 32-bit userspace:")
    width = max(len(a[0]) for a in ARCHES)
    for arch in ARCHES:
        r = results[arch[0]]
        w("//   %-*s Linux %s (LINUX_VERSION_CODE %d), from" % (
            width, arch[0], r["version"], r["code"]))
        w("//   %-*s %s" % (width, "", r["header"]))
    w("// ARM's private calls (__ARM_NR_breakpoint, cacheflush, usr26, usr32, set_tls,")
    w("// get_tls) are listed under their bare names, as libseccomp and OCI profiles name them.")
    w("#pragma once")
    w("")
    w("#include <cstddef>")
    w("#include <cstdint>")
    w("#include <optional>")
    w("#include <span>")
    w("#include <string_view>")
    w("")
    w("namespace ward::detail {")
    w("")
    w("// The architectures ward can build seccomp filters for. A filter checks")
    w("// seccomp_data.arch first: a process may make system calls of any ABI its")
    w("// kernel supports (an x86_64 process can `int 0x80` into the i386 table).")
    w("enum class Arch : std::uint8_t { %s };" % ", ".join(a[0] for a in ARCHES))
    w("")
    w("struct SyscallEntry {")
    w("  std::string_view name;")
    w("  std::uint32_t nr;")
    w("};")
    w("")
    w("namespace syscall_tables {")
    w("")
    w("// Per architecture: every system call sorted by name (for syscall_nr()), and")
    w("// indices into that array sorted by number, one per number (for")
    w("// syscall_name(); where two names share a number, the alias is left out).")
    w("// clang-format off")
    for arch in ARCHES:
        a = arch[0]
        r = results[a]
        table = r["table"]
        by_name = sorted(table.items())
        index = {n: i for i, (n, _) in enumerate(by_name)}
        by_nr = {}
        for n, nr in sorted(table.items(), key=lambda t: (t[0] in r["aliases"], t[0])):
            by_nr.setdefault(nr, index[n])
        w("inline constexpr SyscallEntry %s_by_name[] = {" % cxx_ident(a))
        for n, nr in by_name:
            w('    {"%s", %s},' % (n, "0x%08x" % nr if nr >= 0x10000 else str(nr)))
        w("};")
        w("inline constexpr std::uint16_t %s_by_nr[] = {" % cxx_ident(a))
        idx = [by_nr[nr] for nr in sorted(by_nr)]
        for i in range(0, len(idx), 12):
            w("    " + " ".join("%d," % v for v in idx[i:i + 12]))
        w("};")
    w("")
    w("struct ArchInfo {")
    w("  Arch arch;")
    w("  std::string_view name;       // ours, as in `uname -m` (i386 for x86)")
    w("  std::string_view scmp_name;  // libseccomp's, as used in OCI profiles")
    w("  std::uint32_t audit_arch;    // AUDIT_ARCH_*, <linux/audit.h>")
    w("  std::span<const SyscallEntry> by_name;")
    w("  std::span<const std::uint16_t> by_nr;")
    w("};")
    w("")
    w("inline constexpr ArchInfo arches[] = {")
    for arch in ARCHES:
        a, scmp, _, _, _, _, audit_macro, _ = arch
        w('    {Arch::%s, "%s", "%s", 0x%08x, %s_by_name, %s_by_nr},  // %s' % (
            a, a, scmp, audit[audit_macro], a, a, audit_macro))
    w("};")
    w("// clang-format on")
    w("")
    w("}  // namespace syscall_tables")
    w("")
    w(TAIL.strip("\n"))
    w("")
    w("}  // namespace ward::detail")
    return "\n".join(out) + "\n"


# The hand-written part of the generated header. It is clang-format clean as
# emitted (format.check covers include/).
TAIL = r'''
constexpr const syscall_tables::ArchInfo& arch_info(Arch arch) noexcept {
  return syscall_tables::arches[static_cast<std::size_t>(arch)];
}

constexpr std::uint32_t audit_arch(Arch arch) noexcept { return arch_info(arch).audit_arch; }

constexpr std::string_view to_string(Arch arch) noexcept { return arch_info(arch).name; }

// "x86_64" or "SCMP_ARCH_X86_64" (and libseccomp's "x86" for i386): OCI
// runtime specs name architectures the libseccomp way.
constexpr std::optional<Arch> arch_from_string(std::string_view s) noexcept {
  for (const auto& info : syscall_tables::arches) {
    if (s == info.name || s == info.scmp_name) return info.arch;
  }
  if (s == "x86") return Arch::i386;
  return std::nullopt;
}

// Every system call of `arch`, sorted by name.
constexpr std::span<const SyscallEntry> syscalls(Arch arch) noexcept {
  return arch_info(arch).by_name;
}

// The number of system call `name` on `arch`; nullopt if `arch` has no such
// call (aarch64 has no `open`, only `openat`).
constexpr std::optional<std::uint32_t> syscall_nr(Arch arch, std::string_view name) noexcept {
  const auto table = arch_info(arch).by_name;
  std::size_t lo = 0, hi = table.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (table[mid].name == name) return table[mid].nr;
    if (table[mid].name < name) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return std::nullopt;
}

// The name of system call `nr` on `arch`; empty if there is none.
constexpr std::string_view syscall_name(Arch arch, std::uint32_t nr) noexcept {
  const auto& info = arch_info(arch);
  std::size_t lo = 0, hi = info.by_nr.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    const SyscallEntry& e = info.by_name[info.by_nr[mid]];
    if (e.nr == nr) return e.name;
    if (e.nr < nr) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return {};
}

// The architecture ward is being compiled for. Not declared on architectures
// without a table: code that builds seccomp filters does not compile there.
#if defined(__x86_64__) && defined(__ILP32__)
#define WARD_NATIVE_ARCH_KNOWN 1
constexpr Arch native_arch() noexcept { return Arch::x32; }
#elif defined(__x86_64__)
#define WARD_NATIVE_ARCH_KNOWN 1
constexpr Arch native_arch() noexcept { return Arch::x86_64; }
#elif defined(__i386__)
#define WARD_NATIVE_ARCH_KNOWN 1
constexpr Arch native_arch() noexcept { return Arch::i386; }
#elif defined(__aarch64__) && defined(__LP64__)
#define WARD_NATIVE_ARCH_KNOWN 1
constexpr Arch native_arch() noexcept { return Arch::aarch64; }
#elif defined(__arm__) && defined(__ARM_EABI__) && defined(__ARMEL__)
#define WARD_NATIVE_ARCH_KNOWN 1
constexpr Arch native_arch() noexcept { return Arch::arm; }
#elif defined(__riscv) && __riscv_xlen == 64
#define WARD_NATIVE_ARCH_KNOWN 1
constexpr Arch native_arch() noexcept { return Arch::riscv64; }
#endif
'''

# The version comment names the exact kernel header release; a Debian point
# update of linux-libc-dev changes it without changing any number. --check
# ignores that line as long as the major.minor series is the same.
VERSION_LINE_RE = re.compile(r"^(//\s+\S+\s+Linux \d+\.\d+)\.\d+ \(LINUX_VERSION_CODE \d+\)", re.M)


def normalize(text):
    return VERSION_LINE_RE.sub(r"\1.x", text)


def generate():
    cpp = find_cpp()
    results = {}
    for arch in ARCHES:
        results[arch[0]] = arch_table(cpp, arch)
    return render(results, audit_arch_values(cpp)), results


def rel(path):
    return os.path.relpath(path, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="exit 1 if %s is missing or out of date" % rel(OUTPUT))
    mode.add_argument("--stdout", action="store_true", help="print instead of writing")
    args = parser.parse_args()

    try:
        text, results = generate()
    except MissingHeader as e:
        if args.check:
            print("WARD-SKIP: %s" % e)
            return SKIP_EXIT_CODE
        print("gen_syscalls.py: error: %s" % e, file=sys.stderr)
        return 2
    except (GenError, OSError) as e:
        print("gen_syscalls.py: error: %s" % e, file=sys.stderr)
        return 2

    summary = ", ".join("%s %d" % (a, len(r["table"])) for a, r in results.items())
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        try:
            with open(OUTPUT, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            print("gen_syscalls.py: %s is missing; run `python3 scripts/gen_syscalls.py`"
                  % rel(OUTPUT), file=sys.stderr)
            return 1
        if normalize(current) != normalize(text):
            diff = list(difflib.unified_diff(
                current.splitlines(), text.splitlines(),
                "%s (committed)" % rel(OUTPUT), "%s (generated)" % rel(OUTPUT), lineterm=""))
            shown = diff[:60]
            print("\n".join(shown))
            if len(diff) > len(shown):
                print("... (%d more diff lines)" % (len(diff) - len(shown)))
            print("gen_syscalls.py: %s is out of date with the installed kernel headers; "
                  "run `python3 scripts/gen_syscalls.py` and commit the result" % rel(OUTPUT),
                  file=sys.stderr)
            return 1
        note = "" if current == text else " (kernel header point releases differ)"
        print("gen_syscalls.py: %s is up to date%s: %s" % (rel(OUTPUT), note, summary))
        return 0
    with open(OUTPUT, "w", encoding="utf-8") as f:
        f.write(text)
    print("gen_syscalls.py: wrote %s: %s" % (rel(OUTPUT), summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
