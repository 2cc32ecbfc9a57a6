"""What a search returns: a verdict, the schedule, bounds, statistics and a comparison.

Every record here is immutable and renders to plain data with ``to_dict()``.

* :class:`SearchStatus` - OPTIMAL (proved), FEASIBLE (a schedule and a proven lower
  bound, with a gap), INFEASIBLE (proved: no schedule exists; ``explanation`` names the
  constraints that clash), UNKNOWN (neither within the limits). UNKNOWN is never success.
* :class:`Progress` - what a running search reports: incumbent, bound, gap.
* :class:`SolverStats` - which backend, how long, under which limits, what stopped it.
* :class:`FamilyResult` - one library family on the same instance, for comparison.
* :class:`SearchOutcome` - all of it together.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from verify.core.results import Metrics, Report, json_number
from verify.core.schedule import Schedule
from verify.search.problem import Objective, SearchProblem


def _num(x: float | None) -> float | int | None:
    return None if x is None else json_number(x)


def relative_gap(value: float | None, bound: float | None) -> float | None:
    """``(value - bound) / value``: 0 when proved optimal, None when either is unknown.

    >>> relative_gap(60, 57)
    0.05
    >>> relative_gap(16, 16), relative_gap(None, 3)
    (0.0, None)
    """
    if value is None or bound is None:
        return None
    if value <= 0:
        return 0.0
    return max(0.0, (value - bound) / value)


class SearchStatus(enum.Enum):
    """The verdict of a search (CPMpy's four values)."""

    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    UNKNOWN = "UNKNOWN"

    @property
    def found(self) -> bool:
        """A schedule was found (OPTIMAL or FEASIBLE)."""
        return self in (SearchStatus.OPTIMAL, SearchStatus.FEASIBLE)

    @property
    def decided(self) -> bool:
        """The question was settled: optimum proved, or no schedule exists."""
        return self in (SearchStatus.OPTIMAL, SearchStatus.INFEASIBLE)


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a running search, in the objective's units (makespan, idle time or
    activations). ``incumbent`` is the best value found so far, ``bound`` the best
    proven lower bound."""

    backend: str
    elapsed: float
    incumbent: float | None
    bound: float | None
    message: str = ""

    @property
    def gap(self) -> float | None:
        return relative_gap(self.incumbent, self.bound)


@dataclass(frozen=True, slots=True)
class SolverStats:
    """How the answer was obtained.

    ``stopped_by`` is ``proof`` (the backend finished), ``presolve`` (closed-form bounds
    decided the instance without a solver), ``deterministic-limit`` (the deterministic
    budget ran out: the same answer on every machine), ``time-limit`` (the wall-clock
    limit or safety net: may differ between runs) or ``error``.
    ``incumbent_source`` is ``solver``, ``warm start (<family>)`` or empty.
    ``counters`` are backend-specific figures (branches, conflicts, rlimit, calls).
    """

    backend: str
    version: str
    wall_time: float
    deterministic: bool
    limit: str
    stopped_by: str
    incumbent_source: str = ""
    warm_start: str = ""
    counters: tuple[tuple[str, int | float | str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "version": self.version,
            "wall_time": round(self.wall_time, 4),
            "deterministic": self.deterministic,
            "limit": self.limit,
            "stopped_by": self.stopped_by,
            "incumbent_source": self.incumbent_source,
            "warm_start": self.warm_start,
            "counters": {k: v for k, v in self.counters},
        }


@dataclass(frozen=True, slots=True)
class FamilyResult:
    """A library family on the searched instance (same D, N and costs).

    ``comparable`` says whether it schedules exactly the problem's pipelines and ops
    (only then must the search beat or match it); ``meets_cap`` is None without
    a memory cap; ``excess`` is ``makespan / best - 1`` against the searched schedule.
    """

    family: str
    placement: str
    comparable: bool
    makespan: float
    peak_activations: tuple[float, ...]
    bubble_ratio: float
    meets_cap: bool | None
    excess: float | None
    variant: str = ""
    """How the family was adapted to the problem (``B run as I then W`` on a
    split-backward problem), empty when run as generated."""

    @property
    def peak(self) -> float:
        return max(self.peak_activations, default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "placement": self.placement,
            "comparable": self.comparable,
            "makespan": _num(self.makespan),
            "peak": _num(self.peak),
            "peak_activations": [_num(x) for x in self.peak_activations],
            "bubble_ratio": self.bubble_ratio,
            "meets_cap": self.meets_cap,
            "excess": self.excess,
            "variant": self.variant,
        }


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    """The answer to one search problem.

    ``schedule`` (OPTIMAL and FEASIBLE only) has passed :func:`verify.check` under the
    problem's costs and memory cap, and its re-simulated objective is ``value``;
    ``bound`` is a proven lower bound on the objective (for OPTIMAL equal to
    ``value``; for INFEASIBLE and UNKNOWN the best bound known, if any).
    ``report`` is that re-check; ``comparison`` the library families on the instance.
    """

    problem: SearchProblem
    status: SearchStatus
    schedule: Schedule | None
    value: float | None
    bound: float | None
    metrics: Metrics | None
    report: Report | None
    comparison: tuple[FamilyResult, ...]
    stats: SolverStats
    explanation: tuple[str, ...] = ()

    @property
    def objective(self) -> Objective:
        return self.problem.objective

    @property
    def gap(self) -> float | None:
        """Relative gap between the schedule's value and the proven bound."""
        return relative_gap(self.value, self.bound)

    @property
    def ok(self) -> bool:
        """A schedule was found (OPTIMAL or FEASIBLE); UNKNOWN is never success."""
        return self.status.found

    @property
    def makespan(self) -> float | None:
        return self.metrics.makespan if self.metrics is not None else None

    @property
    def peak(self) -> float | None:
        return max(self.metrics.peak_activations, default=0.0) if self.metrics is not None else None

    def to_dict(self, *, include_schedule: bool = True) -> dict[str, Any]:
        """Plain data; the schedule as a native document (loadable with
        :func:`verify.io.loads_native` after ``json.dumps``)."""
        doc: dict[str, Any] | None = None
        if include_schedule and self.schedule is not None:
            from verify.io import document

            doc = document(self.schedule, costs=self.problem.costs)
        return {
            "status": self.status.value,
            "problem": self.problem.to_dict(),
            "objective": self.objective.value,
            "value": _num(self.value),
            "bound": _num(self.bound),
            "gap": self.gap,
            "makespan": _num(self.makespan),
            "peak": _num(self.peak),
            "metrics": self.metrics.to_dict() if self.metrics is not None else None,
            "explanation": list(self.explanation),
            "comparison": [f.to_dict() for f in self.comparison],
            "stats": self.stats.to_dict(),
            "check": self.report.to_dict() if self.report is not None else None,
            "schedule": doc,
        }
