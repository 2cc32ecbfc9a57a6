"""1F1B in unit slots: the makespan is 2(N + D - 1) for every D and N >= D.

**Claim.** For every D >= 1 and N >= D, every op of the 1F1B closed form
(:mod:`proofs.one_f_one_b_timetable`) runs in a slot of [0, 2(N + D - 1)), and the last
slot is used by B(0, N-1), so the makespan is exactly 2(N + D - 1) (chimera.md; with the
earliest-start theorem this is the makespan of ``one_f_one_b(D, N)`` at F = B = 1). ::

    forall D >= 1, N >= D, w, op a on w: 0 <= slot(a) < 2(N + D - 1)
    and slot(B(0, N - 1)) = 2(N + D - 1) - 1

QF_LIA, no products.

**Negative control** ``1f1b-makespan-control-off-by-one``: makespan 2(N + D - 1) - 1
must be refuted.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import (
    one_f_one_b_backward,
    one_f_one_b_label,
    one_f_one_b_op,
    one_f_one_b_params,
    one_f_one_b_slot,
)
from verify.smt.encoding import Builder
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "1f1b-makespan"
SCOPE = "every D >= 1 and N >= D"


def _describe(v: Values) -> Finding:
    D, N, w, span = int(v["D"]), int(v["N"]), int(v["w"]), int(v["makespan"])
    op = one_f_one_b_label(v, "a", w)
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", D), ("N", N), ("makespan", span), ("op", op), ("slot", int(v["a_slot"])),
        ("last_slot", int(v["last_slot"])),
    )
    return Finding(values, f"D={D}, N={N}: claimed makespan {span}, but {op} runs in slot "
                           f"{v['a_slot']} and the last backward 0B{N - 1} in slot {v['last_slot']}")


def _recheck(v: Values) -> bool:
    D, N, w, span = int(v["D"]), int(v["N"]), int(v["w"]), int(v["makespan"])
    t = one_f_one_b_slot(D, w, int(v["a_j"]), bool(v["a_fwd"]))
    return not 0 <= t < span or one_f_one_b_backward(D, 0, N - 1) != span - 1


def build(ctx: z3.Context, *, slack: int = 0) -> Query:
    """The negated claim: an op outside [0, makespan), or the last slot unused."""
    b = Builder(ctx)
    D, N, w = one_f_one_b_params(b)
    span = b.define("makespan", 2 * (N + D - 1) + slack)
    a = one_f_one_b_op(b, "a", D=D, N=N, stage=w)
    last = b.define("last_slot", one_f_one_b_backward(D, 0, N - 1))
    wrong = z3.Or(a.slot < 0, a.slot >= span, last != span - 1)
    return b.query(wrong, _describe, shrink=("D", "N"), recheck=_recheck)


THEOREMS = (
    Theorem(
        name=NAME,
        claim="the 1F1B unit-slot makespan is exactly 2(N + D - 1)",
        formula="forall D>=1, N>=D: max slot + 1 = 2(N + D - 1) (attained by B(0, N-1))",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-off-by-one",
        claim="the 1F1B unit-slot makespan is 2(N + D - 1) - 1",
        formula="forall D>=1, N>=D: max slot + 1 = 2(N + D - 1) - 1",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, slack=-1),
        control_of=NAME,
    ),
)
