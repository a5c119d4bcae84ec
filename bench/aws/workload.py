#!/usr/bin/env python3
"""Workload "aws" of bench/run: profiles/aws/ubuntu.lua against a private moto_server.

Tools: kengine, boto3 (bench/aws/boto3_peer.py, sequential), ansible (bench/aws/ansible/,
amazon.aws + community.aws from Debian's `ansible` package).
Phases: create (node set count 2), no-op plan (kengine plan / boto3 describe+compare /
ansible-playbook --check), scale the node set 2→10, destroy.
Each repetition starts from an empty moto (POST /moto-api/reset, then a warm-up request so
moto's lazy per-region start-up is not charged to anyone) and each tool runs its four phases
on that empty moto in turn; the tool order rotates between repetitions.
API calls: counted by moto's request recorder for every tool (benchlib.Moto).

    workload.py --kengine BIN --out result.json [--reps 5] [--ansible-reps 3] [--tools kengine,boto3,ansible]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PHASES = ["create", "noop", "scale", "destroy"]
CLUSTER = "kengine-aws"


def profile_copy(work: str, nodes: int) -> str:
    """profiles/aws/ubuntu.lua with the node set's count replaced (the test suite does the same)."""
    with open(os.path.join(REPO, "profiles/aws/ubuntu.lua")) as f:
        text = f.read()
    marker = 'role = "node",'
    at = text.index(marker)
    count_at = text.index("count = 2,", at)
    text = text[:count_at] + f"count = {nodes}," + text[count_at + len("count = 2,"):]
    path = os.path.join(work, f"ubuntu-{nodes}.lua")
    with open(path, "w") as f:
        f.write(text)
    return path


class Tools:
    def __init__(self, a, moto: benchlib.Moto, work: str):
        self.a, self.moto, self.work = a, moto, work
        self.key = os.path.join(work, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", self.key], check=True)
        self.p2, self.p10 = profile_copy(work, 2), profile_copy(work, 10)
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.env = dict(base, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
                        AWS_ENDPOINT_URL=moto.endpoint, HOME=work, KENGINE_SSH_PUBLIC_KEY=self.key + ".pub",
                        KENGINE_PATH=REPO)
        os.makedirs(os.path.join(work, "ansible-home"), exist_ok=True)
        self.ansible_env = dict(base, HOME=work, ANSIBLE_HOME=os.path.join(work, "ansible-home"),
                                ANSIBLE_LOCALHOST_WARNING="False", ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
                                ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_NOCOLOR="1",
                                ANSIBLE_RETRY_FILES_ENABLED="False", PATH="/usr/bin:/bin:/usr/sbin:/sbin")
        self.python = sys.executable

    def commands(self, tool: str, rep: int):
        """argv (and env, expected exit codes) of each phase."""
        if tool == "kengine":
            k = [self.a.kengine, "--no-color", "--state", os.path.join(self.work, f"state-{rep}")]
            return self.env, {
                "create": (k + ["run", self.p2, "--yes"], (0,)),
                "noop": (k + ["plan", self.p2, "--detailed-exitcode"], (0,)),
                "scale": (k + ["run", self.p10, "--yes"], (0,)),
                "destroy": (k + ["destroy", self.p10, "--yes"], (0,)),
            }
        if tool == "boto3":
            b = [self.python, os.path.join(HERE, "boto3_peer.py")]
            e = ["--endpoint", self.moto.endpoint, "--cluster", CLUSTER]
            return self.env, {
                "create": (b + ["create"] + e + ["--public-key", self.key + ".pub", "--nodes", "2"], (0,)),
                "noop": (b + ["noop"] + e + ["--nodes", "2"], (0,)),
                "scale": (b + ["scale"] + e + ["--nodes", "10"], (0,)),
                "destroy": (b + ["destroy"] + e, (0,)),
            }
        if tool == "ansible":
            pb = ["/usr/bin/ansible-playbook", "-i", "localhost,"]
            e = ["-e", f"endpoint={self.moto.endpoint}", "-e", f"cluster={CLUSTER}", "-e",
                 f"public_key_file={self.key}.pub", "-e", f"repo={REPO}"]
            cl, de = os.path.join(HERE, "ansible", "cluster.yml"), os.path.join(HERE, "ansible", "destroy.yml")
            return self.ansible_env, {
                "create": (pb + [cl] + e + ["-e", "node_count=2"], (0,)),
                "noop": (pb + [cl, "--check"] + e + ["-e", "node_count=2"], (0,)),
                "scale": (pb + [cl] + e + ["-e", "node_count=10"], (0,)),
                "destroy": (pb + [de] + e, (0,)),
            }
        raise ValueError(tool)


def ansible_available() -> str:
    """'' when ansible-playbook and the collections are there, else why not."""
    if not shutil.which("ansible-playbook", path="/usr/bin"):
        return "ansible-playbook not installed (Debian package `ansible`)"
    root = "/usr/lib/python3/dist-packages/ansible_collections"
    for c in ("amazon/aws", "community/aws", "community/general"):
        if not os.path.isdir(os.path.join(root, c)):
            return f"collection {c.replace('/', '.')} missing (Debian package `ansible` bundles it)"
    r = subprocess.run(["/usr/bin/python3", "-c", "import boto3, botocore"], capture_output=True)
    if r.returncode != 0:
        return "Debian python3 has no boto3 (Debian package python3-boto3)"
    return ""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kengine", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--ansible-reps", type=int, default=3)
    p.add_argument("--tools", default="kengine,boto3,ansible")
    a = p.parse_args()
    tools = a.tools.split(",")
    notes = []
    if "ansible" in tools:
        why = ansible_available()
        if why:
            tools.remove("ansible")
            notes.append(f"Ansible skipped: {why}.")
    work = tempfile.mkdtemp(prefix="kengine-bench-aws-")
    moto = benchlib.Moto(work)
    rows = {(t, ph): benchlib.Row(t) for t in tools for ph in PHASES}
    kengine_printed = collections.defaultdict(list)
    actions = {}
    changed_in_check = []
    resource_types = None
    try:
        runner = Tools(a, moto, work)
        if "kengine" in tools:
            # Resource types of the profile that talk to AWS (the built-in kengine_* types do not).
            r = benchlib.run([a.kengine, "--no-color", "render", runner.p2], env=runner.env, cwd=work)
            types = set(re.findall(r"^\s*type: (\S+)$", r.stdout, re.M))
            resource_types = len([t for t in types if t.startswith("aws_")])
        for rep in range(a.reps):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                if tool == "ansible" and rep >= a.ansible_reps:
                    continue
                moto.reset()
                moto.warm()
                env, cmds = runner.commands(tool, rep)
                for ph in PHASES:
                    argv, ok = cmds[ph]
                    mark = moto.mark()
                    r = benchlib.run(argv, env=env, cwd=work, check=False, timeout=900)
                    if r.rc not in ok:
                        raise RuntimeError(f"{tool} {ph} exited {r.rc}:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
                    reqs = moto.requests_since(mark)
                    rows[(tool, ph)].add(r, len(reqs))
                    if rep == 0:
                        actions[f"{tool} {ph}"] = dict(collections.Counter(x["action"] for x in reqs).most_common())
                    if tool == "boto3":
                        m = re.search(r"calls-seconds: ([0-9.]+)", r.stderr)
                        if m:
                            inner = benchlib.Run(r.argv, 0, float(m.group(1)), 0, 0, 0, "", "")
                            rows.setdefault(("boto3 (calls only)", ph), benchlib.Row("boto3 (calls only)")).add(inner, len(reqs))
                    if tool == "kengine":
                        kengine_printed[ph].append(benchlib.api_calls_printed(r.stdout + r.stderr))
                    if tool == "ansible" and ph == "noop":
                        m = re.search(r"changed=(\d+)", r.stdout)
                        changed_in_check.append(int(m.group(1)) if m else None)
                print(f"aws rep {rep + 1}/{a.reps} {tool}: " + ", ".join(
                    f"{ph} {rows[(tool, ph)].walls[-1]:.2f}s/{rows[(tool, ph)].calls[-1]}" for ph in PHASES), flush=True)
    finally:
        moto.stop()
        shutil.rmtree(work, ignore_errors=True)
    if "ansible" in tools:
        notes.append("Ansible's no-op is `ansible-playbook --check` of the same playbook; it reported "
                     f"changed={changed_in_check} (ec2_key and autoscaling_group are not idempotent in check mode "
                     "against moto). The autoscaling_group tasks set metrics_collection: true because moto does not "
                     "implement DisableMetricsCollection, which the module calls on every update otherwise.")
        notes.append(f"Ansible: {a.ansible_reps} repetitions (one is ~1 min here), the others {a.reps}.")
    if "boto3" in tools:
        tools.insert(tools.index("boto3") + 1, "boto3 (calls only)")
        notes.append("boto3 (calls only): the boto3 script's time after Python start-up and `import boto3` "
                     "(clients, calls and waits), measured inside the script.")
    benchlib.write_json(a.out, {
        "workload": "aws", "phases": PHASES, "tools": tools,
        "rows": {f"{t}|{ph}": rows[(t, ph)].to_json() for (t, ph) in rows},
        "kengine_printed_calls": kengine_printed, "resource_types": resource_types, "actions_rep1": actions, "notes": notes,
    })


if __name__ == "__main__":
    main()
