"""Chimera variants for N > D and for more pipelines (Li & Hoefler, SC'21; ``chimera.md``).

All variants use Chimera's two placements (``down``: stage s on worker s; ``up``: stage s
on worker D-1-s) or their rotations, and are built from closed-form *slots* like the
``chimera`` family: a worker's program is its ops sorted by slot. ``h = D/2``.

**Forward doubling** (``chimera-fd``). The basic unit holds ``2D`` micro-batches, ``D``
per pipeline. In unit ``u`` (slot offset ``3D*u``), pipeline micro-batches ``u*D + 2i`` and
``u*D + 2i + 1`` (``i < h``) are forwarded together in slot ``2i + s`` on stage ``s`` (two
consecutive ``F`` ops, each of cost ``F``: together ``2F``, one backward's worth when
``B = 2F``), and micro-batch ``u*D + k`` (``k < D``) runs its backward alone in slot
``2D - 1 - s + 2k``. For even D no two slots of a worker collide: down-F has the parity
of ``w``, down-B the other, up-F the other, up-B the parity of ``w``, and the ranges of
same-parity kinds are disjoint within a unit and across units ``3D`` apart. With
``N = K*D``: ``K // 2`` doubling units, and for odd K one *residual* unit of ``D``
micro-batches appended after them, scheduled like a direct-concatenation unit (slots
``2i + s`` and ``2i + 2D - 1 - s``, ``i < h``, offset ``3D*(K//2)``); ``N <= D`` is that
residual unit alone (split as evenly as possible, down gets the extra micro-batch).
Measured: with ``B = 2F`` and even K every worker idles ``(D/2 - 1)(F + B)``, the ratio is
exactly ``(D-2)/(2N+D-2)``, and peak activations lie in ``[3D/2 + 1, 2D]``.

**Backward halving** (``chimera-bh``). The same slot shape, but a forward slot holds one
full micro-batch and each backward slot half of one: equivalently (``chimera.md``),
forward doubling run on half-size micro-batches, twice as many, without recomputation.
Ops are therefore on *half* micro-batches: full micro-batch ``j`` of a pipeline is halves
``2j`` and ``2j+1``, forwarded by two consecutive ``F`` ops in its slot, each half running
its own ``B``; costs are per half micro-batch (``F_half = F/2``, ``B_half = B/2``,
activation halved; ``verify.specs.normalized_costs`` scales them). ``N = K*D`` gives
``K`` doubling units (``3D`` slots apart; no residual unit, since every unit is full) and
``N <= D`` one partial unit. Measured with ``B = 2F`` (full micro-batch costs): every
worker idles ``(D/2-1)(F+B)/2``, a ratio ``(D-2)/(4N+D-2)``, and peaks lie in
``[3D/4 + 1/2, D]`` full micro-batch activations, the level of direct concatenation.

**2f pipelines** (``chimera-2f``, option ``f`` dividing ``D/2``). ``f`` down and ``f`` up
pipelines; down pipeline k puts stage s on worker ``(k*D/f + s) mod D``, up pipeline k on
``(k*D/f + D-1-s) mod D``. Every pipeline runs Chimera's unit with ``m = D/(2f)``
micro-batches per unit: its micro-batch ``j = u*m + i`` runs ``F`` in slot
``2D*u + 2i + s`` and ``B`` in slot ``2D*u + 2i + 2D-1-s``. ``N <= D`` or ``N = K*D``;
micro-batches are dealt round-robin over down0, up0, down1, up1, ... At N = D
(``chimera.md``): conflict-free, makespan ``2D + D/f - 2``, idle ``D/f - 2``, ``2f`` stage
replicas per worker, peaks ``[D - D/(2f) + 1, D]``. ``f = 1`` is Chimera.

>>> s = chimera_forward_doubling(4, 8)
>>> [str(a) for a in s.programs[0]][:6]
['down:0F0', 'down:0F1', 'down:0F2', 'down:0F3', 'up:3F0', 'up:3F1']
>>> s2 = chimera_2f(4, 4, f=2)
>>> [p.placement for p in s2.pipelines]
[(0, 1, 2, 3), (3, 2, 1, 0), (2, 3, 0, 1), (1, 0, 3, 2)]
"""

from __future__ import annotations

from verify.core.actions import Action, Op, OpKind
from verify.core.schedule import Pipeline, Schedule, Timing, TimingUnit
from verify.generators.registry import register, require, require_positive

F, B = OpKind.F, OpKind.B
DOWN, UP = "down", "up"

_Slotted = tuple[int, int, int, Action]
"""(slot, pipeline order, position within the slot, action)."""


def _down_up(D: int, n_down: int, n_up: int) -> tuple[Pipeline, Pipeline]:
    return (
        Pipeline(DOWN, tuple(range(D)), n_down),
        Pipeline(UP, tuple(range(D - 1, -1, -1)), n_up),
    )


def _programs(rows: list[list[_Slotted]]) -> tuple[tuple[tuple[Action, ...], ...], Timing]:
    """Sort each worker's slotted actions into a program; the slots become step times."""
    programs: list[tuple[Action, ...]] = []
    starts: list[tuple[float, ...]] = []
    for row in rows:
        row.sort(key=lambda t: (t[0], t[1], t[2]))
        programs.append(tuple(a for _, _, _, a in row))
        starts.append(tuple(float(t[0]) for t in row))
    return tuple(programs), Timing(TimingUnit.STEPS, tuple(starts))


def _check_even(family: str, D: int, N: int) -> None:
    require_positive(family, D=D, N=N)
    require(D % 2 == 0, family, f"D must be even (the two pipelines collide for odd D), got D={D}")
    require(
        N <= D or N % D == 0, family,
        f"N must be at most D or a multiple of D (K = N/D basic units), got D={D} N={N}",
    )


@register(
    "chimera-fd",
    "Chimera with forward doubling: paired forwards, 2D micro-batches per unit",
    examples=((4, 8, ()), (4, 12, ()), (2, 6, ())),
)
def chimera_forward_doubling(stages: int, microbatches: int) -> Schedule:
    """Forward doubling (see the module docstring); D even, N <= D or a multiple of D."""
    name = "chimera-fd"
    D, N = stages, microbatches
    _check_even(name, D, N)
    if N <= D:
        units, residual = 0, True
        counts = ((N + 1) // 2, N // 2)
    else:
        K = N // D
        units, residual = K // 2, K % 2 == 1
        counts = (N // 2, N // 2)
    pipes = _down_up(D, *counts)
    rows: list[list[_Slotted]] = [[] for _ in range(D)]
    for order, p in enumerate(pipes):
        for s, w in enumerate(p.placement):
            row = rows[w]
            for m in range(min(p.microbatches, units * D)):
                u, k = divmod(m, D)
                i, half = divmod(k, 2)
                base = 3 * D * u
                row.append((base + 2 * i + s, order, half, Op(p.name, s, m, F)))
                row.append((base + 2 * D - 1 - s + 2 * k, order, 0, Op(p.name, s, m, B)))
            if residual:
                base = 3 * D * units
                for m in range(units * D, p.microbatches):
                    i = m - units * D
                    row.append((base + 2 * i + s, order, 0, Op(p.name, s, m, F)))
                    row.append((base + 2 * i + 2 * D - 1 - s, order, 0, Op(p.name, s, m, B)))
    programs, _ = _programs(rows)
    return Schedule(
        D, pipes, programs, name=f"{name} D={D} N={N}",
        params=(("family", name), ("D", D), ("N", N)),
    )


@register(
    "chimera-bh",
    "Chimera with backward halving: half-size backwards (ops on half micro-batches)",
    examples=((4, 4, ()), (4, 8, ()), (2, 1, ())),
)
def chimera_backward_halving(stages: int, microbatches: int) -> Schedule:
    """Backward halving for N full micro-batches (see the module docstring); the
    pipelines count half micro-batches (2N in total)."""
    name = "chimera-bh"
    D, N = stages, microbatches
    _check_even(name, D, N)
    h = D // 2
    full = ((N + 1) // 2, N // 2) if N <= D else (N // 2, N // 2)
    pipes = _down_up(D, 2 * full[0], 2 * full[1])
    rows: list[list[_Slotted]] = [[] for _ in range(D)]
    for order, (p, n_full) in enumerate(zip(pipes, full)):
        for s, w in enumerate(p.placement):
            row = rows[w]
            for j in range(n_full):
                u, i = divmod(j, h)
                base = 3 * D * u
                for half in (0, 1):
                    m = 2 * j + half
                    row.append((base + 2 * i + s, order, half, Op(p.name, s, m, F)))
                    row.append((base + 2 * D - 1 - s + 2 * (2 * i + half), order, 0, Op(p.name, s, m, B)))
    programs, _ = _programs(rows)
    return Schedule(
        D, pipes, programs, name=f"{name} D={D} N={N}",
        params=(("family", name), ("D", D), ("N", N), ("unit", "half micro-batch")),
    )


@register(
    "chimera-2f",
    "Chimera with 2f pipelines (f down, f up; f divides D/2), timed in unit slots",
    options=("f",),
    examples=((4, 4, (("f", 2),)), (8, 16, (("f", 2),)), (4, 2, (("f", 1),))),
)
def chimera_2f(stages: int, microbatches: int, f: int = 1) -> Schedule:
    """2f pipelines (see the module docstring).

    >>> chimera_2f(6, 6, f=2)
    Traceback (most recent call last):
    ...
    verify.errors.ParameterError: chimera-2f: f must divide D/2 (f down and f up ...), got D=6 f=2
    """
    name = "chimera-2f"
    D, N = stages, microbatches
    _check_even(name, D, N)
    require_positive(name, f=f)
    require(
        (D // 2) % f == 0, name,
        f"f must divide D/2 (f down and f up pipelines of D/(2f) micro-batches each), got D={D} f={f}",
    )
    m = D // (2 * f)
    shift = D // f
    npipes = 2 * f
    counts = [N // npipes + (1 if j < N % npipes else 0) for j in range(npipes)]
    pipes: list[Pipeline] = []
    for k in range(f):
        pipes.append(Pipeline(f"{DOWN}{k}", tuple((k * shift + s) % D for s in range(D)), counts[2 * k]))
        pipes.append(Pipeline(f"{UP}{k}", tuple((k * shift + D - 1 - s) % D for s in range(D)),
                              counts[2 * k + 1]))
    rows: list[list[_Slotted]] = [[] for _ in range(D)]
    for order, p in enumerate(pipes):
        for s, w in enumerate(p.placement):
            for j in range(p.microbatches):
                u, i = divmod(j, m)
                base = 2 * D * u + 2 * i
                rows[w].append((base + s, order, 0, Op(p.name, s, j, F)))
                rows[w].append((base + 2 * D - 1 - s, order, 0, Op(p.name, s, j, B)))
    programs, timing = _programs(rows)
    return Schedule(
        D, tuple(pipes), programs, timing, name=f"{name} D={D} N={N} f={f}",
        params=(("family", name), ("D", D), ("N", N), ("f", f)),
    )
