"""Random lowered programs, mutated by swapping two comm actions on one worker, are
classified like a brute-force reference executor written here from the semantics in
``ecosystem.md`` (it shares no code with ``verify.comm``).

The reference runs the programs literally: it rescans every worker until nothing moves,
pairs the k-th send and the k-th receive of each (sender, receiver) channel, and records:

* whether some worker is left blocked (a hang) under rendezvous, buffered(1), unbounded
  buffering and batch_isend_irecv groups;
* whether some channel pairs two different tensors (FIFO mismatch);
* whether a compute runs before its remote input was received, or a send goes out before
  its tensor was computed.

Swapping two comm actions keeps every message sent and received once, so a hang is
always a wait-for cycle: ``check_comms`` must report a deadlock exactly when the
reference hangs.
"""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_comm_support import compute_schedules
from verify.comm import BATCHED, RENDEZVOUS, Policy, buffered, check_comms, lower
from verify.comm.models import CommModel
from verify.core.actions import Action, Comm, Op, Overlap
from verify.core.results import ViolationKind
from verify.core.schedule import Schedule

Tensor = tuple[str, int, int, str]


def describe(c: Comm, placement: dict[str, tuple[int, ...]], worker: int) -> tuple[int, int, Tensor]:
    """(sender, receiver, tensor) of a comm action, by PyTorch's naming."""
    pl = placement[c.pipeline]
    kind = c.kind.value
    if kind == "SEND_F":
        return worker, pl[c.stage + 1], (c.pipeline, c.stage, c.microbatch, "act")
    if kind == "RECV_F":
        return pl[c.stage - 1], worker, (c.pipeline, c.stage - 1, c.microbatch, "act")
    if kind == "SEND_B":
        return worker, pl[c.stage - 1], (c.pipeline, c.stage, c.microbatch, "grad")
    return pl[c.stage + 1], worker, (c.pipeline, c.stage + 1, c.microbatch, "grad")


def ops_of(a: Action) -> tuple[Op, ...]:
    return a.ops if isinstance(a, Overlap) else (a,) if isinstance(a, Op) else ()


class Reference:
    def __init__(self, s: Schedule) -> None:
        self.s = s
        self.placement = {p.name: p.placement for p in s.pipelines}
        self.stages = {p.name: p.num_stages for p in s.pipelines}
        self.info: dict[tuple[int, int], tuple[bool, tuple[int, int], Tensor]] = {}
        count: dict[tuple[tuple[int, int], bool], int] = {}
        self.ordinal: dict[tuple[int, int], int] = {}
        for w, prog in enumerate(s.programs):
            for i, a in enumerate(prog):
                if isinstance(a, Comm):
                    src, dst, t = describe(a, self.placement, w)
                    send = a.kind.is_send
                    self.info[(w, i)] = (send, (src, dst), t)
                    key = ((src, dst), send)
                    self.ordinal[(w, i)] = count.get(key, 0)
                    count[key] = count.get(key, 0) + 1
        by_slot = {(v[1], v[0], self.ordinal[k]): k for k, v in self.info.items()}
        self.partner = {k: by_slot.get((v[1], not v[0], self.ordinal[k])) for k, v in self.info.items()}

    def fifo_mismatch(self) -> bool:
        return any(self.info[k][2] != self.info[p][2] for k, p in self.partner.items() if p)

    def order_problem(self) -> bool:
        for w, prog in enumerate(self.s.programs):
            received: set[Tensor] = set()
            computed: set[tuple[str, int, int, str]] = set()
            for i, a in enumerate(prog):
                if isinstance(a, Comm):
                    send, _, t = self.info[(w, i)]
                    if not send:
                        received.add(t)
                        continue
                    p, s, m, d = t
                    if d == "act" and (p, s, m, "F") not in computed:
                        return True
                    if d == "grad" and not ({(p, s, m, "B"), (p, s, m, "I")} & computed):
                        return True
                for op in ops_of(a):
                    p, s, m, k = op.pipeline, op.stage, op.microbatch, op.kind.value
                    pl = self.placement[p]
                    if k == "F" and s > 0 and pl[s - 1] != w and (p, s - 1, m, "act") not in received:
                        return True
                    if k in "BI" and s + 1 < self.stages[p] and pl[s + 1] != w \
                            and (p, s + 1, m, "grad") not in received:
                        return True
                    computed.add((p, s, m, k))
        return False

    def hangs(self, model: str, capacity: int | None = None) -> bool:
        progs = self.s.programs
        pc = [0] * len(progs)
        if model == "batched":
            return self._hangs_batched()
        queues: dict[tuple[int, int], deque[Tensor]] = {}
        moved = True
        while moved:
            moved = False
            for w, prog in enumerate(progs):
                while pc[w] < len(prog):
                    a = prog[pc[w]]
                    if not isinstance(a, Comm):
                        pc[w] += 1
                        moved = True
                        continue
                    send, chan, t = self.info[(w, pc[w])]
                    if model == "rendezvous":
                        p = self.partner[(w, pc[w])]
                        if p is None or pc[p[0]] != p[1]:
                            break
                        pc[w] += 1
                        pc[p[0]] += 1
                        moved = True
                        continue
                    q = queues.setdefault(chan, deque())
                    if send and (capacity is None or len(q) < capacity):
                        q.append(t)
                    elif not send and q:
                        q.popleft()
                    else:
                        break
                    pc[w] += 1
                    moved = True
        return any(pc[w] < len(p) for w, p in enumerate(progs))

    def _hangs_batched(self) -> bool:
        progs = self.s.programs
        groups: dict[tuple[int, int], tuple[int, int]] = {}  # action -> (worker, first index)
        for w, prog in enumerate(progs):
            start = None
            for i, a in enumerate(prog):
                if isinstance(a, Comm):
                    start = i if start is None else start
                    groups[(w, i)] = (w, start)
                else:
                    start = None
        pc = [0] * len(progs)
        moved = True
        while moved:
            moved = False
            for w, prog in enumerate(progs):
                while pc[w] < len(prog):
                    if not isinstance(prog[pc[w]], Comm):
                        pc[w] += 1
                        moved = True
                        continue
                    end = pc[w]
                    while end < len(prog) and isinstance(prog[end], Comm):
                        end += 1
                    ok = True
                    for i in range(pc[w], end):
                        p = self.partner[(w, i)]
                        if p is None or pc[p[0]] < groups[p][1]:  # partner's batch not posted
                            ok = False
                    if not ok:
                        break
                    pc[w] = end
                    moved = True
        return any(pc[w] < len(p) for w, p in enumerate(progs))


MODELS: list[tuple[CommModel, str, int | None]] = [
    (RENDEZVOUS, "rendezvous", None), (buffered(1), "buffered", 1), (buffered(), "buffered", None),
    (BATCHED, "batched", None)]


@st.composite
def mutated(draw: st.DrawFn) -> Schedule:
    s = lower(draw(compute_schedules()), draw(st.sampled_from(list(Policy))))
    workers = [w for w, p in enumerate(s.programs) if sum(isinstance(a, Comm) for a in p) >= 2]
    if not workers:
        return s
    w = draw(st.sampled_from(workers))
    comms = [i for i, a in enumerate(s.programs[w]) if isinstance(a, Comm)]
    i, j = draw(st.lists(st.sampled_from(comms), min_size=2, max_size=2, unique=True))
    prog = list(s.programs[w])
    prog[i], prog[j] = prog[j], prog[i]
    programs = tuple(tuple(prog) if k == w else p for k, p in enumerate(s.programs))
    return Schedule(s.num_workers, s.pipelines, programs)


@settings(max_examples=120, deadline=None)
@given(mutated())
def test_swapped_programs_are_classified_like_the_reference(s: Schedule) -> None:
    ref = Reference(s)
    fifo = ref.fifo_mismatch()
    order = ref.order_problem()
    for model, name, cap in MODELS:
        found = {v.kind for v in check_comms(s, model=model)}
        assert found <= {ViolationKind.COMM_DEADLOCK, ViolationKind.FIFO_MISMATCH,
                         ViolationKind.COMPUTE_BEFORE_INPUT}
        assert (ViolationKind.COMM_DEADLOCK in found) == ref.hangs(name, cap), model.name
        assert (ViolationKind.FIFO_MISMATCH in found) == fifo
        assert (ViolationKind.COMPUTE_BEFORE_INPUT in found) == order


@settings(max_examples=40, deadline=None)
@given(compute_schedules(), st.sampled_from([Policy.TORCH, Policy.EAGER]))
def test_safe_policies_never_hang_in_the_reference(s: Schedule, policy: Policy) -> None:
    ref = Reference(lower(s, policy))
    assert not ref.fifo_mismatch() and not ref.order_problem()
    assert not any(ref.hangs(name, cap) for _, name, cap in MODELS)
