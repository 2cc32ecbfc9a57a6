"""Trace readers: PyTorch profiler traces (hand-made in the shape ecosystem.md describes)
and the generic event log; every malformed input is a located error."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from verify.core.results import ViolationKind as K
from verify.errors import ScheduleFormatError
from verify.generators import generate
from verify.traces import check_trace, format_of_trace, read_trace, synthetic_trace, write_event_log
from verify.traces.eventlog import read_csv_log
from verify.traces.events import EventBuilder

DATA = Path(__file__).parent / "data" / "traces"


def x(name: str, ts: float, dur: float, tid: int = 1, cat: str = "user_annotation") -> dict[str, Any]:
    return {"ph": "X", "cat": cat, "name": name, "pid": 7, "tid": tid, "ts": ts, "dur": dur}


def kineto(rank: int, events: list[dict[str, Any]], base: int = 1_700_000_000_000_000_000) -> dict[str, Any]:
    return {
        "schemaVersion": 1,
        "distributedInfo": {"backend": "gloo", "rank": rank, "world_size": 2},
        "baseTimeNanoseconds": base,
        "traceEvents": [{"ph": "M", "name": "thread_name", "pid": 7, "tid": 1, "args": {"name": "x"}},
                        x("aten::mm", 1, 1, cat="cpu_op"), *events],
        "traceName": "t",
    }


def gpipe_pair(tmp: Path, *, base1: int = 1_700_000_000_000_000_000) -> list[str]:
    """GPipe D=2 N=2 as PyTorch's runtime records it, one profiled step: rank 1 waits
    for its inputs inside the RECV actions (gloo:recv spans end when data arrived)."""
    r0 = [x("ProfilerStep#3", 0, 100),
          x("PP:0F0", 10, 10), x("PP:0SEND_F0", 20, 1), x("gloo:send", 20, 5),
          x("PP:0F1", 21, 10), x("PP:0SEND_F1", 31, 1),
          x("PP:0RECV_B0", 32, 1), x("gloo:recv", 32, 40), x("PP:0B0", 33, 50),
          x("PP:0RECV_B1", 84, 1), x("gloo:recv", 84, 1), x("PP:0B1", 85, 10)]
    shift = (1_700_000_000_000_000_000 - base1) / 1000  # same clock, other base
    r1 = [x("ProfilerStep#3", 0 + shift, 100),
          x("PP:1RECV_F0", 5 + shift, 1), x("gloo:recv", 5 + shift, 16),  # arrives at 21
          x("PP:1F0", 6 + shift, 25),  # waits inside: computes from 21 to 31
          x("PP:1RECV_F1", 31 + shift, 1), x("gloo:recv", 31 + shift, 2),
          x("PP:1F1", 33 + shift, 10), x("PP:1B0", 43 + shift, 10), x("PP:1SEND_B0", 53 + shift, 1),
          x("PP:1B1", 60 + shift, 10), x("PP:1SEND_B1", 70 + shift, 1),
          x("Optimizer.step", 200 + shift, 5)]
    paths = []
    for rank, evs, base in ((0, r0, 1_700_000_000_000_000_000), (1, r1, base1)):
        p = tmp / f"rank{rank}.json"
        p.write_text(json.dumps(kineto(rank, evs, base), indent=1))
        paths.append(str(p))
    return paths


def test_kineto_pair_conforms_and_readiness_comes_from_the_receives(tmp_path: Path) -> None:
    paths = gpipe_pair(tmp_path, base1=1_700_000_000_000_002_000)  # rank 1's base 2 us later
    ev = read_trace(paths)
    assert ev.time_unit == "us" and ev.marked
    labels = sorted(ev.label(i) for i in range(len(ev)))
    assert labels.count("1F0") == 1 and "0SEND_F1" in labels
    i = next(j for j in range(len(ev)) if ev.label(j) == "1F0")
    j = next(j for j in range(len(ev)) if ev.label(j) == "0F0")
    assert ev.start[i] - ev.start[j] == pytest.approx(-4.0)  # times on one clock
    assert ev.ready[i] - ev.start[j] == pytest.approx(11.0)  # its receive completed at 21
    r = check_trace(generate("gpipe", 2, 2), ev)
    assert r.ok, r.report.violations
    assert [s.label for s in r.steps] == ["ProfilerStep#3"] and r.ignored == 0
    # busy time counts computing only: rank 1 computes 1F0 for 10 us, not 25
    assert r.report.metrics is not None and r.report.metrics.busy[1] == pytest.approx(40.0)
    assert r.fitted is not None and r.fitted.durations(1)[0] == pytest.approx(10.0)


def test_kineto_moved_before_producer_and_other_schedule(tmp_path: Path) -> None:
    paths = gpipe_pair(tmp_path)
    doc = json.loads(Path(paths[1]).read_text())
    for e in doc["traceEvents"]:
        if e.get("name") == "PP:1F0":
            e["ts"], e["dur"] = 12, 3  # computes [12, 15) before 0F0 ended at 20
        if e.get("name") == "PP:1RECV_F0":
            e["ts"] = 16
    Path(paths[1]).write_text(json.dumps(doc))
    r = check_trace(generate("gpipe", 2, 2), read_trace(paths))
    assert r.report.kinds() == {K.DEPENDENCY_VIOLATED}
    # times are shown from the first action of the trace (0F0 at ts 10): 12 -> 2, 20 -> 10
    assert r.report.violations[0].message == (
        f"ProfilerStep#3: 1F0 (worker 1) started computing at 2 us ({paths[1]}:$.traceEvents[5]), "
        f"before its producer 0F0 (worker 0) ended at 10 us ({paths[0]}:$.traceEvents[3])")
    r2 = check_trace(generate("1f1b", 2, 2), read_trace(gpipe_pair(tmp_path)))
    assert r2.report.kinds() == {K.ORDER_DIVERGENCE}


def test_kineto_gzip_labels_overlap_and_warmup(tmp_path: Path) -> None:
    evs = [x("Forward 0", 1, 1), x("Backward 0", 3, 1), x("ProfilerStep#1", 10, 20),
           x("Forward 0", 11, 1), x("PP:(0F1;0B1)OVERLAP_F_B", 12, 2), x("Backward 0", 15, 1)]
    p = tmp_path / "rank0.json.gz"
    with gzip.open(p, "wt") as f:
        json.dump(kineto(0, evs), f)
    ev = read_trace([str(p)])
    assert sorted(ev.label(i) for i in range(len(ev)) if ev.step[i] >= 0) == [
        "0B1", "0F1", "Backward 0", "Forward 0"]
    members = [i for i in range(len(ev)) if ev.label(i) in ("0F1", "0B1")]
    assert ev.unit[members[0]] == ev.unit[members[1]] >= 0
    s = generate("gpipe", 1, 2)
    r = check_trace(s, ev)  # gpipe order F0 F1 B0 B1; the trace ran F0 (F1;B1) B0
    assert r.ignored == 2 and r.report.kinds() == {K.ORDER_DIVERGENCE}


@pytest.mark.parametrize("text,location,reason", [
    ('{"traceEvents": [{"ph": "X", "name": "PP:0F0", "ts": 1, "dur": 1}', "$.traceEvents[1]",
     "truncated: the file ends where ',' or ']' was expected"),
    ('{"traceEvents": [{"ph": "X", "name": "PP:0F0", "ts": 1, "du', "$.traceEvents[0]",
     "truncated: the file ends inside this value"),
    ('{"distributedInfo": {"rank": 0}, "traceEvents": [{"ph": "X", "name": "PP:0F0junk", "ts": 1, '
     '"dur": 1}]}', "$.traceEvents[0]", "bad PP: annotation 'PP:0F0junk': invalid action '0F0junk'"),
    ('{"distributedInfo": {"rank": 0}, "traceEvents": [{"ph": "X", "name": "PP:0F0", "ts": "a", '
     '"dur": 1}]}', "$.traceEvents[0]", "'ts': expected a finite number, got 'a'"),
    ('{"traceEvents": [{"ph": "X", "name": "PP:0F0", "ts": 1, "dur": 1}]}', "$.distributedInfo.rank",
     "no rank: a per-rank profiler trace"),
])
def test_kineto_errors_are_located(tmp_path: Path, text: str, location: str, reason: str) -> None:
    p = tmp_path / "t.json"
    p.write_text(text)
    with pytest.raises(ScheduleFormatError) as e:
        read_trace([str(p)])
    assert e.value.location == location and e.value.reason.startswith(reason)
    assert str(e.value).startswith(f"{p}:{location}: ")


def test_truncated_gzip_empty_file_and_duplicate_rank(tmp_path: Path) -> None:
    good = json.dumps(kineto(0, [x("PP:0F0", 1, 1)])).encode()
    p = tmp_path / "t.json.gz"
    p.write_bytes(gzip.compress(good)[:-30])
    with pytest.raises(ScheduleFormatError, match="truncated"):
        read_trace([str(p)])
    empty = tmp_path / "e.json"
    empty.write_text("  \n")
    with pytest.raises(ScheduleFormatError, match="empty file"):
        read_trace([str(empty)])
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_bytes(good)
    b.write_bytes(good)
    with pytest.raises(ScheduleFormatError, match=f"rank 0 is also the rank of {a}"):
        read_trace([str(a), str(b)])
    nothing = tmp_path / "n.json"
    nothing.write_text(json.dumps(kineto(0, [x("aten::mm", 1, 1)])))
    with pytest.raises(ScheduleFormatError, match="holds no pipeline actions"):
        read_trace([str(nothing)])


def test_event_log_examples_in_both_syntaxes_are_the_same_trace() -> None:
    csv_ev = read_trace([str(DATA / "chimera_d4_n4.csv")])
    jsonl_ev = read_trace([str(DATA / "chimera_d4_n4.jsonl")])
    assert format_of_trace(DATA / "chimera_d4_n4.csv").name == "csv"
    assert format_of_trace(DATA / "chimera_d4_n4.jsonl").name == "jsonl"
    for name in ("worker", "stage", "microbatch", "kind", "start", "end"):
        assert np.array_equal(getattr(csv_ev, name), getattr(jsonl_ev, name))
    assert csv_ev.time_unit == jsonl_ev.time_unit == "us"
    r = check_trace(generate("chimera", 4, 4), csv_ev)
    assert r.ok and r.measured_makespan == 16  # F=1, B=2 (chimera.md)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_event_log_round_trip(tmp_path: Path, fmt: str) -> None:
    s = generate("dualpipev", 2, 4)
    ev = synthetic_trace(s, steps=2, messages=True, marked=True)
    p = tmp_path / f"log.{fmt}"
    with open(p, "w") as f:
        write_event_log(ev, f, fmt)
    back = read_trace([str(p)])
    for name in ("worker", "pipeline", "stage", "microbatch", "kind", "peer", "seq", "step"):
        assert np.array_equal(getattr(back, name), getattr(ev, name)), name
    assert np.allclose(back.start, ev.start) and check_trace(s, back).ok


@pytest.mark.parametrize("text,line,reason", [
    ("worker,stage,kind,start\n", 1, "missing column 'end'"),
    ("worker,stage,kind,start,end,colour\n", 1, "unknown column 'colour'"),
    ("worker,stage,microbatch,kind,start,end\n0,0,0,F,0,1\n0,0,1,X,1,2\n", 3,
     "column 'kind': expected one of F, B, I, W"),
    ("worker,stage,microbatch,kind,start,end\n0,0,0,F,0,1\n0,0,1,F,one,2\n", 3,
     "column 'start': expected a number, got 'one'"),
    ("worker,stage,microbatch,kind,start,end\n0,0,0,F,2,1\n", 2, "column 'end': the action ends before"),
    ("worker,stage,microbatch,kind,start,end\n0,0,0,F,0\n", 2, "expected 6 fields as in the header, got 5"),
    ("worker,stage,microbatch,kind,start,end\n-1,0,0,F,0,1\n", 2,
     "column 'worker': expected an integer >= 0"),
    ("worker,stage,microbatch,kind,start,end\n0,0,,F,0,1\n", 2, "column 'microbatch': expected an integer"),
    ("# time_unit: us\nworker,stage,microbatch,kind,start,end\n", 3, "empty event log"),
])
def test_csv_log_errors_are_located(text: str, line: int, reason: str) -> None:
    with pytest.raises(ScheduleFormatError) as e:
        read_csv_log(io.StringIO(text), "log.csv", EventBuilder())
    assert e.value.location == f"line {line}" and reason in e.value.reason


@pytest.mark.parametrize("text,line,reason", [
    ('{"worker": 0, "stage": 0, "kind": "F", "start": 0}\n', 1, "missing key 'end'"),
    ('{"worker": 0, "stage": 0, "kind": "F", "start": 0, "end": 1, "microbatch": 0}\n[1]\n', 2,
     "expected a JSON object per line"),
    ('{"worker": 0, "stage": 0, "kind": "F", "start": 0, "end": 1, "microbatch": 0}\n{"worker": 1\n', 2,
     "invalid JSON"),
    ('{"worker": true, "stage": 0, "kind": "F", "start": 0, "end": 1, "microbatch": 0}\n', 1,
     "column 'worker': expected an integer, got True"),
])
def test_jsonl_log_errors_are_located(tmp_path: Path, text: str, line: int, reason: str) -> None:
    p = tmp_path / "log.jsonl"
    p.write_text(text)
    with pytest.raises(ScheduleFormatError) as e:
        read_trace([str(p)])
    assert e.value.location == f"line {line}" and reason in e.value.reason


def test_large_csv_is_read_in_chunks(tmp_path: Path) -> None:
    s = generate("1f1b", 8, 256)
    ev = synthetic_trace(s, steps=20)  # 81,920 events, more than one 8 MiB chunk? no: check lines
    p = tmp_path / "big.csv"
    with open(p, "w") as f:
        write_event_log(ev, f, "csv")
    assert os.path.getsize(p) > 0
    back = read_trace([str(p)])
    assert len(back) == len(ev) and math.isclose(float(back.end.max()), float(ev.end.max()))
    assert int(back.location[-1]) == len(ev) + 1  # line numbers survive chunking
