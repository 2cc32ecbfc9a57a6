"""Execution of lowered programs under a communication model (linear time).

Only *blocking* actions matter to progress: good sends and receives, gradient allreduces
of replicated stages, and (``batched``) runs of consecutive comm actions, which form one
group. Compute units take their duration from the cost model and never wait (their
inputs were received earlier in the program, which the static checks verify);
``UNSHARD``/``RESHARD``, a ``REDUCE_GRAD`` without other replicas and comm actions that
are not good take no time and never wait.

Each worker runs until it blocks; a worker is resumed when the event it waits for happens,
so every blocking action is visited a constant number of times. Workers still blocked at
the end are stuck: :func:`waits` gives, for each, the workers it waits for (the
wait-for graph), from which :mod:`verify.comm.deadlock` extracts the cycles.

Times: a rendezvous pair completes at ``max(posted) + latency``; a buffered send at the
time the channel has room, its receive at ``send + latency`` (or when posted, if later);
a batch when the last of its pairs completes (``max(posted) + latency`` each); a
collective at the last arrival plus the cost model's latency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from verify.comm.models import CommModel, ModelKind
from verify.comm.program import CK_SEND_B, CK_SEND_F, SA_REDUCE, CommIndex, IntArray
from verify.core.costs import CostModel

FloatArray = npt.NDArray[np.float64]

P2P_SEND, P2P_RECV, COLLECTIVE, BATCH = 1, 2, 3, 4


def action_durations(ix: CommIndex, costs: CostModel | None) -> FloatArray:
    """Duration of every action: compute units from ``costs`` (an ``Overlap`` lasts
    ``costs.overlap``, or the sum of its ops), everything else 0; all 0 without costs."""
    n = len(ix.code)
    if costs is None or not len(ix.op_act):
        return np.zeros(n, dtype=np.float64)
    per_op = np.zeros(len(ix.op_act), dtype=np.float64)
    for s in np.unique(ix.op_stage).tolist():
        row = np.array(costs.durations(int(s)), dtype=np.float64)
        sel = ix.op_stage == s
        per_op[sel] = row[ix.op_kind[sel]]
    dur = np.bincount(ix.op_act, weights=per_op, minlength=n).astype(np.float64)
    if costs.overlap is not None:
        multi = np.bincount(ix.op_act, minlength=n) > 1
        dur[multi] = float(costs.overlap)
    return dur


@dataclass(frozen=True, slots=True, eq=False)
class SyncProgram:
    """The blocking actions ("syncs") of every worker, in program order."""

    ix: CommIndex
    model: CommModel
    seq_ptr: list[int]
    first_act: IntArray
    last_act: IntArray
    kind: IntArray
    owner: list[int]
    partner: list[int]
    """p2p: the FIFO partner sync (-1: none)."""
    gate: list[int]
    """buffered send: the receive that frees room for it (-1: room at once, -2: never)."""
    gated: list[int]
    """buffered receive: the send it frees room for (-1: none)."""
    lat: list[float]
    coll: IntArray
    """collective group of a sync (-1: not a collective)."""
    coll_members: list[list[int]]
    coll_size: list[int]
    coll_lat: list[float]
    batch_ops: list[list[tuple[int, float, bool, int]]]
    """batched: per group, ``(partner group, latency, is receive, action)`` of its ops."""
    pre: list[float]
    """Compute time between the previous sync of the worker (or its start) and this one."""
    tail: list[float]
    """Compute time after the last sync of each worker."""


def _latencies(ix: CommIndex, rows: IntArray, costs: CostModel | None) -> list[float]:
    if costs is None:
        return [0.0] * len(rows)
    if costs.links:
        return [costs.latency_between(int(a), int(b))
                for a, b in zip(ix.comm_src[rows].tolist(), ix.comm_dst[rows].tolist())]
    return [float(costs.latency)] * len(rows)


def build_syncs(ix: CommIndex, model: CommModel, costs: CostModel | None = None) -> SyncProgram:
    """The sync program of ``ix`` under ``model`` (durations and latency from ``costs``;
    without costs every duration and latency is 0, enough to decide deadlocks)."""
    D = ix.num_workers
    good = np.nonzero(ix.comm_problem == 0)[0]
    c_act = ix.comm_act[good]
    is_send = (ix.comm_kind[good] == CK_SEND_F) | (ix.comm_kind[good] == CK_SEND_B)
    # collective members: REDUCE_GRAD of a replicated stage on its own worker
    replicas: dict[int, int] = {}
    for pipe in ix.schedule.pipelines:
        for s in range(pipe.num_stages):
            replicas[s] = replicas.get(s, 0) + 1
    coll_rows: list[int] = []
    sa_w = np.searchsorted(ix.worker_ptr, ix.sa_act, side="right") - 1
    for r in np.nonzero(ix.sa_kind == SA_REDUCE)[0].tolist():
        p, s = int(ix.sa_pipe[r]), int(ix.sa_stage[r])
        if p >= 0 and s < int(ix.nstages[p]) and replicas.get(s, 0) > 1 and ix.home(p, s) == sa_w[r]:
            coll_rows.append(r)
    coll_act = ix.sa_act[coll_rows] if coll_rows else np.zeros(0, np.int64)
    # instance k of a replica's allreduce meets instance k of the other replicas
    seen: dict[tuple[int, int], int] = {}
    coll_key: list[tuple[int, int]] = []
    for r in coll_rows:
        rep = (int(ix.sa_pipe[r]), int(ix.sa_stage[r]))
        k = seen.get(rep, 0)
        seen[rep] = k + 1
        coll_key.append((rep[1], k))
    keys = sorted(set(coll_key))
    key_id = {k: g for g, k in enumerate(keys)}
    coll_size = [replicas[s] for s, _ in keys]
    coll_lat = [float(costs.latency) if costs is not None else 0.0 for _ in keys]

    batched = model.kind is ModelKind.BATCHED

    # units: (first act, last act, kind, index into good/coll rows)
    n_comm, n_coll = len(good), len(coll_rows)
    acts = np.concatenate([c_act, coll_act])
    kinds = np.concatenate([np.where(is_send, P2P_SEND, P2P_RECV),
                            np.full(n_coll, COLLECTIVE, np.int64)])
    ref = np.concatenate([np.arange(n_comm), np.arange(n_coll)]).astype(np.int64)
    order = np.argsort(acts, kind="stable")
    acts, kinds, ref = acts[order], kinds[order], ref[order]
    owner_a = np.searchsorted(ix.worker_ptr, acts, side="right") - 1
    if batched and len(acts):
        # consecutive good comms with only comm actions between them share a group
        noncomm = np.concatenate([[0], np.cumsum((ix.code == 0) | (ix.code == 3))])
        is_p2p = kinds != COLLECTIVE
        same = np.zeros(len(acts), dtype=bool)
        same[1:] = (is_p2p[1:] & is_p2p[:-1] & (owner_a[1:] == owner_a[:-1])
                    & (noncomm[acts[1:]] == noncomm[acts[:-1]]))
        unit_of = np.cumsum(~same) - 1
    else:
        unit_of = np.arange(len(acts))
    n_units = int(unit_of[-1]) + 1 if len(acts) else 0
    starts_idx = np.nonzero(np.r_[True, unit_of[1:] != unit_of[:-1]])[0] if len(acts) else unit_of
    ends_idx = np.r_[starts_idx[1:], len(acts)] - 1 if len(acts) else unit_of
    first_act = acts[starts_idx]
    last_act = acts[ends_idx]
    owner = owner_a[starts_idx]
    ukind = np.where(kinds[starts_idx] == COLLECTIVE, COLLECTIVE,
                     BATCH if batched else kinds[starts_idx])
    # partner (as a unit) of every good comm; units are sorted by first action
    K = n_units
    sel = kinds != COLLECTIVE
    comm_unit = np.full(n_comm, -1, np.int64)
    comm_unit[ref[sel]] = unit_of[sel]
    partner_act = ix.comm_partner[good]
    if n_comm:
        pos = np.minimum(np.searchsorted(acts, partner_act), max(len(acts) - 1, 0))
        partner_unit = np.where((partner_act >= 0) & (acts[pos] == partner_act), unit_of[pos], -1)
    else:
        partner_unit = np.zeros(0, np.int64)
    lat_comm = _latencies(ix, good, costs) if costs is not None else [0.0] * n_comm

    coll = np.full(K, -1, np.int64)
    members: list[list[int]] = [[] for _ in keys]
    if n_coll:
        for i in np.nonzero(kinds == COLLECTIVE)[0].tolist():
            u = int(unit_of[i])
            g = key_id[coll_key[int(ref[i])]]
            coll[u] = g
            members[g].append(u)
    gate = [-1] * K
    gated = [-1] * K
    batch_ops: list[list[tuple[int, float, bool, int]]] = []
    if batched:
        batch_ops = [[] for _ in range(K)]
        for u, pu, lt, snd, a in zip(comm_unit.tolist(), partner_unit.tolist(), lat_comm,
                                      is_send.tolist(), c_act.tolist()):
            batch_ops[u].append((pu, lt, not snd, a))
        partner = [-1] * K
        lat = [0.0] * K
    else:
        partner_a = np.full(K, -1, np.int64)
        partner_a[comm_unit] = partner_unit
        partner = partner_a.tolist()
        if costs is None:
            lat = [0.0] * K
        else:
            lat_a = np.zeros(K)
            lat_a[comm_unit] = lat_comm
            lat = lat_a.tolist()
        if model.kind is ModelKind.BUFFERED and model.capacity is not None and n_comm:
            # send k of a channel waits for its receive k - capacity
            cap = model.capacity
            key = ix.comm_chan[good] * (len(good) + 1) + ix.comm_ordinal[good]
            rsel = np.nonzero(~is_send)[0]
            rorder = rsel[np.argsort(key[rsel])]
            rkeys = key[rorder]
            ssel = np.nonzero(is_send & (ix.comm_ordinal[good] >= cap))[0]
            want = key[ssel] - cap
            gate_units = np.full(len(ssel), -2, np.int64)
            if len(rkeys):
                at = np.minimum(np.searchsorted(rkeys, want), len(rkeys) - 1)
                found = rkeys[at] == want
                gate_units[found] = comm_unit[rorder[at[found]]]
            gate_a = np.full(K, -1, np.int64)
            gate_a[comm_unit[ssel]] = gate_units
            gated_a = np.full(K, -1, np.int64)
            ok = gate_units >= 0
            gated_a[gate_units[ok]] = comm_unit[ssel[ok]]
            gate, gated = gate_a.tolist(), gated_a.tolist()

    # compute time before each unit and after the last
    seq_ptr = np.searchsorted(owner, np.arange(D + 1)).tolist() if K else [0] * (D + 1)
    if costs is None:
        return SyncProgram(
            ix=ix, model=model, seq_ptr=seq_ptr, first_act=first_act,
            last_act=last_act, kind=ukind, owner=owner.tolist(), partner=partner,
            gate=gate, gated=gated, lat=lat, coll_members=members, coll_size=coll_size,
            coll_lat=coll_lat, batch_ops=batch_ops, pre=[0.0] * K, tail=[0.0] * D,
            coll=coll,
        )
    dur = action_durations(ix, costs)
    cum = np.concatenate([[0.0], np.cumsum(dur)])  # cum[a] = total duration before action a
    prev_last = np.r_[-1, last_act[:-1]] if K else last_act
    new_worker = np.r_[True, owner[1:] != owner[:-1]] if K else np.zeros(0, bool)
    base = np.where(new_worker, ix.worker_ptr[owner] if K else 0, prev_last + 1)
    pre = (cum[first_act] - cum[base]).tolist() if K else []
    tail = []
    for w in range(D):
        end_w = int(ix.worker_ptr[w + 1])
        lo, hi = seq_ptr[w], seq_ptr[w + 1]
        after = int(last_act[hi - 1]) + 1 if hi > lo else int(ix.worker_ptr[w])
        tail.append(float(cum[end_w] - cum[after]))
    return SyncProgram(
        ix=ix, model=model, seq_ptr=seq_ptr, first_act=first_act,
        last_act=last_act, kind=ukind, owner=owner.tolist(), partner=partner,
        gate=gate, gated=gated, lat=lat, coll_members=members, coll_size=coll_size,
        coll_lat=coll_lat, batch_ops=batch_ops, pre=pre, tail=tail, coll=coll,
    )


@dataclass(frozen=True, slots=True, eq=False)
class Run:
    """The outcome of executing a sync program: post and end time of every sync, and
    where each worker stopped (``stuck[w]`` is a sync id, or -1 when it finished)."""

    syncs: SyncProgram
    post: list[float]
    end: list[float]
    posted: bytearray
    done: bytearray
    data_end: list[float]
    """batched: when the last receive of the group completed (else the end)."""
    stuck: list[int]
    clock: list[float]
    """Per worker: the time its last sync ended (finished workers), or it blocked."""

    @property
    def complete(self) -> bool:
        return all(k < 0 for k in self.stuck)

    def finish(self) -> list[float]:
        """Per worker: the end of its program (sync time plus trailing compute)."""
        return [c + t for c, t in zip(self.clock, self.syncs.tail)]


def execute(sp: SyncProgram, *, timed: bool = True) -> Run:
    """Run ``sp`` to completion or until every unfinished worker is blocked.

    ``timed=False`` only decides where the workers stop (all times are 0); for the
    rendezvous model without collectives it takes a leaner path.
    """
    if (not timed and sp.model.kind is ModelKind.RENDEZVOUS and not sp.coll_size):
        return _progress_rendezvous(sp)
    K = len(sp.kind)
    D = sp.ix.num_workers
    post = [0.0] * K
    end = [0.0] * K
    data_end = [0.0] * K
    posted = bytearray(K)
    done = bytearray(K)
    ptr = list(sp.seq_ptr[:-1])
    stop = sp.seq_ptr[1:]
    clock = [0.0] * D
    kind, coll = sp.kind.tolist(), sp.coll.tolist()
    owner, partner, lat, pre = sp.owner, sp.partner, sp.lat, sp.pre
    gate, gated = sp.gate, sp.gated
    members, size, clat = sp.coll_members, sp.coll_size, sp.coll_lat
    arrived = [0] * len(size)
    gmax = [0.0] * len(size)
    batched = sp.model.kind is ModelKind.BATCHED
    buffered = sp.model.kind is ModelKind.BUFFERED
    ops = sp.batch_ops
    need = [len(o) for o in ops] if batched else []
    stack = list(range(D - 1, -1, -1))
    push = stack.append
    while stack:
        w = stack.pop()
        k, e, t = ptr[w], stop[w], clock[w]
        while k < e:
            if done[k]:
                t = end[k]
                k += 1
                continue
            g = coll[k]
            if not posted[k]:
                t += pre[k]
                post[k] = t
                posted[k] = 1
                if g >= 0:
                    arrived[g] += 1
                    if t > gmax[g]:
                        gmax[g] = t
                    if arrived[g] == size[g]:
                        T = gmax[g] + clat[g]
                        for x in members[g]:
                            end[x] = T
                            data_end[x] = T
                            done[x] = 1
                            if x != k:
                                push(owner[x])
                        t = T
                        k += 1
                        continue
                    break
                if batched:
                    gm = t
                    dm = t
                    for h, lt, is_recv, _ in ops[k]:
                        if h >= 0 and posted[h]:
                            ph = post[h]
                            T = (t if t > ph else ph) + lt
                            if gm < T:
                                gm = T
                            if is_recv and dm < T:
                                dm = T
                            if end[h] < T:
                                end[h] = T
                            if not is_recv and data_end[h] < T:
                                data_end[h] = T
                            need[k] -= 1
                            need[h] -= 1
                            if need[h] == 0:
                                done[h] = 1
                                push(owner[h])
                    end[k] = gm
                    data_end[k] = dm
                    if need[k] == 0:
                        done[k] = 1
                        t = gm
                        k += 1
                        continue
                    break
            elif g >= 0 or batched:
                break
            if buffered:
                if kind[k] == P2P_SEND:
                    gt = gate[k]
                    if gt == -1:
                        T = t
                    elif gt >= 0 and done[gt]:
                        T = end[gt] if end[gt] > t else t
                    else:
                        break
                    end[k] = T
                    done[k] = 1
                    q = partner[k]
                    if q >= 0 and posted[q] and not done[q]:
                        push(owner[q])
                else:
                    q = partner[k]
                    if q < 0 or not done[q]:
                        break
                    T = end[q] + lat[k]
                    if t > T:
                        T = t
                    end[k] = T
                    done[k] = 1
                    gs = gated[k]
                    if gs >= 0 and posted[gs] and not done[gs]:
                        push(owner[gs])
                t = T
                k += 1
                continue
            # rendezvous
            q = partner[k]
            if q >= 0 and posted[q]:
                pq = post[q]
                T = (t if t > pq else pq) + lat[k]
                end[k] = T
                end[q] = T
                done[k] = 1
                done[q] = 1
                t = T
                k += 1
                push(owner[q])
                continue
            break
        ptr[w] = k
        clock[w] = t
    if batched:
        for k in range(K):
            if done[k] and kind[k] == BATCH and data_end[k] < post[k]:
                data_end[k] = post[k]
    stuck = [ptr[w] if ptr[w] < stop[w] else -1 for w in range(D)]
    return Run(sp, post, end, posted, done, data_end, stuck, clock)


def _progress_rendezvous(sp: SyncProgram) -> Run:
    """Where every worker stops under rendezvous (pairs only, no times): a sync is
    0 (not reached), 1 (reached, waiting for its partner) or 2 (done)."""
    K = len(sp.kind)
    D = sp.ix.num_workers
    state = bytearray(K)
    ptr = list(sp.seq_ptr[:-1])
    stop = sp.seq_ptr[1:]
    partner, owner = sp.partner, sp.owner
    stack = list(range(D - 1, -1, -1))
    push = stack.append
    while stack:
        w = stack.pop()
        k, e = ptr[w], stop[w]
        while k < e:
            if state[k] == 2:
                k += 1
                continue
            q = partner[k]
            if q >= 0 and state[q] == 1:
                state[k] = 2
                state[q] = 2
                k += 1
                push(owner[q])
                continue
            state[k] = 1
            break
        ptr[w] = k
    st = np.frombuffer(bytes(state), dtype=np.uint8)
    done = bytearray((st == 2).astype(np.uint8).tobytes())
    posted = bytearray((st > 0).astype(np.uint8).tobytes())
    zeros = [0.0] * K
    stuck = [ptr[w] if ptr[w] < stop[w] else -1 for w in range(D)]
    return Run(sp, zeros, zeros, posted, done, zeros, stuck, [0.0] * D)


def waits(run: Run) -> dict[int, list[tuple[int, int]]]:
    """The wait-for graph of a stuck run: for every blocked worker, the ``(worker it
    waits for, action it waits in)`` pairs (an empty list: it waits for a partner that
    does not exist, which the static checks report)."""
    sp = run.syncs
    out: dict[int, list[tuple[int, int]]] = {}
    for w, k in enumerate(run.stuck):
        if k < 0:
            continue
        edges: list[tuple[int, int]] = []
        act = int(sp.first_act[k])
        g = int(sp.coll[k])
        if g >= 0:
            for x in sp.coll_members[g]:
                if not run.posted[x]:
                    edges.append((sp.owner[x], act))
        elif sp.kind[k] == BATCH:
            for h, _, _, a in sp.batch_ops[k]:
                if h >= 0 and not run.posted[h]:
                    edges.append((sp.owner[h], a))
        elif sp.model.kind is ModelKind.BUFFERED and sp.kind[k] == P2P_SEND:
            gt = sp.gate[k]
            if gt >= 0:
                edges.append((sp.owner[gt], act))
        else:
            q = sp.partner[k]
            if q >= 0:
                edges.append((sp.owner[q], act))
        seen: set[int] = set()
        uniq = []
        for v, a in edges:
            if v not in seen:
                seen.add(v)
                uniq.append((v, a))
        out[w] = uniq
    return out
