#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`ward run`, `runc run` and `crun run` of one bundle, timed in alternation.

    bench/runtimes.py --ward BIN --bundle DIR --tmp DIR [--rounds N] [--out JSON]
                      [--ward-baseline BIN]

Driven by bench/run_runtimes.sh, which installs the runtimes, builds ward and
the busybox bundle. Each round runs, in a shuffled order: a bare spawn of
/bin/true (the floor), a bare spawn of the bundle's own /bin/true (busybox,
static), `ward run`, `runc run` and `crun run` of the bundle, each once, with a
container id of its own (--root dirs under --tmp). So load that comes and goes
hits every runtime alike, and per-round ratios pair runs made a few
milliseconds apart. --ward-baseline adds another ward binary to every round
(e.g. the one before a change: `ward_baseline/ward` is the change's effect).

Every process is started the same way: os.posix_spawn (glibc: clone(CLONE_VM|
CLONE_VFORK) + execve) and os.wait4; the time is from just before posix_spawn
to wait4's return (time.perf_counter_ns), so it includes the runtime's whole
life: exec, loading, the container's setup, run and teardown, the runtime's
own clean-up.

Peak RSS is measured in a second loop of its own (--rss-rounds, shuffled
rounds again), because a process started from this Python process inherits
Python's ~16 MiB peak (the kernel keeps the peak of the memory a process
leaves at execve): each runtime runs under GNU time, `/usr/bin/time -f %M`,
which reports wait4's ru_maxrss of the runtime process (KiB): the larger of
the runtime process's own peak, the peak of the small `time` process it was
forked from (under 1 MiB: see the floors' figures), and the peaks of the
descendants the runtime waited for (runc's `runc init`, crun's and ward's
container process before and after it execs /bin/true).

crun 1.8.1 refuses this hybrid host ("cgroups in hybrid mode not
supported"): it runs in a mount namespace of its own where a cgroup2 is
mounted on /sys/fs/cgroup (made once by a holder process, `unshare -m -C`:
the new cgroup namespace keeps the mount from resetting the host's cgroup2
root flags), with --cgroup-manager=disabled. This script setns(2)es itself
into that mount namespace just before each crun spawn and back after the
wait (outside the timed interval), so crun pays nothing for it. That needs a
single-threaded process: nothing here starts a thread.
"""
import argparse
import ctypes
import json
import os
import random
import statistics
import subprocess
import sys
import time

CLONE_NEWNS = 0x00020000
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def busy_processes():
    """Other CPU consumers right now (compilers, test binaries), by name."""
    out = subprocess.run(["ps", "-eo", "pcpu=,comm="], capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and float(parts[0]) >= 20.0 and parts[1] not in ("ps", "python3"):
            names.append(parts[1])
    return names


class Runner:
    def __init__(self, args):
        self.args = args
        self.devnull = os.open("/dev/null", os.O_RDWR)
        self.logs = {}
        self.host_mnt = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        self.holder = None
        self.crun_mnt = None

    def start_crun_namespace(self):
        # unshare -m -C: private mount namespace (util-linux makes / private)
        # and a cgroup namespace, then a cgroup2 on /sys/fs/cgroup.
        self.holder = subprocess.Popen(
            ["unshare", "-m", "-C", "sh", "-c",
             "mount -t cgroup2 none /sys/fs/cgroup && echo ready && exec sleep 1000000"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        if self.holder.stdout.readline().strip() != "ready":
            raise SystemExit("could not prepare crun's mount namespace (unshare -m -C, cgroup2)")
        self.crun_mnt = os.open(f"/proc/{self.holder.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

    def stop(self):
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()

    def log_fd(self, name):
        if name not in self.logs:
            path = os.path.join(self.args.tmp, f"{name}.stderr")
            self.logs[name] = (path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        return self.logs[name][1]

    def argv(self, name, cid):
        a, b = self.args, self.args.bundle
        if name == "floor":
            return ["/bin/true"]
        if name == "floor_busybox":
            return [os.path.join(b, "rootfs/bin/busybox"), "true"]
        if name == "ward":
            return [a.ward, "--root", os.path.join(a.tmp, "root-ward"), "run", "--bundle", b, cid]
        if name == "ward_baseline":
            return [a.ward_baseline, "--root", os.path.join(a.tmp, "root-ward"), "run", "--bundle",
                    b, cid]
        if name == "runc":
            return [a.runc, "--root", os.path.join(a.tmp, "root-runc"), "run", "--bundle", b, cid]
        if name == "crun":
            return [a.crun, "--root", os.path.join(a.tmp, "root-crun"), "--cgroup-manager=disabled",
                    "run", "--bundle", b, cid]
        raise KeyError(name)

    def run_once(self, name, cid, rss=False):
        argv = self.argv(name, cid)
        if rss:
            out = os.path.join(self.args.tmp, "rss")
            argv = ["/usr/bin/time", "-f", "%M", "-o", out] + argv
        fa = [(os.POSIX_SPAWN_DUP2, self.devnull, 0), (os.POSIX_SPAWN_DUP2, self.devnull, 1),
              (os.POSIX_SPAWN_DUP2, self.log_fd(name), 2)]
        if name == "crun":
            setns(self.crun_mnt)
        try:
            t0 = time.perf_counter_ns()
            pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                                 file_actions=fa)
            _, status, ru = os.wait4(pid, 0)
            t1 = time.perf_counter_ns()
        finally:
            if name == "crun":
                setns(self.host_mnt)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{' '.join(argv)}: exit status {code}; stderr in {self.logs[name][0]}")
        if rss:
            with open(out) as f:
                return int(f.read().split()[-1])
        return (t1 - t0) / 1e6


def summarize(samples):
    s = sorted(samples)
    q = statistics.quantiles(s, n=10) if len(s) >= 10 else [s[0]] * 9
    return {"median": statistics.median(s), "p10": q[0], "p90": q[-1], "min": s[0], "max": s[-1],
            "n": len(s)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ward", required=True)
    p.add_argument("--ward-baseline")
    p.add_argument("--runc", default="/usr/sbin/runc")
    p.add_argument("--crun", default="/usr/bin/crun")
    p.add_argument("--bundle", required=True)
    p.add_argument("--tmp", required=True)
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--rss-rounds", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out")
    a = p.parse_args()

    r = Runner(a)
    r.start_crun_namespace()
    names = ["floor", "floor_busybox", "ward", "runc", "crun"]
    if a.ward_baseline:
        names.insert(3, "ward_baseline")
    times = {n: [] for n in names}
    rss = {n: [] for n in names}
    pair = {"runc/ward": [], "crun/ward": [], "ward/floor": []}
    if a.ward_baseline:
        pair["ward_baseline/ward"] = []
    load_samples, busy = [loadavg()], {}
    rng = random.Random(7)
    start = time.time()
    try:
        for rnd in range(-a.warmup, a.rounds):
            order = names[:]
            rng.shuffle(order)
            got = {}
            for n in order:
                got[n] = r.run_once(n, f"bench-{n}-{os.getpid()}-{rnd + a.warmup}")
            if rnd < 0:
                continue
            for n in names:
                times[n].append(got[n])
            pair["runc/ward"].append(got["runc"] / got["ward"])
            pair["crun/ward"].append(got["crun"] / got["ward"])
            pair["ward/floor"].append(got["ward"] / got["floor"])
            if a.ward_baseline:
                pair["ward_baseline/ward"].append(got["ward_baseline"] / got["ward"])
            if rnd % 25 == 0:
                load_samples.append(loadavg())
                for b in busy_processes():
                    busy[b] = busy.get(b, 0) + 1
        for rnd in range(a.rss_rounds):
            order = names[:]
            rng.shuffle(order)
            for n in order:
                rss[n].append(r.run_once(n, f"rss-{n}-{os.getpid()}-{rnd}", rss=True))
    finally:
        r.stop()
    load_samples.append(loadavg())
    elapsed = time.time() - start

    res = {
        "rounds": a.rounds,
        "rss_rounds": a.rss_rounds,
        "elapsed_s": round(elapsed, 1),
        "kernel": os.uname().release,
        "loadavg_samples": load_samples,
        "busy_processes_seen": busy,
        "time_ms": {n: summarize(times[n]) for n in names},
        "maxrss_kib": {n: summarize(rss[n]) for n in names},
        "paired_ratio": {k: summarize(v) for k, v in pair.items()},
    }
    tm = res["time_ms"]
    res["ratio_of_medians"] = {
        "runc/ward": tm["runc"]["median"] / tm["ward"]["median"],
        "crun/ward": tm["crun"]["median"] / tm["ward"]["median"],
        "ward/floor": tm["ward"]["median"] / tm["floor"]["median"],
    }
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)

    print(f"{a.rounds} rounds in {elapsed:.0f} s, kernel {res['kernel']}; load average "
          f"(1/5/15 min) from {load_samples[0]} to {load_samples[-1]}, 1-min max "
          f"{max(x[0] for x in load_samples)}")
    if busy:
        print("other busy processes seen (samples): " +
              ", ".join(f"{k} x{v}" for k, v in sorted(busy.items(), key=lambda kv: -kv[1])))
    print()
    print("| | median ms | p10 | p90 | peak RSS KiB (`time -f %M`), median (max) |")
    print("|---|---:|---:|---:|---:|")
    label = {"floor": "bare spawn of /bin/true (floor)",
             "floor_busybox": "bare spawn of the bundle's busybox true",
             "ward": "`ward run`", "ward_baseline": "`ward run`, baseline binary",
             "runc": "`runc run`", "crun": "`crun run`"}
    for n in names:
        t, m = tm[n], res["maxrss_kib"][n]
        print(f"| {label[n]} | {t['median']:.2f} | {t['p10']:.2f} | {t['p90']:.2f} | "
              f"{m['median']:.0f} ({m['max']:.0f}) |")
    print()
    rm, pr = res["ratio_of_medians"], res["paired_ratio"]
    rssm = res["maxrss_kib"]
    print("| ratio | of medians | median per round | target |")
    print("|---|---:|---:|---|")
    for k, target in (("runc/ward", 5.0), ("crun/ward", 2.0)):
        ok = "met" if min(rm[k], pr[k]["median"]) >= target else "NOT met"
        print(f"| {k} | {rm[k]:.2f} | {pr[k]['median']:.2f} | >= {target:g}: {ok} |")
    print(f"| ward/floor | {rm['ward/floor']:.2f} | {pr['ward/floor']['median']:.2f} | |")
    if a.ward_baseline:
        rb = tm["ward_baseline"]["median"] / tm["ward"]["median"]
        print(f"| ward baseline/ward | {rb:.3f} | {pr['ward_baseline/ward']['median']:.3f} | |")
    ok = "met" if rssm["ward"]["median"] <= rssm["crun"]["median"] else "NOT met"
    print(f"| peak RSS ward/crun | {rssm['ward']['median'] / rssm['crun']['median']:.2f} | | "
          f"<= 1: {ok} |")


if __name__ == "__main__":
    sys.exit(main())
