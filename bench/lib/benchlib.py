"""Shared helpers of the kengine benchmarks (bench/run): timing child processes, a private
moto_server whose request log counts API calls, statistics and Markdown tables.

Timing: every measured command is one child process; wall time is taken around
fork/exec..wait4 with time.perf_counter(); CPU time (user + sys) comes from the rusage that
wait4(2) returns for it (the child and the descendants it waited for). Peak RSS is GNU
time's %M ("Maximum resident set size" of `/usr/bin/time -v`): the command runs under
/usr/bin/time, because ru_maxrss survives execve and a child forked from this Python would
report at least Python's own size. For tools that fork (ansible, parallel-ssh, xargs) it is
the largest single process, not the sum.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Iterable, Optional
from urllib.parse import parse_qs


@dataclass
class Run:
    """One measured child process."""

    argv: list
    rc: int
    wall: float  # seconds
    user: float  # seconds of CPU in user mode (the child itself)
    sys: float  # seconds of CPU in kernel mode
    maxrss_kb: int  # peak resident set size, KiB
    stdout: str
    stderr: str


def run(argv, env=None, cwd=None, stdin_text=None, timeout=900, check=True) -> Run:
    """Run argv to completion and measure it. Raises RuntimeError when check and rc != 0."""
    stdout = tempfile.TemporaryFile()
    stderr = tempfile.TemporaryFile()
    stdin = subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL
    rss_file = tempfile.NamedTemporaryFile(prefix="kengine-bench-rss-", delete=False)
    rss_file.close()
    timed = ["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file.name] + list(map(str, argv)) if os.path.exists("/usr/bin/time") else list(argv)
    start = time.perf_counter()
    proc = subprocess.Popen(timed, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr,
                            start_new_session=True)
    if stdin_text is not None:
        try:
            proc.stdin.write(stdin_text.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        if time.perf_counter() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.002)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout.seek(0)
    stderr.seek(0)
    maxrss = usage.ru_maxrss
    try:
        with open(rss_file.name) as f:
            lines = [x for x in f.read().split() if x.isdigit()]
            if lines:
                maxrss = int(lines[-1])
    finally:
        os.unlink(rss_file.name)
    r = Run(list(map(str, argv)), proc.returncode, wall, usage.ru_utime, usage.ru_stime, maxrss,
            stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace"))
    if check and r.rc != 0:
        raise RuntimeError(f"{' '.join(r.argv)} exited {r.rc}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}")
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_calls_printed(text: str) -> Optional[int]:
    """The last "API calls: N" kengine printed, or None."""
    import re

    found = re.findall(r"API calls:\s*(\d+)", text)
    return int(found[-1]) if found else None


class Moto:
    """A private moto_server on a free 127.0.0.1 port with moto's request recorder on.

    API calls are counted from moto's own record of the requests it received
    (MOTO_ENABLE_RECORDING: one JSON line per request, written when the request arrives,
    retries included), the same way for every tool; /moto-api/* requests (reset, data) are
    not counted.
    """

    def __init__(self, workdir: str):
        self.dir = workdir
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.recording = os.path.join(workdir, "moto-requests.jsonl")
        open(self.recording, "w").close()
        env = dict(os.environ, MOTO_ENABLE_RECORDING="1", MOTO_RECORDER_FILEPATH=self.recording)
        moto = shutil.which("moto_server") or os.path.expanduser("~/.pyenv/shims/moto_server")
        self.log = open(os.path.join(workdir, "moto.log"), "w")
        self.proc = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/data.json", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
            if self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("moto_server did not start; see " + self.log.name)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def reset(self):
        req = urllib.request.Request(self.endpoint + "/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=30):
            pass

    def mark(self) -> int:
        """Current size of the request record, to count the requests after it."""
        return os.path.getsize(self.recording)

    def requests_since(self, mark: int) -> list:
        """Requests received since `mark`: [{"action": ..., "service": ...}]."""
        out = []
        with open(self.recording, "rb") as f:
            f.seek(mark)
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                path = e.get("url", "").split("://", 1)[-1]
                path = "/" + path.split("/", 1)[1] if "/" in path else "/"
                if path.startswith("/moto-api"):
                    continue
                out.append({"action": _action_of(e), "service": _service_of(e)})
        return out

    def warm(self, region="us-east-1"):
        """One EC2 and one Auto Scaling request, so that moto's per-region start-up (it loads
        its AMI catalogue on the first EC2 request) is not charged to the first tool."""
        import boto3

        kw = dict(endpoint_url=self.endpoint, region_name=region, aws_access_key_id="testing",
                  aws_secret_access_key="testing")
        boto3.client("ec2", **kw).describe_vpcs()
        boto3.client("ec2", **kw).describe_images(Owners=["099720109477"], Filters=[{"Name": "name", "Values": ["x"]}])
        boto3.client("autoscaling", **kw).describe_auto_scaling_groups()


def _body_of(e) -> str:
    body = e.get("body") or ""
    if e.get("body_encoded"):
        import base64

        try:
            body = base64.b64decode(body).decode(errors="replace")
        except ValueError:
            body = ""
    return body


def _action_of(e) -> str:
    headers = {k.lower(): v for k, v in (e.get("headers") or {}).items()}
    if "x-amz-target" in headers:
        return headers["x-amz-target"].split(".")[-1]
    body = _body_of(e)
    q = parse_qs(body)
    if "Action" in q:
        return q["Action"][0]
    url = e.get("url", "")
    if "Action=" in url:
        return parse_qs(url.split("?", 1)[1]).get("Action", ["?"])[0]
    return e.get("method", "?") + " " + url.split("://", 1)[-1].split("/", 1)[-1][:40]


def _service_of(e) -> str:
    headers = {k.lower(): v for k, v in (e.get("headers") or {}).items()}
    auth = headers.get("authorization", "")
    if "Credential=" in auth:
        parts = auth.split("Credential=", 1)[1].split(",")[0].split("/")
        if len(parts) >= 4:
            return parts[3]
    return "?"


def summarize(values: Iterable[float]) -> dict:
    v = sorted(values)
    if not v:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {"n": len(v), "median": statistics.median(v), "min": v[0], "max": v[-1]}


@dataclass
class Row:
    """One line of a result table: a tool's repetitions of one measurement."""

    tool: str
    walls: list = field(default_factory=list)
    cpu: list = field(default_factory=list)  # user+sys of the measured process
    rss_kb: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    note: str = ""

    def add(self, r: Optional[Run], calls=None):
        if r is not None:
            self.walls.append(r.wall)
            self.cpu.append(r.user + r.sys)
            self.rss_kb.append(r.maxrss_kb)
        if calls is not None:
            self.calls.append(calls)

    def to_json(self):
        return {"tool": self.tool, "walls": self.walls, "cpu": self.cpu, "rss_kb": self.rss_kb,
                "calls": self.calls, "note": self.note}


def fmt_s(x) -> str:
    if x is None:
        return "–"
    if x < 0.01:
        return f"{x * 1000:.1f} ms"
    if x < 1:
        return f"{x * 1000:.0f} ms"
    return f"{x:.2f} s"


def fmt_calls(calls: list) -> str:
    if not calls:
        return "–"
    lo, hi = min(calls), max(calls)
    return str(lo) if lo == hi else f"{lo}–{hi}"


def fmt_mb(kb) -> str:
    return "–" if kb is None else f"{kb / 1024:.0f} MB"


def write_json(path: str, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def machine() -> dict:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    load = os.getloadavg()
    kernel = os.uname().release
    return {"nproc": len(os.sched_getaffinity(0)), "memory_gib": round(mem_kb / 1024 / 1024, 1), "cpu": cpu,
            "kernel": kernel, "load_at_start": [round(x, 2) for x in load]}
