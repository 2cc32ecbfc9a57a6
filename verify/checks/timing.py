"""Timed schedules: the schedule's own start times are conflict-free and causal.

``steps`` timing (slot tables, PyTorch CSV columns): every action occupies one step; no
two actions of a worker share a step; every op's step is later than each producer's.
``times`` timing: a compute op occupies ``[start, start + duration)`` under the cost
model; compute ops of a worker must not overlap; an op starts no earlier than each
producer's end plus the latency between their workers. In both, start times must not
decrease along a worker's program.
"""

from __future__ import annotations

import numpy as np

from verify.core.actions import Overlap
from verify.core.costs import CostModel
from verify.core.results import Violation, ViolationKind
from verify.core.schedule import TimingUnit
from verify.sim.execute import Execution


def _fmt(t: float) -> str:
    return f"{t:g}"


def check_timing(execution: Execution, costs: CostModel) -> list[Violation]:
    """CONFLICT, EARLY_START and TIMING_ORDER violations of a timed schedule (none for
    an untimed one). Conflicts are sorted by time, so the first is the earliest."""
    index = execution.index
    schedule = index.schedule
    timing = schedule.timing
    if timing is None:
        return []
    steps = timing.unit is TimingUnit.STEPS
    word = "slot" if steps else "time"
    programs = schedule.programs
    starts = timing.starts
    out_conf: list[tuple[float, int, Violation]] = []
    out_other: list[Violation] = []

    lengths = [len(r) for r in starts]
    flat = np.fromiter((t for r in starts for t in r), np.float64, sum(lengths))
    row_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    worker_of = np.repeat(np.arange(len(starts)), lengths)
    pos_of = np.arange(len(flat)) - row_ptr[worker_of]

    # start times must follow program order
    if len(flat) > 1:
        dec = np.nonzero((np.diff(flat) < 0) & (worker_of[1:] == worker_of[:-1]))[0] + 1
        for j in dec.tolist():
            w, i = int(worker_of[j]), int(pos_of[j])
            out_other.append(Violation(
                ViolationKind.TIMING_ORDER,
                f"worker {w}: {programs[w][i]} starts at {word} {_fmt(flat[j])}, before "
                f"{programs[w][i - 1]} at {_fmt(flat[j - 1])}, which precedes it in the program",
                (programs[w][i - 1], programs[w][i]), (w,), (float(flat[j - 1]), float(flat[j])),
                ((w, i - 1), (w, i))))

    ustart = flat[row_ptr[index.unit_worker] + index.unit_pos] if index.num_units else flat[:0]
    uend = ustart + (1.0 if steps else execution.duration)

    if steps:
        order = np.lexsort((pos_of, flat, worker_of))
        same = (worker_of[order][1:] == worker_of[order][:-1]) & (flat[order][1:] == flat[order][:-1])
        for j in np.nonzero(same)[0].tolist():
            a, b = int(order[j]), int(order[j + 1])
            w, t = int(worker_of[a]), float(flat[a])
            pa, pb = int(pos_of[a]), int(pos_of[b])
            out_conf.append((t, w, Violation(
                ViolationKind.CONFLICT,
                f"conflict on worker {w}, slot {_fmt(t)}: {programs[w][pa]} and "
                f"{programs[w][pb]} are both scheduled in it",
                (programs[w][pa], programs[w][pb]), (w,), (t, t), ((w, pa), (w, pb)))))
    else:
        uw = index.unit_worker
        order = np.lexsort((index.unit_pos, ustart, uw))
        a_, b_ = order[:-1], order[1:]
        clash = (uw[a_] == uw[b_]) & (ustart[b_] < uend[a_])
        for j in np.nonzero(clash)[0].tolist():
            a, b = int(a_[j]), int(b_[j])
            w = int(uw[a])
            pa, pb = int(index.unit_pos[a]), int(index.unit_pos[b])
            out_conf.append((float(ustart[b]), w, Violation(
                ViolationKind.CONFLICT,
                f"conflict on worker {w} at time {_fmt(ustart[b])}: {programs[w][pa]} runs "
                f"[{_fmt(ustart[a])}, {_fmt(uend[a])}) and {programs[w][pb]} starts at "
                f"{_fmt(ustart[b])}",
                (programs[w][pa], programs[w][pb]), (w,), (float(ustart[a]), float(ustart[b])),
                ((w, pa), (w, pb)))))

    src, dst, row = index.producers()
    if len(src):
        uw = index.unit_worker
        if steps:
            ready = uend[src]
        elif costs.links:
            ready = uend[src] + np.array(
                [costs.latency_between(int(a), int(b)) for a, b in zip(uw[src], uw[dst])])
        else:
            ready = uend[src] + np.where(uw[src] != uw[dst], float(costs.latency), 0.0)
        late = np.nonzero(ustart[dst] < ready)[0]
        for j in late.tolist():
            v, u, r = int(src[j]), int(dst[j]), int(row[j])
            wv, wu = int(uw[v]), int(uw[u])
            pv = programs[wv][int(index.unit_pos[v])]
            cons = programs[wu][int(index.unit_pos[u])]
            op = index.ops[r]
            cwhat = f"{op} in {cons}" if isinstance(cons, Overlap) else str(cons)
            if steps:
                detail = f"its producer {pv} (worker {wv}) runs in slot {_fmt(ustart[v])}"
            else:
                extra = "" if wv == wu else f" plus latency {_fmt(ready[j] - uend[v])}"
                detail = f"its producer {pv} (worker {wv}) ends at {_fmt(uend[v])}{extra}"
            out_other.append(Violation(
                ViolationKind.EARLY_START,
                f"{cwhat} (worker {wu}) starts at {word} {_fmt(ustart[u])}, but {detail}",
                (pv, cons), (wv, wu), (float(ustart[v]), float(ustart[u])),
                ((wv, int(index.unit_pos[v])), (wu, int(index.unit_pos[u])))))
    out_conf.sort(key=lambda c: (c[0], c[1]))
    return [c[2] for c in out_conf] + out_other
