"""Sweeps: many search instances through any ``concurrent.futures.Executor``.

:func:`sweep` submits one task per instance to the executor (a local process pool by
default; a Dask cluster through ``distributed.Client(...).get_executor()`` for users who
outgrow one machine; any other ``Executor`` works the same way) and writes each result
to a JSON Lines file as soon as it arrives, flushed to disk. Running the same sweep
again reads the file and skips every instance already there (by
:meth:`~verify.search.problem.SearchProblem.key`), so an interrupted sweep loses only the
instances that were running. Instances that raised an error are retried on resume;
all others (including UNKNOWN, which deterministic limits would only repeat) are final.

>>> from concurrent.futures import ThreadPoolExecutor
>>> problems = grid(stages=[2], microbatches=[2, 4], costs=["F=1,B=2"])
>>> with ThreadPoolExecutor(1) as pool:
...     records = sweep(problems, executor=pool)
>>> [(r.problem["microbatches"], r.status, r.outcome["value"]) for r in records]
[(2, 'OPTIMAL', 6), (4, 'OPTIMAL', 12)]
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import itertools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from verify.core.costs import CostModel
from verify.errors import ChimeraVerifyError, ParameterError
from verify.search.backend import Limits
from verify.search.problem import Objective, SearchProblem

ERROR = "ERROR"
"""Status of a record whose instance raised (it is retried when the sweep resumes)."""


@dataclass(frozen=True, slots=True)
class SweepRecord:
    """One instance's result, as written to the sweep file (one JSON object per line).

    ``status`` is a :class:`~verify.search.outcome.SearchStatus` value or ``ERROR``;
    ``outcome`` is :meth:`SearchOutcome.to_dict` (None for errors), ``error`` the
    message of the exception.
    """

    key: str
    problem: dict[str, Any]
    status: str
    outcome: dict[str, Any] | None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "problem": self.problem, "status": self.status,
                "outcome": self.outcome, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepRecord:
        return cls(str(data["key"]), dict(data["problem"]), str(data["status"]),
                   data.get("outcome"), str(data.get("error", "")))


def grid(
    *,
    stages: Sequence[int],
    microbatches: Sequence[int],
    placements: Sequence[str] = ("bidirectional",),
    costs: Sequence[CostModel | str] = ("F=1,B=2",),
    memory_caps: Sequence[float | None] = (None,),
    objectives: Sequence[Objective | str] = (Objective.MAKESPAN,),
    chunks: int | None = None,
) -> tuple[SearchProblem, ...]:
    """The cartesian product of the given values as search problems, in a stable
    order (stages slowest, objectives fastest)."""
    out: list[SearchProblem] = []
    for D, N, placement, c, cap, objective in itertools.product(
        stages, microbatches, placements, costs, memory_caps, objectives
    ):
        v = chunks if placement in ("interleaved", "v-shape") else None
        out.append(SearchProblem.build(D, N, placement=placement, chunks=v, costs=c,
                                       memory_cap=cap, objective=objective))
    return tuple(out)


def solve_one(problem: SearchProblem, solver: str, limits: Limits | None,
              include_schedules: bool) -> dict[str, Any]:
    """Run one instance and return its record as plain data (the function executors
    run; it never raises for a problem with the instance)."""
    from verify.search.engine import search

    key = problem.key()
    try:
        outcome = search(problem, solver=solver, limits=limits)
    except ChimeraVerifyError as e:
        return SweepRecord(key, problem.to_dict(), ERROR, None, f"{type(e).__name__}: {e}").to_dict()
    except Exception as e:  # a crash in one instance must not end the sweep
        return SweepRecord(key, problem.to_dict(), ERROR, None,
                           f"internal error: {type(e).__name__}: {e}").to_dict()
    data = outcome.to_dict(include_schedule=include_schedules)
    return SweepRecord(key, problem.to_dict(), outcome.status.value, data).to_dict()


def read_records(path: str | os.PathLike[str]) -> dict[str, SweepRecord]:
    """The records of a sweep file by key (a torn last line, from an interrupted write,
    is ignored; later records of a key replace earlier ones)."""
    out: dict[str, SweepRecord] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    rec = SweepRecord.from_dict(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue
                out[rec.key] = rec
    except FileNotFoundError:
        pass
    return out


def _drop_torn_tail(path: str) -> None:
    """Cut a last line that was not completely written, so appending stays valid."""
    with contextlib.suppress(FileNotFoundError), open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def sweep(
    problems: Iterable[SearchProblem],
    *,
    executor: cf.Executor | None = None,
    path: str | os.PathLike[str] | None = None,
    solver: str = "cpsat",
    limits: Limits | None = None,
    include_schedules: bool = False,
    on_record: Callable[[SweepRecord], None] | None = None,
) -> tuple[SweepRecord, ...]:
    """Search every problem, through ``executor`` (default: a process pool over the
    local cores, shut down at the end), and return the records in the order of
    ``problems``.

    With ``path`` the records are appended to that JSON Lines file as they complete
    and instances already recorded there (without error) are not run again.
    ``include_schedules`` stores each found schedule in the record (larger files).
    ``on_record`` is called in this process for every new record (progress display).
    An interrupted sweep (KeyboardInterrupt) cancels what has not started and keeps
    everything already written.
    """
    todo = list(problems)
    for p in todo:
        if not isinstance(p, SearchProblem):
            raise ParameterError(f"sweep: expected SearchProblem instances, got {p!r}")
    target = os.fspath(path) if path is not None else None
    done: dict[str, SweepRecord] = {}
    if target is not None:
        done = {k: r for k, r in read_records(target).items() if r.status != ERROR}
        _drop_torn_tail(target)
    pending: dict[str, SearchProblem] = {}
    for p in todo:
        k = p.key()
        if k not in done and k not in pending:
            pending[k] = p
    results: dict[str, SweepRecord] = dict(done)
    if pending:
        own = executor is None
        pool: cf.Executor = executor if executor is not None else cf.ProcessPoolExecutor(
            max_workers=max(1, min(os.cpu_count() or 1, len(pending)))
        )
        sink = open(target, "a", encoding="utf-8") if target is not None else None  # noqa: SIM115
        futures: list[cf.Future[dict[str, Any]]] = []
        try:
            futures = [pool.submit(solve_one, p, solver, limits, include_schedules)
                       for p in pending.values()]
            for fut in cf.as_completed(futures):
                rec = SweepRecord.from_dict(fut.result())
                results[rec.key] = rec
                if sink is not None:
                    sink.write(json.dumps(rec.to_dict(), sort_keys=True) + "\n")
                    sink.flush()
                    os.fsync(sink.fileno())
                if on_record is not None:
                    on_record(rec)
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        finally:
            if sink is not None:
                sink.close()
            if own:
                pool.shutdown(wait=True, cancel_futures=True)
    return tuple(results[p.key()] for p in todo)
