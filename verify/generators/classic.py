"""GPipe and 1F1B (DAPPLE / PipeDream-flush): one pipeline, stage s on worker s.

>>> s = one_f_one_b(4, 4)
>>> [str(a) for a in s.programs[3]]
['3F0', '3B0', '3F1', '3B1', '3F2', '3B2', '3F3', '3B3']
"""

from __future__ import annotations

from verify.core.actions import DEFAULT_PIPELINE, Action, Op, OpKind
from verify.core.schedule import Pipeline, Schedule
from verify.generators.registry import register, require_positive

F, B = OpKind.F, OpKind.B


def _pipeline(D: int, N: int) -> Pipeline:
    return Pipeline(DEFAULT_PIPELINE, tuple(range(D)), N)


@register("gpipe", "GPipe: all forwards, then all backwards (peak N activations)",
          examples=((4, 4, ()), (3, 5, ())))
def gpipe(stages: int, microbatches: int) -> Schedule:
    """GPipe: every worker runs F of all micro-batches, then B of all, in id order."""
    require_positive("gpipe", D=stages, N=microbatches)
    D, N = stages, microbatches
    p = DEFAULT_PIPELINE
    programs = tuple(
        tuple([Op(p, w, m, F) for m in range(N)] + [Op(p, w, m, B) for m in range(N)])
        for w in range(D)
    )
    return Schedule(D, (_pipeline(D, N),), programs, name=f"gpipe D={D} N={N}",
                    params=(("family", "gpipe"), ("D", D), ("N", N)))


@register("1f1b", "1F1B (DAPPLE, PipeDream-flush): warm-up forwards, then one F one B",
          examples=((4, 8, ()), (3, 2, ())))
def one_f_one_b(stages: int, microbatches: int) -> Schedule:
    """1F1B: worker w runs ``min(D-1-w, N)`` warm-up forwards, then alternates one F and
    one B, then drains the remaining backwards (peak ``min(D-w, N)`` activations)."""
    require_positive("1f1b", D=stages, N=microbatches)
    D, N = stages, microbatches
    p = DEFAULT_PIPELINE
    programs: list[tuple[Action, ...]] = []
    for w in range(D):
        warm = min(D - 1 - w, N)
        prog: list[Action] = [Op(p, w, m, F) for m in range(warm)]
        nf, nb = warm, 0
        while nb < N:
            if nf < N:
                prog.append(Op(p, w, nf, F))
                nf += 1
            prog.append(Op(p, w, nb, B))
            nb += 1
        programs.append(tuple(prog))
    return Schedule(D, (_pipeline(D, N),), tuple(programs), name=f"1f1b D={D} N={N}",
                    params=(("family", "1f1b"), ("D", D), ("N", N)))
