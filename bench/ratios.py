#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Medians and target ratios from a ward_bench_spawn JSON report.

    bench/ratios.py bench/results/spawn-<date>.json [--markdown] [--check]
    bench/ratios.py A.json B.json ...   # side by side, one column per run
    bench/ratios.py --runs A.json B.json ...   # one row per run, key ratios only

Reads Google Benchmark's JSON (--benchmark_out_format=json), preferring the
"median" aggregates (--benchmark_repetitions=N); a report without
aggregates is read as single runs. Prints every benchmark's median, then the
ratios the project targets. Ratios are of medians taken in the same run.
--check: exit 1 if a ratio with a target misses it. Standard library only.
"""
import argparse
import json
import re
import sys

UNIT_TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
FLAGSETS = ["none", "userpidmntutsipccg", "plus_net"]


def key(run_name):
    """BM_x/none/rss_mib:4096/iterations:20/real_time -> BM_x/none/rss_mib:4096"""
    return re.sub(r"/(real_time|manual_time|iterations:\d+|min_time:[\d.]+)", "", run_name)


def load(path):
    with open(path) as f:
        doc = json.load(f)
    rows, singles = {}, {}
    for b in doc.get("benchmarks", []):
        if b.get("error_occurred"):
            rows.setdefault(key(b.get("run_name", b["name"])), {"error": b.get("error_message", "error")})
            continue
        us = b["real_time"] * UNIT_TO_US[b.get("time_unit", "ns")]
        k = key(b.get("run_name", b["name"]))
        if b.get("run_type") == "aggregate":
            agg = b.get("aggregate_name")
            r = rows.setdefault(k, {})
            if agg == "median":
                r["us"] = us
                r["spawns_per_s"] = b.get("spawns_per_s")
                r["child_cpu_us"] = b.get("child_cpu_us")
                r["plan_us"] = b.get("plan_us")
                r["ratio"] = b.get("ratio")  # BM_paired
                r["floor_us"] = b.get("floor_us")
                r["sandbox_us"] = b.get("sandbox_us")
                r["small_us"] = b.get("small_us")  # BM_paired_rss
                r["big_us"] = b.get("big_us")
                r["reps"] = b.get("repetitions")
            elif agg == "cv":
                r["cv"] = b["real_time"]  # a fraction, whatever time_unit says
        else:
            singles.setdefault(k, []).append(us)
    for k, v in singles.items():  # no aggregates: median of the runs we have
        if k in rows and "us" in rows[k]:
            continue
        v = sorted(v)
        m = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2
        rows.setdefault(k, {}).update({"us": m, "reps": len(v)})
    return doc.get("context", {}), rows


def ratios(rows):
    """(label, numerator, denominator, target or None, what)"""
    out = []
    for fs in FLAGSETS:
        out.append((f"Sandbox/raw floor, {fs}", f"BM_sandbox/{fs}", f"BM_raw_clone3/{fs}", 1.15,
                    "ward's overhead over the hand-written clone3"))
    out.append(("Sandbox plus_net_lo/raw plus_net", "BM_sandbox/plus_net_lo", "BM_raw_clone3/plus_net", None,
                "includes bringing lo up (the floor does not)"))
    out.append(("Sandbox 4 GiB/1 MiB parent", "BM_sandbox/none/rss_mib:4096", "BM_sandbox/none/rss_mib:1", 1.2,
                "independence of the parent's RSS"))
    out.append(("raw floor 4 GiB/1 MiB parent", "BM_raw_clone3/none/rss_mib:4096", "BM_raw_clone3/none/rss_mib:1",
                None, "the same for the floor"))
    out.append(("posix_spawn 4 GiB/1 MiB parent", "BM_posix_spawn/rss_mib:4096", "BM_posix_spawn/rss_mib:1", None,
                "the same for glibc"))
    out.append(("fork+exec 4 GiB/Sandbox 4 GiB", "BM_fork_exec/rss_mib:4096", "BM_sandbox/none/rss_mib:4096", None,
                "how much faster than fork ward is there"))
    out.append(("Sandbox/posix_spawn, none", "BM_sandbox/none", "BM_posix_spawn", None, "vs glibc"))
    for fs in FLAGSETS:
        out.append((f"build+spawn/spawn, {fs}", f"BM_sandbox_build_and_spawn/{fs}", f"BM_sandbox/{fs}", None,
                    "cost of building the plan every time"))
    res = []
    for label, num, den, target, what in out:
        a, b = rows.get(num, {}).get("us"), rows.get(den, {}).get("us")
        r = a / b if a is not None and b else None
        res.append((label, num, den, r, target, what))
    # BM_paired: the same ratio measured pair by pair in one loop (its
    # "ratio" counter); steadier than the ratio of two separate benchmarks.
    for fs in FLAGSETS:
        r = rows.get(f"BM_paired/{fs}", {}).get("ratio")
        res.insert(FLAGSETS.index(fs) * 2 + 1,
                   (f"  paired, {fs}", f"BM_paired/{fs}", "", r, 1.15, "median of per-pair ratios"))
    # BM_option: one builder option's cost, pair by pair against the plain plan.
    for opt in ("oom_score_adj", "user"):
        r = rows.get(f"BM_option/{opt}", {}).get("ratio")
        res.append((f"option {opt}/plain, paired", f"BM_option/{opt}", "", r, None,
                    "median of per-pair ratios"))
    # BM_paired_rss: 4 GiB helper vs this process, pair by pair.
    at = next(i for i, x in enumerate(res) if x[1] == "BM_sandbox/none/rss_mib:4096") + 1
    r = rows.get("BM_paired_rss/rss_mib:4096", {}).get("ratio")
    res.insert(at, ("  paired, 4 GiB/none", "BM_paired_rss/rss_mib:4096", "", r, 1.2,
                    "median of per-pair ratios"))
    return res


def fmt_us(v):
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def verdict(r, target):
    if r is None:
        return "n/a"
    if target is None:
        return ""
    if r <= target:
        return "met"
    return f"MISSED by {100 * (r / target - 1):.0f}%"


def print_one(path, md, check):
    ctx, rows = load(path)
    rs = ratios(rows)
    print(f"# {path}: {ctx.get('date', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
          f"kernel {ctx.get('kernel', '?')}, sched {ctx.get('sched', '?')}, "
          f"load average at start {ctx.get('loadavg_start', '?')}")
    print()
    if md:
        print("| benchmark | median µs | CV | spawns/s | child CPU µs/spawn | notes |")
        print("|---|---:|---:|---:|---:|---|")
    else:
        print(f"{'benchmark':44} {'median us':>10} {'cv':>6} {'spawns/s':>9} {'childCPU':>9}  notes")
    for k, r in rows.items():
        if "error" in r and "us" not in r:
            line = (k, "skipped: " + r["error"], "", "", "", "")
        else:
            cv = f"{100 * r['cv']:.1f}%" if r.get("cv") is not None else "-"
            sps = f"{r['spawns_per_s']:,.0f}" if r.get("spawns_per_s") else "-"
            cpu = fmt_us(r.get("child_cpu_us"))
            extra = ""
            if r.get("plan_us") is not None:
                extra = f"plan() {r['plan_us']:.1f} us"
            if r.get("ratio") is not None and r.get("floor_us") is not None:
                extra = (f"floor {fmt_us(r.get('floor_us'))} us, ward {fmt_us(r.get('sandbox_us'))} us, "
                         f"ratio {r['ratio']:.3f}")
            elif r.get("ratio") is not None:
                extra = (f"no extra memory {fmt_us(r.get('small_us'))} us, with it "
                         f"{fmt_us(r.get('big_us'))} us, ratio {r['ratio']:.3f}")
            line = (k, fmt_us(r.get("us")), cv, sps, cpu, extra)
        if md:
            print("| `" + line[0] + "` | " + " | ".join(line[1:]) + " |")
        else:
            print(f"{line[0]:44} {line[1]:>10} {line[2]:>6} {line[3]:>9} {line[4]:>9}  {line[5]}")
    print()
    if md:
        print("| ratio (of medians) | value | target | verdict |")
        print("|---|---:|---:|---|")
    else:
        print(f"{'ratio (of medians)':40} {'value':>7} {'target':>8}  verdict")
    missed = False
    for label, num, den, r, target, what in rs:
        v = verdict(r, target)
        missed |= v.startswith("MISSED")
        val = f"{r:.3f}" if r is not None else "-"
        tgt = f"<= {target}" if target is not None else ""
        if md:
            print(f"| {label.strip()} | {val} | {tgt} | {v} |")
        else:
            print(f"{label:40} {val:>7} {tgt:>8}  {v}")
    return missed


def print_side_by_side(paths, md):
    """Several reports: one column per report (medians, then ratios)."""
    loaded = [load(p) for p in paths]
    names = [p.rsplit("/", 1)[-1].removesuffix(".json") for p in paths]
    keys = []
    for _, rows in loaded:
        keys += [k for k in rows if k not in keys]
    def row(cells, first_w=48, w=19):
        if md:
            return "| " + " | ".join(cells) + " |"
        return f"{cells[0]:{first_w}}" + "".join(f" {c:>{w}}" for c in cells[1:])
    print(row(["median µs (CV)"] + names))
    if md:
        print("|---" + "|---:" * len(names) + "|")
    for k in keys:
        cells = [f"`{k}`" if md else k]
        for _, rows in loaded:
            r = rows.get(k, {})
            if "us" not in r:
                cells.append("-")
                continue
            cv = f" ({100 * r['cv']:.0f}%)" if r.get("cv") is not None else ""
            cells.append(fmt_us(r["us"]) + cv)
        print(row(cells))
    print()
    print(row(["ratio (target)"] + names))
    if md:
        print("|---" + "|---:" * len(names) + "|")
    all_rs = [ratios(rows) for _, rows in loaded]
    for i, (label, num, den, _, target, what) in enumerate(all_rs[0]):
        lab = label.strip() + (f" (<= {target})" if target is not None else "")
        cells = [lab]
        for rs in all_rs:
            r = rs[i][3]
            mark = "" if r is None or target is None or r <= target else " MISS"
            cells.append((f"{r:.3f}" if r is not None else "-") + mark)
        print(row(cells))


SUMMARY = [  # (column, label in ratios())
    ("none", "Sandbox/raw floor, none"),
    ("none paired", "paired, none"),
    ("ns", "Sandbox/raw floor, userpidmntutsipccg"),
    ("ns paired", "paired, userpidmntutsipccg"),
    ("net", "Sandbox/raw floor, plus_net"),
    ("net paired", "paired, plus_net"),
    ("4G/1M", "Sandbox 4 GiB/1 MiB parent"),
    ("4G/1M paired", "paired, 4 GiB/none"),
    ("fork/ward 4G", "fork+exec 4 GiB/Sandbox 4 GiB"),
]


def print_runs(paths, md):
    """One row per report: the ratios with targets, and fork/ward."""
    head = ["run", "sched", "load at start"] + [c for c, _ in SUMMARY]
    if md:
        print("| " + " | ".join(head) + " |")
        print("|---|---|---" + "|---:" * len(SUMMARY) + "|")
    else:
        print(f"{'run':24} {'sched':7} {'load':>5}" + "".join(f" {c:>13}" for c, _ in SUMMARY))
    for p in paths:
        ctx, rows = load(p)
        by_label = {x[0].strip(): x for x in ratios(rows)}
        cells = []
        for _, label in SUMMARY:
            _, _, _, r, target, _ = by_label[label]
            miss = r is not None and target is not None and r > target
            v = "-" if r is None else (f"{r:.0f}" if r >= 100 else f"{r:.3f}")
            cells.append(v + (" MISS" if miss else ""))
        name = p.rsplit("/", 1)[-1].removesuffix(".json")
        sched = ctx.get("sched", "?")
        load1 = ctx.get("loadavg_start", "?").split(" ")[0]
        if md:
            print(f"| {name} | {sched} | {load1} | " + " | ".join(cells) + " |")
        else:
            print(f"{name:24} {sched:7} {load1:>5}" + "".join(f" {c:>13}" for c in cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", nargs="+", help="one report, or several to compare side by side")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("--runs", action="store_true", help="one row per report: the key ratios only")
    args = ap.parse_args()
    if args.runs:
        print_runs(args.json, args.markdown)
        return 0
    if len(args.json) > 1:
        print_side_by_side(args.json, args.markdown)
        return 0
    missed = print_one(args.json[0], args.markdown, args.check)
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
