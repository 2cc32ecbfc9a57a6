"""1F1B in unit slots: the closed form is the earliest-start timing of the 1F1B order.

**Claim.** For every D >= 1 and N >= D, every op of the closed form
(:mod:`proofs.one_f_one_b_timetable`) that does not start at slot 0 starts exactly when
one of its producers, or an op earlier on its own worker, ends (a *tight* op). ::

    forall D >= 1, N >= D, 0 <= w < D, op o on w: slot(o) = 0 or
        exists c in candidates(o): c exists and slot(c) + 1 = slot(o)

The candidates are explicit, so the query stays quantifier-free: for F(s, j) the
producer F(s-1, j), and on its worker F(s, j-1) and B(s, j - D + s); for B(s, j) the
producers B(s+1, j) and F(s, j), and on its worker B(s, j-1) and F(s, j + D - 1 - s).

**Why it matters.** A timetable that respects the order and the dependencies (theorem
``1f1b-timetable-valid``) and in which every op is tight *is* the earliest-start
execution of that order: by induction along the order, each op's slot equals its
tight predecessor's end, which the earliest start cannot beat. With
``1f1b-generator-order`` (the generator's order is the closed form sorted by slot), the
makespan and peak theorems about the closed form are statements about what
``one_f_one_b(D, N)`` does when run with F = B = 1.

**Negative control** ``1f1b-earliest-start-control-late-backward``: with B one slot late
(2D - s + 2j) some op is not tight, so it must be refuted.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import one_f_one_b_forward, one_f_one_b_label, one_f_one_b_params
from verify.smt.encoding import Builder, Term, select
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "1f1b-earliest-start"
SCOPE = "every D >= 1 and N >= D"


def _backward(D: Term, stage: Term, j: Term, *, late: int) -> Term:
    return 2 * D - 1 - stage + 2 * j + late


def _slot(D: Term, stage: Term, j: Term, forward: Term, *, late: int) -> Term:
    return select(forward, one_f_one_b_forward(D, stage, j), _backward(D, stage, j, late=late))


def _candidates(D: Term, N: Term, s: Term, j: Term, forward: bool) -> list[tuple[Term, Term, Term, bool]]:
    """``(exists, stage, micro-batch, is_forward)`` of the ops that may make o tight."""
    if forward:
        return [
            (s >= 1, s - 1, j, True),
            (j >= 1, s, j - 1, True),
            (j - D + s >= 0, s, j - D + s, False),
        ]
    return [
        (s <= D - 2, s + 1, j, False),
        (True, s, j, True),
        (j >= 1, s, j - 1, False),
        (j + D - 1 - s < N, s, j + D - 1 - s, True),
    ]


def _describe(v: Values) -> Finding:
    D, N, w = int(v["D"]), int(v["N"]), int(v["w"])
    op = one_f_one_b_label(v, "o", w)
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", D), ("N", N), ("worker", w), ("op", op), ("slot", int(v["o_slot"])),
    )
    return Finding(values, f"D={D}, N={N}: {op} starts in slot {v['o_slot']}, but no producer "
                           "and no earlier op on its worker ends then")


def _recheck(v: Values, late: int) -> bool:
    D, N, w, j, fwd = int(v["D"]), int(v["N"]), int(v["w"]), int(v["o_j"]), bool(v["o_fwd"])
    t = _slot(D, w, j, fwd, late=late)
    if t <= 0:
        return False
    for ok, stage, jj, f in _candidates(D, N, w, j, fwd):
        if ok and 0 <= stage < D and 0 <= jj < N and _slot(D, stage, jj, f, late=late) == t - 1:
            return False
    return True


def build(ctx: z3.Context, *, late: int = 0) -> Query:
    """The negated claim: an op after slot 0 with no tight candidate."""
    b = Builder(ctx)
    D, N, w = one_f_one_b_params(b)
    slot = partial(_slot, late=late)
    fwd = b.boolean("o_fwd")
    j = b.integer("o_j", lo=0, below=N)
    t = b.define("o_slot", slot(D, w, j, fwd))
    tight = {}
    for kind in (True, False):
        options = []
        for n, (ok, stage, jj, f) in enumerate(_candidates(D, N, w, j, kind)):
            c = b.define(f"{'f' if kind else 'b'}_cand{n}_slot", slot(D, stage, jj, f))
            options.append(z3.And(ok, c + 1 == t))
        tight[kind] = z3.Or(*options)
    untight = z3.And(t > 0, z3.Not(z3.If(fwd, tight[True], tight[False])))
    return b.query(
        z3.Or(t < 0, untight), _describe, shrink=("D", "N", "o_slot"),
        recheck=partial(_recheck, late=late),
    )


THEOREMS = (
    Theorem(
        name=NAME,
        claim="every op of the 1F1B unit-slot closed form after slot 0 starts exactly when a "
        "producer or an earlier op on its worker ends, so the closed form is the "
        "earliest-start timing of the 1F1B order",
        formula="forall D>=1, N>=D, op o: slot(o) = 0 or exists candidate c: slot(c) + 1 = slot(o)",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-late-backward",
        claim="with B at 2D - s + 2j every 1F1B op after slot 0 is tight",
        formula="forall D>=1, N>=D, op o: slot'(o) = 0 or exists c: slot'(c) + 1 = slot'(o)",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, late=1),
        control_of=NAME,
    ),
)
