"""A compact array form of a schedule, shared by the linear-time checks and simulator.

Compute *units* are the program positions that occupy a worker's compute stream (an
``Op`` or an ``Overlap``), numbered worker by worker in program order, so worker w's
units are ``range(worker_ptr[w], worker_ptr[w+1])``. Every compute op gets a row in the
``op_*`` arrays. A valid op (known pipeline and stage, micro-batch in range) has a
dense id ``base[p] + (stage * M_p + microbatch) * 4 + kind`` (kind F=0, B=1, I=2, W=3),
so that completeness, placement and producer look-ups are NumPy gathers rather than
dictionary walks (see ``measurements.md``: NumPy is the hot path, NetworkX explains).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from verify.core.actions import Op, OpKind, Overlap
from verify.core.schedule import Schedule

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

F, B, I, W = OpKind.F, OpKind.B, OpKind.I, OpKind.W
KIND_CODE: dict[str, int] = {"F": 0, "B": 1, "I": 2, "W": 3}
CODE_KIND: tuple[OpKind, ...] = (F, B, I, W)


@dataclass(frozen=True, slots=True, eq=False)
class IndexedSchedule:
    """The array form of ``schedule`` (see the module docstring)."""

    schedule: Schedule
    # units
    unit_worker: IntArray
    unit_pos: IntArray
    unit_op_ptr: IntArray
    """Unit u's ops are rows ``unit_op_ptr[u] : unit_op_ptr[u+1]`` of the ``op_*`` arrays."""
    worker_ptr: IntArray
    # ops
    op_unit: IntArray
    op_worker: IntArray
    op_pos: IntArray
    op_pipe: IntArray
    """Index of the op's pipeline in ``schedule.pipelines`` (-1 when unknown)."""
    op_stage: IntArray
    op_mb: IntArray
    op_kind: IntArray
    op_id: IntArray
    """Dense id of a valid op, -1 for an op of an unknown pipeline/stage or out of range."""
    ops: tuple[Op, ...]
    # dense id space
    base: IntArray
    total_ids: int
    unit_of_id: IntArray
    """Unit of the first occurrence of each dense id (-1 when absent)."""
    count_of_id: IntArray

    @property
    def num_units(self) -> int:
        return len(self.unit_worker)

    def unit_ops(self, u: int) -> tuple[Op, ...]:
        """The ops of unit ``u`` (one, or the members of an ``Overlap``)."""
        return self.ops[int(self.unit_op_ptr[u]) : int(self.unit_op_ptr[u + 1])]

    def worker_units(self, w: int) -> range:
        return range(int(self.worker_ptr[w]), int(self.worker_ptr[w + 1]))

    def present(self, kind: OpKind) -> BoolArray:
        """Per (pipeline, stage, micro-batch) slot: is an op of ``kind`` present?"""
        return self.count_of_id[KIND_CODE[kind.value] :: 4] > 0

    def present_split(self) -> BoolArray:
        """Per (pipeline, stage, micro-batch) slot: is its backward split (an I present)?"""
        return self.present(I)

    def producers(self) -> tuple[IntArray, IntArray, IntArray]:
        """Data edges as arrays ``(producer unit, consumer unit, consumer op row)``.

        Producers follow :mod:`verify.core.deps`; a backward consumes the stage above's
        ``I`` when that micro-batch's backward is split there, else its ``B``.
        """
        valid = self.op_id >= 0
        rows = np.nonzero(valid)[0]
        ids = self.op_id[rows]
        kind = self.op_kind[rows]
        stage = self.op_stage[rows]
        pipe = self.op_pipe[rows]
        nstages = np.array([p.num_stages for p in self.schedule.pipelines], dtype=np.int64)
        nmb = np.array([p.microbatches for p in self.schedule.pipelines], dtype=np.int64)
        step = 4 * nmb[pipe]  # id distance between stage s and s+1, same micro-batch
        split = self.present_split()
        src_parts: list[IntArray] = []
        dst_parts: list[IntArray] = []
        row_parts: list[IntArray] = []

        def add(mask: BoolArray, target: IntArray) -> None:
            r = rows[mask]
            src_parts.append(self.unit_of_id[target])
            dst_parts.append(self.op_unit[r])
            row_parts.append(r)

        m = (kind == 0) & (stage > 0)  # F(s) <- F(s-1)
        add(m, ids[m] - step[m])
        m = (kind == 1) | (kind == 2)  # B/I(s) <- F(s)
        add(m, ids[m] - kind[m])
        m = m & (stage + 1 < nstages[pipe])  # B/I(s) <- B or I of s+1
        above_slot = (ids[m] - kind[m] + step[m]) // 4
        above_kind = np.where(split[above_slot], 2, 1)
        add(m, above_slot * 4 + above_kind)
        m = kind == 3  # W <- I
        add(m, ids[m] - 1)
        src = np.concatenate(src_parts)
        dst = np.concatenate(dst_parts)
        row = np.concatenate(row_parts)
        keep = (src >= 0) & (src != dst)
        return src[keep], dst[keep], row[keep]


def index_schedule(schedule: Schedule) -> IndexedSchedule:
    """Build the array form in one pass over the programs."""
    with gc_paused():
        return _index(schedule)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a burst of allocations.

    Building arrays from hundreds of thousands of ops allocates many short-lived
    containers and none of them form cycles; letting the collector rescan the young
    generation on every burst costs up to half of the linear checks' time.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _index(schedule: Schedule) -> IndexedSchedule:
    unit_worker: list[int] = []
    unit_pos: list[int] = []
    op_unit: list[int] = []
    ops: list[Op] = []
    ptr = [0]
    for w, prog in enumerate(schedule.programs):
        if all(type(a) is Op for a in prog):  # fast path: plain ops only
            u0 = len(unit_worker)
            ops.extend(prog)  # type: ignore[arg-type]
            op_unit.extend(range(u0, u0 + len(prog)))
            unit_worker.extend([w] * len(prog))
            unit_pos.extend(range(len(prog)))
            ptr.append(len(unit_worker))
            continue
        for i, a in enumerate(prog):
            if type(a) is Op:
                op_unit.append(len(unit_worker))
                ops.append(a)
                unit_worker.append(w)
                unit_pos.append(i)
            elif type(a) is Overlap:
                u = len(unit_worker)
                for o in a.ops:
                    ops.append(o)
                    op_unit.append(u)
                unit_worker.append(w)
                unit_pos.append(i)
        ptr.append(len(unit_worker))
    n_ops = len(ops)
    unit_w = np.array(unit_worker, dtype=np.int64)
    u_of_op = np.array(op_unit, dtype=np.int64)
    op_w = unit_w[u_of_op] if n_ops else np.zeros(0, dtype=np.int64)
    op_p = np.array(unit_pos, dtype=np.int64)[u_of_op] if n_ops else np.zeros(0, dtype=np.int64)
    n_units = len(unit_worker)
    unit_op_ptr = np.searchsorted(u_of_op, np.arange(n_units + 1)).astype(np.int64)

    pipes = schedule.pipelines
    pidx = {p.name: k for k, p in enumerate(pipes)}
    if len(pipes) == 1:
        only = pipes[0].name
        pipe = np.fromiter((0 if o.pipeline == only else -1 for o in ops), np.int64, n_ops)
    else:
        pipe = np.fromiter((pidx.get(o.pipeline, -1) for o in ops), np.int64, n_ops)
    stage = np.fromiter((o.stage for o in ops), np.int64, n_ops)
    mb = np.fromiter((o.microbatch for o in ops), np.int64, n_ops)
    code = KIND_CODE
    kind = np.fromiter((code[o.kind._value_] for o in ops), np.int64, n_ops)

    nstages = np.array([p.num_stages for p in pipes], dtype=np.int64)
    nmb = np.array([p.microbatches for p in pipes], dtype=np.int64)
    sizes = nstages * nmb * 4
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    total = int(sizes.sum())
    safe_pipe = np.where(pipe >= 0, pipe, 0)
    valid = (pipe >= 0) & (stage < nstages[safe_pipe]) & (mb < nmb[safe_pipe])
    op_id = np.where(valid, base[safe_pipe] + (stage * nmb[safe_pipe] + mb) * 4 + kind, -1)

    unit_of_id = np.full(total, -1, dtype=np.int64)
    vrows = np.nonzero(valid)[0]
    # reversed assignment: the first occurrence of an id wins
    unit_of_id[op_id[vrows[::-1]]] = u_of_op[vrows[::-1]]
    count = np.bincount(op_id[vrows], minlength=total).astype(np.int64)
    return IndexedSchedule(
        schedule=schedule,
        unit_worker=unit_w,
        unit_pos=np.array(unit_pos, dtype=np.int64),
        unit_op_ptr=unit_op_ptr,
        worker_ptr=np.array(ptr, dtype=np.int64),
        op_unit=u_of_op,
        op_worker=op_w,
        op_pos=op_p,
        op_pipe=pipe,
        op_stage=stage,
        op_mb=mb,
        op_kind=kind,
        op_id=op_id,
        ops=tuple(ops),
        base=base,
        total_ids=total,
        unit_of_id=unit_of_id,
        count_of_id=count,
    )


def op_of_id(index: IndexedSchedule, op_id: int) -> Op:
    """The op a dense id stands for."""
    pipes = index.schedule.pipelines
    p = int(np.searchsorted(index.base, op_id, side="right")) - 1
    rest = op_id - int(index.base[p])
    slot, k = divmod(rest, 4)
    s, m = divmod(slot, pipes[p].microbatches)
    return Op(pipes[p].name, s, m, CODE_KIND[k])
