"""Perfetto / Chrome trace export.

Two routes: the Chrome Trace Event Format rules checked on the parsed JSON (always), and
the Perfetto trace processor itself (PyPI ``perfetto``), which loads the file and answers
SQL queries. The trace processor is a native binary that the ``perfetto`` package
downloads on first use; where that download is impossible (closed networks), point
``PERFETTO_TRACE_PROCESSOR`` at a ``trace_processor_shell`` binary, or put one on PATH;
without one the trace-processor test is skipped.

Expected values: chimera.md (Chimera D=4, N=4: makespan 10 in unit slots, 16 with
F=1, B=2; every worker busy N*F + N*B) and the message count of two pipelines of D
stages (each micro-batch crosses D-1 links forward and D-1 back).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.test_report_snapshots import known_bad_items
from verify import CostModel, generate
from verify.report.perfetto import render_perfetto

US = 1000.0  # default: one cost unit is 1000 microseconds


def chimera_messages(D: int, N: int) -> int:
    return N * 2 * (D - 1)  # N micro-batches in all, D-1 activations + D-1 gradients each


def load(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    assert isinstance(doc, dict)
    return doc


def slices(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in doc["traceEvents"] if e["ph"] == "X"]


@pytest.mark.parametrize(("D", "N"), [(4, 4), (4, 8), (6, 6)])
def test_one_slice_per_op_and_one_flow_per_message(D: int, N: int) -> None:
    s = generate("chimera", D, N)
    doc = load(render_perfetto(s, CostModel(F=1, B=2)))
    xs = slices(doc)
    assert len(xs) == s.num_ops == 2 * D * N
    starts = [e for e in doc["traceEvents"] if e["ph"] == "s"]
    ends = [e for e in doc["traceEvents"] if e["ph"] == "f"]
    assert len(starts) == len(ends) == chimera_messages(D, N)
    assert {e["id"] for e in starts} == {e["id"] for e in ends}
    # each flow end lies inside a slice of its thread (so viewers bind it to that slice)
    by_tid: dict[int, list[tuple[float, float]]] = {}
    for e in xs:
        by_tid.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    for e in starts + ends:
        assert any(a < e["ts"] < b for a, b in by_tid[e["tid"]])
    # no two slices of a worker overlap (no Overlap units here)
    for spans in by_tid.values():
        spans.sort()
        assert all(b0 <= a1 for (_, b0), (a1, _) in itertools.pairwise(spans))


def test_real_durations_from_the_cost_model() -> None:
    """chimera.md: D=4, N=4 with F=1, B=2 in order: makespan 16; each worker busy
    N*F + N*B = 12."""
    doc = load(render_perfetto(generate("chimera", 4, 4), CostModel(F=1, B=2)))
    xs = slices(doc)
    assert max(e["ts"] + e["dur"] for e in xs) == 16 * US
    assert {e["dur"] for e in xs if e["cat"] == "F"} == {1 * US}
    assert {e["dur"] for e in xs if e["cat"] == "B"} == {2 * US}
    busy: dict[int, float] = {}
    for e in xs:
        busy[e["tid"]] = busy.get(e["tid"], 0.0) + e["dur"]
    assert sorted(busy.values()) == [12 * US] * 4
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"P0", "P1", "P2", "P3"}


def test_a_deadlocked_schedule_lists_what_never_started() -> None:
    _, (report, schedule) = known_bad_items()
    doc = load(render_perfetto(schedule, report=report))
    never = doc["otherData"]["never_started"]
    assert len(slices(doc)) + len(never) == schedule.num_ops
    cycle = next(v for v in report.violations if v.kind.value == "deadlock")
    assert {(n["worker"], n["position"]) for n in never} >= set(cycle.positions)


def _trace_processor_binary() -> str | None:
    env = os.environ.get("PERFETTO_TRACE_PROCESSOR")
    if env and Path(env).is_file():
        return env
    return shutil.which("trace_processor_shell") or shutil.which("trace_processor")


def test_perfetto_trace_processor_loads_the_export(tmp_path: Path) -> None:
    pytest.importorskip("perfetto")
    binary = _trace_processor_binary()
    if binary is None:
        pytest.skip("no trace_processor_shell binary: set PERFETTO_TRACE_PROCESSOR to one")
    from perfetto.trace_processor import TraceProcessor, TraceProcessorConfig

    D, N = 4, 4
    s = generate("chimera", D, N)
    path = tmp_path / "chimera.json"
    path.write_text(render_perfetto(s, CostModel(F=1, B=2)), encoding="utf-8")
    tp = TraceProcessor(trace=str(path), config=TraceProcessorConfig(bin_path=binary))
    try:
        n_slices = next(iter(tp.query("select count(*) as n from slice"))).n
        n_flows = next(iter(tp.query("select count(*) as n from flow"))).n
        threads = {r.name for r in tp.query("select name from thread where name like 'P%'")}
        end_ns = next(iter(tp.query("select max(ts + dur) - min(ts) as t from slice"))).t
    finally:
        tp.close()
    assert n_slices == s.num_ops == 32
    assert n_flows == chimera_messages(D, N)
    assert threads == {"P0", "P1", "P2", "P3"}
    assert end_ns == 16 * US * 1000  # trace processor times are nanoseconds
