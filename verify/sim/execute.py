"""Execution semantics: earliest-start simulation of the per-worker programs.

A worker runs its program in order. A compute unit starts when the previous unit on its
worker has ended and every producer of its ops has ended, plus the latency between the
two workers; it lasts the cost model's duration (an ``Overlap`` lasts ``costs.overlap``,
or the sum of its ops). Communication and stage actions take no compute time here.

The simulation is one pass of Kahn's algorithm over units: linear in the number of ops.
Units that never become ready are exactly those on or behind a dependency cycle: the
schedule deadlocks, and :mod:`verify.checks.deadlock` explains why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from verify.core.costs import CostModel
from verify.passes.index import IndexedSchedule, IntArray

FloatArray = np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class Execution:
    """Start and end time of every unit (NaN for units that never ran)."""

    index: IndexedSchedule
    start: FloatArray
    end: FloatArray
    duration: FloatArray
    stuck: tuple[int, ...]
    """Units that never became ready (empty iff the schedule is deadlock-free)."""
    edges: tuple[IntArray, IntArray]
    """Data edges between units (producer, consumer)."""

    @property
    def complete(self) -> bool:
        return not self.stuck

    @property
    def makespan(self) -> float:
        if len(self.end) == 0:
            return 0.0
        return float(np.nanmax(self.end)) if not np.all(np.isnan(self.end)) else 0.0


def unit_durations(index: IndexedSchedule, costs: CostModel) -> FloatArray:
    """Duration of every unit under ``costs``."""
    stages = index.op_stage
    table_stages = np.unique(stages) if len(stages) else np.zeros(0, dtype=np.int64)
    per_op = np.zeros(len(stages), dtype=np.float64)
    for s in table_stages.tolist():
        row = np.array(costs.durations(int(s)), dtype=np.float64)
        sel = stages == s
        per_op[sel] = row[index.op_kind[sel]]
    n = index.num_units
    dur = np.bincount(index.op_unit, weights=per_op, minlength=n) if n else np.zeros(0)
    if costs.overlap is not None and n:
        multi = np.bincount(index.op_unit, minlength=n) > 1
        dur[multi] = float(costs.overlap)
    return dur


def execute(index: IndexedSchedule, costs: CostModel, *, engine: str = "auto") -> Execution:
    """Simulate the programs under ``costs`` (earliest start, order semantics).

    ``engine`` is ``"kahn"`` (plain Python, linear), ``"wavefront"`` (NumPy rounds, fast
    with many workers) or ``"auto"``; both give identical results (tested).
    """
    n = index.num_units
    src, dst, _ = index.producers()
    if len(src) and len(index.ops) != n:  # an overlap may need the same unit twice
        pair = np.unique(src * n + dst)
        src, dst = pair // n, pair % n
    data_edges = (src, dst)
    dur = unit_durations(index, costs)
    uw = index.unit_worker
    if costs.links:
        lat = np.array(
            [costs.latency_between(int(a), int(b)) for a, b in zip(uw[src], uw[dst])],
            dtype=np.float64,
        )
    else:
        lat = np.where(uw[src] != uw[dst], float(costs.latency), 0.0)

    if engine == "auto":
        engine = "wavefront" if _wavefront_pays(index) else "kahn"
    if engine == "wavefront":
        s_arr, e_arr = _wavefront(index, src, dst, lat, dur)
    else:
        s_arr, e_arr = _kahn(index, src, dst, lat, dur)
    stuck = tuple(np.nonzero(np.isnan(s_arr))[0].tolist())
    return Execution(index, s_arr, e_arr, dur, stuck, data_edges)


def _wavefront_pays(index: IndexedSchedule) -> bool:
    """The vectorised engine advances every worker by one unit per NumPy round, so it
    pays off when many workers run in parallel and programs are long."""
    D = index.schedule.num_workers
    return D >= 16 and index.num_units >= 4096


def _kahn(
    index: IndexedSchedule, src: IntArray, dst: IntArray, lat: FloatArray, dur: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Kahn's algorithm in plain Python over CSR lists (fast for few workers)."""
    n = index.num_units
    # program order is an edge too: u-1 -> u within a worker (latency 0)
    first = np.zeros(n, dtype=bool)
    heads = index.worker_ptr[:-1]
    first[heads[heads < n]] = True
    chain = np.nonzero(~first)[0]
    src = np.concatenate([src, chain - 1])
    dst = np.concatenate([dst, chain])
    lat = np.concatenate([lat, np.zeros(len(chain))])

    order = np.argsort(dst, kind="stable")
    pred_src = src[order].tolist()
    pred_lat = lat[order].tolist()
    counts = np.bincount(dst, minlength=n)
    pred_ptr = np.concatenate([[0], np.cumsum(counts)]).tolist()
    order = np.argsort(src, kind="stable")
    succ_dst = dst[order].tolist()
    succ_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]).tolist()
    indeg = counts.tolist()
    d = dur.tolist()

    nan = float("nan")
    start = [nan] * n
    end = [nan] * n
    ready = [u for u in range(n) if indeg[u] == 0]
    push, pop = ready.append, ready.pop
    while ready:
        u = pop()
        t = 0.0
        for j in range(pred_ptr[u], pred_ptr[u + 1]):
            e = end[pred_src[j]] + pred_lat[j]
            if e > t:
                t = e
        start[u] = t
        end[u] = t + d[u]
        for j in range(succ_ptr[u], succ_ptr[u + 1]):
            v = succ_dst[j]
            c = indeg[v] - 1
            indeg[v] = c
            if not c:
                push(v)
    return np.array(start, dtype=np.float64), np.array(end, dtype=np.float64)


def _wavefront(
    index: IndexedSchedule, src: IntArray, dst: IntArray, lat: FloatArray, dur: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Round-synchronous execution in NumPy: each round, every worker whose next unit has
    all its producers finished runs it. Same semantics as :func:`_kahn` (earliest start);
    the number of rounds is the longest chain of units, not the number of units."""
    n = index.num_units
    D = index.schedule.num_workers
    ptr = index.worker_ptr
    order = np.argsort(dst, kind="stable")
    p_src, p_lat = src[order], lat[order]
    p_ptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=n))])
    order = np.argsort(src, kind="stable")
    s_dst = dst[order]
    s_ptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    need = np.diff(p_ptr).astype(np.int64)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    head = ptr[:-1].copy()
    stop = ptr[1:]
    clock = np.zeros(D)
    active = np.nonzero(head < stop)[0]
    while len(active):
        h = head[active]
        ok = need[h] == 0
        if not ok.any():
            break
        w = active[ok]
        u = h[ok]
        t = clock[w]
        lo, hi = p_ptr[u], p_ptr[u + 1]
        cnt = hi - lo
        total = int(cnt.sum())
        if total:
            seg = np.repeat(np.arange(len(u)), cnt)
            idx = np.arange(total) + np.repeat(lo - np.cumsum(cnt) + cnt, cnt)
            arrive = end[p_src[idx]] + p_lat[idx]
            best = np.zeros(len(u))
            np.maximum.at(best, seg, arrive)
            t = np.maximum(t, best)
        start[u] = t
        e = t + dur[u]
        end[u] = e
        clock[w] = e
        lo, hi = s_ptr[u], s_ptr[u + 1]
        cnt = hi - lo
        total = int(cnt.sum())
        if total:
            idx = np.arange(total) + np.repeat(lo - np.cumsum(cnt) + cnt, cnt)
            np.subtract.at(need, s_dst[idx], 1)
        head[w] += 1
        active = active[head[active] < stop[active]]
    return start, end
