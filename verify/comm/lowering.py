"""Lowering: from a compute schedule to per-worker programs with SEND/RECV actions.

Every cross-worker data edge becomes one message: the activation of ``F(s, m)`` to
``F(s+1, m)``, and the input gradient of ``B(s, m)`` (or ``I(s, m)``) to the backward of
stage ``s-1``. Stages adjacent on one worker pass tensors locally (no message). The
sender posts ``SEND_F``/``SEND_B`` on its stage, the receiver ``RECV_F``/``RECV_B`` on its
own stage (PyTorch's names). Policies differ in *where* the receives go:

* ``torch``: PyTorch's ``_add_send_recv``: a lock-step pass over the programs (rank by
  rank in each round); a send right after its producer, the matching receive appended to
  the receiver at the moment the send is. Byte-for-byte PyTorch's order.
* ``torch-deferred``: ``torch`` followed by PyTorch's ``defer_pp_recv`` pass: each receive
  just before its consumer, except that a worker of lower rank flushes the receives from
  a peer before sending to that peer (rank parity).
* ``lazy``: each send right after its producer, each receive just before its consumer,
  no parity rule (what a hand-written runtime usually does; the classic rendezvous
  deadlock of 1F1B).
* ``eager``: each receive posted at the moment its data is sent in the earliest-start
  execution under a cost model (a time-ordered projection of one global order).
* ``batched``: between two compute units of a worker, the sends of the first and the
  receives of the second form one ``batch_isend_irecv`` group (Megatron's combined
  ``send_forward_recv_backward``).

``torch`` and ``eager`` place every event of one global order on every worker it
involves, so for a deadlock-free compute schedule their output is deadlock-free and
FIFO-consistent under every communication model (any shared process group). ``lazy`` and
``batched`` carry no such guarantee: the checks decide.

Stage actions already in the input (``UNSHARD``, ``RESHARD``, ``REDUCE_GRAD``) keep their
place; :func:`add_unshard_reshard` and :func:`add_reduce_grad` insert them as PyTorch
does (:func:`lower_like_torch` runs the whole PyTorch pipeline).

>>> from verify.generators import generate
>>> s = lower(generate("1f1b", 2, 2), Policy.LAZY)
>>> [str(a) for a in s.programs[0]]
['0F0', '0SEND_F0', '0F1', '0SEND_F1', '0RECV_B0', '0B0', '0RECV_B1', '0B1']
>>> [str(a) for a in lower(generate("1f1b", 2, 2), Policy.TORCH).programs[0]]
['0F0', '0SEND_F0', '0F1', '0SEND_F1', '0RECV_B0', '0B0', '0RECV_B1', '0B1']
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Literal

import numpy as np
import numpy.typing as npt

from verify.comm._fast import kind_codes, make_comms, paused_gc, trusted_schedule
from verify.comm.models import Groups
from verify.comm.program import (
    CK_RECV_B,
    CK_RECV_F,
    CK_SEND_B,
    CK_SEND_F,
    COMPUTE,
    RECV,
    SEND,
    STAGE,
    CommIndex,
    build_index,
    index_comms,
)
from verify.core.actions import (
    Action,
    Comm,
    CommKind,
    Op,
    OpKind,
    Overlap,
    StageAction,
    StageActionKind,
    compute_ops,
)
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import Schedule
from verify.errors import ChimeraVerifyError, ParameterError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class LoweringError(ChimeraVerifyError, ValueError):
    """The compute schedule cannot be lowered (a misplaced or duplicated op, comm actions
    already present, or a compute-level deadlock); the message says which and where."""


class Policy(enum.Enum):
    """Where sends and receives go (see the module docstring)."""

    TORCH = "torch"
    TORCH_DEFERRED = "torch-deferred"
    LAZY = "lazy"
    EAGER = "eager"
    BATCHED = "batched"

    @classmethod
    def parse(cls, text: str) -> Policy:
        """The policy named ``text``; a ParameterError lists the names."""
        for p in cls:
            if p.value == text.strip().lower():
                return p
        names = ", ".join(p.value for p in cls)
        raise ParameterError(f"unknown lowering policy {text!r}: expected one of {names}")


# ----------------------------------------------------------------------- comm objects


# ----------------------------------------------------------------------- the plan
@dataclass(frozen=True, slots=True, eq=False)
class _Plan:
    """The compute schedule as items (compute units and stage actions, per worker in
    program order) and messages (cross-worker data edges)."""

    schedule: Schedule
    item_ptr: list[int]
    items: list[Action]
    item_worker: IntArray
    item_unit: npt.NDArray[np.bool_]
    # messages, sorted by (producer item, op index inside it)
    msg_prod: IntArray
    msg_cons: IntArray
    msg_sub: IntArray
    msg_cons_sub: IntArray
    msg_pipe: IntArray
    msg_stage: IntArray
    msg_mb: IntArray
    msg_dir: IntArray
    # compute ops, in program order (rows of the lowered index too)
    ops: list[Op]
    op_item: IntArray
    op_pipe: IntArray
    op_stage: IntArray
    op_mb: IntArray
    op_kind: IntArray

    @property
    def num_items(self) -> int:
        return len(self.items)

    def sends(self) -> list[Comm]:
        return self._comms(self.msg_stage, (CommKind.SEND_F, CommKind.SEND_B))

    def recvs(self) -> list[Comm]:
        return self._comms(self.msg_stage + np.where(self.msg_dir == 0, 1, -1),
                           (CommKind.RECV_F, CommKind.RECV_B))

    def _comms(self, stages: IntArray, kinds: tuple[CommKind, CommKind]) -> list[Comm]:
        names = [p.name for p in self.schedule.pipelines]
        pipe = self.msg_pipe.tolist()
        return make_comms(
            list(map(names.__getitem__, pipe)) if len(names) > 1 else [names[0]] * len(pipe),
            stages.tolist(),
            self.msg_mb.tolist(),
            list(map(kinds.__getitem__, self.msg_dir.tolist())),
        )


_stage_of = attrgetter("stage")
_mb_of = attrgetter("microbatch")
_kind_of = attrgetter("kind")
_pipe_of = attrgetter("pipeline")


def _where(w: int, i: int) -> str:
    return f"worker {w}, position {i}"


def _plan(schedule: Schedule) -> _Plan:
    """Items and messages of a compute schedule; LoweringError when an op is misplaced,
    invalid or duplicated, or when the input already holds comm actions."""
    pipes = schedule.pipelines
    pidx = {p.name: k for k, p in enumerate(pipes)}
    items: list[Action] = []
    item_ptr = [0]
    item_worker_parts: list[IntArray] = []
    unit_parts: list[npt.NDArray[np.bool_]] = []
    ops: list[Op] = []
    op_item_parts: list[IntArray] = []
    op_sub_parts: list[IntArray] = []
    id_op, id_comm = id(Op), id(Comm)
    for w, prog in enumerate(schedule.programs):
        base = len(items)
        n = len(prog)
        tid = np.fromiter(map(id, map(type, prog)), np.int64, n)
        if (tid == id_comm).any():
            i = int(np.nonzero(tid == id_comm)[0][0])
            raise LoweringError(
                f"{prog[i]} at {_where(w, i)}: the schedule already has communication "
                "actions; lower a compute-only schedule (or check this one as it is)"
            )
        items.extend(prog)
        item_ptr.append(base + n)
        item_worker_parts.append(np.full(n, w, dtype=np.int64))
        is_op = tid == id_op
        if is_op.all():
            unit_parts.append(np.ones(n, dtype=bool))
            ops.extend(prog)  # type: ignore[arg-type]
            op_item_parts.append(np.arange(base, base + n, dtype=np.int64))
            op_sub_parts.append(np.zeros(n, dtype=np.int64))
            continue
        unit = is_op.copy()
        for i in np.nonzero(~is_op)[0].tolist():
            a = prog[i]
            if isinstance(a, Overlap):
                unit[i] = True
        unit_parts.append(unit)
        for i in np.nonzero(unit)[0].tolist():
            sub = compute_ops(prog[i])
            ops.extend(sub)
            op_item_parts.append(np.full(len(sub), base + i, dtype=np.int64))
            op_sub_parts.append(np.arange(len(sub), dtype=np.int64))
    item_worker = np.concatenate(item_worker_parts) if item_worker_parts else np.zeros(0, np.int64)
    item_unit = np.concatenate(unit_parts) if unit_parts else np.zeros(0, bool)
    n_ops = len(ops)
    op_item = np.concatenate(op_item_parts) if op_item_parts else np.zeros(0, np.int64)
    op_sub = np.concatenate(op_sub_parts) if op_sub_parts else np.zeros(0, np.int64)
    names = set(map(_pipe_of, ops))
    if len(names) == 1 and next(iter(names)) in pidx:  # one known pipeline: no look-ups
        o_pipe = np.full(n_ops, pidx[next(iter(names))], dtype=np.int64)
    else:
        o_pipe = np.fromiter(map(pidx.get, map(_pipe_of, ops), repeat(-1)), np.int64, n_ops)
    o_stage = np.fromiter(map(_stage_of, ops), np.int64, n_ops)
    o_mb = np.fromiter(map(_mb_of, ops), np.int64, n_ops)
    o_kind = kind_codes(map(_kind_of, ops), n_ops, (OpKind.F, OpKind.B, OpKind.I, OpKind.W))

    nstages = np.array([p.num_stages for p in pipes], dtype=np.int64)
    nmb = np.array([p.microbatches for p in pipes], dtype=np.int64)
    sp = np.where(o_pipe >= 0, o_pipe, 0)
    valid = (o_pipe >= 0) & (o_stage < nstages[sp]) & (o_mb < nmb[sp])

    def fail(row: int, reason: str) -> LoweringError:
        it = int(op_item[row])
        w = int(item_worker[it])
        return LoweringError(f"{ops[row]} at {_where(w, it - item_ptr[w])}: {reason}")

    if not valid.all():
        r = int(np.nonzero(~valid)[0][0])
        reason = (
            f"no pipeline named {ops[r].pipeline!r}" if o_pipe[r] < 0
            else "its stage or micro-batch does not exist in the pipeline"
        )
        raise fail(r, reason + " (run check first)")
    offset = np.concatenate([[0], np.cumsum(nstages)[:-1]]).astype(np.int64)
    flat = np.array([w for p in pipes for w in p.placement], dtype=np.int64)
    home = flat[offset[o_pipe] + o_stage] if n_ops else np.zeros(0, np.int64)
    misplaced = np.nonzero(home != item_worker[op_item])[0]
    if len(misplaced):
        r = int(misplaced[0])
        raise fail(r, f"stage {ops[r].stage} is placed on worker {int(home[r])} (run check first)")
    sizes = nstages * nmb * 4
    base4 = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    oid = base4[o_pipe] + (o_stage * nmb[o_pipe] + o_mb) * 4 + o_kind
    total = int(sizes.sum())
    count = np.bincount(oid, minlength=total)
    dup_rows = np.nonzero(count[oid] > 1)[0]
    if len(dup_rows):
        same = dup_rows[oid[dup_rows] == oid[dup_rows[0]]]
        raise fail(int(same[1]), "the op runs twice (run check first)")
    row_of_id = np.full(total, -1, dtype=np.int64)
    row_of_id[oid] = np.arange(n_ops)

    S = nstages[o_pipe]
    Mq = nmb[o_pipe]
    step = Mq * 4  # id distance between stage s and s+1
    # activation: F(s) -> F(s+1)
    fm = (o_kind == 0) & (o_stage + 1 < S)
    f_rows = np.nonzero(fm)[0]
    f_cons = row_of_id[oid[f_rows] + step[f_rows]]
    # gradient: producer I(s) if present, else B(s) -> B or I of s-1
    gm = ((o_kind == 1) | (o_kind == 2)) & (o_stage > 0)
    g_rows = np.nonzero(gm)[0]
    slot = oid[g_rows] - o_kind[g_rows]
    has_i = count[slot + 2] > 0
    g_rows = g_rows[(o_kind[g_rows] == 2) | ~has_i]
    slot = oid[g_rows] - o_kind[g_rows] - step[g_rows]
    g_cons = np.where(count[slot + 2] > 0, row_of_id[slot + 2], row_of_id[slot + 1])
    prod = np.concatenate([f_rows, g_rows])
    cons = np.concatenate([f_cons, g_cons])
    mdir = np.concatenate([np.zeros(len(f_rows), np.int64), np.ones(len(g_rows), np.int64)])
    keep = cons >= 0
    prod, cons, mdir = prod[keep], cons[keep], mdir[keep]
    cross = home[prod] != home[cons]
    prod, cons, mdir = prod[cross], cons[cross], mdir[cross]
    order = np.lexsort((op_sub[prod], op_item[prod]))
    prod, cons, mdir = prod[order], cons[order], mdir[order]
    return _Plan(
        schedule=schedule,
        item_ptr=item_ptr,
        items=items,
        item_worker=item_worker,
        item_unit=item_unit,
        msg_prod=op_item[prod],
        msg_cons=op_item[cons],
        msg_sub=op_sub[prod],
        msg_cons_sub=op_sub[cons],
        msg_pipe=o_pipe[prod],
        msg_stage=o_stage[prod],
        msg_mb=o_mb[prod],
        msg_dir=mdir,
        ops=ops,
        op_item=op_item,
        op_pipe=o_pipe,
        op_stage=o_stage,
        op_mb=o_mb,
        op_kind=o_kind,
    )


# ----------------------------------------------------------------------- longest paths
def _starts(
    plan: _Plan,
    step: Sequence[float],
    pred_item: IntArray,
    pred_src: IntArray,
    pred_weight: Sequence[float],
) -> list[float]:
    """Earliest start of every item: ``start(x) = max(start(prev) + step[prev],
    start(p) + weight)`` over the extra predecessors ``p`` of ``x``; program order is
    implicit. LoweringError when some item can never start (a compute-level deadlock).

    Most items have at most one extra predecessor (one remote input per op); it is kept
    in flat lists, the others in a side table.
    """
    n = plan.num_items
    D = plan.schedule.num_workers
    first_pred = [-1] * n
    first_w = [0.0] * n
    more: dict[int, list[tuple[int, float]]] = {}
    for x, q, wt in zip(pred_item.tolist(), pred_src.tolist(), pred_weight):
        if first_pred[x] < 0:
            first_pred[x] = q
            first_w[x] = wt
        else:
            more.setdefault(x, []).append((q, wt))
    start = [-1.0] * n
    waiter = [-1] * n
    extra_waiters: dict[int, list[int]] = {}
    ptr = list(plan.item_ptr[:-1])
    end = plan.item_ptr[1:]
    cur = [0.0] * D
    stack = list(range(D - 1, -1, -1))
    push = stack.append
    while stack:
        w = stack.pop()
        i, e, t = ptr[w], end[w], cur[w]
        while i < e:
            q = first_pred[i]
            if q >= 0:
                sq = start[q]
                if sq < 0:
                    if waiter[q] < 0:
                        waiter[q] = w
                    else:
                        extra_waiters.setdefault(q, []).append(w)
                    break
                v = sq + first_w[i]
                if v > t:
                    t = v
                if more and i in more:
                    blocked = False
                    for q2, w2 in more[i]:
                        if start[q2] < 0:
                            extra_waiters.setdefault(q2, []).append(w)
                            blocked = True
                            break
                        v = start[q2] + w2
                        if v > t:
                            t = v
                    if blocked:
                        break
            start[i] = t
            wt = waiter[i]
            if wt >= 0:
                push(wt)
                if extra_waiters:
                    stack.extend(extra_waiters.pop(i, ()))
            elif extra_waiters:
                stack.extend(extra_waiters.pop(i, ()))
            t += step[i]
            i += 1
        ptr[w], cur[w] = i, t
    for w in range(D):
        if ptr[w] < end[w]:
            i = ptr[w]
            raise LoweringError(
                f"{plan.items[i]} at {_where(w, i - plan.item_ptr[w])} can never start: the "
                "compute schedule deadlocks (run check for the cycle)"
            )
    return start


# ----------------------------------------------------------------------- assembly
def _order(worker: IntArray, keys: list[npt.NDArray[np.float64] | IntArray]) -> IntArray:
    """Stable order by (worker, *keys): one argsort of a combined integer key when the
    keys are small non-negative integers (the common case), else a lexsort."""
    columns = [worker, *keys]
    if all(c.dtype.kind in "iu" for c in columns) and len(worker):
        lows = [int(c.min()) for c in columns]
        spans = [int(c.max()) - lo + 1 for c, lo in zip(columns, lows)]
        total = 1
        for s in spans:
            total *= s
        if total < 2**62:
            combined = np.zeros(len(worker), dtype=np.int64)
            for c, lo, span in zip(columns, lows, spans):
                combined = combined * span + (c.astype(np.int64) - lo)
            order = np.argsort(combined)
            ranked = combined[order]
            if len(ranked) < 2 or bool((ranked[1:] > ranked[:-1]).all()):
                return order  # keys are distinct: any sort is the stable one
            return np.argsort(combined, kind="stable")
    return np.lexsort(tuple(reversed(columns)))


def _assemble(
    plan: _Plan,
    objects: list[Action],
    worker: IntArray,
    keys: list[npt.NDArray[np.float64] | IntArray],
    name: str,
) -> tuple[Schedule, IntArray]:
    """Sort events per worker by ``keys`` (most significant first) and build the
    lowered schedule; also return the order (event of every action, worker-major)."""
    order = _order(worker, keys)
    sorted_objs = itemgetter(*order.tolist())(objects) if len(order) > 1 else tuple(
        objects[i] for i in order.tolist())
    bounds = np.searchsorted(worker[order], np.arange(plan.schedule.num_workers + 1)).tolist()
    programs = tuple(
        tuple(sorted_objs[bounds[w]:bounds[w + 1]]) for w in range(plan.schedule.num_workers)
    )
    s = plan.schedule
    params = (*[(k, v) for k, v in s.params if k != "lowering"], ("lowering", name))
    out = trusted_schedule(s, programs, f"{s.name} (lowered: {name})" if s.name else f"lowered: {name}",
                           params)
    return out, order


def _events(plan: _Plan) -> tuple[list[Action], IntArray]:
    """All events (items, then sends, then receives, message by message) and their
    workers."""
    objects: list[Action] = [*plan.items, *plan.sends(), *plan.recvs()]
    worker = np.concatenate([plan.item_worker, plan.item_worker[plan.msg_prod],
                             plan.item_worker[plan.msg_cons]])
    return objects, worker


def _lower_torch(plan: _Plan) -> tuple[Schedule, IntArray]:
    n = plan.num_items
    w_cons = plan.item_worker[plan.msg_cons]
    w_prod = plan.item_worker[plan.msg_prod]
    weight = (w_prod > w_cons).astype(np.float64).tolist()
    rounds = np.array(_starts(plan, [1.0] * n, plan.msg_cons, plan.msg_prod, weight)).astype(np.int64)
    objects, worker = _events(plan)
    m = len(plan.msg_prod)
    msg_round = rounds[plan.msg_prod]
    rnd = np.concatenate([rounds, msg_round, msg_round])
    proc = np.concatenate([plan.item_worker, w_prod, w_prod])
    # within one (round, processing rank), a rank appends its action, then its sends and
    # the matching receives in order: the message number is that order
    sub = np.concatenate([np.zeros(n, np.int64), np.arange(1, m + 1), np.arange(1, m + 1)])
    return _assemble(plan, objects, worker, [rnd, proc, sub], "torch")


def _lower_lazy(plan: _Plan) -> tuple[Schedule, IntArray]:
    n, m = plan.num_items, len(plan.msg_prod)
    objects, worker = _events(plan)
    # key: (item index, phase, sub): receives before their consumer, sends after producer
    item_key = np.concatenate([np.arange(n), plan.msg_prod, plan.msg_cons])
    phase = np.concatenate([np.ones(n, np.int64), np.full(m, 2, np.int64), np.zeros(m, np.int64)])
    sub = np.concatenate([np.zeros(n, np.int64), plan.msg_sub, plan.msg_cons_sub * 4096 + plan.msg_sub])
    return _assemble(plan, objects, worker, [item_key, phase, sub], "lazy")


def _lower_batched(plan: _Plan) -> tuple[Schedule, IntArray]:
    n, m = plan.num_items, len(plan.msg_prod)
    objects, worker = _events(plan)
    # unit ordinal per worker: stage actions between units k-1 and k belong to slot k
    unit = plan.item_unit.astype(np.int64)
    csum = np.cumsum(unit)
    starts = np.array(plan.item_ptr[:-1], dtype=np.int64)
    before = np.where(starts > 0, csum[np.maximum(starts - 1, 0)], 0)
    ordinal = csum - before[plan.item_worker] - unit  # units before this item on its worker
    # slot k: group (sends of unit k-1, receives of unit k), then stage actions, then unit k
    item_slot = ordinal
    item_phase = np.where(plan.item_unit, 2, 1)
    send_slot = ordinal[plan.msg_prod] + 1
    recv_slot = ordinal[plan.msg_cons]
    slot = np.concatenate([item_slot, send_slot, recv_slot])
    phase = np.concatenate([item_phase, np.zeros(2 * m, np.int64)])
    sub1 = np.concatenate([np.arange(n), np.zeros(m, np.int64), np.ones(m, np.int64)])
    sub2 = np.concatenate([np.zeros(n, np.int64), plan.msg_sub, plan.msg_cons_sub * 4096 + plan.msg_sub])
    return _assemble(plan, objects, worker, [slot, phase, sub1, sub2], "batched")


def _unit_durations(plan: _Plan, costs: CostModel) -> list[float]:
    out: list[float] = []
    for a in plan.items:
        if isinstance(a, Op):
            out.append(costs.duration(a.kind, a.stage))
        elif isinstance(a, Overlap):
            if costs.overlap is not None:
                out.append(float(costs.overlap))
            else:
                out.append(sum(costs.duration(o.kind, o.stage) for o in a.ops))
        else:
            out.append(0.0)
    return out


def _lower_eager(plan: _Plan, costs: CostModel) -> tuple[Schedule, IntArray]:
    n, m = plan.num_items, len(plan.msg_prod)
    dur = _unit_durations(plan, costs)
    units = np.nonzero(plan.item_unit)[0]
    if any(dur[u] <= 0 for u in units.tolist()):
        raise LoweringError("eager lowering needs every compute op to take positive time "
                            f"under the cost model ({costs.describe()})")
    w_prod = plan.item_worker[plan.msg_prod]
    w_cons = plan.item_worker[plan.msg_cons]
    lat = [costs.latency_between(int(a), int(b)) for a, b in zip(w_prod.tolist(), w_cons.tolist())] \
        if costs.links else [float(costs.latency)] * m
    weight = [dur[p] + lat[j] for j, p in enumerate(plan.msg_prod.tolist())]
    start = np.array(_starts(plan, dur, plan.msg_cons, plan.msg_prod, weight), dtype=np.float64)
    dur_a = np.array(dur, dtype=np.float64)
    end = start + dur_a
    # time and phase of every item: a unit at (start, 2); a stage action right after the
    # previous unit on its worker (end of it, phase 1), or at (0, 1) before the first one
    pos = np.arange(n, dtype=np.int64)
    first = np.array(plan.item_ptr[:-1], dtype=np.int64)[plan.item_worker]
    last_unit = np.maximum.accumulate(np.where(plan.item_unit, pos, -1)) if n else pos
    prev_unit = np.concatenate([[-1], last_unit[:-1]]).astype(np.int64) if n else pos
    prev_unit = np.where(prev_unit >= first, prev_unit, -1)
    item_time = np.where(plan.item_unit, start, np.where(prev_unit >= 0, end[np.maximum(prev_unit, 0)], 0.0))
    item_phase = np.where(plan.item_unit, 2, 1)
    k1 = plan.item_worker.copy()
    k2 = pos - first
    # a REDUCE_GRAD of a replicated stage is one event for all replicas: the latest time
    # among them, keyed by the stage so that every replica orders it alike
    replicas = _replica_counts(plan.schedule)
    rg_members: dict[int, list[int]] = {}
    for i in np.nonzero(~plan.item_unit)[0].tolist():
        a = plan.items[i]
        if (isinstance(a, StageAction) and a.kind is StageActionKind.REDUCE_GRAD
                and replicas.get(a.stage, 0) > 1):
            rg_members.setdefault(a.stage, []).append(i)
    for stage, members in rg_members.items():
        t = max(float(item_time[i]) for i in members)
        for i in members:
            item_time[i] = t
            k1[i] = -1
            k2[i] = stage
    objects, worker = _events(plan)
    msg_time = end[plan.msg_prod]
    time = np.concatenate([item_time, msg_time, msg_time])
    phase = np.concatenate([item_phase, np.zeros(2 * m, np.int64)])
    key1 = np.concatenate([k1, w_prod, w_prod])
    key2 = np.concatenate([k2, plan.msg_prod - first[plan.msg_prod], plan.msg_prod - first[plan.msg_prod]])
    key3 = np.concatenate([np.zeros(n, np.int64), plan.msg_sub, plan.msg_sub])
    return _assemble(plan, objects, worker, [time, phase, key1, key2, key3], "eager")


def _replica_counts(schedule: Schedule) -> dict[int, int]:
    """Number of pipelines that have stage ``s``, for every stage index."""
    out: dict[int, int] = {}
    for p in schedule.pipelines:
        for s in range(p.num_stages):
            out[s] = out.get(s, 0) + 1
    return out


def _defer(schedule: Schedule) -> Schedule:
    """PyTorch's ``defer_pp_recv`` pass over a lowered schedule (receives just before
    their consumer; a lower rank flushes a peer's receives before sending to it)."""
    pipes = {p.name: p for p in schedule.pipelines}

    def peer(c: Comm) -> int:
        placement = pipes[c.pipeline].placement
        if c.kind in (CommKind.RECV_F, CommKind.SEND_B):
            return placement[c.stage - 1]
        return placement[c.stage + 1]

    programs: list[tuple[Action, ...]] = []
    for rank, prog in enumerate(schedule.programs):
        out: list[Action] = []
        deferred: dict[tuple[str, int, CommKind, int], Comm] = {}
        for a in prog:
            if isinstance(a, Comm) and not a.kind.is_send:
                deferred[(a.pipeline, a.stage, a.kind, a.microbatch)] = a
                continue
            if isinstance(a, Comm):
                q = peer(a)
                if rank < q:
                    for key in [k for k, v in deferred.items() if peer(v) == q]:
                        out.append(deferred.pop(key))
            for op in compute_ops(a):
                kind = CommKind.RECV_F if op.kind is OpKind.F else (
                    CommKind.RECV_B if op.kind in (OpKind.B, OpKind.I) else None)
                if kind is not None:
                    r = deferred.pop((op.pipeline, op.stage, kind, op.microbatch), None)
                    if r is not None:
                        out.append(r)
            out.append(a)
        if deferred:
            left = next(iter(deferred.values()))
            raise LoweringError(f"worker {rank}: {left} has no consumer to defer it to")
        programs.append(tuple(out))
    params = (*[(k, v) for k, v in schedule.params if k != "lowering"], ("lowering", "torch-deferred"))
    name = schedule.name.replace("(lowered: torch)", "(lowered: torch-deferred)")
    return Schedule(schedule.num_workers, schedule.pipelines, tuple(programs), None, name, params)


def lower(schedule: Schedule, policy: Policy = Policy.TORCH, *,
          costs: CostModel = UNIT_COSTS) -> Schedule:
    """Insert SEND/RECV actions for every cross-worker data edge of the compute schedule
    ``schedule`` following ``policy``; ``costs`` only matters to ``eager`` (the times at
    which data is sent). The result has no start times (order semantics).

    Raises :class:`LoweringError` when the input holds comm actions already, or an op is
    unknown, misplaced or duplicated, or (``torch``, ``eager``) the compute schedule
    deadlocks: run :func:`verify.check` first.
    """
    if not isinstance(policy, Policy):
        raise ParameterError(f"policy: expected a Policy, got {policy!r}")
    with paused_gc():
        return _lower(schedule, policy, costs)


def _lower(schedule: Schedule, policy: Policy, costs: CostModel) -> Schedule:
    return _lower_with_order(_plan(schedule), policy, costs)[0]


def _lower_with_order(plan: _Plan, policy: Policy, costs: CostModel) -> tuple[Schedule, IntArray | None]:
    if policy is Policy.TORCH:
        return _lower_torch(plan)
    if policy is Policy.TORCH_DEFERRED:
        return _defer(_lower_torch(plan)[0]), None
    if policy is Policy.LAZY:
        return _lower_lazy(plan)
    if policy is Policy.BATCHED:
        return _lower_batched(plan)
    return _lower_eager(plan, costs)


def lower_indexed(schedule: Schedule, policy: Policy = Policy.TORCH, *,
                  costs: CostModel = UNIT_COSTS, groups: Groups = "shared") -> tuple[Schedule, CommIndex]:
    """:func:`lower`, and the array form of the lowered schedule built from the
    lowering's own columns instead of re-reading the records it just wrote (the same
    :class:`~verify.comm.program.CommIndex` as ``index_comms(lowered)``, which the tests
    check)."""
    if not isinstance(policy, Policy):
        raise ParameterError(f"policy: expected a Policy, got {policy!r}")
    with paused_gc():
        plan = _plan(schedule)
        lowered, order = _lower_with_order(plan, policy, costs)
        if order is None:
            return lowered, index_comms(lowered, groups)
        return lowered, _index_from_plan(plan, lowered, order, groups)


def _index_from_plan(plan: _Plan, lowered: Schedule, order: IntArray, groups: Groups) -> CommIndex:
    n, m = plan.num_items, len(plan.msg_prod)
    inv = np.empty(len(order), dtype=np.int64)
    inv[order] = np.arange(len(order), dtype=np.int64)
    item_act = inv[:n]
    send_act, recv_act = inv[n:n + m], inv[n + m:]
    code = np.empty(len(order), dtype=np.int64)
    code[item_act] = np.where(plan.item_unit, COMPUTE, STAGE)
    code[send_act] = SEND
    code[recv_act] = RECV
    d = plan.msg_dir
    c_act = np.concatenate([send_act, recv_act])
    c_kind = np.concatenate([np.where(d == 0, CK_SEND_F, CK_SEND_B), np.where(d == 0, CK_RECV_F, CK_RECV_B)])
    c_stage = np.concatenate([plan.msg_stage, plan.msg_stage + np.where(d == 0, 1, -1)])
    by_act = np.argsort(c_act)
    comm_cols = (c_act[by_act], c_kind[by_act], np.concatenate([plan.msg_pipe, plan.msg_pipe])[by_act],
                 c_stage[by_act], np.concatenate([plan.msg_mb, plan.msg_mb])[by_act])
    op_cols = (item_act[plan.op_item], plan.op_pipe, plan.op_stage, plan.op_mb, plan.op_kind)
    pidx = {p.name: k for k, p in enumerate(plan.schedule.pipelines)}
    sa_rows: list[tuple[int, StageAction]] = []
    for i in np.nonzero(~plan.item_unit)[0].tolist():
        a = plan.items[i]
        if isinstance(a, StageAction):
            sa_rows.append((int(item_act[i]), a))
    sa_rows.sort(key=lambda r: r[0])
    sa_kinds = (StageActionKind.REDUCE_GRAD, StageActionKind.UNSHARD, StageActionKind.RESHARD)
    sa_cols = (
        np.array([a for a, _ in sa_rows], dtype=np.int64),
        np.array([pidx.get(x.pipeline, -1) for _, x in sa_rows], dtype=np.int64),
        np.array([x.stage for _, x in sa_rows], dtype=np.int64),
        np.array([sa_kinds.index(x.kind) for _, x in sa_rows], dtype=np.int64),
    )
    ptr = np.concatenate([[0], np.cumsum([len(p) for p in lowered.programs])]).astype(np.int64)
    return build_index(lowered, groups, ptr, code, comm_cols, op_cols, plan.ops, sa_cols)


# ----------------------------------------------------------------------- stage actions
def _untimed(schedule: Schedule, programs: list[tuple[Action, ...]]) -> Schedule:
    return Schedule(schedule.num_workers, schedule.pipelines, tuple(programs), None,
                    schedule.name, schedule.params)


def add_reduce_grad(schedule: Schedule, *,
                    stages: Literal["all", "replicated"] = "all") -> Schedule:
    """Insert ``REDUCE_GRAD`` (the gradient reduction; for a stage with several replicas,
    the allreduce over them) right after the last backward (``B`` or ``W``) of each stage
    replica on its worker, once per iteration, as PyTorch's ``_add_reduce_grad`` does.
    ``stages="replicated"`` only adds it to stages held by several pipelines (Chimera's
    cross-pipeline allreduce). Replicas that already have one are left alone; start
    times are dropped.

    >>> from verify.generators import generate
    >>> [str(a) for a in add_reduce_grad(generate("chimera", 4, 4)).programs[0]][-4:]
    ['up:3REDUCE_GRAD', 'down:0B0', 'down:0B1', 'down:0REDUCE_GRAD']
    """
    if stages not in ("all", "replicated"):
        raise ParameterError(f"stages: expected 'all' or 'replicated', got {stages!r}")
    replicas = _replica_counts(schedule)
    programs: list[tuple[Action, ...]] = []
    placed: set[tuple[str, int]] = set()
    for prog in schedule.programs:
        have = {(a.pipeline, a.stage) for a in prog
                if isinstance(a, StageAction) and a.kind is StageActionKind.REDUCE_GRAD}
        placed |= have
        last: dict[tuple[str, int], int] = {}
        for i, a in enumerate(prog):
            for op in compute_ops(a):
                if op.kind in (OpKind.B, OpKind.W):
                    last[(op.pipeline, op.stage)] = i
        after: dict[int, list[StageAction]] = {}
        for i, a in enumerate(prog):
            for op in compute_ops(a):
                key = (op.pipeline, op.stage)
                if last.get(key) != i or key in have:
                    continue
                if stages == "replicated" and replicas.get(op.stage, 0) < 2:
                    continue
                sa = StageAction(op.pipeline, op.stage, StageActionKind.REDUCE_GRAD)
                if sa not in after.get(i, []):
                    after.setdefault(i, []).append(sa)
                    placed.add(key)
        out: list[Action] = []
        for i, a in enumerate(prog):
            out.append(a)
            out.extend(after.get(i, ()))
        programs.append(tuple(out))
    # a replica that runs no backward (its pipeline has no micro-batch) still holds the
    # stage and joins the allreduce: at the end of its worker's program
    reduced = {s for _, s in placed}
    for p in schedule.pipelines:
        for s_, w in enumerate(p.placement):
            if replicas.get(s_, 0) > 1 and s_ in reduced and (p.name, s_) not in placed:
                sa = StageAction(p.name, s_, StageActionKind.REDUCE_GRAD)
                programs[w] = (*programs[w], sa)
    return _untimed(schedule, programs)


def add_unshard_reshard(schedule: Schedule, *, max_active_stages: int = 3) -> Schedule:
    """Insert FSDP ``UNSHARD``/``RESHARD`` actions as PyTorch's ``_add_unshard_reshard``
    does: before each compute unit, the next ``max_active_stages`` distinct stages the
    worker will compute on are unsharded (prefetch) and the others resharded; every stage
    still unsharded at the end is resharded. Stages evicted together are resharded in
    (pipeline, stage) order. Start times are dropped.

    >>> from verify.generators import generate
    >>> [str(a) for a in add_unshard_reshard(generate("1f1b", 2, 1)).programs[1]]
    ['1UNSHARD', '1F0', '1B0', '1RESHARD']
    """
    if isinstance(max_active_stages, bool) or not isinstance(max_active_stages, int) \
            or max_active_stages < 1:
        raise ParameterError(f"max_active_stages: expected an integer >= 1, got {max_active_stages!r}")
    order = {p.name: k for k, p in enumerate(schedule.pipelines)}

    def rank(key: tuple[str, int]) -> tuple[int, int]:
        return (order.get(key[0], len(order)), key[1])

    programs: list[tuple[Action, ...]] = []
    for w, prog in enumerate(schedule.programs):
        for i, a in enumerate(prog):
            if isinstance(a, StageAction) and a.kind is not StageActionKind.REDUCE_GRAD:
                raise LoweringError(f"{a} at {_where(w, i)}: the schedule already has "
                                    "UNSHARD/RESHARD actions")
        units = [(i, [(o.pipeline, o.stage) for o in compute_ops(a)])
                 for i, a in enumerate(prog) if compute_ops(a)]
        # suffix sets of distinct stages, to stop scanning when fewer remain than wanted
        remaining = [0] * (len(units) + 1)
        seen: set[tuple[str, int]] = set()
        for k in range(len(units) - 1, -1, -1):
            seen.update(units[k][1])
            remaining[k] = len(seen)
        active: set[tuple[str, int]] = set()
        out: list[Action] = []
        k = 0
        for a in prog:
            if not compute_ops(a):
                out.append(a)
                continue
            nxt: list[tuple[str, int]] = []
            target = min(max_active_stages, remaining[k])
            for _, keys in units[k:]:
                for key in keys:
                    if key not in nxt:
                        nxt.append(key)
                if len(nxt) >= target:
                    break
            for key in sorted((s for s in active if s not in nxt), key=rank):
                active.discard(key)
                out.append(StageAction(key[0], key[1], StageActionKind.RESHARD))
            for key in nxt:
                if key not in active:
                    active.add(key)
                    out.append(StageAction(key[0], key[1], StageActionKind.UNSHARD))
            out.append(a)
            k += 1
        for key in sorted(active, key=rank):
            out.append(StageAction(key[0], key[1], StageActionKind.RESHARD))
        programs.append(tuple(out))
    return _untimed(schedule, programs)


def lower_like_torch(schedule: Schedule, *, defer_recv: bool = False,
                     max_active_stages: int = 3) -> Schedule:
    """PyTorch's lowering of a ``compute_only`` schedule, pass for pass: FSDP
    unshard/reshard, gradient reduction after the last backward, then sends and
    receives (``torch``, or ``torch-deferred`` with ``defer_recv``)."""
    prepared = add_reduce_grad(add_unshard_reshard(schedule, max_active_stages=max_active_stages))
    return lower(prepared, Policy.TORCH_DEFERRED if defer_recv else Policy.TORCH)


__all__ = [
    "LoweringError",
    "Policy",
    "add_reduce_grad",
    "add_unshard_reshard",
    "lower",
    "lower_indexed",
    "lower_like_torch",
]
