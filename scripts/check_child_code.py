#!/usr/bin/env python3
"""Check the child-code contract on built programs (issue #12 item 3).

The code that runs between clone3 and execve (include/ward/detail/child/,
namespace ward::detail::child) shares the parent's memory and thread pointer
(CLONE_VM). It must call nothing but other child functions and the kernel:
a call through the PLT runs the dynamic linker's _dl_fixup in the child on
the parent thread's TLS (lazy binding), a sanitizer interceptor keeps state in
the parent's memory, __stack_chk_fail is a libc call. The attributes in
detail/child/syscall.hpp are meant to ensure that; this script proves it for
a given binary.

For each program: disassemble it (objdump -d -C), take every function whose
demangled name is in ward::detail::child (or ward::detail::sys), check that
the entry points are there (child_entry, child_final, mount_step: a check
that finds nothing checks nothing, and fails), walk the call graph from them,
and fail on any call or jump from a child function to a symbol outside the
child set, and on any indirect call except the clone trampoline's (an
indirect call through a register that the trampoline's asm sets up in
detail/child/clone.hpp).

Usage: check_child_code.py PROGRAM...   (needs python3 and binutils' objdump)
Exit status 0 when every program passes, 1 otherwise.
"""

import re
import shutil
import subprocess
import sys

CHILD_PREFIXES = ("ward::detail::child::", "ward::detail::sys::")
ENTRY_POINTS = ("ward::detail::child::child_entry(", "ward::detail::child::child_final(",
                "ward::detail::child::mount_step(")

FUNC_RE = re.compile(r"^([0-9a-f]+) <(.*)>:$")
# "  4011d6:\tcall   401030 <memcpy@plt>"  /  "jmp    *%rax"  /  "call   *0x8(%rax)"
INSN_RE = re.compile(r"^\s*([0-9a-f]+):\s+(?:(?:[0-9a-f]{2} )+\s*)?(.*)$")
BRANCH_RE = re.compile(r"^(?:(?:notrack|bnd|rex\.W)\s+)?(call|jmp)[a-z]*\s+(.*)$")
TARGET_RE = re.compile(r"^([0-9a-f]+) <(.*?)(\+0x[0-9a-f]+)?>$")


def is_child(name):
    return name.startswith(CHILD_PREFIXES)


def base_name(name):
    """GCC's split parts ("f(int) [clone .cold]") belong to their function."""
    return re.sub(r" \[clone [^\]]*\]$", "", name)


def disassemble(path):
    """{function name: [instruction text, ...]} for the child functions."""
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", "-w", path],
                         check=True, capture_output=True, text=True).stdout
    funcs = {}
    cur = None
    for line in out.splitlines():
        m = FUNC_RE.match(line)
        if m:
            cur = m.group(2) if is_child(m.group(2)) else None
            if cur is not None:
                funcs.setdefault(cur, [])
            continue
        if cur is None:
            continue
        m = INSN_RE.match(line)
        if m:
            funcs[cur].append(m.group(2).strip())
    return funcs


def check(path):
    funcs = disassemble(path)
    problems = []
    if not funcs:
        return ["no child functions (ward::detail::child::*) found: nothing would be checked"]
    for e in ENTRY_POINTS:
        if not any(f.startswith(e) for f in funcs):
            problems.append("entry point %s...) not found" % e)
    # Walk the call graph from the entry points; functions nothing reaches are
    # checked too (every child function must obey the rule).
    seen = set()
    todo = [f for f in funcs if f.startswith(ENTRY_POINTS)] + sorted(funcs)
    while todo:
        f = todo.pop(0)
        if f in seen:
            continue
        seen.add(f)
        insns = funcs.get(f, [])
        for i, insn in enumerate(insns):
            m = BRANCH_RE.match(insn)
            if not m:
                continue
            kind, operand = m.group(1), m.group(2).strip()
            if operand.startswith("*"):
                if kind == "jmp":
                    continue  # a jump table inside the function (switch)
                # The clone trampoline (detail/child/clone.hpp): in the new
                # process, "xor %ebp,%ebp; mov %r13,%rdi; call *%r12" right
                # after the syscall; its target is a child function the
                # caller passed (child_final).
                prev = insns[max(0, i - 6):i]
                if operand == "*%r12" and any("syscall" in p for p in prev):
                    continue
                problems.append("%s: indirect call `%s`" % (f, insn))
                continue
            t = TARGET_RE.match(operand)
            if not t:
                problems.append("%s: unparsed branch `%s`" % (f, insn))
                continue
            target = t.group(2)
            if base_name(target) == base_name(f):
                continue  # inside the function (or its .cold part)
            if is_child(target):
                if target not in seen:
                    todo.append(target)
                continue
            problems.append("%s: %s to %s, outside the child code (`%s`)" % (f, kind, target, insn))
    print("%s: %d child functions checked" % (path, len(seen)))
    return problems


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if shutil.which("objdump") is None:
        print("check_child_code.py: objdump not found (Debian: binutils)", file=sys.stderr)
        return 2
    failed = False
    for path in argv[1:]:
        problems = check(path)
        for p in problems:
            print("%s: FAIL: %s" % (path, p))
        failed = failed or bool(problems)
    if failed:
        print("child-code contract violated: see include/ward/detail/child/syscall.hpp")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
