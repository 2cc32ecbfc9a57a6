"""The communication checks as one API: violations, per-model verdicts, timing.

``check_comms`` gives the violations of a lowered schedule under one model;
``analyze_comms`` runs every model and keeps the timing of each; ``comm_report`` turns
that into a core :class:`~verify.core.results.Report` (property ``communication``),
optionally merged into the compute verifier's report of the same schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from verify.comm._fast import paused_gc
from verify.comm.deadlock import explain_deadlocks
from verify.comm.engine import BATCH, P2P_RECV, Run, action_durations, build_syncs, execute
from verify.comm.lowering import Policy, lower, lower_indexed
from verify.comm.models import DEFAULT_MODELS, RENDEZVOUS, CommModel, Groups
from verify.comm.program import index_comms
from verify.comm.static import static_checks
from verify.core.actions import Comm
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.results import Property, PropertyResult, Report, Status, Violation, json_number
from verify.core.schedule import Schedule


@dataclass(frozen=True, slots=True)
class CommTiming:
    """Execution of a lowered schedule under one model and a cost model.

    Per worker: ``busy`` computing, blocked ``wait_data`` (in a receive, or the receive
    part of a batch, until the tensor arrives: its producer was late or it is in flight)
    and ``wait_peer`` (in a send until the receiver posts or the channel has room, in an
    allreduce until every replica arrives, in the send part of a batch), and
    ``idle_after`` (done, waiting for the slowest worker). For every worker
    ``busy + wait_data + wait_peer + idle_after == makespan``. ``starts``/``ends`` give
    the time span of every action (a blocking action spans its wait).
    """

    model: str
    makespan: float
    busy: tuple[float, ...]
    wait_data: tuple[float, ...]
    wait_peer: tuple[float, ...]
    idle_after: tuple[float, ...]
    starts: tuple[tuple[float, ...], ...]
    ends: tuple[tuple[float, ...], ...]

    @property
    def bubble_ratio(self) -> float:
        """Idle time of all workers over ``workers * makespan``."""
        D = len(self.busy)
        if self.makespan <= 0:
            return 0.0
        return 1.0 - sum(self.busy) / (D * self.makespan)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "makespan": json_number(self.makespan),
            "bubble_ratio": self.bubble_ratio,
            "busy": [json_number(x) for x in self.busy],
            "wait_data": [json_number(x) for x in self.wait_data],
            "wait_peer": [json_number(x) for x in self.wait_peer],
            "idle_after": [json_number(x) for x in self.idle_after],
        }


@dataclass(frozen=True, slots=True)
class ModelVerdict:
    """What happens under one model: ``completes``, ``deadlocks`` (a wait-for cycle)
    or ``hangs`` (a worker waits for a partner that never comes; see the static
    violations); the deadlocks found and, when it completes, the timing."""

    model: CommModel
    outcome: str
    deadlocks: tuple[Violation, ...]
    timing: CommTiming | None


@dataclass(frozen=True, slots=True)
class CommAnalysis:
    """All communication findings about one lowered schedule."""

    subject: str
    schedule: Schedule
    """The schedule checked (the lowered one when the analysis lowered it)."""
    static: tuple[Violation, ...]
    """Violations that hold under every model (matching, FIFO, order, collectives)."""
    verdicts: tuple[ModelVerdict, ...]

    @property
    def ok(self) -> bool:
        return not self.static and all(v.outcome == "completes" for v in self.verdicts)

    def holds_under(self, model: CommModel) -> bool:
        return not self.static and any(v.model == model and v.outcome == "completes"
                                       for v in self.verdicts)

    def violations(self) -> tuple[Violation, ...]:
        out = list(self.static)
        for v in self.verdicts:
            out.extend(v.deadlocks)
        return tuple(out)

    def summary(self) -> str:
        """One line: under which models the programs are safe, and how the others fail.

        Example: ``deadlocks under rendezvous; holds under buffered(1), buffered, batched``.
        """
        by: dict[str, list[str]] = {}
        for v in self.verdicts:
            outcome = v.outcome
            if outcome == "completes":
                outcome = "holds" if not self.static else "runs"
            by.setdefault(outcome, []).append(v.model.name)
        parts = [f"{k} under {', '.join(names)}" for k, names in
                 sorted(by.items(), key=lambda kv: ("deadlocks", "hangs", "runs", "holds").index(kv[0]))]
        if self.static:
            kinds = sorted({v.kind.value for v in self.static})
            parts.insert(0, f"{len(self.static)} violation(s) under every model ({', '.join(kinds)})")
        return "; ".join(parts)


def _timing(run: Run, durations: np.ndarray) -> CommTiming:
    sp = run.syncs
    ix = sp.ix
    D = ix.num_workers
    ptr = ix.worker_ptr
    busy = np.bincount(np.searchsorted(ptr, np.arange(len(durations)), side="right") - 1,
                       weights=durations, minlength=D) if len(durations) else np.zeros(D)
    data = [0.0] * D
    peer = [0.0] * D
    for k, (w, kind) in enumerate(zip(sp.owner, sp.kind.tolist())):
        wait = run.end[k] - run.post[k]
        if kind == P2P_RECV:
            data[w] += wait
        elif kind == BATCH:
            d = min(max(run.data_end[k] - run.post[k], 0.0), wait)
            data[w] += d
            peer[w] += wait - d
        else:  # sends and collectives
            peer[w] += wait
    finish = run.finish()
    makespan = max(finish) if finish else 0.0
    # spans of every action: inside a sync unit, the unit's [post, end]; otherwise the
    # end of the previous unit of the worker (or 0) plus the compute time since
    n = len(durations)
    cum = np.concatenate([[0.0], np.cumsum(durations)])
    acts = np.arange(n)
    worker = np.searchsorted(ptr, acts, side="right") - 1
    first = np.array(sp.first_act, dtype=np.int64)
    last = np.array(sp.last_act, dtype=np.int64)
    post = np.array(run.post, dtype=np.float64)
    fin = np.array(run.end, dtype=np.float64)
    if len(first):
        u = np.maximum(np.searchsorted(first, acts, side="right") - 1, 0)
        has = (first[u] <= acts) & (worker[np.minimum(first[u], max(n - 1, 0))] == worker)
    else:
        u = np.zeros(n, dtype=np.int64)
        has = np.zeros(n, dtype=bool)
        first = last = np.zeros(1, dtype=np.int64)
        post = fin = np.zeros(1)
    inside = has & (acts <= last[u])
    origin = np.where(has, fin[u], 0.0)
    since = np.where(has, cum[np.minimum(last[u] + 1, n)], cum[ptr[worker]])
    free_start = origin + cum[acts] - since
    start = np.where(inside, post[u], free_start)
    end = np.where(inside, fin[u], free_start + durations)
    starts = tuple(tuple(start[ptr[w]:ptr[w + 1]].tolist()) for w in range(D))
    ends = tuple(tuple(end[ptr[w]:ptr[w + 1]].tolist()) for w in range(D))
    return CommTiming(
        model=sp.model.name,
        makespan=float(makespan),
        busy=tuple(float(b) for b in busy),
        wait_data=tuple(data),
        wait_peer=tuple(peer),
        idle_after=tuple(float(makespan - f) for f in finish),
        starts=starts,
        ends=ends,
    )


def has_comms(schedule: Schedule) -> bool:
    """True when some worker program holds a SEND/RECV action (already lowered)."""
    return any(type(a) is Comm for prog in schedule.programs for a in prog)


def check_comms(schedule: Schedule, *, model: CommModel = RENDEZVOUS,
                groups: Groups = "shared") -> list[Violation]:
    """Every communication problem of the lowered ``schedule`` under ``model``: the
    model-independent ones (unmatched, FIFO, order, collectives), then the deadlocks
    (wait-for cycles).

    >>> from verify.generators import generate
    >>> from verify.comm.lowering import Policy, lower, lower_indexed
    >>> lazy = lower(generate("1f1b", 2, 2), Policy.LAZY)
    >>> print(check_comms(lazy)[0].message)
    deadlock under rendezvous: worker 0 waits in 0SEND_F1 for worker 1, which waits in 1SEND_B0 for worker 0
    >>> from verify.comm.models import buffered
    >>> check_comms(lazy, model=buffered(1))
    []
    """
    with paused_gc():
        ix = index_comms(schedule, groups)
        out = static_checks(ix)
        run = execute(build_syncs(ix, model), timed=False)
        out.extend(explain_deadlocks(run))
    return out


def lower_and_check(
    schedule: Schedule,
    policy: Policy = Policy.TORCH,
    *,
    model: CommModel = RENDEZVOUS,
    groups: Groups = "shared",
    costs: CostModel = UNIT_COSTS,
) -> tuple[Schedule, list[Violation]]:
    """``lower(schedule, policy)`` and ``check_comms`` of the result in one pass: the
    checks read the lowering's own columns instead of re-reading the records it wrote
    (same findings; the tests compare both routes).

    >>> from verify.generators import generate
    >>> lowered, found = lower_and_check(generate("1f1b", 2, 2), Policy.LAZY)
    >>> [v.kind.value for v in found], len(lowered.programs[0])
    (['comm-deadlock'], 8)
    """
    with paused_gc():
        lowered, ix = lower_indexed(schedule, policy, costs=costs, groups=groups)
        out = static_checks(ix)
        run = execute(build_syncs(ix, model), timed=False)
        out.extend(explain_deadlocks(run))
    return lowered, out


def analyze_comms(
    schedule: Schedule,
    *,
    models: Sequence[CommModel] = DEFAULT_MODELS,
    groups: Groups = "shared",
    costs: CostModel = UNIT_COSTS,
    lowering: Policy | None = None,
) -> CommAnalysis:
    """Check ``schedule`` under every model of ``models`` and time it under ``costs``.

    With ``lowering``, a schedule without any comm action is first lowered with that
    policy (and the analysis is about the lowered schedule); without it, the schedule is
    taken as the programs to run, comm actions and all.
    """
    subject = schedule.source or schedule.name or "<schedule>"
    if lowering is not None and not has_comms(schedule):
        schedule = lower(schedule, lowering, costs=costs)
    with paused_gc():
        return _analyze(subject, schedule, models, groups, costs)


def _analyze(subject: str, schedule: Schedule, models: Sequence[CommModel], groups: Groups,
             costs: CostModel) -> CommAnalysis:
    ix = index_comms(schedule, groups)
    static = tuple(static_checks(ix))
    durations = action_durations(ix, costs)
    verdicts = []
    for model in models:
        run = execute(build_syncs(ix, model, costs))
        dead = tuple(explain_deadlocks(run))
        outcome = "completes" if run.complete else "deadlocks" if dead else "hangs"
        timing = _timing(run, durations) if run.complete else None
        verdicts.append(ModelVerdict(model, outcome, dead, timing))
    return CommAnalysis(subject, schedule, static, tuple(verdicts))


def comm_timing(schedule: Schedule, *, model: CommModel = RENDEZVOUS,
                costs: CostModel = UNIT_COSTS, groups: Groups = "shared") -> CommTiming | None:
    """The timing of the lowered ``schedule`` under ``model`` and ``costs``, or None when
    its programs do not run to the end under that model.

    >>> from verify.generators import generate
    >>> from verify.comm.lowering import Policy, lower, lower_indexed
    >>> from verify.comm.models import buffered
    >>> t = comm_timing(lower(generate("1f1b", 4, 8), Policy.LAZY), model=buffered())
    >>> t.makespan, t.wait_data, t.idle_after
    (22.0, (6.0, 5.0, 4.0, 3.0), (0.0, 1.0, 2.0, 3.0))
    """
    ix = index_comms(schedule, groups)
    run = execute(build_syncs(ix, model, costs))
    if not run.complete:
        return None
    return _timing(run, action_durations(ix, costs))


def comm_report(
    schedule: Schedule,
    *,
    models: Sequence[CommModel] = DEFAULT_MODELS,
    groups: Groups = "shared",
    costs: CostModel = UNIT_COSTS,
    lowering: Policy | None = None,
    base: Report | None = None,
) -> Report:
    """A core Report whose ``communication`` property says under which models the
    lowered programs are safe (the reason lists the verdict per model).

    ``base``, the compute verifier's report of the same schedule (``verify.check``), is
    merged in: its violations, properties and metrics come first.
    """
    analysis = analyze_comms(schedule, models=models, groups=groups, costs=costs,
                             lowering=lowering)
    return merge_report(analysis, base)


def merge_report(analysis: CommAnalysis, base: Report | None = None) -> Report:
    """The Report of ``analysis`` (property ``communication``), after ``base`` if given."""
    status = Status.HOLDS if analysis.ok else Status.VIOLATED
    result = PropertyResult(Property.COMMUNICATION, status, analysis.summary())
    if base is None:
        return Report(analysis.subject, analysis.violations(), (result,), None, "")
    props = tuple(r for r in base.properties if r.property is not Property.COMMUNICATION)
    return Report(base.subject, base.violations + analysis.violations(), (*props, result),
                  base.metrics, base.costs)

