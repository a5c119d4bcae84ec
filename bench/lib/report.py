#!/usr/bin/env python3
"""Turn the JSON results of one bench/run into Markdown: bench/results/<date>.md, and the
same tables between the markers of docs/performance.md.

    report.py RUN_DIR RESULTS_MD [--docs docs/performance.md] [--mode full|quick] [--kengine-version V]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import benchlib as b  # noqa: E402

BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"


def med(xs):
    return b.summarize(xs)["median"]


def load(run_dir, name):
    path = os.path.join(run_dir, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def ratio(k, peer):
    if k is None or not peer:
        return "–"
    return f"{k / peer:.2f}"


def timing_cells(row):
    s = b.summarize(row["walls"])
    return [str(s["n"]), b.fmt_s(s["median"]), b.fmt_s(s["min"]), b.fmt_s(s["max"])]


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def aws_section(d, targets):
    lines = ["### AWS cluster against moto (profiles/aws/ubuntu.lua)", ""]
    rows = []
    for ph in d["phases"]:
        k = d["rows"].get(f"kengine|{ph}")
        kmed = med(k["walls"]) if k else None
        for t in d["tools"]:
            r = d["rows"][f"{t}|{ph}"]
            if not r["walls"]:
                continue
            rows.append([ph, t] + timing_cells(r) + [b.fmt_calls(r["calls"]),
                                                     "–" if t == "kengine" else ratio(kmed, med(r["walls"]))])
    lines.append(table(["phase", "tool", "N", "median", "min", "max", "API calls", "kengine/peer"], rows))
    lines.append("")
    printed = d.get("kengine_printed_calls", {})
    if printed:
        lines.append("kengine's own count (\"API calls: N\"): " +
                     ", ".join(f"{ph} {b.fmt_calls([x for x in v if x is not None])}" for ph, v in printed.items()) +
                     " (the API calls column is moto's request record, the same for every tool).")
        lines.append("")
    acts = d.get("actions_rep1", {})
    if "kengine noop" in acts:
        lines.append("Requests of the no-op phase (first repetition): " + "; ".join(
            f"**{name.split()[0]}**: " + ", ".join(f"{a}×{n}" if n > 1 else a for a, n in acts[name].items())
            for name in acts if name.endswith(" noop")) + ".")
        lines.append("")
    for n in d.get("notes", []):
        lines.append("- " + n)
    # targets
    kc, bc = d["rows"].get("kengine|create"), d["rows"].get("boto3|create")
    if kc and bc and kc["walls"] and bc["walls"]:
        r = med(kc["walls"]) / med(bc["walls"])
        targets.append(("AWS create ≤ 0.5 × boto3 sequential", f"{r:.2f} ×", r <= 0.5))
    kn = d["rows"].get("kengine|noop")
    types = d.get("resource_types")
    if kn and kn["calls"] and types:
        calls = max(kn["calls"])
        targets.append((f"no-op plan ≤ one call per resource type ({types} types with API calls)", f"{calls} calls",
                        calls <= types))
    return "\n".join(lines)


def ssh_section(d, targets):
    lines = ["### SSH fan-out (bench/ssh/script.sh on K hosts)", ""]
    rows = []
    for k in d["ks"]:
        kr = d["rows"].get(f"kengine|{k}")
        kmed = med(kr["walls"]) if kr and kr["walls"] else None
        for t in d["tools"]:
            r = d["rows"].get(f"{t}|{k}")
            if not r or not r["walls"]:
                continue
            rows.append([str(k), t] + timing_cells(r) + [b.fmt_s(med(r["cpu"])),
                                                         "–" if t == "kengine" else ratio(kmed, med(r["walls"]))])
        pssh = d["rows"].get(f"parallel-ssh|{k}")
        if k == 50 and kmed and pssh and pssh["walls"]:
            rr = kmed / med(pssh["walls"])
            targets.append(("SSH fan-out K=50 ≤ 0.7 × parallel-ssh", f"{rr:.2f} ×", rr <= 0.7))
    lines.append(table(["K", "tool", "N", "median", "min", "max", "CPU (client side)", "kengine/peer"], rows))
    lines.append("")
    lines.append("API calls: not applicable (one SSH connection per host for every tool but plain Ansible, "
                 "which opens several). CPU: user+sys of the tool's process tree on this side; the sshd "
                 "and the script on the hosts run on the same 2 cores.")
    for n in d.get("notes", []):
        lines.append("- " + n)
    return "\n".join(lines)


def scale_section(d, targets):
    lines = ["### Plan at scale (synthetic fixture provider, bench/synthetic/)", ""]
    order = ["render", "plan (all new)", "apply (tmpfs)", "apply (disk)", "plan (no change)", "plan (1% changed)"]
    rows = []
    for n in d["ns"]:
        for m in order:
            r = d["rows"].get(f"{m}|{n}")
            if not r or not r["walls"]:
                continue
            wall = med(r["walls"])
            per = wall / n * 1e6
            rows.append([f"{n:,}", m] + timing_cells(r) + [b.fmt_s(med(r["cpu"])), b.fmt_mb(max(r["rss_kb"])),
                                                          f"{per:.0f} µs"])
            if m == "plan (no change)" and n == 100000:
                ok = wall < 5 and max(r["rss_kb"]) < 300 * 1024
                targets.append(("plan of 100k unchanged < 5 s and < 300 MB", f"{b.fmt_s(wall)}, {b.fmt_mb(max(r['rss_kb']))}", ok))
    lines.append(table(["resources", "command", "N", "median", "min", "max", "CPU", "peak RSS", "per resource"], rows))
    lines.append("")
    lines.append("The journal's cost per step is apply (disk) − apply (tmpfs), divided by the resources. "
                 "Peak RSS: max over the repetitions.")
    for n in d.get("notes", []):
        lines.append("- " + n)
    return "\n".join(lines)


def startup_section(d):
    st = d.get("startup") or {}
    if not st:
        return ""
    rows = []
    for name, e in st.items():
        rows.append([name, e.get("method", ""), str(e.get("n", "")), b.fmt_s(e.get("median")), b.fmt_s(e.get("min")),
                     b.fmt_s(e.get("max")), b.fmt_mb(max(e["rss_kb"]) if e.get("rss_kb") else None)])
    return "\n".join(["### Start-up", "", table(["command", "method", "N", "median", "min", "max", "peak RSS"], rows)])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("results_md")
    p.add_argument("--docs")
    p.add_argument("--mode", default="full")
    p.add_argument("--kengine-version", default="")
    p.add_argument("--commit", default="")
    p.add_argument("--elapsed", default="")
    a = p.parse_args()
    m = load(a.run_dir, "machine") or b.machine()
    targets = []
    sections = []
    for name, fn in (("aws", aws_section), ("ssh", ssh_section), ("scale", scale_section)):
        d = load(a.run_dir, name)
        if d:
            sections.append(fn(d, targets))
    d = load(a.run_dir, "scale")
    if d and d.get("startup"):
        sections.append(startup_section(d))
    for name in ("aws", "ssh", "scale"):
        err = os.path.join(a.run_dir, name + ".error")
        if os.path.exists(err):
            with open(err) as f:
                sections.append(f"### {name}: FAILED\n\n```\n{f.read()[-3000:]}\n```")
    head = [f"Run: {m.get('date', '')} ({a.mode} mode{', ' + a.elapsed if a.elapsed else ''}), "
            f"kengine {a.kengine_version}{' at ' + a.commit if a.commit else ''}.",
            f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB memory, Linux {m['kernel']}; "
            f"load average at start {', '.join(map(str, m['load_at_start']))} (a shared machine: wall times are noisy).",
            ""]
    if targets:
        head += ["| target (issue 5) | measured | met |", "|---|---|---|"]
        head += [f"| {t} | {v} | {'yes' if ok else '**no**'} |" for t, v, ok in targets]
        head.append("")
    body = "\n".join(head) + "\n" + "\n\n".join(sections) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(a.results_md)), exist_ok=True)
    with open(a.results_md, "w") as f:
        f.write(f"# kengine benchmark results, {m.get('date', '')}\n\nWritten by `bench/run`; see docs/performance.md "
                "for what each workload measures.\n\n" + body)
    if a.docs:
        with open(a.docs) as f:
            doc = f.read()
        if BEGIN in doc and END in doc:
            pre, rest = doc.split(BEGIN, 1)
            _, post = rest.split(END, 1)
            doc = pre + BEGIN + "\n" + body + END + post
            with open(a.docs, "w") as f:
                f.write(doc)
        else:
            print(f"report: {a.docs} has no {BEGIN} … {END} markers; not updated", file=sys.stderr)
    print(body)


if __name__ == "__main__":
    main()
