"""SMT-LIB 2 encodings of one concrete schedule, linear in its number of ops.

Three stateless passes over the array form (:mod:`verify.passes.index`), each returning
an immutable encoding: the SMT-LIB text and, for every constraint, the data needed to
turn a Z3 answer back into the verifier's terms (which units, which workers, which ops).

* :func:`encode_execution` - the *ordered* schedule with symbolic start times: one
  integer ``s<u>`` per compute unit; ``s >= 0`` for the first unit of each worker; the
  per-worker order between **neighbours only** (``s_next - s_u >= dur_u``, which is the
  per-worker no-overlap for a worker that runs its program in order); every data
  dependency ``s_v - s_u >= dur_u + latency``. Each constraint ``j`` is guarded by a
  Boolean ``p<j>`` (``(=> p<j> c)``), checked as an assumption, so an unsat answer comes
  with a core over named constraints: a dependency cycle, or a critical path. The query
  is integer difference logic: satisfiable iff the precedence graph is acyclic.
* :func:`encode_timing` - a *timed* schedule: the start times are constants ``t<k>``
  (one per action); constraint ``j`` holds iff ``t_b - t_a >= w_j`` and an indicator
  ``v<j>`` is defined as its violation; the query asserts that some indicator is true.
  Unsat means every constraint holds; a model lists every violated one. Start-time
  no-overlap is checked between neighbours *in start-time order* (sorting first keeps
  the query linear: intervals sorted by start are pairwise disjoint iff neighbours are).
* :func:`encode_memory` - activation memory along each worker's order: ``m<k>`` is the
  running sum of allocations (F) and releases (end of B, or of W when the backward is
  split); the query asserts that some worker exceeds the cap.

All quantities are scaled to integers by one common denominator (:func:`integer_scale`),
so the arithmetic is exact: the SMT route compares exact rationals of the given floats,
where the simulator uses floating point (they agree on integer and dyadic costs).

>>> from verify.generators import generate
>>> from verify.passes.index import index_schedule
>>> enc = encode_execution(index_schedule(generate("1f1b", 2, 1)), UNIT_COSTS)
>>> [enc.label(j) for j in range(enc.num_constraints)]
['start[w=0]', 'order[w=0] 0F0 -> 0B0', 'start[w=1]', 'order[w=1] 1F0 -> 1B0',
 'dep 0F0 (w=0) -> 1F0 (w=1)', 'dep 0F0 (w=0) -> 0B0 (w=0)', 'dep 1F0 (w=1) -> 1B0 (w=1)',
 'dep 1B0 (w=1) -> 0B0 (w=0)']
>>> print(enc.text.splitlines()[-1])
(assert (=> p7 (>= (- s1 s3) 1)))
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from verify.core.actions import Action, Op, Overlap, format_action
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import TimingUnit
from verify.passes.index import IndexedSchedule, IntArray

__all__ = [
    "UNIT_COSTS",
    "ExecutionEncoding",
    "Kind",
    "MemoryEncoding",
    "TimingEncoding",
    "encode_execution",
    "encode_memory",
    "encode_timing",
    "execution_subset_text",
    "guarded_timing_text",
    "integer_scale",
    "labels",
    "memory_events",
    "overlap_member",
    "smt_int",
    "unit_durations",
]

MAX_SCALE = 1 << 64
"""Largest common denominator accepted: beyond it the quantities are not meant exactly
(a ``SolverError`` says so rather than building enormous numerals)."""


class Kind(enum.Enum):
    """What a constraint of an encoding stands for."""

    START = "start"
    """The first unit of a worker starts at time >= 0."""
    ORDER = "order"
    """A unit starts after the previous unit of its worker ended (ordered schedule)."""
    DATA = "dep"
    """A consumer starts after its producer ended, plus latency across workers."""
    MONOTONE = "monotone"
    """Timed: start times do not decrease along a worker's program."""
    NO_OVERLAP = "no-overlap"
    """Timed: neighbours in start-time order on one worker do not overlap."""
    CAUSAL = "causal"
    """Timed: a consumer's start time is after its producer's end (plus latency)."""


# ------------------------------------------------------------------------ numerals
def smt_int(value: int) -> str:
    """An integer as an SMT-LIB numeral (negative numbers as ``(- n)``).

    >>> smt_int(3), smt_int(-3)
    ('3', '(- 3)')
    """
    return str(value) if value >= 0 else f"(- {-value})"


def integer_scale(values: Iterable[float]) -> int:
    """The least common denominator of ``values`` read as exact rationals, so that
    every value times it is an integer.

    >>> integer_scale([1.0, 0.5, 0.25, 3.0])
    4
    >>> integer_scale([])
    1
    """
    scale = 1
    for v in values:
        den = Fraction(v).denominator
        scale = scale * den // math.gcd(scale, den)
    if scale > MAX_SCALE:
        from verify.errors import SolverError

        raise SolverError(
            f"the costs and times need a common denominator above 2**64 ({scale}); "
            "round them (e.g. to 1e-6) to check them exactly"
        )
    return scale


def _scaled(values: np.ndarray, scale: int) -> list[int]:
    """``values * scale`` as exact Python integers (``values`` are multiples of 1/scale)."""
    table: dict[float, int] = {}
    out: list[int] = []
    for v in values.tolist():
        n = table.get(v)
        if n is None:
            f = Fraction(v) * scale
            n = f.numerator  # integral by construction of ``scale``
            table[v] = n
        out.append(n)
    return out


def unit_durations(index: IndexedSchedule, costs: CostModel) -> np.ndarray:
    """Duration of every compute unit: the sum of its ops' durations under ``costs``, or
    ``costs.overlap`` for an ``OVERLAP_F_B`` unit when given (the cost model's rule).

    >>> from verify.generators import generate
    >>> from verify.passes.index import index_schedule
    >>> unit_durations(index_schedule(generate("1f1b", 2, 1)), CostModel(F=1, B=2)).tolist()
    [1.0, 2.0, 1.0, 2.0]
    """
    table: dict[int, tuple[float, float, float, float]] = {}
    per_op = np.zeros(len(index.ops), dtype=np.float64)
    for r, (stage, kind) in enumerate(zip(index.op_stage.tolist(), index.op_kind.tolist())):
        row = table.get(stage)
        if row is None:
            row = table[stage] = costs.durations(stage)
        per_op[r] = row[kind]  # kind codes F=0, B=1, I=2, W=3, the order of durations()
    n = index.num_units
    dur = np.bincount(index.op_unit, weights=per_op, minlength=n).astype(np.float64) if n else np.zeros(0)
    if costs.overlap is not None and n:
        dur[np.bincount(index.op_unit, minlength=n) > 1] = float(costs.overlap)
    return dur


def _label_action(action: Action, default: str | None) -> str:
    return format_action(action, default_pipeline=default)


# ----------------------------------------------------------------------- execution
@dataclass(frozen=True, slots=True, eq=False)
class ExecutionEncoding:
    """The ordered schedule as difference constraints ``s_dst - s_src >= weight``.

    Constraint ``j`` is guarded by ``p<j>``; ``src[j]`` is -1 for a ``START`` constraint
    (``s_dst >= 0``). ``row[j]`` is the consumer's op row for ``DATA`` constraints (the
    op inside an overlap that needs the value), else -1. Times are integers in units of
    ``1/scale`` of the cost model's unit.
    """

    index: IndexedSchedule
    text: str
    kind: tuple[Kind, ...]
    src: IntArray
    dst: IntArray
    weight: tuple[int, ...]
    row: IntArray
    duration: tuple[int, ...]
    """Duration of every unit, scaled."""
    last: tuple[int, ...]
    """The last unit of every worker that has one (a worker's last unit ends last)."""
    scale: int
    lift: int
    """1, or ``n + 1`` when some constraint has weight 0 (zero-cost ops): the query then
    uses ``lift * weight + 1`` so that every cycle is infeasible, and a time ``t`` of the
    query stands for ``t // lift`` (the ``+ 1`` count edges, fewer than ``lift``)."""

    @property
    def num_constraints(self) -> int:
        return len(self.kind)

    def lifted(self, j: int) -> int:
        """The weight constraint ``j`` has in the query."""
        w = self.weight[j]
        return w if self.lift == 1 or self.src[j] < 0 else w * self.lift + 1

    def label(self, j: int) -> str:
        """A readable name of constraint ``j`` (used for unsat cores)."""
        index = self.index
        default = index.schedule.default_pipeline
        k = self.kind[j]
        v = int(self.dst[j])
        wv = int(index.unit_worker[v])
        if k is Kind.START:
            return f"start[w={wv}]"
        u = int(self.src[j])
        a, b = self.unit_action(u), self.unit_action(v)
        if k is Kind.ORDER:
            return f"order[w={wv}] {_label_action(a, default)} -> {_label_action(b, default)}"
        wu = int(index.unit_worker[u])
        return f"dep {_label_action(a, default)} (w={wu}) -> {_label_action(b, default)} (w={wv})"

    def unit_action(self, u: int) -> Action:
        """The program entry (an ``Op`` or an ``Overlap``) of unit ``u``."""
        index = self.index
        return index.schedule.programs[int(index.unit_worker[u])][int(index.unit_pos[u])]


def encode_execution(index: IndexedSchedule, costs: CostModel) -> ExecutionEncoding:
    """Encode the per-worker programs of ``index`` with symbolic start times.

    Linear in the number of units and data edges: the order is encoded between
    neighbours only, never between all pairs of a worker's units.
    """
    n = index.num_units
    src, dst, row = index.producers()
    if len(src):  # an overlap may consume two outputs of one unit: keep one edge per pair
        _, first = np.unique(src * max(n, 1) + dst, return_index=True)
        first.sort()
        src, dst, row = src[first], dst[first], row[first]
    dur = unit_durations(index, costs)
    uw = index.unit_worker
    if costs.links:
        lat = np.array([costs.latency_between(int(a), int(b)) for a, b in zip(uw[src], uw[dst])],
                       dtype=np.float64)
    else:
        lat = np.where(uw[src] != uw[dst], float(costs.latency), 0.0)
    scale = integer_scale(np.unique(np.concatenate([dur, lat])).tolist())
    d_int = _scaled(dur, scale)
    lat_int = _scaled(lat, scale)

    kinds: list[Kind] = []
    c_src: list[int] = []
    c_dst: list[int] = []
    c_w: list[int] = []
    c_row: list[int] = []
    last: list[int] = []
    ptr = index.worker_ptr.tolist()
    for w in range(index.schedule.num_workers):
        lo, hi = ptr[w], ptr[w + 1]
        if lo == hi:
            continue
        kinds.append(Kind.START)
        c_src.append(-1)
        c_dst.append(lo)
        c_w.append(0)
        c_row.append(-1)
        for u in range(lo + 1, hi):
            kinds.append(Kind.ORDER)
            c_src.append(u - 1)
            c_dst.append(u)
            c_w.append(d_int[u - 1])
            c_row.append(-1)
        last.append(hi - 1)
    s_list, d_list = src.tolist(), dst.tolist()
    kinds.extend([Kind.DATA] * len(s_list))
    c_src.extend(s_list)
    c_dst.extend(d_list)
    c_w.extend(d_int[a] + lt for a, lt in zip(s_list, lat_int))
    c_row.extend(row.tolist())

    lift = n + 1 if any(w == 0 for a, w in zip(c_src, c_w) if a >= 0) else 1
    lines = [f"(declare-const s{u} Int)" for u in range(n)]
    lines += [f"(declare-const p{j} Bool)" for j in range(len(kinds))]
    for j, (a, b, wt) in enumerate(zip(c_src, c_dst, c_w)):
        if a < 0:
            lines.append(f"(assert (=> p{j} (>= s{b} {smt_int(wt)})))")
        else:
            w = wt * lift + 1 if lift > 1 else wt
            lines.append(f"(assert (=> p{j} (>= (- s{b} s{a}) {smt_int(w)})))")
    return ExecutionEncoding(
        index=index,
        text="\n".join(lines) + "\n",
        kind=tuple(kinds),
        src=np.array(c_src, dtype=np.int64),
        dst=np.array(c_dst, dtype=np.int64),
        weight=tuple(c_w),
        row=np.array(c_row, dtype=np.int64),
        duration=tuple(d_int),
        last=tuple(last),
        scale=scale,
        lift=lift,
    )


def execution_subset_text(enc: ExecutionEncoding, ids: Sequence[int], *, reach: bool = False) -> str:
    """A query over the constraints ``ids`` of ``enc`` only, with the same names.

    Guarded and weighted as in ``enc.text``; with ``reach`` unguarded and with weight 0,
    so that ``s_y < s_x`` is unsat exactly when unit ``x`` reaches unit ``y`` along the
    constraints (a path forces ``s_y >= s_x``; otherwise 1 on everything reachable
    from ``x`` and 0 elsewhere is a model).
    """
    units = sorted({int(enc.dst[j]) for j in ids} | {int(enc.src[j]) for j in ids if enc.src[j] >= 0})
    lines = [f"(declare-const s{u} Int)" for u in units]
    for j in ids:
        a, b = int(enc.src[j]), int(enc.dst[j])
        if reach:
            if a >= 0:
                lines.append(f"(assert (>= s{b} s{a}))")
            continue
        lines.append(f"(declare-const p{j} Bool)")
        if a < 0:
            lines.append(f"(assert (=> p{j} (>= s{b} {smt_int(enc.lifted(j))})))")
        else:
            lines.append(f"(assert (=> p{j} (>= (- s{b} s{a}) {smt_int(enc.lifted(j))})))")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------- timing
@dataclass(frozen=True, slots=True, eq=False)
class TimingEncoding:
    """A timed schedule's start times as constants and its constraints as indicators.

    Constraint ``j`` holds iff ``t[b[j]] - t[a[j]] >= weight[j]`` (``a``, ``b`` index
    the flattened actions, worker by worker); ``v<j>`` is true iff it is violated.
    ``row[j]`` is the consumer's op row of a ``CAUSAL`` constraint (else -1).
    ``starts``/``duration``/``ready`` are the scaled start of each action, duration of
    each action (0 for non-compute actions; 1 step in ``steps`` timing) and, for causal
    constraints, the producer's end plus latency.
    """

    index: IndexedSchedule
    text: str
    steps: bool
    kind: tuple[Kind, ...]
    a: IntArray
    b: IntArray
    weight: tuple[int, ...]
    row: IntArray
    worker_of: IntArray
    pos_of: IntArray
    starts: tuple[int, ...]
    duration: tuple[int, ...]
    scale: int

    @property
    def num_constraints(self) -> int:
        return len(self.kind)

    def action(self, k: int) -> Action:
        w, i = int(self.worker_of[k]), int(self.pos_of[k])
        return self.index.schedule.programs[w][i]

    def label(self, j: int) -> str:
        default = self.index.schedule.default_pipeline
        a, b = int(self.a[j]), int(self.b[j])
        wa, wb = int(self.worker_of[a]), int(self.worker_of[b])
        ta, tb = _label_action(self.action(a), default), _label_action(self.action(b), default)
        k = self.kind[j]
        if k is Kind.MONOTONE:
            return f"monotone[w={wb}] {ta} -> {tb}"
        if k is Kind.NO_OVERLAP:
            return f"no-overlap[w={wb}] {ta} | {tb}"
        return f"causal {ta} (w={wa}) -> {tb} (w={wb})"


def encode_timing(index: IndexedSchedule, costs: CostModel) -> TimingEncoding:
    """Encode the start times of a timed schedule and its three constraint groups:
    ``MONOTONE`` (program-order neighbours, every action), ``NO_OVERLAP`` (neighbours in
    start-time order; in ``steps`` timing every action takes one step, in ``times``
    timing compute units take their duration) and ``CAUSAL`` (every data edge)."""
    schedule = index.schedule
    timing = schedule.timing
    if timing is None:
        raise ValueError("encode_timing needs a timed schedule (schedule.timing is None)")
    steps = timing.unit is TimingUnit.STEPS
    lengths = [len(r) for r in timing.starts]
    total = sum(lengths)
    flat = np.fromiter((t for r in timing.starts for t in r), np.float64, total)
    row_ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    worker_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    pos_of = np.arange(total, dtype=np.int64) - row_ptr[worker_of]
    unit_action = row_ptr[index.unit_worker] + index.unit_pos  # flat index of each unit

    src, dst, row = index.producers()
    uw = index.unit_worker
    if steps:
        udur = np.ones(index.num_units)
        lat = np.zeros(len(src))
    else:
        udur = unit_durations(index, costs)
        if costs.links:
            lat = np.array([costs.latency_between(int(a), int(b)) for a, b in zip(uw[src], uw[dst])],
                           dtype=np.float64)
        else:
            lat = np.where(uw[src] != uw[dst], float(costs.latency), 0.0)
    adur = np.zeros(total)
    if steps:
        adur[:] = 1.0
    else:
        adur[unit_action] = udur
    scale = integer_scale(np.unique(np.concatenate([flat, adur, lat])).tolist())
    t_int = _scaled(flat, scale)
    d_int = _scaled(adur, scale)
    lat_int = _scaled(lat, scale)

    kinds: list[Kind] = []
    ca: list[int] = []
    cb: list[int] = []
    cw: list[int] = []
    crow: list[int] = []

    same = np.nonzero(worker_of[1:] == worker_of[:-1])[0]
    kinds.extend([Kind.MONOTONE] * len(same))
    ca.extend(same.tolist())
    cb.extend((same + 1).tolist())
    cw.extend([0] * len(same))
    crow.extend([-1] * len(same))

    # no-overlap between neighbours in start-time order (ties in program order)
    members = np.arange(total, dtype=np.int64) if steps else unit_action
    order = members[np.lexsort((pos_of[members], flat[members], worker_of[members]))]
    left, right = order[:-1], order[1:]
    keep = worker_of[left] == worker_of[right]
    left, right = left[keep], right[keep]
    kinds.extend([Kind.NO_OVERLAP] * len(left))
    ca.extend(left.tolist())
    cb.extend(right.tolist())
    if steps:  # one action per step: neighbours in step order must differ
        cw.extend([1] * len(left))
    else:
        cw.extend(d_int[k] for k in left.tolist())
    crow.extend([-1] * len(left))

    fa, fb = unit_action[src].tolist(), unit_action[dst].tolist()
    kinds.extend([Kind.CAUSAL] * len(fa))
    ca.extend(fa)
    cb.extend(fb)
    cw.extend(d_int[k] + lt for k, lt in zip(fa, lat_int))
    crow.extend(row.tolist())

    lines = [f"(declare-const t{k} Int)" for k in range(total)]
    lines += [f"(assert (= t{k} {smt_int(v)}))" for k, v in enumerate(t_int)]
    lines += [f"(declare-const v{j} Bool)" for j in range(len(kinds))]
    lines += [
        f"(assert (= v{j} (< (- t{b} t{a}) {smt_int(wt)})))"
        for j, (a, b, wt) in enumerate(zip(ca, cb, cw))
    ]
    if kinds:
        lines.append("(assert (or " + " ".join(f"v{j}" for j in range(len(kinds))) + "))")
    else:
        lines.append("(assert false)")
    return TimingEncoding(
        index=index,
        text="\n".join(lines) + "\n",
        steps=steps,
        kind=tuple(kinds),
        a=np.array(ca, dtype=np.int64),
        b=np.array(cb, dtype=np.int64),
        weight=tuple(cw),
        row=np.array(crow, dtype=np.int64),
        worker_of=worker_of,
        pos_of=pos_of,
        starts=tuple(t_int),
        duration=tuple(d_int),
        scale=scale,
    )


def guarded_timing_text(enc: TimingEncoding) -> str:
    """The timing query with every constraint's indicator guarded by ``g<j>``
    (``g<j> => (v<j> => violated)``): unsat under all guards means every constraint
    holds, and the unsat core names the constraints the proof used."""
    lines = [f"(declare-const t{k} Int)" for k in range(len(enc.starts))]
    lines += [f"(assert (= t{k} {smt_int(v)}))" for k, v in enumerate(enc.starts)]
    n = enc.num_constraints
    lines += [f"(declare-const v{j} Bool)\n(declare-const g{j} Bool)" for j in range(n)]
    lines += [
        f"(assert (=> g{j} (=> v{j} (< (- t{b} t{a}) {smt_int(wt)}))))"
        for j, (a, b, wt) in enumerate(zip(enc.a.tolist(), enc.b.tolist(), enc.weight))
    ]
    lines.append("(assert (or " + " ".join(f"v{j}" for j in range(n)) + "))" if n else "(assert false)")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------- memory
@dataclass(frozen=True, slots=True, eq=False)
class MemoryEncoding:
    """Activation memory events along each worker's program, as running sums.

    Event ``k`` happens at unit ``unit[k]`` on ``worker[k]`` and adds ``delta[k]``
    (scaled) to ``m<k>``, the worker's activation memory after it; ``x<w>`` is true iff
    worker ``w`` exceeds the cap at some allocation. ``first[w]``/``stop[w]`` delimit a
    worker's events. Without a cap the text only defines the running sums.
    """

    index: IndexedSchedule
    text: str
    unit: IntArray
    worker: IntArray
    delta: tuple[int, ...]
    bounds: IntArray
    cap: int | None
    scale: int

    def running(self) -> list[int]:
        """The running sum after every event (the values the query defines)."""
        out: list[int] = []
        b = self.bounds.tolist()
        for w in range(len(b) - 1):
            acc = 0
            for k in range(b[w], b[w + 1]):
                acc += self.delta[k]
                out.append(acc)
        return out


def memory_events(index: IndexedSchedule, costs: CostModel) -> tuple[IntArray, IntArray, np.ndarray]:
    """Allocation and release events ``(unit, phase, amount)`` sorted by unit, then phase.

    Semantics (shared with the simulator's metrics, stated in
    :func:`verify.sim.metrics.activation_profile`): an ``F`` allocates its stage's
    activation; the ``B`` (or the ``W`` of a split backward) releases it when the ``F``
    ran earlier on the same worker; only the first occurrence of a duplicated op counts;
    within one unit, allocations come before releases.
    """
    valid = np.nonzero(index.op_id >= 0)[0]
    ids = index.op_id[valid]
    rows = valid[index.unit_of_id[ids] == index.op_unit[valid]]
    ids = index.op_id[rows]
    kind = index.op_kind[rows]
    slot = ids // 4
    split = index.present_split()[slot]
    stages = index.op_stage[rows]
    amount = np.zeros(len(rows), dtype=np.float64)
    for s in np.unique(stages).tolist():
        amount[stages == s] = costs.activation_of(int(s))
    units = index.op_unit[rows]
    alloc = kind == 0
    f_unit = index.unit_of_id[slot * 4]
    safe = np.where(f_unit >= 0, f_unit, 0)
    release = (((kind == 1) & ~split) | (kind == 3)) & (f_unit >= 0) & (
        index.unit_worker[safe] == index.op_worker[rows]) & (f_unit <= units)
    ev_unit = np.concatenate([units[alloc], units[release]])
    ev_phase = np.concatenate([np.zeros(int(alloc.sum()), np.int64), np.ones(int(release.sum()), np.int64)])
    ev_amount = np.concatenate([amount[alloc], -amount[release]])
    order = np.lexsort((ev_phase, ev_unit))
    return ev_unit[order], ev_phase[order], ev_amount[order]


def encode_memory(index: IndexedSchedule, costs: CostModel, cap: float | None) -> MemoryEncoding:
    """Encode the running activation memory of every worker and (with ``cap``) the
    claim that some worker exceeds it."""
    ev_unit, _, ev_amount = memory_events(index, costs)
    D = index.schedule.num_workers
    ev_worker = index.unit_worker[ev_unit] if len(ev_unit) else np.zeros(0, dtype=np.int64)
    bounds = np.searchsorted(ev_worker, np.arange(D + 1)).astype(np.int64)
    extra = [] if cap is None else [cap]
    scale = integer_scale(np.unique(np.concatenate([np.abs(ev_amount), np.array(extra)])).tolist())
    delta = _scaled(ev_amount, scale)
    cap_int = None if cap is None else _scaled(np.array([cap]), scale)[0]
    lines = [f"(declare-const m{k} Int)" for k in range(len(delta))]
    b = bounds.tolist()
    for w in range(D):
        for k in range(b[w], b[w + 1]):
            prev = f"m{k - 1}" if k > b[w] else "0"
            lines.append(f"(assert (= m{k} (+ {prev} {smt_int(delta[k])})))")
    if cap_int is not None:
        over: list[str] = []
        for w in range(D):
            peaks = [f"(> m{k} {smt_int(cap_int)})" for k in range(b[w], b[w + 1]) if delta[k] > 0]
            if peaks:
                lines.append(f"(declare-const x{w} Bool)")
                lines.append(f"(assert (= x{w} (or {' '.join(peaks)})))")
                over.append(f"x{w}")
        lines.append(f"(assert (or {' '.join(over)}))" if over else "(assert false)")
    return MemoryEncoding(index, "\n".join(lines) + "\n", ev_unit, ev_worker,
                          tuple(delta), bounds, cap_int, scale)


def overlap_member(action: Action, index: IndexedSchedule, row: int) -> str:
    """How a violation names a consumer: the op itself, or ``op in (overlap)``."""
    op: Op = index.ops[row]
    if isinstance(action, Overlap):
        return f"{op} in {action}"
    return str(action)


def labels(enc: ExecutionEncoding | TimingEncoding, ids: Sequence[int]) -> tuple[str, ...]:
    """Readable names of the constraints ``ids``, in the given order."""
    return tuple(enc.label(j) for j in ids)
