#!/usr/bin/env python3
"""Workloads "scale" and "startup" of bench/run, on the synthetic fixture provider
(bench/synthetic/: items that live only in state, so every second measured is the engine's).

scale, for N in --ns (default 1000,10000,100000): wall time, CPU time and peak RSS of
  render          kengine render (the desired resources as YAML on stdout)
  plan (all new)  kengine plan without a state
  apply (tmpfs)   kengine run: N creates, state and journal on /dev/shm (no disk syncs)
  apply (disk)    the same with the state folder on the bench's work dir (a real disk): the
                  difference is the journal's cost; skipped when the previous N projects
                  beyond --disk-limit seconds
  plan (no change) and plan (1% changed): kengine plan against the applied state
startup: `kengine version` and a no-op `kengine plan` of a 10-item synthetic profile, with
  hyperfine when installed (its mean/min/max over many runs), else a loop of --startup-reps.

    workload.py --kengine BIN --out result.json [--ns 1000,10000] [--reps 3] [--skip-startup]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROFILE = os.path.join(HERE, "profile.lua")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kengine", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ns", default="1000,10000,100000")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--budget", type=float, default=60.0, help="seconds per measurement after which no more repetitions start")
    p.add_argument("--disk-limit", type=float, default=60.0)
    p.add_argument("--startup-reps", type=int, default=20)
    p.add_argument("--skip-startup", action="store_true")
    p.add_argument("--skip-scale", action="store_true")
    a = p.parse_args()
    ns = [int(x) for x in a.ns.split(",") if x]
    work = tempfile.mkdtemp(prefix="kengine-bench-scale-")
    shm = tempfile.mkdtemp(prefix="kengine-bench-scale-", dir="/dev/shm") if os.path.isdir("/dev/shm") else work
    rows, notes = {}, []
    k = [a.kengine, "--no-color"]

    def env_for(n, change_every=0):
        return dict(os.environ, SYNTH_COUNT=str(n), SYNTH_CHANGE_EVERY=str(change_every), SYNTH_CLUSTER="synthetic")

    def measure(key, argv, env, reps, ok=(0,), cleanup=None):
        row = rows.setdefault(key, benchlib.Row(key[0]))
        spent = 0.0
        for _ in range(reps):
            r = benchlib.run(argv, env=env, cwd=work, check=False, timeout=1800)
            if r.rc not in ok:
                raise RuntimeError(f"{' '.join(argv)} exited {r.rc}:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
            row.add(r)
            spent += r.wall
            if cleanup:
                cleanup()
            if spent > a.budget:
                break
        return row

    try:
        if not a.skip_scale:
            per_step_disk = None
            for n in ns:
                measure(("render", n), k + ["render", PROFILE], env_for(n), a.reps)
                fresh = os.path.join(shm, f"none-{n}")
                measure(("plan (all new)", n), k + ["--state", fresh, "plan", PROFILE], env_for(n), a.reps,
                        cleanup=lambda f=fresh: shutil.rmtree(f, ignore_errors=True))
                state = os.path.join(shm, f"state-{n}")
                # Apply on tmpfs: the state used by the plans below (its last repetition is kept).
                for rep in range(a.reps):
                    shutil.rmtree(state, ignore_errors=True)
                    row = measure(("apply (tmpfs)", n), k + ["--state", state, "run", PROFILE, "--yes"], env_for(n), 1)
                    if sum(row.walls) > a.budget:
                        break
                projected = per_step_disk * n if per_step_disk else 0
                if projected > a.disk_limit:
                    notes.append(f"apply (disk) at N={n} skipped: {per_step_disk * 1000:.1f} ms per step at the previous N "
                                 f"projects {projected:.0f} s (limit --disk-limit {a.disk_limit:.0f} s).")
                else:
                    disk = os.path.join(work, f"disk-{n}")
                    row = measure(("apply (disk)", n), k + ["--state", disk, "run", PROFILE, "--yes"], env_for(n), a.reps,
                                  cleanup=lambda d=disk: shutil.rmtree(d, ignore_errors=True))
                    per_step_disk = benchlib.summarize(row.walls)["median"] / n
                measure(("plan (no change)", n), k + ["--state", state, "plan", PROFILE, "--detailed-exitcode"],
                        env_for(n), a.reps)
                measure(("plan (1% changed)", n), k + ["--state", state, "plan", PROFILE, "--detailed-exitcode"],
                        env_for(n, 100), a.reps, ok=(2,))
                with open(os.path.join(state, "state.yaml"), "rb") as f:
                    size = len(f.read())
                notes.append(f"N={n}: state file {size / 1e6:.1f} MB.")
                shutil.rmtree(state, ignore_errors=True)
                print(f"scale N={n}: " + ", ".join(f"{key[0]} {benchlib.fmt_s(benchlib.summarize(r.walls)['median'])}"
                                                    for key, r in rows.items() if key[1] == n), flush=True)
        startup = {}
        if not a.skip_startup:
            state = os.path.join(shm, "startup")
            subprocess.run(k + ["--state", state, "run", PROFILE, "--yes"], env=env_for(10), cwd=work, check=True,
                           capture_output=True)
            cases = {"kengine version": k + ["version"],
                     "kengine plan (10 items, no change)": k + ["--state", state, "plan", PROFILE]}
            hyperfine = shutil.which("hyperfine")
            for name, argv in cases.items():
                row = benchlib.Row(name)
                for _ in range(3):  # peak RSS and CPU from a few plain runs
                    row.add(benchlib.run(argv, env=env_for(10), cwd=work))
                entry = {"rss_kb": row.rss_kb, "cpu": row.cpu}
                if hyperfine:
                    export = os.path.join(work, "hyperfine.json")
                    cmd = " ".join(subprocess.list2cmdline([x]) for x in argv)
                    subprocess.run([hyperfine, "-N", "--warmup", "3", "--runs", str(a.startup_reps), "--export-json", export,
                                    "--style", "none", cmd], env=env_for(10), cwd=work, check=True, capture_output=True)
                    with open(export) as f:
                        res = json.load(f)["results"][0]
                    entry.update(method="hyperfine -N", n=len(res["times"]), median=res["median"], min=res["min"],
                                 max=res["max"], mean=res["mean"], stddev=res["stddev"])
                else:
                    loop = benchlib.Row(name)
                    for _ in range(a.startup_reps):
                        loop.add(benchlib.run(argv, env=env_for(10), cwd=work))
                    s = benchlib.summarize(loop.walls)
                    entry.update(method="loop", **s)
                startup[name] = entry
            print("startup: " + ", ".join(f"{n} {benchlib.fmt_s(e['median'])}" for n, e in startup.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if shm != work:
            shutil.rmtree(shm, ignore_errors=True)
    benchlib.write_json(a.out, {"workload": "scale", "ns": ns,
                                "rows": {f"{key[0]}|{key[1]}": r.to_json() for key, r in rows.items()},
                                "startup": startup, "notes": notes})


if __name__ == "__main__":
    main()
