"""Sweeps: any Executor, incremental JSON Lines output, resume after an interruption,
and a real Dask ``LocalCluster``."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from verify.search import SearchProblem, SweepRecord, grid, sweep
from verify.search.sweep import read_records

# 1F1B's (N + D - 1)(F + B) is optimal for one pipeline (measurements.md)
PROBLEMS = grid(stages=[2, 3], microbatches=[2, 4], placements=["single"], costs=["F=1,B=2"])
EXPECTED = {(D, N): (N + D - 1) * 3 for D in (2, 3) for N in (2, 4)}


def _values(records: tuple[SweepRecord, ...]) -> dict[tuple[int, int], int]:
    out = {}
    for r in records:
        assert r.status == "OPTIMAL" and r.outcome is not None
        out[(r.problem["workers"], r.problem["microbatches"])] = r.outcome["value"]
    return out


def test_sweep_in_threads_writes_every_record(tmp_path: Path) -> None:
    path = tmp_path / "sweep.jsonl"
    with ThreadPoolExecutor(2) as pool:
        records = sweep(PROBLEMS, executor=pool, path=path)
    assert [r.key for r in records] == [p.key() for p in PROBLEMS]
    assert _values(records) == EXPECTED
    lines = path.read_text().splitlines()
    assert len(lines) == len(PROBLEMS)
    assert {json.loads(line)["key"] for line in lines} == {p.key() for p in PROBLEMS}


def test_interrupted_sweep_resumes_without_rerunning(tmp_path: Path) -> None:
    path = tmp_path / "sweep.jsonl"
    seen: list[str] = []

    def stop_after_first(rec: SweepRecord) -> None:
        seen.append(rec.key)
        raise KeyboardInterrupt

    with ThreadPoolExecutor(1) as pool, pytest.raises(KeyboardInterrupt):
        sweep(PROBLEMS, executor=pool, path=path, on_record=stop_after_first)
    assert len(read_records(path)) == 1
    with path.open("a") as f:  # a torn line, as a crash in the middle of a write leaves
        f.write('{"key": "abc", "sta')
    fresh: list[str] = []
    with ThreadPoolExecutor(1) as pool:
        records = sweep(PROBLEMS, executor=pool, path=path, on_record=lambda r: fresh.append(r.key))
    assert seen[0] not in fresh and len(fresh) == len(PROBLEMS) - 1
    assert _values(records) == EXPECTED
    assert len(path.read_text().splitlines()) == len(PROBLEMS)


def test_errors_are_records_and_are_retried(tmp_path: Path) -> None:
    path = tmp_path / "sweep.jsonl"
    p = SearchProblem.build(2, 2, placement="single")
    records = sweep([p], executor=ThreadPoolExecutor(1), path=path, solver="z3")
    assert records[0].status == "OPTIMAL"
    bad = SweepRecord(p.key(), p.to_dict(), "ERROR", None, "SolverError: boom")
    path.write_text(json.dumps(bad.to_dict()) + "\n")
    again = sweep([p], executor=ThreadPoolExecutor(1), path=path)
    assert again[0].status == "OPTIMAL"


def test_default_process_pool() -> None:
    records = sweep(PROBLEMS[:2])
    assert _values(records) == {k: EXPECTED[k] for k in ((2, 2), (2, 4))}


def test_dask_local_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        records = sweep(PROBLEMS, executor=client.get_executor(), path=tmp_path / "d.jsonl")
    assert _values(records) == EXPECTED
    assert len(read_records(tmp_path / "d.jsonl")) == len(PROBLEMS)
