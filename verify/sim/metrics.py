"""Metrics of an execution: makespan, busy/idle time, bubble ratio, memory, weights."""

from __future__ import annotations

import numpy as np

from verify.core.costs import CostModel
from verify.core.results import Metrics
from verify.passes.index import IndexedSchedule
from verify.sim.execute import Execution


def activation_profile(
    index: IndexedSchedule, costs: CostModel
) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """Peak activation memory per worker and the program position where it is reached
    (-1 for a worker that holds nothing).

    One micro-batch's activation on a stage is held from the start of its F to the end of
    its B, or of its W when the backward is split. A worker runs one unit at a time, so
    walking its program gives the same peak as any timing of it. Within an ``Overlap``
    the forwards allocate before the backwards release. A backward releases only what its
    own worker's earlier F allocated (other cases are completeness or placement errors).
    """
    D = index.schedule.num_workers
    valid = np.nonzero(index.op_id >= 0)[0]
    ids = index.op_id[valid]
    first = index.unit_of_id[ids] == index.op_unit[valid]
    rows = valid[first]
    ids = ids[first]
    kind = index.op_kind[rows]
    slot = ids // 4
    split = index.present_split()[slot]
    stages = index.op_stage[rows]
    act = np.zeros(len(rows), dtype=np.float64)
    for s in np.unique(stages).tolist():
        act[stages == s] = costs.activation_of(int(s))
    alloc = kind == 0
    releasing = ((kind == 1) & ~split) | (kind == 3)
    f_unit = index.unit_of_id[slot * 4]
    units = index.op_unit[rows]
    safe_f = np.where(f_unit >= 0, f_unit, 0)
    releasing &= (f_unit >= 0) & (index.unit_worker[safe_f] == index.op_worker[rows]) & (
        f_unit <= units
    )
    ev_unit = np.concatenate([units[alloc], units[releasing]])
    ev_phase = np.concatenate([np.zeros(int(alloc.sum()), np.int64), np.ones(int(releasing.sum()), np.int64)])
    ev_delta = np.concatenate([act[alloc], -act[releasing]])
    order = np.lexsort((ev_phase, ev_unit))
    ev_unit, ev_delta = ev_unit[order], ev_delta[order]
    ev_worker = index.unit_worker[ev_unit]
    cs = np.cumsum(ev_delta)
    peaks: list[float] = []
    where: list[int] = []
    bounds = np.searchsorted(ev_worker, np.arange(D + 1))
    for w in range(D):
        lo, hi = int(bounds[w]), int(bounds[w + 1])
        if lo == hi:
            peaks.append(0.0)
            where.append(-1)
            continue
        base = cs[lo - 1] if lo > 0 else 0.0
        seg = cs[lo:hi] - base
        k = int(np.argmax(seg))
        peak = float(seg[k])
        if peak <= 0:
            peaks.append(0.0)
            where.append(-1)
            continue
        peaks.append(peak)
        where.append(int(index.unit_pos[ev_unit[lo + k]]))
    return tuple(peaks), tuple(where)


def compute_metrics(execution: Execution, costs: CostModel) -> Metrics:
    """Metrics of a complete execution under ``costs``."""
    index = execution.index
    schedule = index.schedule
    D = schedule.num_workers
    makespan = execution.makespan
    busy = np.bincount(index.unit_worker, weights=execution.duration, minlength=D)
    idle = makespan - busy
    ratio = float(idle.sum()) / (D * makespan) if makespan > 0 else 0.0
    peaks, _ = activation_profile(index, costs)
    return Metrics(
        makespan=makespan,
        busy=tuple(float(b) for b in busy),
        idle=tuple(float(x) for x in idle),
        bubble_ratio=ratio,
        peak_activations=peaks,
        stage_replicas=schedule.stage_replicas(),
        weights=schedule.weights(),
        num_ops=len(index.ops),
    )
