"""Activation memory: the peak on each worker stays within a cap."""

from __future__ import annotations

from verify.core.costs import CostModel
from verify.core.results import Violation, ViolationKind
from verify.passes.index import IndexedSchedule
from verify.sim.metrics import activation_profile


def check_memory(index: IndexedSchedule, costs: CostModel, cap: float) -> list[Violation]:
    """One MEMORY_CAP violation per worker whose peak activation memory exceeds ``cap``
    (in units of one micro-batch's activations on one stage), naming the op at which
    the peak is reached."""
    programs = index.schedule.programs
    peaks, where = activation_profile(index, costs)
    out: list[Violation] = []
    for w, (peak, i) in enumerate(zip(peaks, where)):
        if peak > cap:
            a = programs[w][i]
            out.append(Violation(
                ViolationKind.MEMORY_CAP,
                f"worker {w} holds {peak:g} activations at {a} (position {i}), above the "
                f"cap of {cap:g}",
                (a,), (w,), positions=((w, i),)))
    return out
