"""DualPipe and DualPipeV (DeepSeek-V3; github deepseek-ai/DualPipe): bidirectional
pipelines with overlapped forward-and-backward chunks and a zero-bubble tail.

**DualPipe** (``D`` = PP ranks, even; ``N`` even, ``N >= 2D``). Chimera's placement and
replication: ``down`` puts stage s on rank s, ``up`` on rank D-1-s; ``N/2`` micro-batches
per direction (the README's "chunks"). Rank r's *phase 0* is the direction it starts
(down for ``r < D/2``, up otherwise) and *phase 1* the other one; ``hr = min(r, D-1-r)``,
``H = D/2``. Its program, in the eight steps of the reference ``step()``:

1. ``2(H-hr-1)`` forwards of phase 0;
2. ``hr+1`` times: forward phase 0, forward phase 1;
3. ``H-hr-1`` times: ``I`` of phase 1 (split backward), the oldest pending ``W``, forward
   phase 1;
4. ``N/2 - D + hr + 1`` times: overlapped (forward 0 & backward 1), overlapped (forward 1 &
   backward 0); on the two middle ranks the first pair is a plain forward 0 then a full
   backward 1 (the reference does not overlap them);
5. ``H-hr-1`` times: full backward phase 1, overlapped (forward 1 & backward 0);
6. ``hr+1`` times: backward phase 1, backward phase 0, full for the first half of these
   ops and split (``I`` now, ``W`` queued) for the second half;
7. ``H-hr-1`` times: the oldest pending ``W``, ``I`` of phase 0;
8. the ``hr+1`` remaining ``W``.

Micro-batches of each phase are taken in FIFO order; pending ``W`` run oldest first. An
overlapped chunk is one ``Overlap((F, B))`` unit whose duration is the cost model's
``overlap`` (the README's ``F&B``; default ``F + B``, i.e. no gain).

**DualPipeV** (``D`` ranks, ``2D`` stages of one model copy in a V: rank r holds stages r
and ``2D-1-r``; ``N >= 2D``). The same eight steps with ``hr = r``, ``H = D``, phase 0 =
stage r and phase 1 = stage ``2D-1-r``, all ``N`` micro-batches through the V, step 4 run
``N - 2D + r + 1`` times and its unoverlapped first pair on the last rank.

The README's bubble ``(PP/2-1)(F&B + B - 3W)`` (PP = pipeline stages: D for DualPipe,
2D for DualPipeV) is measured exactly, as the largest idle time of a rank, when the
input-backward costs as much as the forward (``I = F``, i.e. ``B = F + W``), ``W <= F``
and ``max(F, B) <= F&B <= F + B``; ``docs/library.md`` gives the measurements elsewhere.

>>> s = dualpipe(4, 8)
>>> [str(a) for a in s.programs[0]][:5]
['down:0F0', 'down:0F1', 'down:0F2', 'up:3F0', 'up:3I0']
>>> str(s.programs[0][7])
'(down:0F3;up:3B1)OVERLAP_F_B'
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from verify.core.actions import DEFAULT_PIPELINE, Action, Op, OpKind, Overlap
from verify.core.schedule import Pipeline, Schedule
from verify.generators.registry import register, require, require_positive

F, B, I, W = OpKind.F, OpKind.B, OpKind.I, OpKind.W


@dataclass(slots=True)
class _Rank:
    """Program builder of one rank: FIFO micro-batch counters per phase and the queue of
    pending weight gradients (local to one generator call)."""

    stages: tuple[tuple[str, int], tuple[str, int]]
    prog: list[Action] = field(default_factory=list)
    nf: list[int] = field(default_factory=lambda: [0, 0])
    nb: list[int] = field(default_factory=lambda: [0, 0])
    pending: deque[Op] = field(default_factory=deque)

    def f(self, ph: int) -> Op:
        p, s = self.stages[ph]
        op = Op(p, s, self.nf[ph], F)
        self.nf[ph] += 1
        return op

    def b(self, ph: int, split: bool = False) -> Op:
        p, s = self.stages[ph]
        m = self.nb[ph]
        self.nb[ph] += 1
        if split:
            self.pending.append(Op(p, s, m, W))
            return Op(p, s, m, I)
        return Op(p, s, m, B)

    def weight(self) -> None:
        if self.pending:
            self.prog.append(self.pending.popleft())


def _program(
    stages: tuple[tuple[str, int], tuple[str, int]],
    half: int, hr: int, main_steps: int, unoverlapped_first: bool,
) -> tuple[Action, ...]:
    """The eight steps for one rank (``half`` = H, ``hr`` = its distance to the end)."""
    r = _Rank(stages)
    add = r.prog.append
    for _ in range(2 * (half - hr - 1)):
        add(r.f(0))
    for _ in range(hr + 1):
        add(r.f(0))
        add(r.f(1))
    for _ in range(half - hr - 1):
        add(r.b(1, split=True))
        r.weight()
        add(r.f(1))
    for i in range(main_steps):
        if i == 0 and unoverlapped_first:
            add(r.f(0))
            add(r.b(1))
        else:
            add(Overlap((r.f(0), r.b(1))))
        add(Overlap((r.f(1), r.b(0))))
    for _ in range(half - hr - 1):
        add(r.b(1))
        add(Overlap((r.f(1), r.b(0))))
    split = False
    steps6 = hr + 1
    for i in range(steps6):
        if i == steps6 // 2 and hr % 2 == 1:
            split = True
        add(r.b(1, split))
        if i == steps6 // 2 and hr % 2 == 0:
            split = True
        add(r.b(0, split))
    for _ in range(half - hr - 1):
        r.weight()
        add(r.b(0, split=True))
    for _ in range(hr + 1):
        r.weight()
    return tuple(r.prog)


@register(
    "dualpipe",
    "DualPipe: bidirectional, overlapped F&B chunks, zero-bubble tail (2 copies)",
    examples=((4, 8, ()), (2, 4, ()), (6, 14, ())),
)
def dualpipe(stages: int, microbatches: int) -> Schedule:
    """DualPipe on D ranks with N micro-batches in total (see the module docstring).

    >>> dualpipe(4, 6)
    Traceback (most recent call last):
    ...
    verify.errors.ParameterError: dualpipe: N must be at least 2D (N/2 per direction), got D=4 N=6
    """
    name = "dualpipe"
    D, N = stages, microbatches
    require_positive(name, D=D, N=N)
    require(D % 2 == 0, name, f"D must be even (ranks pair up as r and D-1-r), got D={D}")
    require(N % 2 == 0, name, f"N must be even (N/2 micro-batches per direction), got N={N}")
    require(N >= 2 * D, name, f"N must be at least 2D (N/2 per direction), got D={D} N={N}")
    pipes = (
        Pipeline("down", tuple(range(D)), N // 2),
        Pipeline("up", tuple(range(D - 1, -1, -1)), N // 2),
    )
    half = D // 2
    programs = []
    for rank in range(D):
        hr = min(rank, D - 1 - rank)
        down, up = ("down", rank), ("up", D - 1 - rank)
        stages_ = (down, up) if rank < half else (up, down)
        programs.append(_program(stages_, half, hr, N // 2 - D + hr + 1, hr == half - 1))
    return Schedule(
        D, pipes, tuple(programs), name=f"{name} D={D} N={N}",
        params=(("family", name), ("D", D), ("N", N)),
    )


@register(
    "dualpipev",
    "DualPipeV: DualPipe cut into a V (2 stages per rank, one model copy)",
    examples=((2, 4, ()), (4, 8, ()), (3, 7, ())),
)
def dualpipev(stages: int, microbatches: int) -> Schedule:
    """DualPipeV on D ranks (2D stages) with N micro-batches (see the module docstring).

    >>> dualpipev(4, 7)
    Traceback (most recent call last):
    ...
    verify.errors.ParameterError: dualpipev: N must be at least 2D (twice the number of ranks), got D=4 N=7
    """
    name = "dualpipev"
    D, N = stages, microbatches
    require_positive(name, D=D, N=N)
    require(N >= 2 * D, name, f"N must be at least 2D (twice the number of ranks), got D={D} N={N}")
    p = DEFAULT_PIPELINE
    placement = tuple(range(D)) + tuple(range(D - 1, -1, -1))
    programs = [
        _program(((p, r), (p, 2 * D - 1 - r)), D, r, N - 2 * D + r + 1, r == D - 1)
        for r in range(D)
    ]
    return Schedule(
        D, (Pipeline(p, placement, N),), tuple(programs), name=f"{name} D={D} N={N}",
        params=(("family", name), ("D", D), ("N", N)),
    )
