"""OR-Tools CP-SAT backend: interval variables, NoOverlap per worker, Cumulative memory.

Encoding of a :class:`~verify.search.backend.SolveRequest`:

* one integer start per task, its domain narrowed to ``[head, horizon - tail - duration]``
  (the static longest paths), and a fixed-size interval over it;
* ``start[consumer] >= start[producer] + duration[producer] + lag`` per dependency;
* ``NoOverlap`` over each worker's intervals (one op at a time);
* with a memory cap (or the peak-memory objective): per worker, one interval from the
  start of each F to the end of its releasing B or W, of demand its activation, under
  ``Cumulative`` with the cap (or the peak variable) as capacity;
* symmetry breaking: the stage-0 forwards of a pipeline run in micro-batch order
  (micro-batches of one pipeline are interchangeable, so any schedule can be relabelled
  to satisfy this);
* the warm start as a complete solution hint.

Determinism: with ``Limits.deterministic`` the solver runs one worker with a fixed seed
and stops on ``max_deterministic_time``, so the same model gives the same answer on every
run; the wall-clock safety net is the only source of variation and is reported.
"""

from __future__ import annotations

import importlib
import itertools
import math
import time
from typing import Any

from verify.errors import SolverError
from verify.search.backend import BackendResult, BoundReport, SolveRequest, horizon_too_short
from verify.search.outcome import SearchStatus

INSTALL_HINT = "pip install ortools (a dependency of chimera-verify)"


def _cp_model() -> Any:
    try:
        cp_model = importlib.import_module("ortools.sat.python.cp_model")
    except ImportError as e:
        raise SolverError(
            f"the CP-SAT backend needs OR-Tools, which is not installed ({e}): {INSTALL_HINT}; "
            "or use --solver z3"
        ) from None
    return cp_model


class CpSatBackend:
    """The default backend (see the module docstring)."""

    name = "cpsat"

    def version(self) -> str:
        _cp_model()
        from importlib.metadata import version

        return f"ortools {version('ortools')}"

    def solve(self, request: SolveRequest, report: BoundReport | None = None) -> BackendResult:
        cp_model = _cp_model()
        began = time.perf_counter()
        g = request.graph
        H = request.horizon
        n = g.num_tasks
        dur = g.duration
        short = horizon_too_short(request, began)
        if short is not None:
            return short
        model = cp_model.CpModel()
        starts = [
            model.new_int_var(g.head[i], H - g.tail[i] - dur[i], f"s{i}") for i in range(n)
        ]
        intervals = [model.new_fixed_size_interval_var(starts[i], dur[i], f"x{i}") for i in range(n)]
        per_worker = g.worker_tasks()
        for tasks in per_worker:
            if len(tasks) > 1:
                model.add_no_overlap([intervals[i] for i in tasks])
        for a, b, lag in g.edges:
            model.add(starts[b] >= starts[a] + (dur[a] + lag))
        if request.symmetry_breaking:
            for firsts in g.first_forwards:
                for x, y in itertools.pairwise(firsts):
                    model.add(starts[y] >= starts[x] + dur[x])

        minimise_peak = request.minimise == "peak_memory"
        makespan = model.new_int_var(g.lower_bound if not minimise_peak else 0, H, "makespan")
        for i in g.sinks:
            model.add(makespan >= starts[i] + dur[i])
        peak = None
        if minimise_peak:
            total = max(
                (sum(act for f, _, act in g.holds if g.worker[f] == w) for w in range(g.num_workers)),
                default=0,
            )
            hi = total if request.memory_cap is None else min(total, request.memory_cap)
            peak = model.new_int_var(min(request.lower_bound, hi), hi, "peak")
        capacity = peak if peak is not None else request.memory_cap
        if capacity is not None:
            held: list[list[tuple[Any, int]]] = [[] for _ in range(g.num_workers)]
            for f, r, act in g.holds:
                if act == 0:
                    continue
                size = model.new_int_var(dur[f] + dur[r], H, f"h{f}")
                iv = model.new_interval_var(starts[f], size, starts[r] + dur[r], f"mem{f}")
                held[g.worker[f]].append((iv, act))
            for items in held:
                total_w = sum(a for _, a in items)
                if items and (peak is not None or total_w > int(capacity)):
                    model.add_cumulative([iv for iv, _ in items], [a for _, a in items], capacity)
        objective = peak if peak is not None else makespan
        model.minimize(objective)
        if request.hint is not None:
            for i in range(n):
                model.add_hint(starts[i], request.hint[i])
            if peak is None and request.hint_value is not None:
                model.add_hint(makespan, request.hint_value)

        solver = cp_model.CpSolver()
        limits = request.limits
        params = solver.parameters
        params.random_seed = limits.seed
        params.num_workers = limits.workers
        if limits.time_limit is not None:
            if limits.deterministic:
                params.max_deterministic_time = float(limits.time_limit)
            wall = limits.wall_limit
            if wall is not None:
                params.max_time_in_seconds = float(wall)

        if report is not None:
            def on_bound(bound: float) -> None:
                report(None, math.ceil(bound - 1e-9))

            solver.best_bound_callback = on_bound
        callback = _watcher(report, cp_model)
        status = solver.solve(model, callback)
        wall_time = time.perf_counter() - began
        counters: tuple[tuple[str, int | float | str], ...] = (
            ("deterministic_time", round(solver.deterministic_time, 4)),
            ("branches", int(solver.num_branches)),
            ("conflicts", int(solver.num_conflicts)),
            ("booleans", int(solver.num_booleans)),
            ("solutions", callback.solutions),
            ("tasks", n),
        )
        if status == cp_model.MODEL_INVALID:
            raise SolverError(f"CP-SAT rejected the model: {model.validate()}")
        if status in (cp_model.OPTIMAL, cp_model.INFEASIBLE):
            stopped = "proof"
        elif limits.deterministic and limits.time_limit is not None and (
            solver.deterministic_time >= 0.99 * limits.time_limit
        ):
            stopped = "deterministic-limit"
        else:
            stopped = "time-limit"
        if status == cp_model.INFEASIBLE:
            return BackendResult(SearchStatus.INFEASIBLE, None, None, None, stopped, wall_time, counters)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = tuple(int(solver.value(s)) for s in starts)
            value = int(solver.value(objective))
            raw = solver.best_objective_bound
            bound = math.ceil(raw - 1e-9) if math.isfinite(raw) else None
            verdict = SearchStatus.OPTIMAL if status == cp_model.OPTIMAL else SearchStatus.FEASIBLE
            if verdict is SearchStatus.OPTIMAL:
                bound = value
            return BackendResult(verdict, values, value, bound, stopped, wall_time, counters)
        raw = solver.best_objective_bound
        known = math.ceil(raw - 1e-9) if math.isfinite(raw) else None
        return BackendResult(SearchStatus.UNKNOWN, None, None, known, stopped, wall_time, counters)


def _watcher(report: BoundReport | None, cp_model: Any) -> Any:
    """A solution callback that counts solutions and forwards each incumbent (and the
    bound at that moment) to ``report``."""
    base = cp_model.CpSolverSolutionCallback

    class Watcher(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            base.__init__(self)
            self.solutions = 0

        def on_solution_callback(self) -> None:
            self.solutions += 1
            if report is not None:
                bound = self.best_objective_bound
                report(round(self.objective_value),
                       math.ceil(bound - 1e-9) if math.isfinite(bound) else None)

    return Watcher()
