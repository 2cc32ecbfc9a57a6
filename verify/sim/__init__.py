"""Execution semantics (earliest-start simulation) and the metrics derived from it."""

from __future__ import annotations

from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.results import Metrics
from verify.core.schedule import Schedule
from verify.passes.index import index_schedule
from verify.sim.execute import Execution, execute, unit_durations
from verify.sim.metrics import activation_profile, compute_metrics


def simulate(schedule: Schedule, costs: CostModel = UNIT_COSTS) -> Execution:
    """Earliest-start execution of ``schedule``'s programs under ``costs``.

    >>> from verify.generators import generate
    >>> simulate(generate("chimera", 4, 4)).makespan
    10.0
    """
    return execute(index_schedule(schedule), costs)


def metrics(schedule: Schedule, costs: CostModel = UNIT_COSTS) -> Metrics | None:
    """Metrics of ``schedule`` under ``costs``, or None when it deadlocks.

    >>> from verify.generators import generate
    >>> m = metrics(generate("1f1b", 4, 8))
    >>> m.makespan, m.peak_activations
    (22.0, (4.0, 3.0, 2.0, 1.0))
    """
    ex = simulate(schedule, costs)
    if not ex.complete:
        return None
    return compute_metrics(ex, costs)


__all__ = [
    "Execution",
    "activation_profile",
    "compute_metrics",
    "execute",
    "metrics",
    "simulate",
    "unit_durations",
]
