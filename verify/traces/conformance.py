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
from verify.errors import ScheduleFormatError
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
    SEND_B,
    SEND_F,
    TraceEvents,
)
from verify.traces.results import StepResult, TraceReport

IntArray = npt.NDArray[np.int64]
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
        self.tol = tolerance
        self.unit = f" {trace.time_unit}" if trace.time_unit else ""

    def t(self, x: float) -> str:
        return f"{_fmt(x)}{self.unit}"


def _resolve(ctx: _Ctx) -> tuple[IntArray, IntArray, IntArray]:
    """Schedule pipeline index, stage and reason code of every event (-1/-1/why when
    it cannot be attributed)."""
    tr, sch = ctx.trace, ctx.schedule
    n = len(tr)
    pipes = sch.pipelines
    D = sch.num_workers
    name_to_idx = {p.name: k for k, p in enumerate(pipes)}
    names = tr.pipelines
    table = np.array([name_to_idx.get(nm, -1) for nm in names] + [-1], dtype=np.int64)
    named = tr.pipeline >= 0
    pidx = np.where(named, table[np.where(named, tr.pipeline, len(names))], -1)
    why = np.where(named & (pidx < 0), _NO_PIPE, _OK).astype(np.int64)
    stage = tr.stage.copy()
    worker = tr.worker
    in_range = (worker >= 0) & (worker < D)
    why[~in_range & (why == _OK)] = _WORKER_RANGE
    max_stage = max(p.num_stages for p in pipes)
    # placement table: (worker, stage) -> pipeline, -2 when several pipelines place it there
    place = np.full((D, max_stage), -1, dtype=np.int64)
    only = np.full(D, -1, dtype=np.int64)  # the one (pipeline*max_stage+stage) on a worker
    holders = np.zeros(D, dtype=np.int64)
    for k, p in enumerate(pipes):
        for s, w in enumerate(p.placement):
            place[w, s] = k if place[w, s] == -1 else -2
            holders[w] += 1
            only[w] = k * max_stage + s
    unnamed = ~named & (why == _OK)
    label = unnamed & (stage < 0)
    wsafe = np.where(in_range, worker, 0)
    if np.any(label):
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
    psafe = np.where(pidx >= 0, pidx, len(pipes))
    good = why == _OK
    bad_stage = good & ((stage < 0) | (stage >= nst[psafe]))
    why[bad_stage] = _STAGE_RANGE
    good &= ~bad_stage
    needs_mb = tr.kind < FIRST_STAGE_ACTION
    bad_mb = good & needs_mb & ((tr.microbatch < 0) | (tr.microbatch >= nmb[psafe]))
    why[bad_mb] = _MB_RANGE
    return pidx, stage, why


def _steps(ctx: _Ctx, keep: BoolArray, compute_key: IntArray, matched: BoolArray,
           other_key: IntArray) -> tuple[IntArray, list[str]]:
    """Step index of every kept event, and the step labels."""
    tr = ctx.trace
    n = len(tr)
    step = np.full(n, -1, dtype=np.int64)
    if tr.marked:
        nums = np.unique(tr.step[keep])
        step[keep] = np.searchsorted(nums, tr.step[keep])
        return step, [tr.step_label.format(int(x)) for x in nums.tolist()]
    idx = np.nonzero(keep)[0]
    if not len(idx):
        return step, []
    if np.any(matched) and int(np.bincount(compute_key[matched]).max()) == 1:
        step[idx] = 0  # every scheduled op ran at most once: a single step
        return step, ["step 1"]
    # occurrence rank of each event among events with the same key (time order)
    key = np.where(matched, compute_key, other_key)
    order = idx[np.lexsort((tr.start[idx], key[idx]))]
    ks = key[order]
    newgrp = np.ones(len(order), dtype=bool)
    newgrp[1:] = ks[1:] != ks[:-1]
    gstart = np.nonzero(newgrp)[0]
    gid = np.cumsum(newgrp) - 1
    rank_sorted = np.arange(len(order)) - gstart[gid]
    counts_sorted = np.diff(np.append(gstart, len(order)))[gid]
    rank = np.empty(n, dtype=np.int64)
    rank[order] = rank_sorted
    count = np.zeros(n, dtype=np.int64)
    count[order] = counts_sorted
    good = keep & matched
    K_steps = int(np.argmax(np.bincount(count[good]))) if np.any(good) else int(count[keep].max())
    K_steps = max(K_steps, 1)
    well = good & (count == K_steps)
    D = max(int(tr.worker[keep].max()) + 1, 1)
    # a step starts on a worker midway between the previous step's last end and its
    # own first start (both from well-behaved events), so that stray events fall into
    # the nearer step
    first = np.full((D, K_steps), np.inf)
    last = np.full((D, K_steps), -np.inf)
    wsel = np.nonzero(well)[0]
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
    is_compute = kind < NUM_COMPUTE
    keep = tr.step != OUTSIDE_STEP
    ignored = int(np.count_nonzero(~keep))

    # dense ids and scheduled rows of compute events
    nmb = np.array([p.microbatches for p in pipes] + [0], dtype=np.int64)
    psafe = np.where(pidx >= 0, pidx, len(pipes))
    base = np.append(index.base, 0)
    valid = is_compute & (why == _OK)
    dense = np.where(valid, base[psafe] + (np.maximum(stage, 0) * nmb[psafe] + tr.microbatch) * 4 + kind, -1)
    n_ops = len(index.ops)
    row_of_id = np.full(index.total_ids + 1, -1, dtype=np.int64)
    valid_rows = np.nonzero(index.op_id >= 0)[0]
    row_of_id[index.op_id[valid_rows[::-1]]] = valid_rows[::-1]
    row = np.where(valid, row_of_id[np.where(valid, dense, index.total_ids)], -1)
    sched_worker = np.where(row >= 0, index.op_worker[np.maximum(row, 0)] if n_ops else 0, -1)
    why[valid & (row < 0)] = _NOT_IN_SCHEDULE
    wrong = valid & (row >= 0) & (sched_worker != tr.worker)
    why[wrong] = _WRONG_WORKER
    matched = valid & (row >= 0) & ~wrong & keep

    # step segmentation
    other_key = _other_key(tr, pidx, stage)
    step, labels = _steps(ctx, keep, row, matched, other_key)
    n_steps = len(labels)
    if not np.any(matched):
        raise ScheduleFormatError(
            tr.sources[0] if tr.sources else "<trace>", None,
            f"nothing in the trace matches the schedule {schedule.name or schedule.source or ''}".rstrip()
            + f": none of its {int(np.count_nonzero(is_compute & keep))} compute actions is a scheduled "
            "op on its worker (wrong schedule, or a trace of another job?)",
        )

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
    cell = step * max(n_ops, 1) + np.maximum(row, 0)
    mcell = cell[matched]
    cnt = np.bincount(mcell, minlength=n_steps * n_ops) if n_ops else np.zeros(0, np.int64)
    once = matched & (cnt[np.where(matched, cell, 0)] == 1) if n_ops else matched
    step_has = np.bincount(step[matched], minlength=n_steps) > 0
    executed_per_step = np.bincount(np.nonzero(cnt.reshape(n_steps, n_ops) > 0)[0], minlength=n_steps) \
        if n_ops else np.zeros(n_steps, np.int64)
    missing = np.nonzero((cnt.reshape(n_steps, n_ops) == 0) & step_has[:, None])
    for k, r in zip(missing[0].tolist(), missing[1].tolist()):
        if not room(k, K.NOT_EXECUTED):
            continue
        op = index.ops[r]
        w, i = int(index.op_worker[r]), int(index.op_pos[r])
        add(k, Violation(K.NOT_EXECUTED, f"{labels[k]}: {op} (worker {w}, position {i}) was not executed",
                         (op,), (w,), positions=((w, i),)), -1.0)
    _unscheduled(ctx, room, add, step, labels, keep & is_compute, why, pidx, stage, row, sched_worker,
                 cnt, cell,
                 matched, dense)

    # per (step, unit) times of the ops that ran once
    n_units = index.num_units
    ready = tr.ready
    cstart = np.where(np.isnan(ready), tr.start, np.minimum(np.maximum(tr.start, ready), tr.end))
    g = np.nonzero(once)[0]
    ucell = step[g] * n_units + index.op_unit[row[g]]
    u_cstart = np.full(n_steps * n_units, np.nan)
    u_end = np.full(n_steps * n_units, np.nan)
    u_ev = np.full(n_steps * n_units, -1, dtype=np.int64)
    u_cstart[ucell] = np.inf
    u_end[ucell] = -np.inf
    np.minimum.at(u_cstart, ucell, cstart[g])
    np.maximum.at(u_end, ucell, tr.end[g])
    u_ev[ucell[::-1]] = g[::-1]

    _order(ctx, room, add, g, step, row, labels)
    _dependencies(ctx, room, add, n_steps, u_cstart, u_end, u_ev, labels)
    _overlap(ctx, room, add, keep & is_compute, step, labels)
    comm = keep & (kind >= SEND_F) & (kind <= RECV_B) & (why == _OK)
    _messages(ctx, room, add, comm, step, pidx, stage, labels)

    # ------------------------------------------------------------------- metrics
    step_metrics = _measured(ctx, keep & is_compute, step, n_steps, cstart, step_has)
    violations: list[Violation] = []
    results: list[StepResult] = []
    kept = np.nonzero(keep & (step >= 0))[0]
    s_first = np.full(n_steps, np.inf)
    s_last = np.full(n_steps, -np.inf)
    np.minimum.at(s_first, step[kept], tr.start[kept])
    np.maximum.at(s_last, step[kept], tr.end[kept])
    counts: dict[str, int] = {}
    for (_, kd), c in per_step.items():
        counts[kd.value] = counts.get(kd.value, 0) + c
    for k in range(n_steps):
        listed = [v for _, _, v in sorted(found[k], key=lambda x: (x[0], x[1]))]
        for kd in _ORDER_OF_KIND:
            c = per_step.get((k, kd), 0)
            if c > limit:
                listed.append(Violation(kd, f"{labels[k]}: ... and {c - limit} more {kd.value} violations"))
        listed.sort(key=lambda v: _ORDER_OF_KIND[v.kind])
        violations.extend(listed)
        results.append(StepResult(
            label=labels[k], start=float(s_first[k]) if np.isfinite(s_first[k]) else 0.0,
            end=float(s_last[k]) if np.isfinite(s_last[k]) else 0.0, ops_expected=n_ops,
            ops_executed=int(executed_per_step[k]), violations=tuple(listed), metrics=step_metrics[k]))
    measured = _median_metrics([m for m in step_metrics if m is not None], schedule, index)
    fitted = _fit(ctx, once, stage, cstart) if fit else None
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
    ctx: _Ctx, room: Room, add: Add, step: IntArray, labels: list[str], sel: BoolArray,
    why: IntArray, pidx: IntArray, stage: IntArray, row: IntArray, sched_worker: IntArray,
    cnt: IntArray, cell: IntArray, matched: BoolArray, dense: IntArray,
) -> None:
    tr, sch, index = ctx.trace, ctx.schedule, ctx.index
    pipes = sch.pipelines
    for i in np.nonzero(sel & ~matched)[0].tolist():
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
            op = index.ops[int(row[i])]
            add(k, Violation(K.UNSCHEDULED, f"{labels[k]}: {op} ran on worker {w} {at}, but the schedule "
                             f"runs it on worker {int(sched_worker[i])}", (op,), (w, int(sched_worker[i])),
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
    dup_cells = np.nonzero(cnt > 1)[0]
    if not len(dup_cells):
        return
    n_ops = len(index.ops)
    ev = np.nonzero(matched & np.isin(cell, dup_cells))[0]
    ev = ev[np.lexsort((tr.start[ev], cell[ev]))]
    cells = cell[ev]
    for c in dup_cells.tolist():
        k, r = divmod(c, n_ops)
        if not room(k, K.UNSCHEDULED):
            continue
        lo, hi = np.searchsorted(cells, [c, c + 1])
        evs = ev[lo:hi]
        op = index.ops[r]
        w = int(index.op_worker[r])
        times = ", ".join(f"{ctx.t(float(tr.start[e]))} ({tr.where(int(e))})" for e in evs.tolist())
        add(k, Violation(K.UNSCHEDULED, f"{labels[k]}: {op} ran {len(evs)} times on worker {w} (at {times}); "
                         "the schedule runs it once", (op,) * len(evs), (w,),
                         tuple(float(tr.start[e]) for e in evs.tolist()),
                         ((w, int(index.op_pos[r])),)), float(tr.start[evs[1]]))


def _order(ctx: _Ctx, room: Room, add: Add, g: IntArray, step: IntArray, row: IntArray,
           labels: list[str]) -> None:
    """Per (step, worker): the ops that ran once, in time order, must follow the program."""
    tr, index = ctx.trace, ctx.index
    if len(g) < 2:
        return
    order = g[np.lexsort((g, tr.start[g], tr.worker[g], step[g]))]
    r = row[order]
    grp = step[order] * (int(tr.worker.max()) + 1) + tr.worker[order]
    down = np.nonzero((r[1:] < r[:-1]) & (grp[1:] == grp[:-1]))[0]
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
        d = int(np.nonzero(actual != expected)[0][0])
        k = int(step[order[lo]])
        w = int(tr.worker[order[lo]])
        if not room(k, K.ORDER_DIVERGENCE):
            continue

        def show(seq: IntArray, at: int) -> str:
            a, b = max(0, at - _CONTEXT), min(len(seq), at + _CONTEXT + 1)
            items = [str(index.ops[int(x)]) for x in seq[a:b]]
            items[at - a] = f"[{items[at - a]}]"
            return ("... " if a > 0 else "") + " ".join(items) + (" ..." if b < len(seq) else "")

        ev = int(order[lo + d])
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
    src, dst, _ = index.producers()
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


def _overlap(ctx: _Ctx, room: Room, add: Add, sel: BoolArray, step: IntArray,
             labels: list[str]) -> None:
    """No two compute units overlap on one worker (running maximum of end times)."""
    tr = ctx.trace
    idx = np.nonzero(sel)[0]
    if len(idx) < 2:
        return
    # one event per overlapped unit
    u = tr.unit[idx]
    multi = u >= 0
    if np.any(multi):
        _, first = np.unique(u[multi], return_index=True)
        idx = np.concatenate([idx[~multi], idx[multi][first]])
    w = tr.worker[idx]
    order = idx[np.lexsort((tr.end[idx], tr.start[idx], w))]
    w = tr.worker[order]
    s, e = tr.start[order], tr.end[order]
    span = float(max(np.abs(e).max(), np.abs(s).max())) * 2 + 1.0
    shift = (w - w.min()) * span
    shifted = e + shift
    run_shifted = np.maximum.accumulate(shifted)
    run = run_shifted - shift
    same = w[1:] == w[:-1]
    hit = np.nonzero(same & (s[1:] < run[:-1] - ctx.tol))[0] + 1
    for j in hit.tolist():
        b = int(order[j])
        k = int(step[b])
        if not room(k, K.COMPUTE_OVERLAP):
            continue
        a_pos = j - 1
        while a_pos > 0 and shifted[a_pos] != run_shifted[j - 1]:
            a_pos -= 1
        a = int(order[a_pos])
        ww = int(w[j])
        add(k, Violation(
            K.COMPUTE_OVERLAP,
            f"{labels[k]}, worker {ww}: {_unit_label(tr, a)} [{ctx.t(float(tr.start[a]))}, "
            f"{ctx.t(float(tr.end[a]))}) ({tr.where(a)}) and {_unit_label(tr, b)} "
            f"[{ctx.t(float(tr.start[b]))}, {ctx.t(float(tr.end[b]))}) ({tr.where(b)}) overlap on the "
            "compute stream", (), (ww,), (float(tr.start[a]), float(tr.start[b]))), float(tr.start[b]))


def _unit_label(tr: TraceEvents, i: int) -> str:
    u = int(tr.unit[i])
    if u < 0:
        return tr.label(i)
    members = np.nonzero((tr.unit == u) & (tr.worker == tr.worker[i]))[0]
    return "(" + ";".join(tr.label(int(m)) for m in members) + ")OVERLAP_F_B"


def _messages(ctx: _Ctx, room: Room, add: Add, sel: BoolArray, step: IntArray, pidx: IntArray,
              stage: IntArray, labels: list[str]) -> None:
    """FIFO pairing of sends and receives per channel, and the payload each carries."""
    tr, sch = ctx.trace, ctx.schedule
    idx = np.nonzero(sel)[0]
    if not len(idx):
        return
    pipes = sch.pipelines
    kind = tr.kind[idx]
    p = pidx[idx]
    s = stage[idx]
    mb = tr.microbatch[idx]
    w = tr.worker[idx]
    fwd = (kind == SEND_F) | (kind == RECV_F)
    send = (kind == SEND_F) | (kind == SEND_B)
    # the stage at the other end, and the boundary the tensor crosses (the sender's stage)
    other = np.where(fwd == send, s + 1, s - 1)
    sender_stage = np.where(send, s, other)
    nst = np.array([q.num_stages for q in pipes], dtype=np.int64)
    ok = (other >= 0) & (other < nst[p])
    flat = np.array([x for q in pipes for x in q.placement], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(nst)[:-1]]).astype(np.int64)
    inferred = np.where(ok, flat[offset[p] + np.where(ok, other, 0)], -1)
    peer = np.where(tr.peer[idx] >= 0, tr.peer[idx], inferred)
    ok &= (peer >= 0) & (peer != w)
    idx, kind, p, s, mb, w, fwd, send, peer, sender_stage = (
        a[ok] for a in (idx, kind, p, s, mb, w, fwd, send, peer, sender_stage))
    if not len(idx):
        return
    src = np.where(send, w, peer)
    dst = np.where(send, peer, w)
    st = step[idx]
    D = int(max(src.max(), dst.max())) + 1
    chan_pipe = p if len(pipes) > 1 else np.zeros_like(p)
    chan = ((st * D + src) * D + dst) * len(pipes) + chan_pipe
    seq = tr.seq[idx]
    payload = ((p * (int(nst.max()) + 1) + sender_stage) * (int(mb.max()) + 1) + mb) * 2 + (~fwd)
    # pair by message id where both ends carry one, else by posting order
    chans, chan_of = np.unique(chan, return_inverse=True)
    by_seq = (np.bincount(chan_of, weights=(seq < 0), minlength=len(chans)) == 0)[chan_of]
    pos = np.zeros(len(idx), dtype=np.int64)
    by_time = np.argsort(tr.start[idx], kind="stable")
    for is_send in (True, False):
        m = by_time[send[by_time] == is_send]
        o = m[np.argsort(chan[m], kind="stable")]  # by channel, then posting time
        cs = chan[o]
        new = np.ones(len(o), dtype=bool)
        new[1:] = cs[1:] != cs[:-1]
        gstart = np.nonzero(new)[0]
        rank = np.arange(len(o)) - gstart[np.cumsum(new) - 1]
        pos[o] = rank
        if not is_send:
            # with message ids, receives must complete in FIFO (id) order
            sq = seq[o]
            bad = np.nonzero(~new[1:] & by_seq[o][1:] & (sq[1:] < sq[:-1]))[0] + 1
            for j in bad.tolist():
                a, b = int(idx[o[j - 1]]), int(idx[o[j]])
                k = int(st[o[j]])
                if not room(k, K.MESSAGE_ORDER):
                    continue
                add(k, Violation(
                    K.MESSAGE_ORDER,
                    f"{labels[k]}: channel worker {int(src[o[j]])} -> worker {int(dst[o[j]])}: "
                    f"{tr.label(b)} (message {int(seq[o[j]])}, {tr.where(b)}) was received after "
                    f"{tr.label(a)} (message {int(seq[o[j - 1]])}): not first-in first-out",
                    (), (int(src[o[j]]), int(dst[o[j]])), (float(tr.start[a]), float(tr.start[b]))),
                    float(tr.start[b]))
    key = np.where(by_seq, seq, pos)
    pair_key = chan * (int(key.max()) + 1) + key
    sends = np.nonzero(send)[0]
    recvs = np.nonzero(~send)[0]
    sk = pair_key[sends]
    so = np.argsort(sk, kind="stable")
    sk_sorted = sk[so]
    where_s = np.searchsorted(sk_sorted, pair_key[recvs])
    clipped = np.minimum(where_s, len(sk_sorted) - 1)
    found = (where_s < len(sk_sorted)) & (sk_sorted[clipped] == pair_key[recvs])
    partner = np.where(found, sends[so[np.minimum(where_s, len(sk_sorted) - 1)]], -1)
    used = np.zeros(len(idx), dtype=bool)
    used[partner[found]] = True

    def name(j: int) -> str:
        return f"{tr.label(int(idx[j]))} ({tr.where(int(idx[j]))})"

    def what(j: int) -> str:
        return f"{'#' + str(int(seq[j])) if by_seq[j] else 'no. ' + str(int(pos[j]) + 1)}"

    safe = np.maximum(partner, 0)
    wrong = (partner < 0) | (payload[safe] != payload[recvs])
    for r_j, s_j in zip(recvs[wrong].tolist(), partner[wrong].tolist()):
        k = int(st[r_j])
        if not room(k, K.MESSAGE_ORDER):
            continue
        ch = f"channel worker {int(src[r_j])} -> worker {int(dst[r_j])}" + (
            f" ({pipes[int(p[r_j])].name})" if len(pipes) > 1 else "")
        if s_j < 0:
            add(k, Violation(K.MESSAGE_ORDER, f"{labels[k]}: {ch}: receive {what(r_j)} {name(r_j)} has no "
                             "matching send", (), (int(src[r_j]), int(dst[r_j])),
                             (float(tr.start[idx[r_j]]),)),
                float(tr.start[idx[r_j]]))
        else:
            expect = f"{int(sender_stage[r_j])}{'F' if fwd[r_j] else 'B'}{int(mb[r_j])}"
            got = f"{int(sender_stage[s_j])}{'F' if fwd[s_j] else 'B'}{int(mb[s_j])}"
            pre = f"{pipes[int(p[r_j])].name}:" if pipes[int(p[r_j])].name != DEFAULT_PIPELINE else ""
            add(k, Violation(
                K.MESSAGE_ORDER,
                f"{labels[k]}: {ch}: receive {what(r_j)} {name(r_j)} expects the output of {pre}{expect}, "
                f"but first-in first-out pairing gives it send {what(s_j)} {name(s_j)}, which carries "
                f"the output of {pre}{got}",
                (), (int(src[r_j]), int(dst[r_j])), (float(tr.start[idx[s_j]]), float(tr.start[idx[r_j]]))),
                float(tr.start[idx[r_j]]))
    for s_j in sends[~used[sends]].tolist():
        k = int(st[s_j])
        if not room(k, K.MESSAGE_ORDER):
            continue
        ch = f"channel worker {int(src[s_j])} -> worker {int(dst[s_j])}"
        add(k, Violation(K.MESSAGE_ORDER, f"{labels[k]}: {ch}: send {what(s_j)} {name(s_j)} has no matching "
                         "receive", (), (int(src[s_j]), int(dst[s_j])), (float(tr.start[idx[s_j]]),)),
            float(tr.start[idx[s_j]]))


def _measured(ctx: _Ctx, sel: BoolArray, step: IntArray, n_steps: int, cstart: FloatArray,
              step_has: BoolArray) -> list[Metrics | None]:
    """Makespan, busy (union of compute intervals) and idle time per worker, per step."""
    tr, sch, index = ctx.trace, ctx.schedule, ctx.index
    D = sch.num_workers
    idx = np.nonzero(sel & (tr.worker >= 0) & (tr.worker < D))[0]
    out: list[Metrics | None] = [None] * n_steps
    if not len(idx):
        return out
    st = step[idx]
    w = tr.worker[idx]
    cs, e = cstart[idx], tr.end[idx]
    order = np.lexsort((cs, w, st))
    st, w, cs, e = st[order], w[order], cs[order], e[order]
    grp = st * D + w
    span = float(np.abs(e).max()) * 2 + 1.0
    shift = (grp - grp.min()) * span
    run = np.maximum.accumulate(e + shift) - shift
    prev = np.concatenate([[-np.inf], run[:-1]])
    prev[np.concatenate([[True], grp[1:] != grp[:-1]])] = -np.inf
    covered = np.maximum(0.0, e - np.maximum(cs, prev))
    busy = np.bincount(grp, weights=covered, minlength=n_steps * D).reshape(n_steps, D)
    first = np.full(n_steps, np.inf)
    last = np.full(n_steps, -np.inf)
    np.minimum.at(first, step[idx], tr.start[idx])
    np.maximum.at(last, step[idx], tr.end[idx])
    n_ev = np.bincount(step[idx], minlength=n_steps)
    peaks, _ = activation_profile(index, CostModel())
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


def _fit(ctx: _Ctx, once: BoolArray, stage: IntArray, cstart: FloatArray) -> CostModel | None:
    """Median compute duration per op kind, overall and per stage, as a cost model;
    overlapped units give the ``overlap`` duration."""
    tr = ctx.trace
    single = once & (tr.unit < 0)
    dur = tr.end - cstart
    glob: dict[str, float] = {}
    per: dict[int, dict[str, float]] = {}
    for code in range(NUM_COMPUTE):
        m = single & (tr.kind == code)
        if not np.any(m):
            continue
        name = KINDS[code]
        glob[name] = float(np.median(dur[m]))
        st = stage[m]
        d = dur[m]
        o = np.argsort(st, kind="stable")
        st, d = st[o], d[o]
        cuts = np.flatnonzero(np.diff(st)) + 1
        for part_s, part_d in zip(np.split(st, cuts), np.split(d, cuts)):
            per.setdefault(int(part_s[0]), {})[name] = float(np.median(part_d))
    if "F" not in glob:
        return None
    overlap = None
    multi = once & (tr.unit >= 0)
    if np.any(multi):
        _, first = np.unique(tr.unit[multi], return_index=True)
        sel = np.nonzero(multi)[0][first]
        overlap = float(np.median(tr.end[sel] - tr.start[sel]))
    split = "I" in glob or "W" in glob
    return CostModel(
        F=glob["F"], B=glob.get("B") if not split else None,
        I=glob.get("I"), W=glob.get("W"), overlap=overlap,
        per_stage=tuple(sorted(
            (s, StageCosts(F=v.get("F"), B=v.get("B") if not split else None, I=v.get("I"), W=v.get("W")))
            for s, v in per.items())),
    )


def check_kinds() -> tuple[ViolationKind, ...]:
    """The violation kinds a trace check reports, in report order."""
    return tuple(_ORDER_OF_KIND)

