"""The verifier: every check is ``check_x(...) -> list[Violation]``; :func:`check` runs
them all and collects a :class:`~verify.core.results.Report`.

>>> from verify.generators import generate
>>> report = check(generate("chimera", 4, 4))
>>> report.ok, report.metrics.makespan, report.metrics.peak_activations
(True, 10.0, (3.0, 4.0, 4.0, 3.0))
>>> bad = check(generate("chimera-naive", 3, 3))
>>> print(bad.violations[0].message)
conflict on worker 1, slot 1: down:1F0 and up:1F0 are both scheduled in it
"""

from __future__ import annotations

from verify.checks.completeness import check_completeness
from verify.checks.deadlock import check_deadlock, shortest_cycle, stuck_graph
from verify.checks.memory import check_memory
from verify.checks.placement import check_placement
from verify.checks.timing import check_timing
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.results import (
    Property,
    PropertyResult,
    Report,
    Status,
    Violation,
)
from verify.core.schedule import Schedule
from verify.passes.index import gc_paused, index_schedule
from verify.sim.execute import execute
from verify.sim.metrics import compute_metrics


def check(
    schedule: Schedule,
    *,
    costs: CostModel = UNIT_COSTS,
    memory_cap: float | None = None,
    timed: bool = True,
) -> Report:
    """Check completeness, placement, deadlock-freedom, (for timed schedules)
    conflict-freedom and causality of the start times, and (with ``memory_cap``) peak
    activation memory; simulate the programs for the metrics.

    ``timed=False`` ignores the schedule's start times (order semantics only).
    """
    with gc_paused():
        return _check(schedule, costs, memory_cap, timed)


def _check(schedule: Schedule, costs: CostModel, memory_cap: float | None, timed: bool) -> Report:
    violations: list[Violation] = []
    results: list[PropertyResult] = []

    def record(prop: Property, found: list[Violation], skipped: str = "") -> None:
        violations.extend(found)
        if skipped:
            results.append(PropertyResult(prop, Status.SKIPPED, skipped))
        else:
            results.append(PropertyResult(prop, Status.VIOLATED if found else Status.HOLDS))

    index = index_schedule(schedule)
    record(Property.COMPLETE, check_completeness(index))
    record(Property.PLACED, check_placement(index))
    execution = execute(index, costs)
    record(Property.DEADLOCK_FREE, check_deadlock(execution))
    if schedule.timing is None:
        record(Property.CONFLICT_FREE, [], "the schedule has no start times (order only)")
    elif not timed:
        record(Property.CONFLICT_FREE, [], "start times ignored: order semantics")
    else:
        record(Property.CONFLICT_FREE, check_timing(execution, costs))
    if memory_cap is None:
        record(Property.MEMORY, [], "no memory cap given")
    else:
        record(Property.MEMORY, check_memory(index, costs, memory_cap))
    metrics = compute_metrics(execution, costs) if execution.complete else None
    return Report(
        subject=schedule.source or schedule.name or "<schedule>",
        violations=tuple(violations),
        properties=tuple(results),
        metrics=metrics,
        costs=costs.describe(),
    )


__all__ = [
    "check",
    "check_completeness",
    "check_deadlock",
    "check_memory",
    "check_placement",
    "check_timing",
    "shortest_cycle",
    "stuck_graph",
]
