"""Conformance of a runtime trace to a schedule: did the job run what was verified?

Each training step of the trace is checked on its own (steps come from the trace's
markers, else from repetition: the k-th execution of an op belongs to step k, and stray
events fall into the step whose time window holds them). Per step:

* ``NOT_EXECUTED`` / ``UNSCHEDULED``: every scheduled compute op ran exactly once, on
  its worker, and nothing else ran (unknown pipeline, stage or micro-batch, an op on the
  wrong worker, an op run twice);
* ``ORDER_DIVERGENCE``: on every worker, the ops ran in the schedule's order (compared
  on the ops that ran exactly once; the first divergence is shown with both sequences);
* ``DEPENDENCY_VIOLATED``: an op started computing only after its producers on other
  workers ended (an op that waits for its input inside its span computes from the
  moment its input arrived, see :mod:`verify.traces.events`);
* ``COMPUTE_OVERLAP``: no two compute units overlap on one worker;
* ``MESSAGE_ORDER``: per channel (sender, receiver, and pipeline when there are several:
  one process group each), the k-th send pairs with the k-th receive (or, with message
  ids, each receive's send), and carries the tensor the receive expects.

Everything is vectorised (sorts, gathers, running maxima), so a million events are
checked in well under a second; Python loops run over violations only.

>>> from verify.generators import generate
>>> from verify.traces.synthetic import synthetic_trace
>>> s = generate("1f1b", 2, 2)
>>> r = check_trace(s, synthetic_trace(s, steps=2))
>>> r.ok, [st.label for st in r.steps], r.measured_makespan
(True, ['step 1', 'step 2'], 6.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from verify.core.actions import DEFAULT_PIPELINE, Op
from verify.core.costs import CostModel, StageCosts
from verify.core.results import (
    Metrics,
    Property,
    PropertyResult,
    Report,
    Status,
    Violation,
    ViolationKind,
)
from verify.core.schedule import Schedule
from verify.errors import ModelError, ScheduleFormatError
from verify.passes.index import CODE_KIND, IndexedSchedule, index_schedule
from verify.sim.execute import execute
from verify.sim.metrics import activation_profile, compute_metrics
from verify.traces.events import (
    FIRST_STAGE_ACTION,
    KINDS,
    NUM_COMPUTE,
    OUTSIDE_STEP,
    RECV_B,
    RECV_F,
    SEND_F,
    TraceEvents,
)
from verify.traces.kernels import group_rank, lex_order, pack_sort, reorder, run_rank, stable_order
from verify.traces.results import StepResult, TraceReport

IntArray = npt.NDArray[np.int64]
KeyArray = npt.NDArray[np.signedinteger[Any]]
"""Integer keys and row numbers, in 32 bits when they fit."""
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

K = ViolationKind
_ORDER_OF_KIND = {k: i for i, k in enumerate(
    (K.NOT_EXECUTED, K.UNSCHEDULED, K.ORDER_DIVERGENCE, K.DEPENDENCY_VIOLATED, K.COMPUTE_OVERLAP,
     K.MESSAGE_ORDER))}
_CONTEXT = 3

# why an event matches no scheduled op
_OK, _NO_PIPE, _AMBIGUOUS, _NOT_PLACED, _NO_STAGE_LABEL, _STAGE_RANGE, _MB_RANGE, _WORKER_RANGE = range(8)
_WRONG_WORKER, _NOT_IN_SCHEDULE = 8, 9


def _fmt(t: float) -> str:
    return f"{t:.10g}"


class _Ctx:
    """Shared arrays and helpers for one check (not part of the API)."""

    def __init__(self, schedule: Schedule, trace: TraceEvents, tolerance: float) -> None:
        self.schedule = schedule
        self.trace = trace
        self.index: IndexedSchedule = index_schedule(schedule)
        # what the checks need of the schedule alone, derived while its index is fresh
        self.edges = self.index.producers()
        self.peaks = activation_profile(self.index, CostModel())[0]
        self.tol = tolerance
        self.unit = f" {trace.time_unit}" if trace.time_unit else ""

    def t(self, x: float) -> str:
        return f"{_fmt(x)}{self.unit}"


def _resolve(ctx: _Ctx) -> tuple[IntArray, IntArray, npt.NDArray[np.int8]]:
    """Schedule pipeline index, stage and reason code of every event (-1/-1/why when
    it cannot be attributed). Each rule first checks, with a minimum or maximum, whether
    any event can break it, so a clean trace costs a few passes."""
    tr, sch = ctx.trace, ctx.schedule
    n = len(tr)
    pipes = sch.pipelines
    D = sch.num_workers
    name_to_idx = {p.name: k for k, p in enumerate(pipes)}
    names = tr.pipelines
    table = np.array([name_to_idx.get(nm, -1) for nm in names] + [-1], dtype=np.int64)
    code = tr.pipeline
    lowest = int(code.min()) if n else 0
    if lowest >= 0 and len(names) and bool(np.all(table[:-1] == table[0])):
        pidx = np.broadcast_to(table[0], (n,))  # one pipeline named throughout (read-only)
    elif lowest >= -1:
        pidx = table[code]  # -1 (not named) picks the final -1
    else:
        pidx = np.where(code >= 0, table[np.where(code >= 0, code, len(names))], -1)
    why = np.zeros(n, dtype=np.int8)  # _OK
    if np.any(table[:-1] < 0):
        why[(code >= 0) & (pidx < 0)] = _NO_PIPE
    stage = tr.stage
    worker = tr.worker
    all_in = not n or (int(worker.min()) >= 0 and int(worker.max()) < D)
    if not all_in:
        in_range = (worker >= 0) & (worker < D)
        why[~in_range & (why == _OK)] = _WORKER_RANGE
    max_stage = max(p.num_stages for p in pipes)
    if lowest < 0:  # events that do not name their pipeline
        # placement table: (worker, stage) -> pipeline, -2 when several pipelines place it there
        place = np.full((D, max_stage), -1, dtype=np.int64)
        only = np.full(D, -1, dtype=np.int64)  # the one (pipeline*max_stage+stage) on a worker
        holders = np.zeros(D, dtype=np.int64)
        for k, p in enumerate(pipes):
            for s, w in enumerate(p.placement):
                place[w, s] = k if place[w, s] == -1 else -2
                holders[w] += 1
                only[w] = k * max_stage + s
        unnamed = (code < 0) & (why == _OK)
        label = unnamed & (stage < 0)
        wsafe = worker if all_in else np.where(in_range, worker, 0)
        if np.any(label):
            stage = stage.copy()
            single = holders[wsafe] == 1
            ok = label & single
            pidx[ok] = only[wsafe[ok]] // max_stage
            stage[ok] = only[wsafe[ok]] % max_stage
            why[label & ~single] = _NO_STAGE_LABEL
        rest = unnamed & ~label
        if len(pipes) == 1:
            pidx[rest] = 0
        else:
            s_ok = rest & (stage < max_stage)
            got = np.full(n, -1, dtype=np.int64)
            got[s_ok] = place[wsafe[s_ok], stage[s_ok]]
            pidx[rest] = got[rest]
            why[rest & (got == -2)] = _AMBIGUOUS
            why[rest & (got == -1)] = _NOT_PLACED
            pidx[pidx < -1] = -1
    nst = np.array([p.num_stages for p in pipes] + [0], dtype=np.int64)
    nmb = np.array([p.microbatches for p in pipes] + [0], dtype=np.int64)
    uniform = len(set(nst[:-1].tolist())) == 1 and len(set(nmb[:-1].tolist())) == 1
    resolved = not n or int(pidx.min()) >= 0
    if uniform and resolved:  # one stage count and micro-batch count for every event
        stage_cap, mb_cap = int(nst[0]), int(nmb[0])
        if int(stage.min()) < 0 or int(stage.max()) >= stage_cap:
            bad_stage = (why == _OK) & ((stage < 0) | (stage >= stage_cap))
            why[bad_stage] = _STAGE_RANGE
        mb = tr.microbatch
        if int(mb.min()) < 0 or int(mb.max()) >= mb_cap:
            bad_mb = (why == _OK) & (tr.kind < FIRST_STAGE_ACTION) & ((mb < 0) | (mb >= mb_cap))
            why[bad_mb] = _MB_RANGE
        return pidx, stage, why
    psafe = np.where(pidx >= 0, pidx, len(pipes))
    good = why == _OK
    bad_stage = good & ((stage < 0) | (stage >= nst[psafe]))
    why[bad_stage] = _STAGE_RANGE
    good &= ~bad_stage
    needs_mb = tr.kind < FIRST_STAGE_ACTION
    bad_mb = good & needs_mb & ((tr.microbatch < 0) | (tr.microbatch >= nmb[psafe]))
    why[bad_mb] = _MB_RANGE
    return pidx, stage, why


def _steps(ctx: _Ctx, keep: BoolArray, ci: IntArray, row: KeyArray, matched: BoolArray,
           pidx: IntArray, stage: IntArray) -> tuple[IntArray, list[str]]:
    """Step index of every kept event, and the step labels (``ci``, ``row``, ``matched``:
    the compute events, their scheduled rows and whether they match)."""
    tr = ctx.trace
    n = len(tr)
    if tr.marked:
        step = np.full(n, -1, dtype=np.int64)
        nums = np.unique(tr.step[keep])
        step[keep] = np.searchsorted(nums, tr.step[keep])
        return step, [tr.step_label.format(int(x)) for x in nums.tolist()]
    if not np.any(keep):
        return np.full(n, -1, dtype=np.int64), []
    if np.any(matched) and int(np.bincount(row[matched]).max()) == 1:
        # every scheduled op ran at most once: a single step (a read-only view when it
        # holds every event)
        one = np.broadcast_to(np.int64(0), (n,)) if keep.all() else keep.astype(np.int64) - 1
        return one, ["step 1"]
    step = np.full(n, -1, dtype=np.int64)
    idx = np.flatnonzero(keep)
    # occurrence rank of each event among events with the same key (time order)
    key = _other_key(tr, pidx, stage)
    key[ci[matched]] = row[matched]
    good = np.zeros(n, dtype=bool)
    good[ci[matched]] = True
    good &= keep
    order = idx[lex_order([tr.start[idx], key[idx]])]
    ks = key[order]
    rank_sorted = group_rank(ks)
    newgrp = rank_sorted == 0
    gstart = np.flatnonzero(newgrp)
    gid = np.cumsum(newgrp) - 1
    counts_sorted = np.diff(np.append(gstart, len(order)))[gid]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    count = np.zeros(n, dtype=np.int64)
    count[order] = counts_sorted
    K_steps = int(np.argmax(np.bincount(count[good]))) if np.any(good) else int(count[keep].max())
    K_steps = max(K_steps, 1)
    well = good & (count == K_steps)
    D = max(int(tr.worker[keep].max()) + 1, 1)
    # a step starts on a worker midway between the previous step's last end and its
    # own first start (both from well-behaved events), so that stray events fall into
    # the nearer step
    first = np.full((D, K_steps), np.inf)
    last = np.full((D, K_steps), -np.inf)
    wsel = np.flatnonzero(well)
    np.minimum.at(first, (tr.worker[wsel], rank[wsel]), tr.start[wsel])
    np.maximum.at(last, (tr.worker[wsel], rank[wsel]), tr.end[wsel])
    gfirst = first.min(axis=0)
    glast = last.max(axis=0)
    gfirst[~np.isfinite(gfirst)] = 0.0
    glast[~np.isfinite(glast)] = gfirst[~np.isfinite(glast)]
    first = np.where(np.isfinite(first), first, gfirst[None, :])
    last = np.where(np.isfinite(last), last, glast[None, :])
    bounds = first.copy()
    bounds[:, 1:] = np.minimum(first[:, 1:], (last[:, :-1] + first[:, 1:]) / 2)
    bounds = np.maximum.accumulate(bounds, axis=1)
    bounds[:, 0] = -np.inf
    w = tr.worker[idx]
    # searchsorted per worker, vectorised by offsetting each worker's boundaries
    span = float(np.nanmax(np.abs(tr.end[idx]))) * 2 + 1.0 if len(idx) else 1.0
    flat = (np.where(np.isfinite(bounds), bounds, -span / 2) + np.arange(D)[:, None] * span).ravel()
    pos = np.searchsorted(flat, tr.start[idx] + w * span, side="right") - 1
    step[idx] = np.clip(pos - w * K_steps, 0, K_steps - 1)
    return step, [f"step {k + 1}" for k in range(K_steps)]


def _extrema(group: IntArray, size: int, low: FloatArray, high: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per group ``0..size-1``: the minimum of ``low`` and the maximum of ``high``
    (inf / -inf for an empty group)."""
    lo = np.full(size, np.inf)
    hi = np.full(size, -np.inf)
    if size == 1:
        if len(group):
            lo[0], hi[0] = low.min(), high.max()
        return lo, hi
    np.minimum.at(lo, group, low)
    np.maximum.at(hi, group, high)
    return lo, hi


def check_trace(
    schedule: Schedule,
    trace: TraceEvents,
    *,
    tolerance: float = 0.0,
    limit: int = 20,
    fit: bool = True,
) -> TraceReport:
    """Check that ``trace`` executed ``schedule``: per step, the five conformance checks
    of the module docstring; measured metrics per step; and (``fit``) the cost model
    fitted to the measured durations with the makespan it predicts.

    ``tolerance`` is the clock skew allowed between workers (trace time unit); at most
    ``limit`` violations of one kind are listed per step (then one summary line).

    Raises :class:`~verify.errors.ScheduleFormatError` when nothing in the trace matches
    the schedule (a trace of another job is not a pass).
    """
    ctx = _Ctx(schedule, trace, tolerance)
    index, tr = ctx.index, trace
    n = len(tr)
    pipes = schedule.pipelines
    pidx, stage, why = _resolve(ctx)
    kind = tr.kind
    all_kept = not n or int(tr.step.min()) > OUTSIDE_STEP
    keep = np.broadcast_to(True, (n,)) if all_kept else tr.step != OUTSIDE_STEP
    ignored = 0 if all_kept else int(np.count_nonzero(~keep))

    # the compute events, as sub-arrays (c.ev: their event indices)
    c = _Compute.of(tr, kind < NUM_COMPUTE)
    c_keep = np.broadcast_to(True, (len(c.ev),)) if all_kept else keep[c.ev]
    valid = why[c.ev] == _OK
    all_valid = bool(valid.all())
    nmb = np.array([p.microbatches for p in pipes] + [0], dtype=np.int64)
    c_stage = stage[c.ev]
    if len(pipes) == 1:  # every valid event is of pipeline 0
        dense = c_stage * int(nmb[0]) if all_valid else np.maximum(c_stage, 0) * int(nmb[0])
    else:
        c_p = pidx[c.ev]
        psafe = np.where(c_p >= 0, c_p, len(pipes))
        dense = np.maximum(c_stage, 0) * nmb[psafe]
    dense += c.microbatch
    dense *= 4
    dense += c.kind
    if len(pipes) > 1:
        dense += np.append(index.base, 0)[psafe]
    n_ops = len(index.ops)
    # scheduled row of each dense op id (int32 halves the table: rows are op counts)
    row_of_id = np.full(index.total_ids + 1, -1, dtype=np.int32 if n_ops < 1 << 31 else np.int64)
    valid_rows = np.flatnonzero(index.op_id >= 0)
    row_of_id[index.op_id[valid_rows[::-1]]] = valid_rows[::-1]
    row = row_of_id[dense if all_valid else np.where(valid, dense, index.total_ids)]
    placed = row >= 0
    all_placed = bool(placed.all())
    if not n_ops:
        sched_worker = np.full(len(row), -1, dtype=np.int64)
    elif all_placed:
        sched_worker = index.op_worker[row]
    else:
        sched_worker = np.where(placed, index.op_worker[np.maximum(row, 0)], -1)
    if all_valid and all_placed:
        wrong = sched_worker != c.worker
        matched = ~wrong
    else:
        why[c.ev[valid & ~placed]] = _NOT_IN_SCHEDULE
        wrong = valid & placed & (sched_worker != c.worker)
        matched = valid & placed & ~wrong
    if wrong.any():
        why[c.ev[wrong]] = _WRONG_WORKER
    if not all_kept:
        matched &= c_keep

    # step segmentation
    step, labels = _steps(ctx, keep, c.ev, row, matched, pidx, stage)
    n_steps = len(labels)
    if not np.any(matched):
        raise ScheduleFormatError(
            tr.sources[0] if tr.sources else "<trace>", None,
            f"nothing in the trace matches the schedule {schedule.name or schedule.source or ''}".rstrip()
            + f": none of its {int(np.count_nonzero(c_keep))} compute actions is a scheduled "
            "op on its worker (wrong schedule, or a trace of another job?)",
        )
    c_step = step[c.ev] if step.strides[0] else step[: len(c.ev)]  # (a view when step is one value)

    found: list[list[tuple[int, float, Violation]]] = [[] for _ in range(max(n_steps, 1))]
    per_step: dict[tuple[int, ViolationKind], int] = {}

    def room(k: int, kind: ViolationKind) -> bool:
        """Count one violation of ``kind`` in step ``k``; True while it is to be listed."""
        c = per_step.get((k, kind), 0)
        per_step[(k, kind)] = c + 1
        return c < limit

    def add(k: int, v: Violation, t: float = 0.0) -> None:
        found[k].append((_ORDER_OF_KIND[v.kind], t, v))

    # ---------------------------------------------------------------- completeness
    cell = c_step * max(n_ops, 1) + np.maximum(row, 0)
    all_matched = bool(matched.all())
    mcell = cell if all_matched else cell[matched]
    cnt = np.bincount(mcell, minlength=n_steps * n_ops) if n_ops else np.zeros(0, np.int64)
    if not n_ops:
        once = matched
    elif all_matched:
        once = cnt[cell] == 1
    else:
        once = matched & (cnt[np.where(matched, cell, 0)] == 1)
    step_has = np.bincount(c_step if all_matched else c_step[matched], minlength=n_steps) > 0
    ran = cnt.reshape(n_steps, n_ops) > 0
    executed_per_step = ran.sum(axis=1) if n_ops else np.zeros(n_steps, np.int64)
    if not (ran | ~step_has[:, None]).all():
        missing = np.nonzero(~ran & step_has[:, None])
        for k, r in zip(missing[0].tolist(), missing[1].tolist()):
            if not room(k, K.NOT_EXECUTED):
                continue
            op = index.ops[r]
            w, i = int(index.op_worker[r]), int(index.op_pos[r])
            add(k, Violation(K.NOT_EXECUTED, f"{labels[k]}: {op} (worker {w}, position {i}) was not executed",
                             (op,), (w,), positions=((w, i),)), -1.0)
    _unscheduled(ctx, room, add, step, labels, c, c_keep & ~matched, why, pidx, stage, row, sched_worker,
                 cnt, cell, matched)

    # per (step, unit) times of the ops that ran once
    n_units = index.num_units
    g = np.flatnonzero(once)
    ucell = c_step[g] * n_units + index.op_unit[row[g]]
    u_cstart = np.full(n_steps * n_units, np.nan)
    u_end = np.full(n_steps * n_units, np.nan)
    u_ev = np.full(n_steps * n_units, -1, dtype=np.int64)
    if n_units == n_ops:  # one op per unit: the cells of ops that ran once are distinct
        u_cstart[ucell] = c.cstart[g]
        u_end[ucell] = c.end[g]
        u_ev[ucell] = c.ev[g]
    else:
        u_cstart[ucell] = np.inf
        u_end[ucell] = -np.inf
        np.minimum.at(u_cstart, ucell, c.cstart[g])
        np.maximum.at(u_end, ucell, c.end[g])
        u_ev[ucell[::-1]] = c.ev[g[::-1]]

    _order(ctx, room, add, c, g, c_step, row, labels)
    _dependencies(ctx, room, add, n_steps, u_cstart, u_end, u_ev, labels)
    _overlap(ctx, room, add, c, c_keep, step, labels)
    comm = (kind >= SEND_F) & (kind <= RECV_B) & (why == _OK)
    if not all_kept:
        comm &= keep
    _messages(ctx, room, add, comm, step, pidx, stage, labels)

    # ------------------------------------------------------------------- metrics
    step_metrics = _measured(ctx, c, c_keep, c_step, n_steps, step_has)
    violations: list[Violation] = []
    results: list[StepResult] = []
    if all_kept and n_steps == 1 and int(step.min()) >= 0:
        s_first, s_last = _extrema(step, 1, tr.start, tr.end)
    else:
        kept = np.flatnonzero(keep & (step >= 0))
        s_first, s_last = _extrema(step[kept], n_steps, tr.start[kept], tr.end[kept])
    counts: dict[str, int] = {}
    for (_, kd), cn in per_step.items():
        counts[kd.value] = counts.get(kd.value, 0) + cn
    for k in range(n_steps):
        listed = [v for _, _, v in sorted(found[k], key=lambda x: (x[0], x[1]))]
        for kd in _ORDER_OF_KIND:
            cn = per_step.get((k, kd), 0)
            if cn > limit:
                listed.append(Violation(kd, f"{labels[k]}: ... and {cn - limit} more {kd.value} violations"))
        listed.sort(key=lambda v: _ORDER_OF_KIND[v.kind])
        violations.extend(listed)
        results.append(StepResult(
            label=labels[k], start=float(s_first[k]) if np.isfinite(s_first[k]) else 0.0,
            end=float(s_last[k]) if np.isfinite(s_last[k]) else 0.0, ops_expected=n_ops,
            ops_executed=int(executed_per_step[k]), violations=tuple(listed), metrics=step_metrics[k]))
    measured = _median_metrics([m for m in step_metrics if m is not None], schedule, index)
    fitted = _fit(c, once, c_stage) if fit else None
    predicted = None
    if fitted is not None:
        ex = execute(index, fitted)
        predicted = compute_metrics(ex, fitted) if ex.complete else None
    names = ", ".join(tr.sources[:3]) + (f" and {len(tr.sources) - 3} more" if len(tr.sources) > 3 else "")
    subject = f"trace {names} against {schedule.source or schedule.name or '<schedule>'}"
    report = Report(
        subject=subject,
        violations=tuple(violations),
        properties=(PropertyResult(Property.CONFORMANCE, Status.VIOLATED if violations else Status.HOLDS),),
        metrics=measured,
        costs=fitted.describe() if fitted else "",
    )
    return TraceReport(report=report, steps=tuple(results), time_unit=tr.time_unit, events=n,
                       ignored=ignored, fitted=fitted, predicted=predicted,
                       counts=tuple(sorted(counts.items())))


@dataclass(frozen=True, slots=True, eq=False)
class _Compute:
    """The compute events (kinds F, B, I, W) of a trace as sub-arrays, in event order:
    the checks of compute ops work on these rather than on every event."""

    ev: IntArray
    """Index of each in the trace."""
    worker: IntArray
    kind: IntArray
    microbatch: IntArray
    unit: IntArray
    start: FloatArray
    end: FloatArray
    cstart: FloatArray
    """When it started computing: ``min(max(start, ready), end)``, or ``start``."""

    @classmethod
    def of(cls, tr: TraceEvents, sel: BoolArray) -> _Compute:
        ev = np.flatnonzero(sel)
        start, end, ready = tr.start[ev], tr.end[ev], tr.ready[ev]
        waits = ~np.isnan(ready)
        cstart = np.where(waits, np.minimum(np.maximum(start, ready), end), start) if waits.any() else start
        return cls(ev, tr.worker[ev], tr.kind[ev], tr.microbatch[ev], tr.unit[ev], start, end, cstart)


def _other_key(tr: TraceEvents, pidx: IntArray, stage: IntArray) -> IntArray:
    """A key per event naming what it is (worker, pipeline, stage, micro-batch, kind),
    for the occurrence rank of events that match no scheduled op."""
    parts = [tr.worker, pidx + 1, stage + 1, tr.microbatch + 1, tr.kind]
    key = np.zeros(len(tr), dtype=np.int64)
    for p in parts:
        span = int(p.max()) + 1 if len(p) else 1
        key = key * span + p
    return -1 - key  # negative: never equal to a scheduled row


Room = Callable[[int, ViolationKind], bool]
Add = Callable[..., None]


def _unscheduled(
    ctx: _Ctx, room: Room, add: Add, step: IntArray, labels: list[str], c: _Compute, stray: BoolArray,
    why: npt.NDArray[np.int8], pidx: IntArray, stage: IntArray, row: KeyArray, sched_worker: IntArray,
    cnt: IntArray, cell: IntArray, matched: BoolArray,
) -> None:
    """Compute events that match no scheduled op (``stray``, over ``c``), and ops run
    more than once in a step."""
    tr, sch, index = ctx.trace, ctx.schedule, ctx.index
    pipes = sch.pipelines
    for j in np.flatnonzero(stray).tolist():
        i = int(c.ev[j])
        k = int(step[i])
        if not room(k, K.UNSCHEDULED):
            continue
        w = int(tr.worker[i])
        lab = tr.label(i)
        code = int(why[i])
        p = int(pidx[i])
        s = int(stage[i])
        at = f"at {ctx.t(float(tr.start[i]))} ({tr.where(i)})"
        if code == _NO_PIPE:
            reason = f"the schedule has no pipeline {tr.pipelines[int(tr.pipeline[i])]!r}"
        elif code == _AMBIGUOUS:
            reason = (f"several pipelines place stage {s} on worker {w}: the trace must name the "
                      f"pipeline (e.g. 'PP:{pipes[0].name}:{lab}')")
        elif code == _NOT_PLACED:
            reason = f"no pipeline of the schedule places stage {s} on worker {w}"
        elif code == _NO_STAGE_LABEL:
            reason = f"the label names no stage and worker {w} holds several (or none)"
        elif code == _WORKER_RANGE:
            reason = f"the schedule has workers 0..{sch.num_workers - 1}"
        elif code == _STAGE_RANGE:
            reason = f"pipeline {pipes[p].name!r} has stages 0..{pipes[p].num_stages - 1}"
        elif code == _MB_RANGE:
            reason = f"pipeline {pipes[p].name!r} has micro-batches 0..{pipes[p].microbatches - 1}"
        elif code == _WRONG_WORKER:
            op = index.ops[int(row[j])]
            add(k, Violation(K.UNSCHEDULED, f"{labels[k]}: {op} ran on worker {w} {at}, but the schedule "
                             f"runs it on worker {int(sched_worker[j])}", (op,), (w, int(sched_worker[j])),
                             (float(tr.start[i]),)), float(tr.start[i]))
            continue
        else:
            op = Op(pipes[p].name, s, int(tr.microbatch[i]), CODE_KIND[int(tr.kind[i])])
            reason = f"the schedule has no op {op}"
        add(k, Violation(K.UNSCHEDULED, f"{labels[k]}: {lab} ran on worker {w} {at}: {reason}",
                         (), (w,), (float(tr.start[i]),)), float(tr.start[i]))
    # ops run more than once in a step
    if not len(cnt):
        return
    dup_cells = np.flatnonzero(cnt > 1)
    if not len(dup_cells):
        return
    n_ops = len(index.ops)
    pos = np.flatnonzero(matched & np.isin(cell, dup_cells))
    pos = pos[np.lexsort((c.start[pos], cell[pos]))]
    ev = c.ev[pos]
    cells = cell[pos]
    for cl in dup_cells.tolist():
        k, r = divmod(cl, n_ops)
        if not room(k, K.UNSCHEDULED):
            continue
        lo, hi = np.searchsorted(cells, [cl, cl + 1])
        evs = ev[lo:hi]
        op = index.ops[r]
        w = int(index.op_worker[r])
        times = ", ".join(f"{ctx.t(float(tr.start[e]))} ({tr.where(int(e))})" for e in evs.tolist())
        add(k, Violation(K.UNSCHEDULED, f"{labels[k]}: {op} ran {len(evs)} times on worker {w} (at {times}); "
                         "the schedule runs it once", (op,) * len(evs), (w,),
                         tuple(float(tr.start[e]) for e in evs.tolist()),
                         ((w, int(index.op_pos[r])),)), float(tr.start[evs[1]]))


def _order(ctx: _Ctx, room: Room, add: Add, c: _Compute, g: IntArray, c_step: IntArray, row: KeyArray,
           labels: list[str]) -> None:
    """Per (step, worker): the ops that ran once (``g``, over ``c``), in time order, must
    follow the program."""
    tr, index = ctx.trace, ctx.index
    if len(g) < 2:
        return
    every = len(g) == len(c.ev)  # g is all of c
    gw = c.worker if every else c.worker[g]
    gs = c_step if every else c_step[g]
    o = reorder([c.start if every else c.start[g], gw, gs])
    order = g if o is None else g[o]
    r = row if every and o is None else row[order]
    grp = gs if o is None else gs[o]
    grp = grp * (int(gw.max()) + 1)
    grp += gw if o is None else gw[o]
    down = np.flatnonzero((r[1:] < r[:-1]) & (grp[1:] == grp[:-1]))
    if not len(down):
        return
    bounds = np.flatnonzero(np.diff(grp)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(grp)]])
    seen: set[int] = set()
    for j in down.tolist():
        gi = int(np.searchsorted(starts, j, side="right") - 1)
        if gi in seen:
            continue
        seen.add(gi)
        lo, hi = int(starts[gi]), int(ends[gi])
        actual = r[lo:hi]
        expected = np.sort(actual)
        d = int(np.flatnonzero(actual != expected)[0])
        k = int(c_step[order[lo]])
        w = int(c.worker[order[lo]])
        if not room(k, K.ORDER_DIVERGENCE):
            continue

        def show(seq: IntArray, at: int) -> str:
            a, b = max(0, at - _CONTEXT), min(len(seq), at + _CONTEXT + 1)
            items = [str(index.ops[int(x)]) for x in seq[a:b]]
            items[at - a] = f"[{items[at - a]}]"
            return ("... " if a > 0 else "") + " ".join(items) + (" ..." if b < len(seq) else "")

        ev = int(c.ev[order[lo + d]])
        exp_op, got_op = index.ops[int(expected[d])], index.ops[int(actual[d])]
        add(k, Violation(
            K.ORDER_DIVERGENCE,
            f"{labels[k]}, worker {w}: the execution order diverges from the schedule at op {d}: "
            f"schedule {show(expected, d)}; trace {show(actual, d)} ({got_op} ran at "
            f"{ctx.t(float(tr.start[ev]))}, {tr.where(ev)}, where the schedule runs {exp_op})",
            (exp_op, got_op), (w,), (float(tr.start[ev]),),
            ((w, int(index.op_pos[int(expected[d])])), (w, int(index.op_pos[int(actual[d])]))),
        ), float(tr.start[ev]))


def _dependencies(ctx: _Ctx, room: Room, add: Add, n_steps: int, u_cstart: FloatArray,
                  u_end: FloatArray, u_ev: IntArray, labels: list[str]) -> None:
    tr, index = ctx.trace, ctx.index
    src, dst, _ = ctx.edges
    uw = index.unit_worker
    cross = uw[src] != uw[dst]
    src, dst = src[cross], dst[cross]
    if not len(src) or not n_steps:
        return
    n_units = index.num_units
    offs = (np.arange(n_steps) * n_units)[:, None]
    cs = u_cstart[offs + dst[None, :]]
    pe = u_end[offs + src[None, :]]
    with np.errstate(invalid="ignore"):
        bad = cs < pe - ctx.tol
    programs = ctx.schedule.programs
    for k_, e_ in zip(*np.nonzero(bad)):
        k, e = int(k_), int(e_)
        if not room(k, K.DEPENDENCY_VIOLATED):
            continue
        v, u = int(src[e]), int(dst[e])
        ce, pe_ev = int(u_ev[k * n_units + u]), int(u_ev[k * n_units + v])
        wv, wu = int(uw[v]), int(uw[u])
        prod = programs[wv][int(index.unit_pos[v])]
        cons = programs[wu][int(index.unit_pos[u])]
        t_c, t_p = float(cs[k, e]), float(pe[k, e])
        add(k, Violation(
            K.DEPENDENCY_VIOLATED,
            f"{labels[k]}: {cons} (worker {wu}) started computing at {ctx.t(t_c)} ({tr.where(ce)}), "
            f"before its producer {prod} (worker {wv}) ended at {ctx.t(t_p)} ({tr.where(pe_ev)})",
            (prod, cons), (wv, wu), (t_p, t_c),
            ((wv, int(index.unit_pos[v])), (wu, int(index.unit_pos[u]))),
        ), t_c)


def _overlap(ctx: _Ctx, room: Room, add: Add, c: _Compute, c_keep: BoolArray, step: IntArray,
             labels: list[str]) -> None:
    """No two compute units overlap on one worker (running maximum of end times)."""
    tr = ctx.trace
    every = bool(c_keep.all())
    if int(np.count_nonzero(c_keep)) < 2:
        return
    idx = np.arange(len(c.ev)) if every else np.flatnonzero(c_keep)
    # one event per overlapped unit
    u = c.unit if every else c.unit[idx]
    multi = u >= 0
    if np.any(multi):
        _, first = np.unique(u[multi], return_index=True)
        idx = np.concatenate([idx[~multi], idx[multi][first]])
        every = False
    if every:  # every compute event, in event order
        o = reorder([c.end, c.start, c.worker])
        order = idx if o is None else o
        w, s, e = (c.worker, c.start, c.end) if o is None else (c.worker[o], c.start[o], c.end[o])
    else:
        order = idx[lex_order([c.end[idx], c.start[idx], c.worker[idx]])]
        w, s, e = c.worker[order], c.start[order], c.end[order]
    span = max(_abs_max(e), _abs_max(s)) * 2 + 1.0
    # a running maximum of the ends per worker: each worker shifted above the previous
    shift = (w - w.min()) * span
    shifted = e + shift
    run_shifted = np.maximum.accumulate(shifted)
    run = np.subtract(run_shifted, shift, out=shift)
    limit = run[:-1] - ctx.tol if ctx.tol else run[:-1]
    hit = np.flatnonzero((w[1:] == w[:-1]) & (s[1:] < limit)) + 1
    for j in hit.tolist():
        b = int(c.ev[order[j]])
        k = int(step[b])
        if not room(k, K.COMPUTE_OVERLAP):
            continue
        a_pos = j - 1
        while a_pos > 0 and shifted[a_pos] != run_shifted[j - 1]:
            a_pos -= 1
        a = int(c.ev[order[a_pos]])
        ww = int(w[j])
        add(k, Violation(
            K.COMPUTE_OVERLAP,
            f"{labels[k]}, worker {ww}: {_unit_label(tr, a)} [{ctx.t(float(tr.start[a]))}, "
            f"{ctx.t(float(tr.end[a]))}) ({tr.where(a)}) and {_unit_label(tr, b)} "
            f"[{ctx.t(float(tr.start[b]))}, {ctx.t(float(tr.end[b]))}) ({tr.where(b)}) overlap on the "
            "compute stream", (), (ww,), (float(tr.start[a]), float(tr.start[b]))), float(tr.start[b]))


def _abs_max(x: FloatArray) -> float:
    """``float(np.abs(x).max())`` without the temporary (NaN when ``x`` holds one)."""
    return max(float(x.max()), -float(x.min()))


def _unit_label(tr: TraceEvents, i: int) -> str:
    u = int(tr.unit[i])
    if u < 0:
        return tr.label(i)
    members = np.nonzero((tr.unit == u) & (tr.worker == tr.worker[i]))[0]
    return "(" + ";".join(tr.label(int(m)) for m in members) + ")OVERLAP_F_B"


_BLOCK = 1 << 16  # message events derived per pass (keeps the temporaries small)


def _messages(ctx: _Ctx, room: Room, add: Add, sel: BoolArray, step: IntArray, pidx: IntArray,
              stage: IntArray, labels: list[str]) -> None:
    """FIFO pairing of sends and receives per channel, and the payload each carries.

    Each message's channel (step, sender, receiver, pipeline) and payload (pipeline,
    sender stage, micro-batch, direction) are packed into integers, a block of events at
    a time. One sort by (channel, direction, posting time) then ranks the sends and the
    receives of every channel: the k-th receive pairs with the k-th send, which
    precedes it in that order. Message ids, when given, pair instead."""
    tr, sch = ctx.trace, ctx.schedule
    idx = np.flatnonzero(sel)
    if not len(idx):
        return
    pipes = sch.pipelines
    multi = len(pipes) > 1
    multi_step = len(labels) > 1
    nst = np.array([q.num_stages for q in pipes], dtype=np.int64)
    flat = np.array([x for q in pipes for x in q.placement], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(nst)[:-1]]).astype(np.int64)
    # radices above every value: the packed keys are one-to-one (their values are never shown)
    D = max(sch.num_workers, int(tr.worker.max()) + 1, int(tr.peer.max()) + 1)
    S = int(nst.max())
    M = max(q.microbatches for q in pipes)
    top = 2 * D * D * max(len(labels), 1) * len(pipes)  # above every lane = channel * 2 + 1
    packed = top < 1 << 62  # else (peer ids beyond 10**9) the channel is keyed after filtering
    m = len(idx)
    ok = np.empty(m, dtype=bool)
    recv = np.empty(m, dtype=bool)
    # channel keys and payloads in 32 bits when they fit
    small = top < 1 << 31 and 2 * len(pipes) * S * M < 1 << 31
    chan: KeyArray = np.empty(m, dtype=np.int32 if small else np.int64)
    payload: KeyArray = np.empty(m, dtype=np.int32 if small else np.int64)
    peers = np.empty(0 if packed else m, dtype=np.int64)
    for lo in range(0, m, _BLOCK):
        hi = min(m, lo + _BLOCK)
        i = idx[lo:hi]
        kind = tr.kind[i]
        s = stage[i]
        rcv = (kind == RECV_F) | (kind == RECV_B)
        fwd = kind <= RECV_F  # SEND_F or RECV_F (kinds SEND_F..RECV_B only)
        p = pidx[i] if multi else None
        # the stage at the other end (one up for a forward send or a backward receive, else
        # one down), and the boundary the tensor crosses (the sender's stage)
        other = s - 1
        up = fwd != rcv
        other += up
        other += up
        good = other.view(np.uint64) < (nst[0] if p is None else nst[p]).astype(np.uint64)  # in range
        w = tr.worker[i]
        peer = tr.peer[i]
        ask = peer < 0
        if ask.any():  # infer the peer from the placement
            at = np.where(good, other, 0)
            if p is not None:
                at += offset[p]
            peer = np.where(ask, np.where(good, flat[at], -1), peer)
            good &= peer >= 0
        good &= peer != w
        if packed:
            c = np.where(rcv, peer, w)  # sender
            c *= D
            c += np.where(rcv, w, peer)  # receiver
            if multi_step:
                c += step[i] * (D * D)
            if p is not None:
                c *= len(pipes)
                c += p
            chan[lo:hi] = c
        else:
            peers[lo:hi] = peer
        pay = np.where(rcv, other, s)  # the sender's stage
        if p is not None:
            pay += p * S
        pay *= M
        pay += tr.microbatch[i]
        pay *= 2
        pay += ~fwd
        ok[lo:hi] = good
        recv[lo:hi] = rcv
        payload[lo:hi] = pay
    if not ok.all():
        keep = np.flatnonzero(ok)
        idx, chan, payload, recv = idx[keep], chan[keep], payload[keep], recv[keep]
        if not packed:
            peers = peers[keep]
        if not len(idx):
            return
    send = ~recv
    if not packed:  # ((step * D + sender) * D + receiver) * pipelines + pipeline, D from these
        w = tr.worker[idx]
        sender, receiver = np.where(recv, peers, w), np.where(recv, w, peers)
        d = int(max(sender.max(), receiver.max())) + 1
        key = ((step[idx] * d + sender) * d + receiver) * len(pipes) + (pidx[idx] if multi else 0)
        chan = np.unique(key, return_inverse=True)[1].reshape(-1)  # dense, in the keys' order
    seq = tr.seq[idx]

    def facts(j: int) -> tuple[int, int, int, int, bool, int]:
        """Pipeline, sender, receiver, sender stage, direction (forward) and micro-batch
        of message ``j``."""
        i = int(idx[j])
        k, s, w, peer = int(tr.kind[i]), int(stage[i]), int(tr.worker[i]), int(tr.peer[i])
        p = int(pidx[i]) if multi else 0
        fwd, rcv = k <= RECV_F, k in (RECV_F, RECV_B)
        other = s + 1 if fwd != rcv else s - 1
        if peer < 0:
            peer = int(flat[int(offset[p]) + other])
        return (p, peer, w, other, fwd, int(tr.microbatch[i])) if rcv else (p, w, peer, s, fwd,
                                                                             int(tr.microbatch[i]))

    # pair by message id where both ends carry one, else by posting order
    no_id = seq < 0
    if not no_id.any():
        by_seq = np.ones(len(idx), dtype=bool)
    elif no_id.all():
        by_seq = np.zeros(len(idx), dtype=bool)
    elif int(chan.max()) < 4 * len(idx) + 4096:
        by_seq = np.bincount(chan[no_id], minlength=int(chan.max()) + 1)[chan] == 0
    else:
        chans, chan_of = np.unique(chan, return_inverse=True)
        by_seq = (np.bincount(chan_of[no_id], minlength=len(chans)) == 0)[chan_of]
    sends = np.flatnonzero(send)
    recvs = np.flatnonzero(recv)
    pos: IntArray | None = None  # rank of each among the sends, or receives, of its channel
    if by_seq.all():
        # every message carries an id: only the receives need ordering (FIFO receipt),
        # and each pairs with the send of its channel that carries its id
        o_r, _, same = _lane_order(chan[recvs], tr.start[idx[recvs]])
        o = recvs[o_r]
        partner = _id_partners(chan, seq, sends, recvs)
    else:
        # sends, then receives, of each channel in posting order
        lane = chan * 2
        lane += recv
        o, lanes, same = _lane_order(lane, tr.start[idx])
        rank = run_rank(same)
        pos = np.empty(len(idx), dtype=np.int64)
        pos[o] = rank
        if by_seq.any() and not bool(np.all(seq[by_seq] == pos[by_seq])):
            partner = _partners(chan, np.where(by_seq, seq, pos), sends, recvs)
        elif len(sends):
            # every key is the rank: the partner of the k-th receive of a channel is the
            # k-th send, in the run of sends just before the run of receives
            partner = _rank_partners(o, lanes, rank)[recvs]
        else:
            partner = _partners(chan, pos, sends, recvs)
    if by_seq.any():
        # with message ids, receives must complete in FIFO (id) order
        sq = seq[o]
        late = (sq[1:] < sq[:-1]) & same
        if late.any() and pos is not None:
            late &= recv[o][1:] & by_seq[o][1:]
        for j in (np.flatnonzero(late) + 1).tolist():
            a, b = int(idx[o[j - 1]]), int(idx[o[j]])
            k = int(step[b])
            if not room(k, K.MESSAGE_ORDER):
                continue
            _, src, dst = facts(int(o[j]))[:3]
            add(k, Violation(
                K.MESSAGE_ORDER,
                f"{labels[k]}: channel worker {src} -> worker {dst}: "
                f"{tr.label(b)} (message {int(seq[o[j]])}, {tr.where(b)}) was received after "
                f"{tr.label(a)} (message {int(seq[o[j - 1]])}): not first-in first-out",
                (), (src, dst), (float(tr.start[a]), float(tr.start[b]))),
                float(tr.start[b]))
    used = np.zeros(len(idx), dtype=bool)
    used[partner[partner >= 0]] = True

    def name(j: int) -> str:
        return f"{tr.label(int(idx[j]))} ({tr.where(int(idx[j]))})"

    def what(j: int) -> str:
        if by_seq[j]:
            return f"#{int(seq[j])}"
        assert pos is not None
        return f"no. {int(pos[j]) + 1}"

    safe = np.maximum(partner, 0)
    wrong = (partner < 0) | (payload[safe] != payload[recvs])
    for r_j, s_j in zip(recvs[wrong].tolist(), partner[wrong].tolist()):
        k = int(step[idx[r_j]])
        if not room(k, K.MESSAGE_ORDER):
            continue
        pj, src, dst, r_stage, r_fwd, r_mb = facts(r_j)
        pipe = pipes[pj]
        ch = f"channel worker {src} -> worker {dst}" + (f" ({pipe.name})" if multi else "")
        if s_j < 0:
            add(k, Violation(K.MESSAGE_ORDER, f"{labels[k]}: {ch}: receive {what(r_j)} {name(r_j)} has no "
                             "matching send", (), (src, dst), (float(tr.start[idx[r_j]]),)),
                float(tr.start[idx[r_j]]))
        else:
            _, _, _, s_stage, s_fwd, s_mb = facts(s_j)
            expect = f"{r_stage}{'F' if r_fwd else 'B'}{r_mb}"
            got = f"{s_stage}{'F' if s_fwd else 'B'}{s_mb}"
            pre = f"{pipe.name}:" if pipe.name != DEFAULT_PIPELINE else ""
            add(k, Violation(
                K.MESSAGE_ORDER,
                f"{labels[k]}: {ch}: receive {what(r_j)} {name(r_j)} expects the output of {pre}{expect}, "
                f"but first-in first-out pairing gives it send {what(s_j)} {name(s_j)}, which carries "
                f"the output of {pre}{got}",
                (), (src, dst), (float(tr.start[idx[s_j]]), float(tr.start[idx[r_j]]))),
                float(tr.start[idx[r_j]]))
    for s_j in sends[~used[sends]].tolist():
        k = int(step[idx[s_j]])
        if not room(k, K.MESSAGE_ORDER):
            continue
        _, src, dst = facts(s_j)[:3]
        ch = f"channel worker {src} -> worker {dst}"
        add(k, Violation(K.MESSAGE_ORDER, f"{labels[k]}: {ch}: send {what(s_j)} {name(s_j)} has no matching "
                         "receive", (), (src, dst), (float(tr.start[idx[s_j]]),)),
            float(tr.start[idx[s_j]]))


def _lane_order(lane: KeyArray, start: FloatArray) -> tuple[IntArray, KeyArray, BoolArray]:
    """The order by (lane, posting time, position), the lanes in that order, and whether
    each element continues the lane of the one before it. Events of one lane are
    usually logged in time order (one worker's log): sorting by lane alone then does."""
    o = stable_order(lane)
    lanes = lane[o]
    same = lanes[1:] == lanes[:-1]
    t = start[o]
    if np.any(same & (t[1:] < t[:-1])) or np.isnan(t).any():
        o = lex_order([start, lane])
        lanes = lane[o]
        same = lanes[1:] == lanes[:-1]
    return o, lanes, same


def _id_partners(chan: KeyArray, seq: IntArray, sends: IntArray, recvs: IntArray) -> IntArray:
    """For each of the receives ``recvs``, the first send (lowest position) of ``sends``
    on its channel with its message id, -1 when there is none. A table indexed by
    (channel, id) when it is small, else :func:`_partners`."""
    n = len(chan)
    top = int(chan.max()) + 1
    width = int(seq.max()) + 1
    if not len(sends) or top > 4 * n + 4096:
        return _partners(chan, seq, sends, recvs)
    present = np.zeros(top, dtype=bool)
    present[chan] = True
    dense = np.cumsum(present) - 1
    size = int(dense[-1] + 1) * width
    if size > 4 * n + 4096:
        return _partners(chan, seq, sends, recvs)
    key = dense[chan]
    key *= width
    key += seq
    table = np.full(size, n, dtype=np.int64)
    np.minimum.at(table, key[sends], sends)
    got: IntArray = table[key[recvs]]
    got[got == n] = -1
    return got


def _rank_partners(o: IntArray, lanes: KeyArray, rank: IntArray) -> IntArray:
    """Pairing by rank, from the order ``o`` by (lane = channel * 2 + is receive, posting
    time): a receive of rank k pairs with the send of rank k of its channel, -1 when
    that channel has fewer sends; -1 for the sends."""
    n = len(o)
    partner = np.full(n, -1, dtype=np.int64)
    at = np.flatnonzero(lanes & 1)  # receives, in sorted order
    if not len(at):
        return partner
    k = rank[at]
    before = at - k  # the first receive of the run; the run before it ends at before - 1
    before -= 1
    has = before >= 0
    np.maximum(before, 0, out=before)
    last_rank = rank[before]
    has &= lanes[before] == lanes[at] - 1  # a run of sends of the same channel
    has &= k <= last_rank  # holding a send of rank k
    before -= last_rank
    before += k
    mate = o[np.where(has, before, 0)]
    partner[o[at]] = np.where(has, mate, -1)
    return partner


def _partners(chan: KeyArray, key: IntArray, sends: IntArray, recvs: IntArray) -> IntArray:
    """For each of the receives ``recvs``, the first send (lowest position) of ``sends``
    with the same channel and key (message id or rank), -1 when there is none."""
    n = len(chan)
    if not len(sends) or not len(recvs):
        return np.full(len(recvs), -1, dtype=np.int64)
    pair_key = chan.astype(np.int64) * (int(key.max()) + 1) + key
    top = int(pair_key.max()) * 2 + 2
    if len(sends) and top * max(n, 1) * 2 < 1 << 62:
        # sorted by (pair key, receive after send, position): a receive's partner is
        # the head of its pair key's run when that head is a send
        is_send = np.zeros(n, dtype=bool)
        is_send[sends] = True
        o = pack_sort(pair_key * 2 + ~is_send)
        head = np.arange(n, dtype=np.int64) - group_rank(pair_key[o])
        first = o[head]
        partner = np.empty(n, dtype=np.int64)
        partner[o] = np.where(is_send[first], first, -1)
        return partner[recvs]
    sk = pair_key[sends]
    so = np.argsort(sk, kind="stable")
    sk_sorted = sk[so]
    where_s = np.searchsorted(sk_sorted, pair_key[recvs])
    clipped = np.minimum(where_s, len(sk_sorted) - 1)
    found = (where_s < len(sk_sorted)) & (sk_sorted[clipped] == pair_key[recvs])
    out: IntArray = np.where(found, sends[so[clipped]], -1)
    return out


def _measured(ctx: _Ctx, c: _Compute, c_keep: BoolArray, c_step: IntArray, n_steps: int,
              step_has: BoolArray) -> list[Metrics | None]:
    """Makespan, busy (union of compute intervals) and idle time per worker, per step."""
    sch = ctx.schedule
    D = sch.num_workers
    out: list[Metrics | None] = [None] * n_steps
    if c_keep.all() and (not len(c.worker) or (int(c.worker.min()) >= 0 and int(c.worker.max()) < D)):
        st, w, cs, e, start = c_step, c.worker, c.cstart, c.end, c.start
    else:
        pos = np.flatnonzero(c_keep & (c.worker >= 0) & (c.worker < D))
        st, w, cs, e, start = c_step[pos], c.worker[pos], c.cstart[pos], c.end[pos], c.start[pos]
    if not len(st):
        return out
    first, last = _extrema(st, n_steps, start, e)
    n_ev = np.bincount(st, minlength=n_steps) if n_steps > 1 else np.array([len(st)])
    order = reorder([cs, w, st])
    if order is not None:
        st, w, cs, e = st[order], w[order], cs[order], e[order]
    grp = st * D + w if n_steps > 1 else w
    # union of intervals per (step, worker): a running maximum of the ends, each group
    # shifted above the previous one so that one pass serves them all
    span = _abs_max(e) * 2 + 1.0
    shift = (grp - grp.min()) * span
    run = e + shift
    np.maximum.accumulate(run, out=run)
    run -= shift
    prev = np.empty_like(run)  # the running maximum before each interval of its group
    prev[0] = -np.inf
    prev[1:] = run[:-1]
    prev[1:][grp[1:] != grp[:-1]] = -np.inf
    covered = np.maximum(cs, prev, out=prev)
    np.subtract(e, covered, out=covered)
    np.maximum(0.0, covered, out=covered)
    busy = np.bincount(grp, weights=covered, minlength=n_steps * D).reshape(n_steps, D)
    peaks = ctx.peaks
    for k in range(n_steps):
        if not step_has[k]:
            continue
        mk = float(last[k] - first[k])
        b = busy[k]
        idle = mk - b
        out[k] = Metrics(
            makespan=mk, busy=tuple(float(x) for x in b), idle=tuple(float(x) for x in idle),
            bubble_ratio=float(idle.sum()) / (D * mk) if mk > 0 else 0.0,
            peak_activations=peaks, stage_replicas=sch.stage_replicas(), weights=sch.weights(),
            num_ops=int(n_ev[k]), timing="trace")
    return out


def _median_metrics(ms: list[Metrics], schedule: Schedule, index: IndexedSchedule) -> Metrics | None:
    """Median over steps of each measured quantity."""
    if not ms:
        return None
    mk = float(np.median([m.makespan for m in ms]))
    busy = np.median(np.array([m.busy for m in ms]), axis=0)
    idle = mk - busy
    D = schedule.num_workers
    return Metrics(
        makespan=mk, busy=tuple(float(x) for x in busy), idle=tuple(float(x) for x in idle),
        bubble_ratio=float(idle.sum()) / (D * mk) if mk > 0 else 0.0,
        peak_activations=ms[0].peak_activations, stage_replicas=ms[0].stage_replicas,
        weights=ms[0].weights, num_ops=int(np.median([m.num_ops for m in ms])), timing="trace")


def _fit(c: _Compute, once: BoolArray, c_stage: IntArray) -> CostModel | None:
    """Median compute duration per op kind, overall and per stage, as a cost model;
    overlapped units give the ``overlap`` duration (``once``, ``c_stage``: over ``c``)."""
    single = once & (c.unit < 0)
    dur = c.end - c.cstart
    glob: dict[str, float] = {}
    per: dict[int, dict[str, float]] = {}
    for code in range(NUM_COMPUTE):
        m = single & (c.kind == code)
        if not np.any(m):
            continue
        name = KINDS[code]
        glob[name] = float(np.median(dur[m]))
        st = c_stage[m]
        d = dur[m]
        o = stable_order(st)
        st, d = st[o], d[o]
        cuts = np.flatnonzero(np.diff(st)) + 1
        for part_s, part_d in zip(np.split(st, cuts), np.split(d, cuts)):
            per.setdefault(int(part_s[0]), {})[name] = float(np.median(part_d))
    if "F" not in glob:
        return None
    overlap = None
    multi = once & (c.unit >= 0)
    if np.any(multi):
        _, first = np.unique(c.unit[multi], return_index=True)
        sel = np.flatnonzero(multi)[first]
        overlap = float(np.median(c.end[sel] - c.start[sel]))
    split = "I" in glob or "W" in glob
    try:
        return CostModel(
            F=glob["F"], B=glob.get("B") if not split else None,
            I=glob.get("I"), W=glob.get("W"), overlap=overlap,
            per_stage=tuple(sorted(
                (s, StageCosts(F=v.get("F"), B=v.get("B") if not split else None, I=v.get("I"),
                               W=v.get("W")))
                for s, v in per.items())),
        )
    except ModelError:  # durations beyond what a cost model accepts: nothing to fit
        return None


def check_kinds() -> tuple[ViolationKind, ...]:
    """The violation kinds a trace check reports, in report order."""
    return tuple(_ORDER_OF_KIND)

