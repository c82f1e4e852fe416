"""Shared pieces of the benchmark runner: machine facts, child processes stopped by PID, the load generator,
py-spy, and one end-to-end run against one bot process."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# --------------------------------------------------------------------------- machine

def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def rss_mb(pid: int) -> float | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


# --------------------------------------------------------------------------- processes

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process started here, stopped by its PID."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.log = log
        out = open(log, "ab")
        try:
            self.proc = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)
        finally:
            out.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def tail(self, n: int = 2000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-n:]
        return ""


def wait_healthy(proc: Proc, port: int, timeout: float) -> float:
    """Seconds until GET /healthz answers 200."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not proc.alive():
            raise RuntimeError(f"process exited before it was ready:\n{proc.tail()}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - t0
        time.sleep(0.25)
    raise RuntimeError(f"not ready within {timeout:.0f} s:\n{proc.tail()}")


def run_loadgen(port: int, bot_pid: int, count: int, warmup: int, texts: Path, *, concurrency: int,
                max_seconds: float, users: int) -> dict[str, Any]:
    args = [PYTHON, "-m", "bench.loadgen", "--target", f"http://127.0.0.1:{port}/api/messages",
            "--count", str(count), "--warmup", str(warmup), "--concurrency", str(concurrency),
            "--texts", str(texts), "--bot-pid", str(bot_pid), "--max-seconds", str(max_seconds),
            "--users", str(users)]
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=max_seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Profiler:
    """py-spy record on a process for the duration of a run (if py-spy is installed)."""

    def __init__(self, pid: int, seconds: float, raw: Path, gil: bool = False):
        self.raw = raw
        exe = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
        self.proc: subprocess.Popen[bytes] | None = None
        if Path(exe).exists() or shutil.which(exe):
            cmd = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "200", "--format", "raw",
                   "-o", str(raw), "--nonblocking"] + (["--gil"] if gil else [])
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self) -> str | None:
        if self.proc is None:
            return None
        try:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes what it has on Ctrl-C
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        if not self.raw.exists():
            return None
        from bench.profile import load, render, summarise

        return render(summarise(load(self.raw), 30))


# --------------------------------------------------------------------------- e2e

def e2e_target(name: str, module_args: list[str], *, count: int, warmup: int, texts: Path, workdir: Path,
               ready_timeout: float, concurrency: int, max_seconds: float, users: int,
               env: dict[str, str] | None = None, profile: Path | None = None, gil: bool = False
               ) -> dict[str, Any]:
    port = free_port()
    proc = Proc([PYTHON, "-m", *module_args, "--port", str(port)], workdir / f"{name}.log", env)
    try:
        started = wait_healthy(proc, port, ready_timeout)
        profiler = Profiler(proc.pid, max_seconds, profile.with_suffix(".raw"), gil) if profile else None
        result = run_loadgen(port, proc.pid, count, warmup, texts, concurrency=concurrency,
                             max_seconds=max_seconds, users=users)
        if profiler is not None and profile is not None:
            summary = profiler.finish()
            if summary:
                profile.write_text(summary + "\n")
                result["profile"] = str(profile.relative_to(REPO))
        result["startup_seconds"] = round(started, 1)
        result["rss_mb"] = rss_mb(proc.pid)
        if not proc.alive():
            raise RuntimeError(f"{name} exited during the run:\n{proc.tail()}")
        return result
    finally:
        proc.stop()


def summary_line(name: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{name}: ERROR {r['error'][:300]}"
    lat = r.get("latency_ms", {})
    return (f"{name}: {r.get('activities_per_s')} activities/s, p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms, "
            f"{r.get('bot_cpu_ms_per_activity')} ms CPU/activity, errors {sum(r.get('errors', {}).values())}")


def bench_lines(log: Path, prefix: str) -> list[str]:
    with contextlib.suppress(OSError):
        return [line.split("BENCH ", 1)[1].strip() for line in log.read_text(errors="replace").splitlines()
                if prefix in line]
    return []


def bot_adapter(log: Path) -> str:
    """Which adapter the register bot ran with (bench/register_bot.py logs it)."""
    with contextlib.suppress(OSError):
        for line in log.read_text(errors="replace").splitlines():
            if "BENCH adapter=" in line:
                return line.split("BENCH ", 1)[1].strip()
    return ""
