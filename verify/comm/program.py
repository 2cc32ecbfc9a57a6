"""The array form of a lowered schedule: every action classified, every message named.

Action ``a`` is position ``a - worker_ptr[w]`` of worker ``w``'s program (worker-major
numbering). A *message* is one tensor crossing workers: the activation (direction 0) or
the input gradient (direction 1) of micro-batch ``m`` produced by stage ``s`` of a
pipeline. Its dense id is ``msg_base[p] + (s * M_p + m) * 2 + direction``.

How a ``Comm`` names its message (PyTorch's convention, stage = the stage that acts):

=========  ================  ===============  =================
kind       producer stage    consumer stage   peer
=========  ================  ===============  =================
SEND_F s   s                 s + 1            worker of s + 1
RECV_F s   s - 1             s                worker of s - 1
SEND_B s   s                 s - 1            worker of s - 1
RECV_B s   s + 1             s                worker of s + 1
=========  ================  ===============  =================

A comm is *good* when its pipeline, stage, micro-batch and neighbouring stage exist, it
runs on the worker of its own stage, and the two stages are on different workers (stages
adjacent on one worker pass tensors locally, with no message). Good comms travel on a
channel ``(process group, source worker, destination worker)``; the k-th good send of a
channel pairs with its k-th good receive (FIFO), whatever they name.

>>> from verify.core.actions import parse_action as pa
>>> from verify.core.schedule import Pipeline, Schedule
>>> s = Schedule(2, (Pipeline("main", (0, 1), 1),), (
...     (pa("0F0"), pa("0SEND_F0"), pa("0RECV_B0"), pa("0B0")),
...     (pa("1RECV_F0"), pa("1F0"), pa("1B0"), pa("1SEND_B0"))))
>>> ix = index_comms(s)
>>> ix.comm_act.tolist(), ix.comm_partner.tolist(), ix.comm_problem.tolist()
([1, 2, 4, 7], [4, 7, 1, 2], [0, 0, 0, 0])
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import attrgetter
from typing import cast

import numpy as np
import numpy.typing as npt

from verify.comm._fast import kind_codes, paused_gc
from verify.comm.models import Groups, group_names
from verify.core.actions import Action, Comm, CommKind, Op, OpKind, Overlap, StageAction, StageActionKind
from verify.core.schedule import Schedule

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# action codes
COMPUTE, SEND, RECV, STAGE = 0, 1, 2, 3
# stage-action kinds
SA_REDUCE, SA_UNSHARD, SA_RESHARD = 0, 1, 2
# comm kinds, in CommKind order
CK_SEND_F, CK_RECV_F, CK_SEND_B, CK_RECV_B = 0, 1, 2, 3


class Problem(enum.IntEnum):
    """Why a comm action is not good (0 = it is)."""

    NONE = 0
    UNKNOWN_PIPELINE = 1
    UNKNOWN_STAGE = 2
    MICROBATCH = 3
    NO_NEIGHBOUR = 4
    WRONG_WORKER = 5
    LOCAL = 6


_pipeline = attrgetter("pipeline")
_stage = attrgetter("stage")
_mb = attrgetter("microbatch")
_kind = attrgetter("kind")


@dataclass(frozen=True, slots=True, eq=False)
class CommIndex:
    """The array form of a lowered schedule (see the module docstring)."""

    schedule: Schedule
    group_of_pipe: tuple[str, ...]
    worker_ptr: IntArray
    code: IntArray
    """Per action: COMPUTE, SEND, RECV or STAGE."""
    # --- comm rows (one per Comm action, in action order)
    comm_act: IntArray
    comm_kind: IntArray
    comm_pipe: IntArray
    comm_stage: IntArray
    comm_mb: IntArray
    comm_msg: IntArray
    """Message id (-1 when the pipeline, stage, micro-batch or neighbour does not exist)."""
    comm_src: IntArray
    comm_dst: IntArray
    comm_worker: IntArray
    comm_home: IntArray
    """Worker of the comm's own stage (-1 when unknown)."""
    comm_problem: IntArray
    comm_chan: IntArray
    """Channel of a good comm (-1 otherwise)."""
    comm_ordinal: IntArray
    """Index of a good send (receive) among the good sends (receives) of its channel."""
    comm_partner: IntArray
    """Action id of the FIFO partner of a good comm (-1 when the channel has none)."""
    chan_key: tuple[tuple[int, int, int], ...]
    """``(group index, source, destination)`` of each channel."""
    group_list: tuple[str, ...]
    # --- compute op rows (members of an overlap each get a row)
    op_act: IntArray
    op_pipe: IntArray
    op_stage: IntArray
    op_mb: IntArray
    op_kind: IntArray
    op_valid: BoolArray
    ops: tuple[Op, ...]
    # --- stage actions
    sa_act: IntArray
    sa_pipe: IntArray
    sa_stage: IntArray
    sa_kind: IntArray
    # --- geometry
    nstages: IntArray
    nmb: IntArray
    stage_offset: IntArray
    flat_placement: IntArray
    msg_base: IntArray
    total_msgs: int

    @property
    def num_workers(self) -> int:
        return self.schedule.num_workers

    def where(self, act: int) -> tuple[int, int]:
        """``(worker, position)`` of action ``act``."""
        w = int(np.searchsorted(self.worker_ptr, act, side="right")) - 1
        return w, act - int(self.worker_ptr[w])

    def action(self, act: int) -> Action:
        w, i = self.where(act)
        return self.schedule.programs[w][i]

    def home(self, pipe: int, stage: int) -> int:
        """Worker of ``stage`` of pipeline number ``pipe``."""
        return int(self.flat_placement[self.stage_offset[pipe] + stage])


def index_comms(schedule: Schedule, groups: Groups = "shared") -> CommIndex:
    """Classify every action of ``schedule`` and pair its good comms per channel (FIFO)."""
    with paused_gc():
        return _index_comms(schedule, groups)


_OP_KINDS = (OpKind.F, OpKind.B, OpKind.I, OpKind.W)
_COMM_KINDS = (CommKind.SEND_F, CommKind.RECV_F, CommKind.SEND_B, CommKind.RECV_B)


def _index_comms(schedule: Schedule, groups: Groups) -> CommIndex:
    pidx = {p.name: k for k, p in enumerate(schedule.pipelines)}

    ptr = [0]
    for prog in schedule.programs:
        ptr.append(ptr[-1] + len(prog))
    flat: list[Action] = list(chain.from_iterable(schedule.programs))
    n = len(flat)
    tid = np.fromiter(map(id, map(type, flat)), np.int64, n)
    is_op = tid == id(Op)
    is_comm = tid == id(Comm)
    plain = is_op | is_comm
    everything_plain = bool(plain.all())
    rows = flat if everything_plain else list(compress(flat, plain.tolist()))
    plain_act = np.arange(n, dtype=np.int64) if everything_plain else np.nonzero(plain)[0]
    npl = len(rows)
    p_stage = np.fromiter(map(_stage, rows), np.int64, npl)
    p_mb = np.fromiter(map(_mb, rows), np.int64, npl)
    p_kind = kind_codes(map(_kind, rows), npl, (*_OP_KINDS, *_COMM_KINDS))
    names = set(map(_pipeline, rows))
    if len(names) == 1 and next(iter(names)) in pidx:  # one known pipeline: no look-ups
        p_pipe = np.full(npl, pidx[next(iter(names))], dtype=np.int64)
    else:
        p_pipe = np.fromiter(map(pidx.get, map(_pipeline, rows), repeat(-1)), np.int64, npl)
    p_comm = p_kind >= 4

    code_all = np.full(n, STAGE, dtype=np.int64)
    code_all[plain_act[~p_comm]] = COMPUTE
    c_sel = np.nonzero(p_comm)[0]
    c_kind = p_kind[c_sel] - 4
    code_all[plain_act[c_sel]] = np.where((c_kind == CK_SEND_F) | (c_kind == CK_SEND_B), SEND, RECV)
    c_act = plain_act[c_sel]
    c_pipe, c_stage, c_mb = p_pipe[c_sel], p_stage[c_sel], p_mb[c_sel]
    o_sel = np.nonzero(~p_comm)[0]
    o_act, o_pipe, o_stage = plain_act[o_sel], p_pipe[o_sel], p_stage[o_sel]
    o_mb, o_kind = p_mb[o_sel], p_kind[o_sel]
    op_list = cast("list[Op]", list(compress(rows, (~p_comm).tolist())) if len(c_sel) else rows)

    sa_objs: list[StageAction] = []
    sa_acts: list[int] = []
    if not everything_plain:
        extra_ops: list[Op] = []
        extra_act: list[int] = []
        for a_id in np.nonzero(~plain)[0].tolist():
            a = flat[a_id]
            if isinstance(a, Overlap):
                code_all[a_id] = COMPUTE
                extra_ops.extend(a.ops)
                extra_act.extend([a_id] * len(a.ops))
            elif isinstance(a, StageAction):
                sa_objs.append(a)
                sa_acts.append(a_id)
        if extra_ops:
            ne = len(extra_ops)
            o_act = np.concatenate([o_act, np.array(extra_act, dtype=np.int64)])
            o_pipe = np.concatenate([o_pipe, np.fromiter(
                map(pidx.get, map(_pipeline, extra_ops), repeat(-1)), np.int64, ne)])
            o_stage = np.concatenate([o_stage, np.fromiter(map(_stage, extra_ops), np.int64, ne)])
            o_mb = np.concatenate([o_mb, np.fromiter(map(_mb, extra_ops), np.int64, ne)])
            o_kind = np.concatenate([o_kind, kind_codes(map(_kind, extra_ops), ne, _OP_KINDS)])
            order = np.argsort(o_act, kind="stable")
            o_act, o_pipe, o_stage = o_act[order], o_pipe[order], o_stage[order]
            o_mb, o_kind = o_mb[order], o_kind[order]
            allops = [*op_list, *extra_ops]
            op_list = [allops[i] for i in order.tolist()]

    ns = len(sa_objs)
    s_pipe = np.fromiter(map(pidx.get, map(_pipeline, sa_objs), repeat(-1)), np.int64, ns)
    s_stage = np.fromiter(map(_stage, sa_objs), np.int64, ns)
    s_kind = kind_codes(map(_kind, sa_objs), ns,
                        (StageActionKind.REDUCE_GRAD, StageActionKind.UNSHARD, StageActionKind.RESHARD))
    return build_index(
        schedule, groups, np.array(ptr, dtype=np.int64), code_all,
        (c_act, c_kind, c_pipe, c_stage, c_mb),
        (o_act, o_pipe, o_stage, o_mb, o_kind), op_list,
        (np.array(sa_acts, dtype=np.int64), s_pipe, s_stage, s_kind),
    )


Columns = tuple[IntArray, IntArray, IntArray, IntArray, IntArray]


def build_index(
    schedule: Schedule,
    groups: Groups,
    worker_ptr: IntArray,
    code_all: IntArray,
    comm_columns: Columns,
    op_columns: Columns,
    op_list: list[Op],
    sa_columns: tuple[IntArray, IntArray, IntArray, IntArray],
) -> CommIndex:
    """The array form from its columns, all sorted by action: comms ``(act, kind code,
    pipeline index, stage, micro-batch)``, compute ops ``(act, pipeline index, stage,
    micro-batch, kind code)`` with the ops themselves, stage actions ``(act, pipeline
    index, stage, kind code)``; unknown pipelines are -1."""
    pipes = schedule.pipelines
    gnames = group_names(schedule, groups)
    glist = tuple(dict.fromkeys(gnames))
    gid = np.array([glist.index(g) for g in gnames], dtype=np.int64)
    D = schedule.num_workers
    c_act, c_kind, c_pipe, c_stage, c_mb = comm_columns
    o_act, o_pipe, o_stage, o_mb, o_kind = op_columns
    sa_act, s_pipe, s_stage, s_kind = sa_columns
    nstages = np.array([p.num_stages for p in pipes], dtype=np.int64)
    nmb = np.array([p.microbatches for p in pipes], dtype=np.int64)
    stage_offset = np.concatenate([[0], np.cumsum(nstages)[:-1]]).astype(np.int64)
    flat_place = np.array([w for p in pipes for w in p.placement], dtype=np.int64)
    msg_sizes = nstages * nmb * 2
    msg_base = np.concatenate([[0], np.cumsum(msg_sizes)[:-1]]).astype(np.int64)
    total_msgs = int(msg_sizes.sum())

    # ---------------------------------------------------------------- comms
    nc = len(c_act)
    c_send = (c_kind == CK_SEND_F) | (c_kind == CK_SEND_B)
    c_dir = (c_kind >= CK_SEND_B).astype(np.int64)
    # producer and consumer stage
    c_prod = c_stage + np.where(c_kind == CK_RECV_F, -1, 0) + np.where(c_kind == CK_RECV_B, 1, 0)
    c_cons = c_stage + np.where(c_kind == CK_SEND_F, 1, 0) + np.where(c_kind == CK_SEND_B, -1, 0)
    sp = np.where(c_pipe >= 0, c_pipe, 0)
    S = nstages[sp]
    M = nmb[sp]
    problem = np.zeros(nc, dtype=np.int64)
    problem[c_pipe < 0] = Problem.UNKNOWN_PIPELINE
    problem[(problem == 0) & (c_stage >= S)] = Problem.UNKNOWN_STAGE
    problem[(problem == 0) & (c_mb >= M)] = Problem.MICROBATCH
    no_nb = (c_prod < 0) | (c_prod >= S) | (c_cons < 0) | (c_cons >= S)
    problem[(problem == 0) & no_nb] = Problem.NO_NEIGHBOUR
    named = problem == 0  # pipeline, stage, micro-batch and neighbour exist
    off = stage_offset[sp]
    c_worker = np.searchsorted(worker_ptr, c_act, side="right") - 1
    known_stage = (c_pipe >= 0) & (c_stage < S)
    home = np.where(known_stage, flat_place[np.where(known_stage, off + c_stage, 0)], -1)
    src = np.where(named, flat_place[np.where(named, off + c_prod, 0)], -1)
    dst = np.where(named, flat_place[np.where(named, off + c_cons, 0)], -1)
    problem[named & (home != c_worker)] = Problem.WRONG_WORKER
    problem[(problem == 0) & (src == dst)] = Problem.LOCAL
    ok = problem == 0
    msg = np.where(named, msg_base[sp] + (c_prod * M + c_mb) * 2 + c_dir, -1)

    # channels: (group, src, dst) of good comms
    raw_chan = np.where(ok, (gid[sp] * D + src) * D + dst, -1)
    good = np.nonzero(ok)[0]
    chan = np.full(nc, -1, dtype=np.int64)
    ordinal = np.full(nc, -1, dtype=np.int64)
    partner = np.full(nc, -1, dtype=np.int64)
    chan_key: tuple[tuple[int, int, int], ...] = ()
    if len(good):
        keys, inv = np.unique(raw_chan[good], return_inverse=True)
        chan[good] = inv
        chan_key = tuple(
            (int(k // (D * D)), int((k // D) % D), int(k % D)) for k in keys.tolist()
        )
        for is_send in (True, False):
            rows = good[c_send[good] == is_send]
            order = rows[np.lexsort((c_act[rows], chan[rows]))]
            ch = chan[order]
            start = np.searchsorted(ch, ch, side="left")
            ordinal[order] = np.arange(len(order)) - start
        # positional partner: same channel, same ordinal, other direction
        key2 = chan * (nc + 1) + ordinal
        s_rows = good[c_send[good]]
        r_rows = good[~c_send[good]]
        s_sorted = s_rows[np.argsort(key2[s_rows], kind="stable")]
        r_sorted = r_rows[np.argsort(key2[r_rows], kind="stable")]
        if len(s_sorted) and len(r_sorted):
            pos = np.searchsorted(key2[r_sorted], key2[s_sorted])
            pos_c = np.minimum(pos, len(r_sorted) - 1)
            hit = key2[r_sorted][pos_c] == key2[s_sorted]
            partner[s_sorted[hit]] = c_act[r_sorted[pos_c[hit]]]
            partner[r_sorted[pos_c[hit]]] = c_act[s_sorted[hit]]

    # ---------------------------------------------------------------- ops
    osp = np.where(o_pipe >= 0, o_pipe, 0)
    o_valid = (o_pipe >= 0) & (o_stage < nstages[osp]) & (o_mb < nmb[osp])

    return CommIndex(
        schedule=schedule,
        group_of_pipe=gnames,
        worker_ptr=worker_ptr,
        code=code_all,
        comm_act=c_act,
        comm_kind=c_kind,
        comm_pipe=c_pipe,
        comm_stage=c_stage,
        comm_mb=c_mb,
        comm_msg=msg,
        comm_src=src,
        comm_dst=dst,
        comm_worker=c_worker,
        comm_home=home,
        comm_problem=problem,
        comm_chan=chan,
        comm_ordinal=ordinal,
        comm_partner=partner,
        chan_key=chan_key,
        group_list=glist,
        op_act=o_act,
        op_pipe=o_pipe,
        op_stage=o_stage,
        op_mb=o_mb,
        op_kind=o_kind,
        op_valid=o_valid,
        ops=tuple(op_list),
        sa_act=sa_act,
        sa_pipe=s_pipe,
        sa_stage=s_stage,
        sa_kind=s_kind,
        nstages=nstages,
        nmb=nmb,
        stage_offset=stage_offset,
        flat_placement=flat_place,
        msg_base=msg_base,
        total_msgs=total_msgs,
    )
