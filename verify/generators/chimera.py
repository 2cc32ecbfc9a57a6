"""Chimera (Li & Hoefler, SC'21): two pipelines in opposite directions, merged.

``down`` puts stage s on worker s, ``up`` puts stage s on worker D-1-s. Each pipeline
runs its micro-batches in unit slots (h = D/2 micro-batches per basic unit, K units
concatenated directly); with j = k*h + i:

* ``F(s, j)`` at slot ``2D*k + 2i + s``
* ``B(s, j)`` at slot ``2D*k + 2i + 2D - 1 - s``

For even D no two ops share a slot on a worker, the makespan is 2N + D - 2 slots and
every worker idles D - 2 slots. The per-worker *order* (slots sorted) is what carries
over to real costs; the schedule is returned timed in steps so the slot table can be
checked too.

>>> s = chimera(4, 4)
>>> [str(a) for a in s.programs[0]]
['down:0F0', 'down:0F1', 'up:3F0', 'up:3B0', 'up:3F1', 'up:3B1', 'down:0B0', 'down:0B1']
>>> s.timing.starts[0]
(0, 2, 3, 4, 5, 6, 7, 9)
"""

from __future__ import annotations

from verify.core.actions import Action, Op, OpKind
from verify.core.schedule import Pipeline, Schedule, Timing, TimingUnit
from verify.generators.registry import register, require, require_positive

DOWN, UP = "down", "up"


def chimera_pipelines(D: int, N: int) -> tuple[Pipeline, Pipeline]:
    """The two replicated pipelines; N is split as evenly as possible (down gets the
    extra micro-batch when N is odd)."""
    return (
        Pipeline(DOWN, tuple(range(D)), (N + 1) // 2),
        Pipeline(UP, tuple(range(D - 1, -1, -1)), N // 2),
    )


def chimera_slot(op: Op, D: int, h: int) -> int:
    """The closed-form unit slot of ``op`` (``h`` micro-batches per pipeline per unit)."""
    k, i = divmod(op.microbatch, h)
    base = 2 * D * k + 2 * i
    if op.kind is OpKind.F:
        return base + op.stage
    return base + 2 * D - 1 - op.stage


def _merge(D: int, N: int, h: int, family: str) -> Schedule:
    pipes = chimera_pipelines(D, N)
    slotted: list[list[tuple[int, int, Op]]] = [[] for _ in range(D)]
    for order, p in enumerate(pipes):
        for s, w in enumerate(p.placement):
            for m in range(p.microbatches):
                for kind in (OpKind.F, OpKind.B):
                    op = Op(p.name, s, m, kind)
                    slotted[w].append((chimera_slot(op, D, h), order, op))
    programs: list[tuple[Action, ...]] = []
    starts: list[tuple[float, ...]] = []
    for row in slotted:
        row.sort(key=lambda t: (t[0], t[1]))
        programs.append(tuple(op for _, _, op in row))
        starts.append(tuple(slot for slot, _, _ in row))
    return Schedule(
        D,
        pipes,
        tuple(programs),
        Timing(TimingUnit.STEPS, tuple(starts)),
        name=f"{family} D={D} N={N}",
        params=(("family", family), ("D", D), ("N", N)),
    )


@register("chimera", "Chimera: bidirectional pipelines, direct concatenation of N/D units",
          examples=((4, 4, ()), (4, 8, ()), (6, 3, ())))
def chimera(stages: int, microbatches: int) -> Schedule:
    """Chimera with direct concatenation (N = K*D gives K basic units; N < D splits the
    micro-batches between the two pipelines as evenly as possible)."""
    require_positive("chimera", D=stages, N=microbatches)
    D, N = stages, microbatches
    require(D % 2 == 0, "chimera", f"D must be even (odd D conflicts; see chimera-naive), got D={D}")
    require(
        N <= D or N % D == 0,
        "chimera",
        f"N must be at most D or a multiple of D (K = N/D basic units), got D={D} N={N}",
    )
    return _merge(D, N, D // 2, "chimera")


@register("chimera-naive", "Chimera's merge applied as-is, also to odd D (to show its conflict)",
          examples=((4, 4, ()),))
def chimera_naive(stages: int, microbatches: int) -> Schedule:
    """The same closed form for any D, with h = ceil(D/2) micro-batches per pipeline per
    unit. For odd D the merge puts two ops in one slot; the first collision is on worker
    (D-1)/2, where ``down:F0`` and ``up:F0`` both land in slot (D-1)/2. Ties are ordered
    down before up, so the order semantics still run; the timed check reports the
    conflict."""
    require_positive("chimera-naive", D=stages, N=microbatches)
    return _merge(stages, microbatches, (stages + 1) // 2, "chimera-naive")
