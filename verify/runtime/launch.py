"""Launch a real run: verify first, then W worker processes on 127.0.0.1, under a watchdog.

The schedule is checked before anything starts: a schedule that deadlocks (or has any
other violation) is refused, and no process is launched. Otherwise one process per
worker runs :mod:`verify.runtime.worker`; the launcher watches them:

* ``start_timeout`` bounds importing torch and the rendezvous;
* ``timeout`` bounds the run itself, counted from the moment every rank has started;
* when one rank fails, the others get a short grace period, then are stopped.

On a timeout every process is stopped (terminate, then kill, each by its own pid) and
the result says where each rank was blocked, from the progress file it kept.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from verify.checks import check
from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.errors import ChimeraVerifyError
from verify.runtime.plan import plan_run


class RuntimeUnavailableError(ChimeraVerifyError):
    """The real-run harness cannot start (torch is not installed, no free port)."""


@dataclass(frozen=True, slots=True)
class RankStatus:
    """Where one rank was when the run ended."""

    rank: int
    exit_code: int | None
    """None when the launcher had to stop it."""
    phase: str
    step: int
    activity: tuple[str, ...]
    """Per pipeline thread: ``pipeline: state action (for N s)``."""
    last_error: str = ""

    def describe(self) -> str:
        where = "; ".join(self.activity) if self.activity else "no action started"
        code = "stopped by the watchdog" if self.exit_code is None else f"exit code {self.exit_code}"
        step = f", step {self.step}" if self.step >= 0 else ""
        err = f"; last error: {self.last_error}" if self.last_error else ""
        return f"rank {self.rank} ({code}): {self.phase}{step}: {where}{err}"

    def to_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "exit_code": self.exit_code, "phase": self.phase, "step": self.step,
                "activity": list(self.activity), "last_error": self.last_error}


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of :func:`run_schedule`."""

    status: str
    """``completed``, ``refused`` (the schedule failed verification), ``failed`` (a rank
    exited with an error) or ``timed-out``."""
    message: str
    traces: tuple[str, ...] = ()
    ranks: tuple[RankStatus, ...] = ()
    verification: Report | None = None
    wall_seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "message": self.message, "traces": list(self.traces),
            "ranks": [r.to_dict() for r in self.ranks],
            "verification": self.verification.to_dict() if self.verification else None,
            "wall_seconds": round(self.wall_seconds, 3), "notes": list(self.notes),
        }


def torch_available() -> bool:
    """True when ``torch`` can be imported (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _free_port() -> int:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    except OSError as e:
        raise RuntimeUnavailableError(f"no free port on 127.0.0.1: {e}") from None


def _read_progress(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _last_error(log: str) -> str:
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            lines = [ln.strip() for ln in f.read().splitlines()[-200:] if ln.strip()]
    except OSError:
        return ""
    for ln in reversed(lines):
        if ("Error" in ln or "Exception" in ln) and not ln.startswith("File "):
            return ln[:300]
    return ""


def _status(rank: int, out: str, code: int | None, now: float) -> RankStatus:
    prog = _read_progress(os.path.join(out, "progress", f"rank{rank}.json"))
    acts: list[str] = []
    threads = prog.get("threads", {})
    if isinstance(threads, dict):
        for name, t in sorted(threads.items()):
            if not isinstance(t, dict):
                continue
            since = t.get("since")
            dur = f" (for {now - since:.1f} s)" if isinstance(since, (int, float)) else ""
            action = t.get("action") or ""
            acts.append(f"{name}: {t.get('state', '?')} {action}".rstrip() + dur)
    err = _last_error(os.path.join(out, "logs", f"rank{rank}.log")) if code not in (0, None) else ""
    return RankStatus(rank, code, str(prog.get("phase", "not started")), int(prog.get("step", -1)),
                      tuple(acts), err)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 3.0
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5.0)


def run_schedule(
    schedule: Schedule,
    out_dir: str,
    *,
    steps: int = 2,
    timeout: float = 120.0,
    start_timeout: float = 240.0,
    pg_timeout: float = 60.0,
    stall: tuple[int, str] | None = None,
    python: str = sys.executable,
) -> RunResult:
    """Run ``schedule`` on real ``torch.distributed.pipelining`` (CPU, gloo), one process
    per worker, and write ``out_dir/rank<R>.json`` profiler traces.

    ``stall=(rank, action)`` makes that rank stop before ``action`` (a fault injected to
    test the watchdog). Raises :class:`RuntimeUnavailableError` when torch is missing.
    """
    report = check(schedule, timed=False)
    if not report.ok:
        kinds = sorted({v.kind.value for v in report.violations})
        return RunResult("refused", f"not run: the schedule fails verification ({', '.join(kinds)}); "
                         "nothing was launched", verification=report)
    if not torch_available():
        raise RuntimeUnavailableError("the real-run harness needs torch: pip install torch==2.13.0")
    plan = plan_run(schedule)
    W = plan.num_workers
    for sub in ("progress", "logs"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    for r in range(W):
        stale_files = (os.path.join(out_dir, f"rank{r}.json"),
                       os.path.join(out_dir, "progress", f"rank{r}.json"))
        for stale in stale_files:
            if os.path.exists(stale):
                os.unlink(stale)
    plan_path = os.path.join(out_dir, "plan.json")
    with open(plan_path, "w", encoding="utf-8") as f:
        f.write(plan.to_json())
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    port = _free_port()
    t0 = time.monotonic()
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for r in range(W):
            cmd = [python, "-m", "verify.runtime.worker", "--plan", plan_path, "--rank", str(r),
                   "--port", str(port), "--out", out_dir, "--steps", str(steps),
                   "--pg-timeout", str(pg_timeout)]
            if stall is not None and stall[0] == r:
                cmd += ["--stall", stall[1]]
            log = open(os.path.join(out_dir, "logs", f"rank{r}.log"), "wb")  # noqa: SIM115
            logs.append(log)
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root))
        status, message = _watch(procs, out_dir, W, timeout, start_timeout, t0)
    finally:
        _stop(procs)
        for log in logs:
            log.close()
    now = time.time()
    ranks = tuple(_status(r, out_dir, procs[r].returncode if status != "timed-out" or
                          procs[r].returncode == 0 else None, now) for r in range(W))
    traces = tuple(os.path.join(out_dir, f"rank{r}.json") for r in range(W))
    if status == "completed":
        missing = [t for t in traces if not os.path.exists(t)]
        if missing:
            status, message = "failed", f"no trace written: {', '.join(missing)}"
    if status != "completed":
        message += "\n" + "\n".join(r.describe() for r in ranks)
    return RunResult(status, message, traces if status == "completed" else (), ranks,
                     wall_seconds=time.monotonic() - t0, notes=plan.notes)


def _watch(procs: list[subprocess.Popen[bytes]], out: str, W: int, timeout: float,
           start_timeout: float, t0: float) -> tuple[str, str]:
    started: float | None = None
    failed_at: float | None = None
    while True:
        codes = [p.poll() for p in procs]
        if all(c == 0 for c in codes):
            return "completed", f"{W} ranks completed"
        now = time.monotonic()
        bad = [r for r, c in enumerate(codes) if c not in (None, 0)]
        if bad and failed_at is None:
            failed_at = now
        if failed_at is not None and (all(c is not None for c in codes) or now - failed_at > 5.0):
            return "failed", f"rank {bad[0]} failed (exit code {codes[bad[0]]})"
        if started is None:
            phases = [_read_progress(os.path.join(out, "progress", f"rank{r}.json")).get("phase")
                      for r in range(W)]
            if all(ph not in (None, "starting", "importing torch", "rendezvous") for ph in phases):
                started = now
            elif now - t0 > start_timeout:
                return "timed-out", f"timed out after {start_timeout:g} s while starting"
        elif now - started > timeout:
            return "timed-out", f"timed out: the run exceeded its {timeout:g} s budget"
        time.sleep(0.1)
