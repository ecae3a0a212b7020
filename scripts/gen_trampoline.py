#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds scripts/trampoline/exec_trampoline_<arch>.S and init_<arch>.S into
the byte arrays of include/ward/detail/exec_trampoline.hpp (the library is
header-only, so the programs ship as bytes). Needs gcc and binutils for each
listed arch.

    python3 scripts/gen_trampoline.py
"""
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARCHES = {"x86_64": ("__x86_64__", "gcc")}


def build(arch, cc, name="exec_trampoline"):
    src = ROOT / "scripts" / "trampoline" / f"{name}_{arch}.S"
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "t"
        subprocess.run([cc, "-nostdlib", "-static", "-Wl,--build-id=none", "-s",
                        "-Wl,-z,noseparate-code", "-o", str(out), str(src)], check=True)
        return out.read_bytes()


def array(name, data):
    rows = []
    for i in range(0, len(data), 16):
        rows.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
    return f"inline constexpr unsigned char {name}[] = {{\n" + "\n".join(rows) + "\n};\n"


def main():
    parts = []
    for arch, (macro, cc) in ARCHES.items():
        parts.append(f"#if defined({macro})\n"
                     + array("kExecTrampoline", build(arch, cc))
                     + "inline constexpr bool kHaveExecTrampoline = true;\n"
                     + array("kInitProgram", build(arch, cc, "init"))
                     + "inline constexpr bool kHaveInitProgram = true;\n")
    body = "#el".join(parts[0:1] + [p[1:] for p in parts[1:]]) if len(parts) > 1 else parts[0]
    body += ("#else\ninline constexpr unsigned char kExecTrampoline[] = {0};\n"
             "inline constexpr bool kHaveExecTrampoline = false;\n"
             "inline constexpr unsigned char kInitProgram[] = {0};\n"
             "inline constexpr bool kHaveInitProgram = false;\n#endif\n")
    head = (ROOT / "scripts" / "trampoline" / "header_prologue.hpp").read_text()
    (ROOT / "include" / "ward" / "detail" / "exec_trampoline.hpp").write_text(
        head + "\nnamespace ward::detail {\n\n// clang-format off\n" + body
        + "// clang-format on\n\n}  // namespace ward::detail\n")


if __name__ == "__main__":
    main()
