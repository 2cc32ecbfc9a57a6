"""``search``: the best order of every worker's ops, with a proof or a proven gap.

The steps, each a plain function of the previous one's output:

1. :func:`~verify.search.tasks.build_tasks` turns the problem into integer data;
2. closed-form bounds decide what they can (a memory cap below what one micro-batch
   needs, a makespan bound below the critical path): INFEASIBLE with the clashing
   constraints named, no solver needed;
3. the library families are simulated on the instance (the comparison), and the best
   one over the same pipelines that meets the constraints becomes the warm start (a
   solution hint, and the horizon);
4. the backend solves, reporting incumbent and bound as it goes;
5. its start times become a :class:`~verify.core.schedule.Schedule` (per-worker order
   by start time), re-simulated with the earliest-start semantics and re-checked by
   :func:`verify.check` (completeness, placement, deadlock, timing, memory). The
   re-simulated objective must match the backend's (it can only be better, and for a
   proved optimum it must be equal); any disagreement is a :class:`SolverError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from verify.checks import check
from verify.core.actions import Action
from verify.core.results import Metrics, Report
from verify.core.schedule import Schedule, Timing, TimingUnit
from verify.errors import ParameterError, SolverError
from verify.search.backend import BackendResult, Limits, SolveRequest, get_backend
from verify.search.compare import Candidate, adapt, evaluate_families, sequential, with_excess
from verify.search.outcome import (
    FamilyResult,
    Progress,
    SearchOutcome,
    SearchStatus,
    SolverStats,
)
from verify.search.problem import Objective, SearchProblem
from verify.search.tasks import TaskGraph, build_tasks
from verify.sim import simulate

ProgressCallback = Callable[[Progress], None]
"""Called with a :class:`Progress` whenever the incumbent or the bound improves."""

EPS = 1e-6


def search(
    problem: SearchProblem | None = None,
    *,
    solver: str = "cpsat",
    limits: Limits | None = None,
    warm_start: bool | Schedule = True,
    symmetry_breaking: bool = True,
    compare: bool = True,
    progress: ProgressCallback | None = None,
    **problem_options: Any,
) -> SearchOutcome:
    """Search the best schedule for ``problem`` (or for
    ``SearchProblem.build(**problem_options)``: ``stages``, ``microbatches``,
    ``placement``, ``chunks``, ``costs``, ``memory_cap``, ``objective``,
    ``makespan_bound``, ``split_backward``).

    ``solver`` names a backend (``cpsat``, the default, or ``z3``); ``limits`` bounds its
    run (deterministic by default, see :class:`~verify.search.backend.Limits`).
    ``warm_start`` seeds the solver with the best library family on the same pipelines
    (``True``), with a given schedule, or not at all (``False``). ``progress`` receives
    the incumbent and bound as they improve.

    Raises :class:`~verify.errors.ParameterError` for an invalid problem and
    :class:`~verify.errors.SolverError` when the backend is missing or fails (including a
    solution that does not survive the re-check); every other outcome is data.

    >>> out = search(stages=4, microbatches=4, costs="F=1,B=2")
    >>> out.status.value, out.value, out.report.ok
    ('OPTIMAL', 16.0, True)
    >>> [(f.makespan, f.peak) for f in out.comparison if f.family == "chimera"]
    [(16.0, 4.0)]
    """
    if problem is None:
        if "stages" not in problem_options or "microbatches" not in problem_options:
            raise ParameterError("search: give a SearchProblem, or stages and microbatches")
        problem = SearchProblem.build(**problem_options)
    elif problem_options:
        raise ParameterError(
            f"search: options {sorted(problem_options)} apply only without a SearchProblem"
        )
    limits = limits if limits is not None else Limits()
    backend = get_backend(solver)
    version = backend.version()
    began = time.perf_counter()
    graph = build_tasks(problem)
    cap = _scaled_floor(problem.memory_cap, graph.memory_scale)
    bound_t = _scaled_floor(problem.makespan_bound, graph.time_scale)
    objective = problem.objective
    static_bound = _static_bound(problem, graph)

    def stats(stopped: str, source: str = "", warm: str = "",
              result: BackendResult | None = None) -> SolverStats:
        return SolverStats(
            backend=backend.name, version=version, wall_time=time.perf_counter() - began,
            deterministic=limits.deterministic, limit=limits.describe(), stopped_by=stopped,
            incumbent_source=source, warm_start=warm,
            counters=result.counters if result is not None else (),
        )

    # 1. closed forms
    comparison: tuple[FamilyResult, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    if compare or warm_start is True:
        comparison, candidates = evaluate_families(problem, frozenset(graph.ops))
    clashes = _presolve(problem, graph, cap, bound_t)
    if clashes:
        return SearchOutcome(problem, SearchStatus.INFEASIBLE, None, None, None, None, None,
                             with_excess(comparison, None) if compare else (),
                             stats("presolve"), tuple(clashes))

    # 2. warm start
    hint = _warm_start(problem, graph, candidates, warm_start, cap, bound_t)
    minimise = "peak_memory" if objective is Objective.PEAK_MEMORY else "makespan"
    if objective is Objective.PEAK_MEMORY:
        horizon = bound_t if bound_t is not None else graph.serial_horizon
        lower = max(graph.memory_need)
    else:
        horizon = graph.serial_horizon if bound_t is None else bound_t
        if hint is not None:
            horizon = min(horizon, hint.makespan)
        lower = graph.lower_bound

    # 3. progress in the objective's units
    state: dict[str, float | None] = {"incumbent": None, "bound": static_bound}

    def to_units(x: int) -> float:
        return _objective_value(problem, graph, x)

    def report(incumbent: int | None, bound: int | None) -> None:
        changed = False
        if incumbent is not None:
            v = to_units(incumbent)
            old = state["incumbent"]
            if old is None or v < old - EPS:
                state["incumbent"], changed = v, True
        if bound is not None:
            b = to_units(bound)
            old_b = state["bound"]
            if old_b is None or b > old_b + EPS:
                state["bound"], changed = b, True
        if changed and progress is not None:
            progress(Progress(backend.name, time.perf_counter() - began, state["incumbent"],
                              state["bound"]))

    if hint is not None:
        report(hint.value(minimise), None)
    elif progress is not None:
        progress(Progress(backend.name, time.perf_counter() - began, None, static_bound, "started"))

    request = SolveRequest(
        graph=graph, minimise=minimise, horizon=horizon, memory_cap=cap, limits=limits,
        lower_bound=lower, hint=hint.starts if hint is not None else None,
        hint_value=hint.value(minimise) if hint is not None else None,
        symmetry_breaking=symmetry_breaking,
    )
    result = backend.solve(request, report if progress is not None else None)
    warm = hint.family if hint is not None else ""

    # 4. trust nothing: rebuild, re-simulate, re-check
    if result.status.found:
        if result.starts is None or result.value is None:
            raise SolverError(f"{backend.name}: reported {result.status.value} without a solution")
        schedule, metrics, check_report = rebuild(problem, graph, result.starts, backend.name)
        value = _value_of(problem, metrics)
        claimed = to_units(result.value)
        if value > claimed + EPS:
            raise SolverError(
                f"{backend.name}: its schedule re-simulates to {objective.value} {value:g}, "
                f"worse than the {claimed:g} it reported"
            )
        if result.status is SearchStatus.OPTIMAL and value < claimed - EPS:
            raise SolverError(
                f"{backend.name}: claimed the optimum {claimed:g}, but its own order "
                f"re-simulates to {value:g}"
            )
        bound = _max(static_bound, None if result.bound is None else to_units(result.bound))
        if bound is not None and value < bound - EPS:
            raise SolverError(
                f"{backend.name}: its schedule ({value:g}) beats its proven bound ({bound:g})"
            )
        status = SearchStatus.OPTIMAL if bound is not None and value <= bound + EPS else SearchStatus.FEASIBLE
        if status is SearchStatus.OPTIMAL:
            bound = value
        return SearchOutcome(
            problem, status, schedule, value, bound, metrics, check_report,
            with_excess(comparison, metrics.makespan) if compare else (),
            stats(result.stopped_by, "solver", warm, result),
        )
    if result.status is SearchStatus.INFEASIBLE:
        if hint is not None:
            raise SolverError(
                f"{backend.name}: claimed no schedule exists, but the warm start ({hint.family}) "
                "is one"
            )
        return SearchOutcome(
            problem, SearchStatus.INFEASIBLE, None, None, None, None, None,
            with_excess(comparison, None) if compare else (),
            stats(result.stopped_by, "", warm, result),
            tuple(_solver_clash(problem, graph, backend.name, result.message)),
        )
    bound = _max(static_bound, None if result.bound is None else to_units(result.bound))
    if hint is not None:  # the solver found nothing better in time: the warm start stands
        schedule, metrics, check_report = rebuild(problem, graph, hint.starts, backend.name,
                                                  name=f"warm start ({hint.family})")
        value = _value_of(problem, metrics)
        status = SearchStatus.OPTIMAL if bound is not None and value <= bound + EPS else SearchStatus.FEASIBLE
        return SearchOutcome(
            problem, status, schedule, value, value if status is SearchStatus.OPTIMAL else bound,
            metrics, check_report, with_excess(comparison, metrics.makespan) if compare else (),
            stats(result.stopped_by, f"warm start ({hint.family})", warm, result),
        )
    return SearchOutcome(
        problem, SearchStatus.UNKNOWN, None, None, bound, None, None,
        with_excess(comparison, None) if compare else (),
        stats(result.stopped_by, "", warm, result),
        (f"{backend.name} found no schedule and no proof within the limits ({limits.describe()})",),
    )


# --------------------------------------------------------------------------- helpers
class _Hint:
    """A warm start: start times of every task, its makespan and peak (scaled)."""

    __slots__ = ("family", "makespan", "peak", "starts")

    def __init__(self, family: str, starts: tuple[int, ...], makespan: int, peak: int) -> None:
        self.family = family
        self.starts = starts
        self.makespan = makespan
        self.peak = peak

    def value(self, minimise: str) -> int:
        return self.peak if minimise == "peak_memory" else self.makespan


def _scaled_floor(x: float | None, scale: int) -> int | None:
    if x is None:
        return None
    return math.floor(x * scale + 1e-9)


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _objective_value(problem: SearchProblem, graph: TaskGraph, x: int) -> float:
    """A scaled objective value in the objective's units."""
    if problem.objective is Objective.PEAK_MEMORY:
        return graph.to_memory(x)
    makespan = graph.to_time(x)
    if problem.objective is Objective.BUBBLE:
        return problem.num_workers * makespan - graph.to_time(sum(graph.duration))
    return makespan


def _static_bound(problem: SearchProblem, graph: TaskGraph) -> float:
    if problem.objective is Objective.PEAK_MEMORY:
        return graph.to_memory(max(graph.memory_need))
    return _objective_value(problem, graph, graph.lower_bound)


def _value_of(problem: SearchProblem, metrics: Metrics) -> float:
    if problem.objective is Objective.PEAK_MEMORY:
        return max(metrics.peak_activations, default=0.0)
    if problem.objective is Objective.BUBBLE:
        return float(sum(metrics.idle))
    return metrics.makespan


def _presolve(problem: SearchProblem, graph: TaskGraph, cap: int | None,
              bound_t: int | None) -> list[str]:
    """Constraints that no schedule can meet, by closed-form bounds (exact for the
    memory cap alone: running the micro-batches one at a time needs no more)."""
    clashes: list[str] = []
    if cap is not None:
        for w, need in enumerate(graph.memory_need):
            if need > cap:
                clashes.append(
                    f"mem_cap[worker={w}]: {graph.memory_need_reason[w]} "
                    f"({graph.to_memory(need):g} > cap {problem.memory_cap:g}); "
                    f"no order can do with less"
                )
    if bound_t is not None and bound_t < graph.lower_bound:
        what = graph.lower_bound_reason
        if what == "critical_path":
            why = "the longest dependency chain (one micro-batch's forwards and backwards)"
        else:
            why = (f"the earliest start, the work and the least remaining time of "
                   f"{what.replace('worker_load', 'worker')}")
        clashes.append(
            f"makespan_bound: {problem.makespan_bound:g} is below {graph.to_time(graph.lower_bound):g}, "
            f"{why} [{what}]"
        )
    return clashes


def _solver_clash(problem: SearchProblem, graph: TaskGraph, backend: str, message: str) -> list[str]:
    """An explanation for an infeasibility the closed forms did not see: it needs the
    makespan bound (without it the serial order is always feasible)."""
    lines = []
    if problem.makespan_bound is not None:
        lines.append(
            f"makespan_bound: no order finishes by {problem.makespan_bound:g} "
            f"(static lower bound {graph.to_time(graph.lower_bound):g}, "
            f"[{graph.lower_bound_reason}]; the rest proved by {backend})"
        )
    if problem.memory_cap is not None:
        lines.append(
            f"mem_cap[worker=*]: with every worker's activations capped at "
            f"{problem.memory_cap:g} (least need {graph.to_memory(max(graph.memory_need)):g})"
        )
    if message:
        lines.append(message)
    return lines or [f"{backend} proved that no schedule exists"]


def _warm_start(problem: SearchProblem, graph: TaskGraph, candidates: tuple[Candidate, ...],
                warm_start: bool | Schedule, cap: int | None, bound_t: int | None) -> _Hint | None:
    """The best feasible warm start (scaled start times), or None."""
    if warm_start is False:
        return None
    pool: list[tuple[str, Schedule]] = []
    if isinstance(warm_start, Schedule):
        pool.append((warm_start.param("family") or warm_start.name or "given", warm_start))  # type: ignore[arg-type]
    else:
        pool.extend((c.family, c.schedule) for c in candidates)
    index = graph.index()
    best: _Hint | None = None
    minimise = "peak_memory" if problem.objective is Objective.PEAK_MEMORY else "makespan"
    for family, schedule in pool:
        sched = sequential(adapt(problem, schedule)[0])
        ops = [op for _, _, op in sched.ops()]
        if len(ops) != graph.num_tasks or set(ops) != set(index):
            continue
        rep = check(sched, costs=problem.costs, memory_cap=problem.memory_cap)
        if not rep.ok or rep.metrics is None:
            continue
        ex = simulate(sched, problem.costs)
        starts = [0] * graph.num_tasks
        for w, prog in enumerate(sched.programs):
            base = int(ex.index.worker_ptr[w])
            for i, a in enumerate(prog):
                starts[index[a]] = round(float(ex.start[base + i]) * graph.time_scale)  # type: ignore[index]
        makespan = round(rep.metrics.makespan * graph.time_scale)
        peak = round(max(rep.metrics.peak_activations, default=0.0) * graph.memory_scale)
        if bound_t is not None and makespan > bound_t:
            continue
        if cap is not None and peak > cap:
            continue
        hint = _Hint(str(family), tuple(starts), makespan, peak)
        if best is None or hint.value(minimise) < best.value(minimise):
            best = hint
    return best


def rebuild(problem: SearchProblem, graph: TaskGraph, starts: tuple[int, ...], solver: str,
            *, name: str = "") -> tuple[Schedule, Metrics, Report]:
    """The schedule whose worker programs follow ``starts``, timed by re-simulation, and
    its re-check. Raises :class:`SolverError` when the check finds any violation."""
    D = problem.num_workers
    rows: list[list[tuple[int, int]]] = [[] for _ in range(D)]
    for i, t in enumerate(starts):
        rows[graph.worker[i]].append((t, i))
    programs: list[tuple[Action, ...]] = []
    for row in rows:
        row.sort()
        programs.append(tuple(graph.ops[i] for _, i in row))
    label = name or f"search {problem.placement} D={D} N={problem.num_microbatches}"
    params: tuple[tuple[str, int | float | str], ...] = (
        ("family", "search"), ("placement", problem.placement), ("D", D),
        ("N", problem.num_microbatches), ("solver", solver),
    )
    untimed = Schedule(D, problem.pipelines, tuple(programs), None, label, params)
    ex = simulate(untimed, problem.costs)
    if not ex.complete:
        raise SolverError(f"{solver}: its order deadlocks when executed ({len(ex.stuck)} ops stuck)")
    ptr = ex.index.worker_ptr
    times = tuple(
        tuple(float(x) for x in np.asarray(ex.start[int(ptr[w]):int(ptr[w + 1])]))
        for w in range(D)
    )
    schedule = Schedule(D, problem.pipelines, tuple(programs), Timing(TimingUnit.TIMES, times),
                        label, params)
    report = check(schedule, costs=problem.costs, memory_cap=problem.memory_cap)
    if not report.ok or report.metrics is None:
        first = "; ".join(v.message for v in report.violations[:3])
        raise SolverError(f"{solver}: its schedule fails the re-check: {first}")
    metrics = report.metrics
    if problem.makespan_bound is not None and metrics.makespan > problem.makespan_bound + EPS:
        raise SolverError(
            f"{solver}: its schedule takes {metrics.makespan:g}, above the bound "
            f"{problem.makespan_bound:g}"
        )
    return schedule, metrics, report
