"""Checks of a lowered schedule that hold under every communication model.

* every send has a receive and every receive a send (unmatched, duplicated, misplaced,
  or naming a stage without neighbour: ``UNMATCHED_SEND`` / ``UNMATCHED_RECV``);
* a receive names a tensor some op produces (``RECV_WITHOUT_PRODUCER``);
* on every channel, sends and receives name their tensors in the same order
  (``FIFO_MISMATCH``: the channel, the k-th send and the k-th receive that would pair);
* a send follows the op that computes its tensor, a compute follows the receive of each
  remote input, and FSDP stages are unsharded when computed on (``COMPUTE_BEFORE_INPUT``);
* every replica of a stage reaches its gradient allreduce exactly once, after its last
  backward; FSDP unshard/reshard alternate (``COLLECTIVE_MISMATCH``).

Each function returns ``(action id, Violation)`` pairs so that the caller can order all
findings by place in the programs.
"""

from __future__ import annotations

import numpy as np

from verify.comm.program import (
    CK_RECV_B,
    CK_RECV_F,
    CK_SEND_B,
    CK_SEND_F,
    SA_REDUCE,
    SA_RESHARD,
    SA_UNSHARD,
    CommIndex,
    IntArray,
    Problem,
)
from verify.core.actions import Action, Comm, CommKind, Op, OpKind, Overlap
from verify.core.results import Violation, ViolationKind

Found = list[tuple[int, Violation]]

_WHAT = ("activation", "input gradient")


def ordinal(n: int) -> str:
    """English ordinal: 1st, 2nd, 3rd, 4th, 11th, 21st.

    >>> [ordinal(k) for k in (1, 2, 3, 4, 11, 12, 13, 21, 102)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '102nd']
    """
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{({1: 'st', 2: 'nd', 3: 'rd'}).get(n % 10, 'th')}"


class _Ctx:
    """Shared look-ups for the message texts."""

    def __init__(self, ix: CommIndex) -> None:
        self.ix = ix
        s = ix.schedule
        self.names = [p.name for p in s.pipelines]
        self.ptr = ix.worker_ptr.tolist()
        self.programs = s.programs
        nst, nmb = ix.nstages, ix.nmb
        self.base4 = np.concatenate([[0], np.cumsum(nst * nmb * 4)[:-1]]).astype(np.int64)
        total = int((nst * nmb * 4).sum())
        v = np.nonzero(ix.op_valid)[0]
        self.op_id = np.full(len(ix.op_act), -1, dtype=np.int64)
        self.op_id[v] = self.base4[ix.op_pipe[v]] + (ix.op_stage[v] * nmb[ix.op_pipe[v]] + ix.op_mb[v]) * 4 \
            + ix.op_kind[v]
        # first row of every present op id
        self.row_of_id = np.full(total, -1, dtype=np.int64)
        self.row_of_id[self.op_id[v][::-1]] = v[::-1]

    def where(self, act: int) -> tuple[int, int]:
        w = int(np.searchsorted(self.ix.worker_ptr, act, side="right")) - 1
        return w, act - self.ptr[w]

    def action(self, act: int) -> Action:
        w, i = self.where(act)
        return self.programs[w][i]

    def at(self, act: int) -> str:
        w, i = self.where(act)
        return f"worker {w}, position {i}"

    def op_row_id(self, pipe: int, stage: int, mb: int, kind: int) -> int:
        ix = self.ix
        return int(self.base4[pipe] + (stage * ix.nmb[pipe] + mb) * 4 + kind)

    def producer_row(self, pipe: int, stage: int, mb: int, direction: int) -> int:
        """Row of the op producing a message (F; for a gradient I if present, else B)."""
        if direction == 0:
            return int(self.row_of_id[self.op_row_id(pipe, stage, mb, 0)])
        r = int(self.row_of_id[self.op_row_id(pipe, stage, mb, 2)])
        return r if r >= 0 else int(self.row_of_id[self.op_row_id(pipe, stage, mb, 1)])

    def producer_name(self, pipe: int, stage: int, mb: int, direction: int) -> str:
        name = self.names[pipe]
        if direction == 0:
            return str(Op(name, stage, mb, OpKind.F))
        return f"{Op(name, stage, mb, OpKind.B)} or {Op(name, stage, mb, OpKind.I)}"

    def op_label(self, row: int) -> str:
        op = self.ix.ops[row]
        unit = self.action(int(self.ix.op_act[row]))
        return f"{op} in {unit}" if isinstance(unit, Overlap) else str(op)


def check_comm_structure(ix: CommIndex, ctx: _Ctx | None = None) -> Found:
    """UNMATCHED_SEND, UNMATCHED_RECV and RECV_WITHOUT_PRODUCER (see the module docstring)."""
    ctx = ctx or _Ctx(ix)
    out: Found = []
    is_send = (ix.comm_kind == CK_SEND_F) | (ix.comm_kind == CK_SEND_B)
    pipes = ix.schedule.pipelines
    # ---- comms that are not good
    for r in np.nonzero(ix.comm_problem != 0)[0].tolist():
        act = int(ix.comm_act[r])
        a = ctx.action(act)
        w, i = ctx.where(act)
        send = bool(is_send[r])
        prob = int(ix.comm_problem[r])
        k, p, s = int(ix.comm_kind[r]), int(ix.comm_pipe[r]), int(ix.comm_stage[r])
        kind = ViolationKind.UNMATCHED_SEND if send else ViolationKind.RECV_WITHOUT_PRODUCER
        if prob == Problem.UNKNOWN_PIPELINE:
            known = ", ".join(sorted(ctx.names))
            text = f"{a} (worker {w}, position {i}): no pipeline named {a.pipeline!r} (known: {known})"  # type: ignore[union-attr]
        elif prob == Problem.UNKNOWN_STAGE:
            text = (f"{a} (worker {w}, position {i}): pipeline {ctx.names[p]!r} has stages "
                    f"0..{pipes[p].num_stages - 1}")
        elif prob == Problem.MICROBATCH:
            text = (f"{a} (worker {w}, position {i}): pipeline {ctx.names[p]!r} has micro-batches "
                    f"0..{pipes[p].microbatches - 1}")
        elif prob == Problem.NO_NEIGHBOUR:
            first = f"stage {s} is the first stage of pipeline {ctx.names[p]!r}"
            last = f"stage {s} is the last stage of pipeline {ctx.names[p]!r}"
            text = f"{a} (worker {w}, position {i}): " + {
                CK_SEND_F: f"{last}, so its activation goes to no other stage",
                CK_SEND_B: f"{first}, so its input gradient goes to no other stage",
                CK_RECV_F: f"{first}, so no stage sends it an activation",
                CK_RECV_B: f"{last}, so no stage sends it a gradient",
            }[k]
        elif prob == Problem.WRONG_WORKER:
            kind = ViolationKind.UNMATCHED_SEND if send else ViolationKind.UNMATCHED_RECV
            text = (f"{a} runs on worker {w} (position {i}), but stage {s} of pipeline "
                    f"{ctx.names[p]!r} is placed on worker {int(ix.comm_home[r])}, so no peer "
                    f"{'receives from' if send else 'sends to'} it here")
        else:  # local
            kind = ViolationKind.UNMATCHED_SEND if send else ViolationKind.UNMATCHED_RECV
            d = 1 if k in (CK_SEND_B, CK_RECV_B) else 0
            ps = s if send else (s - 1 if k == CK_RECV_F else s + 1)
            cs = (s + 1 if k == CK_SEND_F else s - 1) if send else s
            lo, hi = sorted((ps, cs))
            tail = "this send has no receiver" if send else "nothing is sent to this receive"
            text = (f"{a} (worker {w}, position {i}): stages {lo} and {hi} of pipeline "
                    f"{ctx.names[p]!r} are both on worker {w}, which passes the {_WHAT[d]} "
                    f"locally; {tail}")
        out.append((act, Violation(kind, text, (a,), (w,), positions=((w, i),))))

    # ---- good comms, matched by message
    good = np.nonzero(ix.comm_problem == 0)[0]
    if not len(good):
        return out
    gs = good[is_send[good]]
    gr = good[~is_send[good]]
    n_send = np.bincount(ix.comm_msg[gs], minlength=ix.total_msgs)
    n_recv = np.bincount(ix.comm_msg[gr], minlength=ix.total_msgs)
    for rows, send in ((gs, True), (gr, False)):
        order = rows[np.lexsort((ix.comm_act[rows], ix.comm_msg[rows]))]
        msgs = ix.comm_msg[order]
        is_first = np.ones(len(order), dtype=bool)
        is_first[1:] = msgs[1:] != msgs[:-1]
        first_of = np.maximum.accumulate(np.where(is_first, np.arange(len(order)), 0))
        # duplicates: every occurrence after the first
        for j in np.nonzero(~is_first)[0].tolist():
            r = int(order[j])
            r0 = int(order[first_of[j]])
            act, act0 = int(ix.comm_act[r]), int(ix.comm_act[r0])
            a = ctx.action(act)
            w, i = ctx.where(act)
            _, i0 = ctx.where(act0)
            d = int(ix.comm_msg[r]) % 2
            m = int(ix.comm_mb[r])
            verb = "sends" if send else "receives"
            kind = ViolationKind.UNMATCHED_SEND if send else ViolationKind.UNMATCHED_RECV
            out.append((act, Violation(
                kind,
                f"{a} (worker {w}, position {i}) {verb} the {_WHAT[d]} of micro-batch {m} a "
                f"second time (first at position {i0}): the extra message has no partner",
                (ctx.action(act0), a), (w,), positions=((w, i0), (w, i)))))
        # unmatched: the message has no good partner at all
        other = n_recv if send else n_send
        for j in np.nonzero(is_first & (other[msgs] == 0))[0].tolist():
            r = int(order[j])
            act = int(ix.comm_act[r])
            a = ctx.action(act)
            w, i = ctx.where(act)
            p, m = int(ix.comm_pipe[r]), int(ix.comm_mb[r])
            msg = int(ix.comm_msg[r])
            d = msg % 2
            ps = (msg - int(ix.msg_base[p])) // 2 // int(ix.nmb[p])
            cs = ps + 1 if d == 0 else ps - 1
            name = ctx.names[p]
            if send:
                want = Comm(name, cs, m, CommKind.RECV_F if d == 0 else CommKind.RECV_B)
                dst = int(ix.comm_dst[r])
                out.append((act, Violation(
                    ViolationKind.UNMATCHED_SEND,
                    f"{a} (worker {w}, position {i}) sends the {_WHAT[d]} of micro-batch {m} to "
                    f"worker {dst}, which never receives it (no {want} there)",
                    (a,), (w, dst), positions=((w, i),))))
                continue
            src = int(ix.comm_src[r])
            if ctx.producer_row(p, ps, m, d) >= 0:
                want = Comm(name, ps, m, CommKind.SEND_F if d == 0 else CommKind.SEND_B)
                out.append((act, Violation(
                    ViolationKind.UNMATCHED_RECV,
                    f"{a} (worker {w}, position {i}) waits for the {_WHAT[d]} of micro-batch {m} "
                    f"from worker {src}, which never sends it (no {want} there)",
                    (a,), (w, src), positions=((w, i),))))
            else:
                out.append((act, Violation(
                    ViolationKind.RECV_WITHOUT_PRODUCER,
                    f"{a} (worker {w}, position {i}) waits for the {_WHAT[d]} of micro-batch {m} "
                    f"from stage {ps}, but no worker runs {ctx.producer_name(p, ps, m, d)}",
                    (a,), (w, src), positions=((w, i),))))
    return out


def check_fifo(ix: CommIndex, ctx: _Ctx | None = None) -> Found:
    """One FIFO_MISMATCH per channel whose sends and receives name their tensors in
    different orders (comparing the messages that are sent and received, once each)."""
    out: Found = []
    good = np.nonzero(ix.comm_problem == 0)[0]
    if not len(good):
        return out
    ctx = ctx or _Ctx(ix)
    is_send = (ix.comm_kind == CK_SEND_F) | (ix.comm_kind == CK_SEND_B)
    gs, gr = good[is_send[good]], good[~is_send[good]]
    n_send = np.bincount(ix.comm_msg[gs], minlength=ix.total_msgs)
    n_recv = np.bincount(ix.comm_msg[gr], minlength=ix.total_msgs)

    def firsts(rows: IntArray) -> IntArray:
        rows = rows[(n_send[ix.comm_msg[rows]] > 0) & (n_recv[ix.comm_msg[rows]] > 0)]
        order = rows[np.lexsort((ix.comm_act[rows], ix.comm_msg[rows]))]
        keep = np.ones(len(order), dtype=bool)
        keep[1:] = ix.comm_msg[order][1:] != ix.comm_msg[order][:-1]
        kept = order[keep]
        return kept[np.lexsort((ix.comm_act[kept], ix.comm_chan[kept]))]

    s_rows, r_rows = firsts(gs), firsts(gr)
    bad = np.nonzero(ix.comm_msg[s_rows] != ix.comm_msg[r_rows])[0]
    if not len(bad):
        return out
    chans = ix.comm_chan[s_rows[bad]]
    clean_chan = np.bincount(ix.comm_chan[good], minlength=len(ix.chan_key)) == np.bincount(
        ix.comm_chan[np.concatenate([s_rows, r_rows])], minlength=len(ix.chan_key))
    several_groups = len(ix.group_list) > 1
    starts = np.searchsorted(ix.comm_chan[s_rows], ix.comm_chan[s_rows], side="left")
    for c in np.unique(chans).tolist():
        mism = bad[chans == c]
        j = int(mism[0])
        sr, rr = int(s_rows[j]), int(r_rows[j])
        k = j - int(starts[j]) + 1
        g, a_w, b_w = ix.chan_key[c]
        sact, ract = int(ix.comm_act[sr]), int(ix.comm_act[rr])
        send, recv = ctx.action(sact), ctx.action(ract)
        _, si = ctx.where(sact)
        _, ri = ctx.where(ract)
        d = int(ix.comm_msg[sr]) % 2
        group = f" (group {ix.group_list[g]!r})" if several_groups else ""
        note = "" if clean_chan[c] else " (counting only tensors sent and received once)"
        more = f"; {len(mism)} positions on this channel disagree" if len(mism) > 1 else ""
        out.append((ract, Violation(
            ViolationKind.FIFO_MISMATCH,
            f"FIFO mismatch on channel worker {a_w} -> worker {b_w}{group}: the {ordinal(k)} send "
            f"is {send} (worker {a_w}, position {si}) but the {ordinal(k)} receive is {recv} "
            f"(worker {b_w}, position {ri}){note}; paired first-in first-out, {recv} would get the "
            f"{_WHAT[d]} {send} carries{more}",
            (send, recv), (a_w, b_w), positions=((a_w, si), (b_w, ri)))))
    return out


def check_data_order(ix: CommIndex, ctx: _Ctx | None = None) -> Found:
    """COMPUTE_BEFORE_INPUT: a send before the op computing its tensor, a compute before
    the receive of a remote input."""
    out: Found = []
    ctx = ctx or _Ctx(ix)
    is_send = (ix.comm_kind == CK_SEND_F) | (ix.comm_kind == CK_SEND_B)
    good = ix.comm_problem == 0
    # ---- sends after their producer
    gs = np.nonzero(good & is_send)[0]
    if len(gs):
        d = ix.comm_msg[gs] % 2
        p, s, m = ix.comm_pipe[gs], ix.comm_stage[gs], ix.comm_mb[gs]
        fid = ctx.base4[p] + (s * ix.nmb[p] + m) * 4
        row_f = ctx.row_of_id[fid]
        row_i = ctx.row_of_id[fid + 2]
        row_b = ctx.row_of_id[fid + 1]
        prow = np.where(d == 0, row_f, np.where(row_i >= 0, row_i, row_b))
        pact = np.where(prow >= 0, ix.op_act[np.maximum(prow, 0)], -1)
        sw = ix.comm_worker[gs]
        pw = np.where(pact >= 0, np.searchsorted(ix.worker_ptr, pact, side="right") - 1, -1)
        late = np.nonzero((pact < 0) | (pw != sw) | (pact > ix.comm_act[gs]))[0]
        for j in late.tolist():
            r = int(gs[j])
            act = int(ix.comm_act[r])
            a = ctx.action(act)
            w, i = ctx.where(act)
            dd, mb = int(d[j]), int(m[j])
            if pact[j] >= 0 and pw[j] == w:
                op = ix.ops[int(prow[j])]
                _, oi = ctx.where(int(pact[j]))
                text = (f"{a} (worker {w}, position {i}) sends the {_WHAT[dd]} of micro-batch {mb} "
                        f"before {op} computes it (position {oi})")
                ops: tuple[Action, ...] = (a, ctx.action(int(pact[j])))
                pos: tuple[tuple[int, int], ...] = ((w, i), (w, oi))
            else:
                name = ctx.producer_name(int(p[j]), int(s[j]), mb, dd)
                text = (f"{a} (worker {w}, position {i}) sends the {_WHAT[dd]} of micro-batch {mb}, "
                        f"but worker {w} never computes it (no {name})")
                ops, pos = (a,), ((w, i),)
            out.append((act, Violation(ViolationKind.COMPUTE_BEFORE_INPUT, text, ops, (w,),
                                       positions=pos)))
    # ---- computes after the receive of each remote input
    rows = np.nonzero(ix.op_valid)[0]
    if not len(rows):
        return out
    p, s, m, k = ix.op_pipe[rows], ix.op_stage[rows], ix.op_mb[rows], ix.op_kind[rows]
    S = ix.nstages[p]
    off = ix.stage_offset[p]
    home = ix.flat_placement[off + s]
    ow = np.searchsorted(ix.worker_ptr, ix.op_act[rows], side="right") - 1
    is_f = (k == 0) & (s > 0)
    is_g = ((k == 1) | (k == 2)) & (s + 1 < S)
    ps = np.where(is_f, s - 1, np.where(is_g, s + 1, s))
    src = ix.flat_placement[off + np.minimum(ps, S - 1)]
    need = (is_f | is_g) & (src != home) & (home == ow)
    rows, p, s, m, ps, src, ow = rows[need], p[need], s[need], m[need], ps[need], src[need], ow[need]
    d = np.where(ix.op_kind[rows] == 0, 0, 1)
    msg = ix.msg_base[p] + (ps * ix.nmb[p] + m) * 2 + d
    gr = np.nonzero(good & ~is_send)[0]
    recv_act = np.full(ix.total_msgs, -1, dtype=np.int64)
    if len(gr):
        recv_act[ix.comm_msg[gr][::-1]] = ix.comm_act[gr][::-1]
    ract = recv_act[msg]
    late = np.nonzero((ract < 0) | (ract > ix.op_act[rows]))[0]
    for j in late.tolist():
        r = int(rows[j])
        act = int(ix.op_act[r])
        w, i = ctx.where(act)
        dd, mb = int(d[j]), int(m[j])
        name = ctx.names[int(p[j])]
        want = Comm(name, int(s[j]), mb, CommKind.RECV_F if dd == 0 else CommKind.RECV_B)
        head = (f"{ctx.op_label(r)} (worker {w}, position {i}) needs the {_WHAT[dd]} of micro-batch "
                f"{mb} from worker {int(src[j])}, but ")
        unit = ctx.action(act)
        if ract[j] >= 0:
            _, ri = ctx.where(int(ract[j]))
            text = head + f"{want} comes later (position {ri})"
            ops2: tuple[Action, ...] = (unit, ctx.action(int(ract[j])))
            pos2: tuple[tuple[int, int], ...] = ((w, i), (w, ri))
        else:
            text = head + f"worker {w} never receives it (no {want})"
            ops2, pos2 = (unit,), ((w, i),)
        out.append((act, Violation(ViolationKind.COMPUTE_BEFORE_INPUT, text, ops2, (w, int(src[j])),
                                   positions=pos2)))
    return out


def check_stage_actions(ix: CommIndex, ctx: _Ctx | None = None) -> Found:
    """COLLECTIVE_MISMATCH for gradient allreduces and FSDP unshard/reshard, and
    COMPUTE_BEFORE_INPUT for computing on a sharded stage."""
    out: Found = []
    if not len(ix.sa_act):
        return out
    ctx = ctx or _Ctx(ix)
    pipes = ix.schedule.pipelines
    sw = np.searchsorted(ix.worker_ptr, ix.sa_act, side="right") - 1
    good = np.zeros(len(ix.sa_act), dtype=bool)
    for r in range(len(ix.sa_act)):
        act, p, s = int(ix.sa_act[r]), int(ix.sa_pipe[r]), int(ix.sa_stage[r])
        a = ctx.action(act)
        w, i = ctx.where(act)
        if p < 0:
            known = ", ".join(sorted(ctx.names))
            text = f"{a} (worker {w}, position {i}): no pipeline named {a.pipeline!r} (known: {known})"  # type: ignore[union-attr]
        elif s >= pipes[p].num_stages:
            text = (f"{a} (worker {w}, position {i}): pipeline {ctx.names[p]!r} has stages "
                    f"0..{pipes[p].num_stages - 1}")
        elif ix.home(p, s) != w:
            text = (f"{a} runs on worker {w} (position {i}), but stage {s} of pipeline "
                    f"{ctx.names[p]!r} is placed on worker {ix.home(p, s)}")
        else:
            good[r] = True
            continue
        out.append((act, Violation(ViolationKind.COLLECTIVE_MISMATCH, text, (a,), (w,),
                                   positions=((w, i),))))
    out.extend(_check_reduce(ix, ctx, good & (ix.sa_kind == SA_REDUCE), sw))
    out.extend(_check_fsdp(ix, ctx, good & (ix.sa_kind != SA_REDUCE)))
    return out


def _check_reduce(ix: CommIndex, ctx: _Ctx, mask: np.ndarray, sw: IntArray) -> Found:
    out: Found = []
    rows = np.nonzero(mask)[0].tolist()
    if not rows:
        return out
    pipes = ix.schedule.pipelines
    by_replica: dict[tuple[int, int], list[int]] = {}
    for r in rows:
        by_replica.setdefault((int(ix.sa_pipe[r]), int(ix.sa_stage[r])), []).append(int(ix.sa_act[r]))
    stages = sorted({s for _, s in by_replica})
    for s in stages:
        replicas = [k for k, p in enumerate(pipes) if p.num_stages > s]
        present = [(k, by_replica[(k, s)]) for k in replicas if (k, s) in by_replica]
        witness = present[0][1][0]
        for k in replicas:
            acts = by_replica.get((k, s), [])
            if not acts:
                h = ix.home(k, s)
                wa = ctx.action(witness)
                ww, wi = ctx.where(witness)
                last_acts = [x for x in ix.op_act[(ix.op_pipe == k) & (ix.op_stage == s)].tolist()]
                anchor = max(last_acts) if last_acts else int(ix.worker_ptr[h + 1]) - 1
                anchor = max(anchor, int(ix.worker_ptr[h]))
                out.append((anchor, Violation(
                    ViolationKind.COLLECTIVE_MISMATCH,
                    f"the gradient allreduce of stage {s} never runs on replica "
                    f"{ctx.names[k]}:{s} (worker {h}), while {wa} (worker {ww}, position {wi}) "
                    "waits for every replica",
                    (wa,), (h, ww), positions=((ww, wi),))))
            for extra in acts[1:]:
                a = ctx.action(extra)
                w, i = ctx.where(extra)
                _, i0 = ctx.where(acts[0])
                out.append((extra, Violation(
                    ViolationKind.COLLECTIVE_MISMATCH,
                    f"{a} (worker {w}, position {i}) reaches the gradient allreduce of stage {s} "
                    f"a second time (first at position {i0}); the other replicas reach it once",
                    (ctx.action(acts[0]), a), (w,), positions=((w, i0), (w, i)))))
            if acts:
                # the reduction must follow the last backward (B or W) of the replica
                sel = (ix.op_pipe == k) & (ix.op_stage == s) & ix.op_valid & (
                    (ix.op_kind == 1) | (ix.op_kind == 3))
                bw = np.nonzero(sel)[0]
                if len(bw):
                    last_row = int(bw[np.argmax(ix.op_act[bw])])
                    last_act = int(ix.op_act[last_row])
                    first_act = acts[0]
                    w, i = ctx.where(first_act)
                    lw, li = ctx.where(last_act)
                    if lw == w and last_act > first_act:
                        a = ctx.action(first_act)
                        out.append((first_act, Violation(
                            ViolationKind.COLLECTIVE_MISMATCH,
                            f"{a} (worker {w}, position {i}) reduces the gradients of stage {s} "
                            f"before its last backward {ix.ops[last_row]} (position {li}): that "
                            "micro-batch's gradient would be left out",
                            (a, ctx.action(last_act)), (w,), positions=((w, i), (w, li)))))
    return out


def _check_fsdp(ix: CommIndex, ctx: _Ctx, mask: np.ndarray) -> Found:
    out: Found = []
    rows = np.nonzero(mask)[0].tolist()
    if not rows:
        return out
    events: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
    for r in rows:
        key = (int(ix.sa_pipe[r]), int(ix.sa_stage[r]))
        events.setdefault(key, []).append((int(ix.sa_act[r]), 0, int(ix.sa_kind[r])))
    for (p, s), evs in events.items():
        h = ix.home(p, s)
        sel = np.nonzero(ix.op_valid & (ix.op_pipe == p) & (ix.op_stage == s))[0]
        for r in sel.tolist():
            act = int(ix.op_act[r])
            if ctx.where(act)[0] == h:
                evs.append((act, 1, r))
        evs.sort()
        unsharded_at = -1
        reported = False
        for act, is_op, val in evs:
            w, i = ctx.where(act)
            if is_op:
                if unsharded_at < 0 and not reported:
                    reported = True
                    out.append((act, Violation(
                        ViolationKind.COMPUTE_BEFORE_INPUT,
                        f"{ctx.op_label(val)} (worker {w}, position {i}) computes on stage {s}, "
                        "whose weights are sharded there (UNSHARD it first)",
                        (ctx.action(act),), (w,), positions=((w, i),))))
                continue
            a = ctx.action(act)
            if val == SA_UNSHARD:
                if unsharded_at >= 0:
                    _, i0 = ctx.where(unsharded_at)
                    out.append((act, Violation(
                        ViolationKind.COLLECTIVE_MISMATCH,
                        f"{a} (worker {w}, position {i}) unshards stage {s} again (already "
                        f"unsharded at position {i0})",
                        (ctx.action(unsharded_at), a), (w,), positions=((w, i0), (w, i)))))
                else:
                    unsharded_at = act
                    reported = False
            elif val == SA_RESHARD:
                if unsharded_at < 0:
                    out.append((act, Violation(
                        ViolationKind.COLLECTIVE_MISMATCH,
                        f"{a} (worker {w}, position {i}) reshards stage {s}, which is not unsharded",
                        (a,), (w,), positions=((w, i),))))
                unsharded_at = -1
    return out


def static_checks(ix: CommIndex) -> list[Violation]:
    """Every model-independent finding, ordered by place in the programs."""
    ctx = _Ctx(ix)
    found = (check_comm_structure(ix, ctx) + check_fifo(ix, ctx) + check_data_order(ix, ctx)
             + check_stage_actions(ix, ctx))
    found.sort(key=lambda t: t[0])
    return [v for _, v in found]

