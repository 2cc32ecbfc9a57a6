"""Real runs on torch.distributed.pipelining (CPU, gloo): the traces conform, and the same
traces perturbed or checked against another schedule are diagnosed.

Five small runs in total (2-4 processes, a few micro-batches, two profiled steps), each
started once per module; skipped when torch is not installed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from verify.core.results import ViolationKind as K
from verify.core.schedule import Schedule
from verify.generators import generate
from verify.runtime import RunResult, run_schedule
from verify.traces import check_trace, read_trace

pytest.importorskip("torch")

RUNS = {
    "gpipe": ("gpipe", 2, 4),
    "interleaved-1f1b": ("interleaved-1f1b", 2, 4),
    "zb-v": ("zb-v", 2, 4),
    "chimera": ("chimera", 4, 4),
}
_cache: dict[str, tuple[Schedule, RunResult]] = {}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Any:
    def get(name: str) -> tuple[Schedule, RunResult]:
        if name not in _cache:
            family, D, N = RUNS[name]
            s = generate(family, D, N)
            out = tmp_path_factory.mktemp(name)
            result = run_schedule(s, str(out), steps=2, timeout=120)
            assert result.ok, result.message
            _cache[name] = (s, result)
        return _cache[name]

    return get


def load(path: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(Path(path).read_text())
    return doc


def events_named(doc: dict[str, Any], name: str, step: str = "ProfilerStep#1") -> list[dict[str, Any]]:
    """The events called ``name`` inside the step ``step`` of one rank's trace."""
    win = next(e for e in doc["traceEvents"] if e.get("name") == step)
    return [e for e in doc["traceEvents"] if e.get("name") == name and e.get("ph") == "X"
            and win["ts"] <= e["ts"] <= win["ts"] + win["dur"]]


@pytest.mark.parametrize("name", list(RUNS))
def test_real_run_traces_conform(real: Any, name: str) -> None:
    s, result = real(name)
    r = check_trace(s, read_trace(list(result.traces)))
    assert r.ok, r.report.violations[:3]
    assert [st.label for st in r.steps] == ["ProfilerStep#1", "ProfilerStep#2"]
    assert all(st.ops_executed == s.num_ops for st in r.steps)
    assert r.fitted is not None and r.predicted_makespan is not None and r.measured_makespan


def test_real_traces_against_other_schedules(real: Any) -> None:
    _s, result = real("gpipe")
    r = check_trace(generate("1f1b", 2, 4), read_trace(list(result.traces)))
    assert r.report.kinds() == {K.ORDER_DIVERGENCE}
    assert r.diverged == ("ProfilerStep#1", "ProfilerStep#2")
    assert any(v.message.startswith(
        "ProfilerStep#1, worker 0: the execution order diverges from the schedule at op 2: "
        "schedule 0F0 0F1 [0B0] 0F2 0B1 0F3 ...; trace 0F0 0F1 [0F2] 0F3 0B0 0B1 ...")
        for v in r.report.violations)
    _c, cres = real("chimera")
    r2 = check_trace(generate("gpipe", 4, 4), read_trace(list(cres.traces)))
    assert {K.NOT_EXECUTED, K.UNSCHEDULED} <= r2.report.kinds()


def test_real_trace_with_two_actions_swapped(real: Any, tmp_path: Path) -> None:
    s, result = real("zb-v")
    doc = load(result.traces[0])
    a, b = events_named(doc, "PP:0W0")[0], events_named(doc, "PP:0W1")[0]
    a["name"], b["name"] = "PP:0W1", "PP:0W0"
    p0 = tmp_path / "rank0.json"
    p0.write_text(json.dumps(doc))
    r = check_trace(s, read_trace([str(p0), result.traces[1]]))
    assert r.report.kinds() == {K.ORDER_DIVERGENCE} and r.diverged == ("ProfilerStep#1",)
    prog = [str(x) for x in s.programs[0]]
    at = prog.index("0W0")
    assert r.report.violations[0].message.startswith(
        f"ProfilerStep#1, worker 0: the execution order diverges from the schedule at op {at}: ")
    assert " [0W0] " in r.report.violations[0].message and " [0W1] " in r.report.violations[0].message


def test_real_trace_with_an_action_dropped(real: Any, tmp_path: Path) -> None:
    s, result = real("gpipe")
    doc = load(result.traces[0])
    victim = events_named(doc, "PP:0F2", "ProfilerStep#2")[0]
    doc["traceEvents"].remove(victim)
    p0 = tmp_path / "rank0.json"
    p0.write_text(json.dumps(doc))
    r = check_trace(s, read_trace([str(p0), result.traces[1]]))
    assert [v.message for v in r.report.violations] == [
        "ProfilerStep#2: 0F2 (worker 0, position 2) was not executed"]


def test_real_trace_with_a_timestamp_before_its_producer(real: Any, tmp_path: Path) -> None:
    s, result = real("gpipe")
    d0, d1 = load(result.traces[0]), load(result.traces[1])
    cons = events_named(d0, "PP:0B0")[0]  # rank 0's backward needs rank 1's 1B0
    prod = events_named(d1, "PP:1B0")[0]
    shift = (d1["baseTimeNanoseconds"] - d0["baseTimeNanoseconds"]) / 1000
    cons["ts"], cons["dur"] = prod["ts"] + shift + 1, 1  # now computes inside 1B0's span
    p0 = tmp_path / "rank0.json"
    p0.write_text(json.dumps(d0))
    r = check_trace(s, read_trace([str(p0), result.traces[1]]))
    assert r.report.kinds() == {K.DEPENDENCY_VIOLATED}
    (v,) = r.report.violations
    m = re.fullmatch(
        r"ProfilerStep#1: 0B0 \(worker 0\) started computing at ([0-9.e+]+) us "
        r"\(.*rank0\.json:\$\.traceEvents\[\d+\]\), before its producer 1B0 \(worker 1\) ended at "
        r"([0-9.e+]+) us \(.*rank1\.json:\$\.traceEvents\[\d+\]\)", v.message)
    assert m is not None, v.message
    # documented rule: an op fed by an earlier RECV computes from min(max(start, arrival), end);
    # its input arrives after 1B0 ended, so it "computes" at its moved end (1B0.ts + 2);
    # without an earlier RECV (posted after the moved op) it computes from its start
    recv = events_named(d0, "PP:0RECV_B0")[0]
    begins = 2 if recv["ts"] <= cons["ts"] else 1
    assert float(m.group(2)) - float(m.group(1)) == pytest.approx(prod["dur"] - begins, abs=0.01)


def test_a_run_over_its_timeout_ends_with_where_each_rank_was_blocked(tmp_path: Path) -> None:
    t0 = time.monotonic()
    r = run_schedule(generate("gpipe", 2, 4), str(tmp_path), steps=1, timeout=3, stall=(1, "1F2"))
    assert r.status == "timed-out" and "exceeded its 3 s budget" in r.message
    assert time.monotonic() - t0 < 120
    r0, r1 = r.ranks
    assert r0.exit_code is None and r1.exit_code is None  # both stopped by the watchdog
    assert r1.phase == "running" and r1.step == 0
    assert r1.activity[0].startswith("main: stalled (injected fault) 1F2")
    assert r0.phase == "running" and r0.activity[0].startswith("main: running 0")
    assert ("rank 1 (stopped by the watchdog): running, step 0: main: stalled (injected fault) 1F2"
            in r.message)
