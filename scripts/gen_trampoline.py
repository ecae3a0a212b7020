#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Builds scripts/trampoline/exec_trampoline_<arch>.S into the byte array of
include/ward/detail/exec_trampoline.hpp (the library is header-only, so the
program ships as bytes). Needs gcc and binutils for each listed arch.

    python3 scripts/gen_trampoline.py
"""
import pathlib
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARCHES = {"x86_64": ("__x86_64__", "gcc")}


def build(arch, cc):
    src = ROOT / "scripts" / "trampoline" / f"exec_trampoline_{arch}.S"
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "t"
        subprocess.run([cc, "-nostdlib", "-static", "-Wl,--build-id=none", "-s",
                        "-Wl,-z,noseparate-code", "-o", str(out), str(src)], check=True)
        return out.read_bytes()


def main():
    parts = []
    for arch, (macro, cc) in ARCHES.items():
        data = build(arch, cc)
        rows = []
        for i in range(0, len(data), 16):
            rows.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
        parts.append(f"#if defined({macro})\n"
                     f"inline constexpr unsigned char kExecTrampoline[] = {{\n"
                     + "\n".join(rows) + "\n};\n"
                     f"inline constexpr bool kHaveExecTrampoline = true;\n")
    body = "#el".join(parts[0:1] + [p[1:] for p in parts[1:]]) if len(parts) > 1 else parts[0]
    body += ("#else\ninline constexpr unsigned char kExecTrampoline[] = {0};\n"
             "inline constexpr bool kHaveExecTrampoline = false;\n#endif\n")
    head = (ROOT / "scripts" / "trampoline" / "header_prologue.hpp").read_text()
    (ROOT / "include" / "ward" / "detail" / "exec_trampoline.hpp").write_text(
        head + "\nnamespace ward::detail {\n\n// clang-format off\n" + body
        + "// clang-format on\n\n}  // namespace ward::detail\n")


if __name__ == "__main__":
    main()
