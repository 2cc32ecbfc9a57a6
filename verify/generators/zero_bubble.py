"""Zero-bubble schedules with a split backward (Qi et al., "Zero Bubble Pipeline
Parallelism", ICLR 2024): ZB-H1, ZB-H2 and the V-shaped ZB-V.

The backward of a micro-batch on a stage is split into ``I`` (gradient w.r.t. the input,
which the previous stage waits for) and ``W`` (gradient w.r.t. the weights, which nobody
waits for), so ``W`` can fill bubbles. Activation memory is held from ``F`` to the end
of ``W``.

**ZB-H1** (one stage per worker, peak memory of 1F1B). Worker ``i`` runs 1F1B with ``I``
in place of ``B`` (``min(D-1-i, N)`` warm-up forwards, then one ``F`` and one ``I``), and
runs the ``W`` of micro-batch ``j - i`` right after the ``I`` of micro-batch ``j``: the
weight gradients lag ``i`` micro-batches behind, so that every worker holds ``D``
micro-batches, and the last ``i`` of them fill the tail. Measured: with ``N >= D``
every worker idles ``(D-1)(F + I - W)`` (the published ``(p-1)(F+B-2W)`` with
``B = I + W``) whenever ``W <= min(F, I)``.

**ZB-H2** (peak memory ``2D-1``). Worker ``i`` runs ``min(2(D-1-i)+1, N)`` warm-up
forwards, then for each micro-batch ``j``: ``I`` of ``j``, the ``W`` lagging ``2i``
micro-batches behind, and the next forward; the remaining ``W`` close the program. The
tail of ``2i`` weight gradients turns the trapezoid into a parallelogram: with
``N >= 2D-1`` every worker idles only the unavoidable ``(D-1)F`` (``i*F`` before its
first forward, ``(D-1-i)F`` after its last op) whenever ``I <= 2 min(F, W)``.

**ZB-V** (one model copy in a V: ``2D`` stages, rank ``r`` holds stages ``r`` and
``2D-1-r``; peak memory of 1F1B). The order of the paper's ZB-V, as PyTorch's
``ScheduleZBVZeroBubble`` also runs it, written per rank with chunk 0 = stage ``r`` and
chunk 1 = stage ``2D-1-r``: ``2(D-r)-1`` forwards of chunk 0; ``r`` times (F chunk 1,
F chunk 0); ``D-r`` times (F, I, W of chunk 1); then, while forwards remain,
(F, I, W of chunk 0, F, I, W of chunk 1); then ``r`` times (I chunk 0, I chunk 1); ``D-r``
times (I chunk 0, W chunk 0); then the pending ``W`` of chunk 1 and of chunk 0. The
order is built for ``max(N, 2D-1)`` micro-batches and the ops of absent micro-batches are
dropped (a sub-order of a deadlock-free order stays deadlock-free). Measured: with
``N >= 2D-1``, ``F = I`` and ``I/2 <= W <= I`` (chunk costs; ``F = I = W`` is the
paper's assumption) every worker idles only ``(D-1)F``.

>>> s = zb_h1(3, 3)
>>> [str(a) for a in s.programs[2]]
['2F0', '2I0', '2F1', '2I1', '2F2', '2I2', '2W0', '2W1', '2W2']
>>> [str(a) for a in zb_v(2, 3).programs[1]][:8]
['1F0', '2F0', '1F1', '2F1', '2I0', '2W0', '1F2', '1I0']
"""

from __future__ import annotations

from verify.core.actions import DEFAULT_PIPELINE, Action, Op, OpKind
from verify.core.schedule import Pipeline, Schedule
from verify.generators.registry import register, require_positive

F, I, W = OpKind.F, OpKind.I, OpKind.W


def _one_stage(name: str, D: int, programs: list[tuple[Action, ...]], N: int) -> Schedule:
    p = DEFAULT_PIPELINE
    return Schedule(
        D, (Pipeline(p, tuple(range(D)), N),), tuple(programs),
        name=f"{name} D={D} N={N}", params=(("family", name), ("D", D), ("N", N)),
    )


@register(
    "zb-h1",
    "ZB-H1: 1F1B with split backward, weight gradients lagging to fill the tail",
    examples=((4, 8, ()), (3, 2, ()), (2, 5, ())),
)
def zb_h1(stages: int, microbatches: int) -> Schedule:
    """ZB-H1 (see the module docstring); any D and N."""
    require_positive("zb-h1", D=stages, N=microbatches)
    D, N = stages, microbatches
    p = DEFAULT_PIPELINE
    programs: list[tuple[Action, ...]] = []
    for i in range(D):
        warm = min(D - 1 - i, N)
        prog: list[Action] = [Op(p, i, m, F) for m in range(warm)]
        done_w = 0
        for j in range(N):
            if warm + j < N:
                prog.append(Op(p, i, warm + j, F))
            prog.append(Op(p, i, j, I))
            if j >= i:
                prog.append(Op(p, i, done_w, W))
                done_w += 1
        prog.extend(Op(p, i, m, W) for m in range(done_w, N))
        programs.append(tuple(prog))
    return _one_stage("zb-h1", D, programs, N)


@register(
    "zb-h2",
    "ZB-H2: extra warm-up forwards and a tail of weight gradients (parallelogram)",
    examples=((4, 8, ()), (3, 3, ()), (2, 4, ())),
)
def zb_h2(stages: int, microbatches: int) -> Schedule:
    """ZB-H2 (see the module docstring); any D and N (the bound needs N >= 2D-1)."""
    require_positive("zb-h2", D=stages, N=microbatches)
    D, N = stages, microbatches
    p = DEFAULT_PIPELINE
    programs: list[tuple[Action, ...]] = []
    for i in range(D):
        warm = min(2 * (D - 1 - i) + 1, N)
        lag = 2 * i
        prog: list[Action] = [Op(p, i, m, F) for m in range(warm)]
        done_w = 0
        for j in range(N):
            prog.append(Op(p, i, j, I))
            if j >= lag:
                prog.append(Op(p, i, done_w, W))
                done_w += 1
            if warm + j < N:
                prog.append(Op(p, i, warm + j, F))
        prog.extend(Op(p, i, m, W) for m in range(done_w, N))
        programs.append(tuple(prog))
    return _one_stage("zb-h2", D, programs, N)


def v_placement(D: int) -> tuple[int, ...]:
    """The V: stage ``s < D`` on worker ``s``, stage ``s >= D`` on worker ``2D-1-s``.

    >>> v_placement(3)
    (0, 1, 2, 2, 1, 0)
    """
    return tuple(range(D)) + tuple(range(D - 1, -1, -1))


def _zb_v_rank(D: int, N: int, r: int) -> tuple[Action, ...]:
    n = max(N, 2 * D - 1)
    p = DEFAULT_PIPELINE
    stage = (r, 2 * D - 1 - r)
    nf, nb, nw = [0, 0], [0, 0], [0, 0]
    prog: list[Op] = []

    def run(kind: OpKind, c: int) -> None:
        count = nf if kind is F else nb if kind is I else nw
        prog.append(Op(p, stage[c], count[c], kind))
        count[c] += 1

    for _ in range(2 * (D - r) - 1):
        run(F, 0)
    for _ in range(r):
        run(F, 1)
        run(F, 0)
    for _ in range(D - r):
        run(F, 1)
        run(I, 1)
        run(W, 1)
    while nf[1] < nf[0] or nf[0] < n:
        if nf[0] < n:
            run(F, 0)
        run(I, 0)
        run(W, 0)
        run(F, 1)
        run(I, 1)
        run(W, 1)
    for _ in range(r):
        run(I, 0)
        run(I, 1)
    for _ in range(D - r):
        run(I, 0)
        run(W, 0)
    while nw[1] < nb[1]:
        run(W, 1)
    while nw[0] < nb[0]:
        run(W, 0)
    return tuple(op for op in prog if op.microbatch < N)


@register(
    "zb-v",
    "ZB-V: split backward on a V placement (2 stages per worker, one model copy)",
    examples=((4, 8, ()), (3, 2, ()), (2, 3, ())),
)
def zb_v(stages: int, microbatches: int) -> Schedule:
    """ZB-V on ``D`` workers and ``2D`` stages (see the module docstring); any D and N."""
    require_positive("zb-v", D=stages, N=microbatches)
    D, N = stages, microbatches
    programs = [_zb_v_rank(D, N, r) for r in range(D)]
    p = DEFAULT_PIPELINE
    return Schedule(
        D, (Pipeline(p, v_placement(D), N),), tuple(programs),
        name=f"zb-v D={D} N={N}", params=(("family", "zb-v"), ("D", D), ("N", N)),
    )
