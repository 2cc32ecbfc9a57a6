"""1F1B in unit slots: worker w holds at most, and at some slot exactly, D - w activations.

**Claim.** For every D >= 1 and N >= D, the peak number of micro-batches in flight on
worker w (from the start of F(w, j) to the end of B(w, j), i.e. slots
slot_F <= t <= slot_B) is exactly D - w (chimera.md: D, D-1, ..., 1). ::

    upper: forall D, N >= D, w, t: #{j : F(w, j) <= t <= B(w, j)} <= D - w
    lower: forall D, N >= D, w: at t* = B(w, 0) = 2D - 1 - w, every j < D - w is in flight

**Encoding of the count** (as in :mod:`proofs.chimera_peak`): the in-flight micro-batches
at t lie between the smallest and the largest in-flight one, so if their number exceeded
D - w there would be in-flight lo <= hi with hi - lo + 1 > D - w; the query asks for
such t, lo, hi (upper) or for j < D - w not in flight at t* (lower). QF_LIA.

**Negative controls**: the claims D - w - 1 (``...-control-minus-one``, upper half
fails) and D - w + 1 (``...-control-plus-one``, lower half fails) must be refuted.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import one_f_one_b_backward, one_f_one_b_forward, one_f_one_b_params
from verify.smt.encoding import Builder, Term
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "1f1b-peak"
SCOPE = "every D >= 1, N >= D and worker w"


def _in_flight(D: Term, w: Term, j: Term, t: Term) -> Term:
    return z3.And(one_f_one_b_forward(D, w, j) <= t, t <= one_f_one_b_backward(D, w, j))


def in_flight_count(D: int, N: int, w: int, t: int) -> int:
    """Micro-batches in flight on worker ``w`` at slot ``t`` (Python ints)."""
    return sum(
        one_f_one_b_forward(D, w, j) <= t <= one_f_one_b_backward(D, w, j) for j in range(N)
    )


def _describe(v: Values) -> Finding:
    D, N, w, bound = int(v["D"]), int(v["N"]), int(v["w"]), int(v["bound"])
    base: tuple[tuple[str, int | bool | str], ...] = (("D", D), ("N", N), ("worker", w),
                                                      ("bound", bound))
    t = int(v["t"])
    count = in_flight_count(D, N, w, t)
    if count > bound:
        return Finding((*base, ("slot", t), ("in_flight", count)),
                       f"D={D}, N={N}: worker {w} holds {count} activations in slot {t}, "
                       f"more than {bound}")
    star = int(v["t_star"])
    count = in_flight_count(D, N, w, star)
    return Finding((*base, ("slot", star), ("in_flight", count)),
                   f"D={D}, N={N}: worker {w} holds {count} activations in slot {star}, "
                   f"fewer than the claimed {bound}")


def _recheck(v: Values) -> bool:
    D, N, w, bound = int(v["D"]), int(v["N"]), int(v["w"]), int(v["bound"])
    if in_flight_count(D, N, w, int(v["t"])) > bound:
        return True
    # the witness slot t* must then hold fewer than claimed, and t* is where the peak is
    return max(in_flight_count(D, N, w, t) for t in range(2 * (N + D))) < bound


def build(ctx: z3.Context, *, slack: int = 0) -> Query:
    """The negated claim: an interval of in-flight micro-batches longer than the bound,
    or a micro-batch of the witness set not in flight at t*."""
    b = Builder(ctx)
    D, N, w = one_f_one_b_params(b)
    bound = b.define("bound", D - w + slack)
    t = b.integer("t")
    lo = b.integer("lo", lo=0, below=N)
    hi = b.integer("hi", lo=lo, below=N)
    upper = z3.And(_in_flight(D, w, lo, t), _in_flight(D, w, hi, t), hi - lo + 1 > bound)
    star = b.define("t_star", one_f_one_b_backward(D, w, 0))
    j = b.integer("j", lo=0)
    lower = z3.And(j < bound, z3.Or(j >= N, z3.Not(_in_flight(D, w, j, star))))
    return b.query(z3.Or(upper, lower), _describe, shrink=("D", "N", "w"), recheck=_recheck)


THEOREMS = (
    Theorem(
        name=NAME,
        claim="worker w of the 1F1B unit-slot schedule holds at most D - w activations, "
        "and exactly D - w at slot 2D - 1 - w",
        formula="forall D>=1, N>=D, w: max_t inflight(w, t) = D - w",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-minus-one",
        claim="worker w of 1F1B never holds more than D - w - 1 activations",
        formula="forall D>=1, N>=D, w: max_t inflight(w, t) = D - w - 1",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, slack=-1),
        control_of=NAME,
    ),
    Theorem(
        name=f"{NAME}-control-plus-one",
        claim="worker w of 1F1B holds D - w + 1 activations at slot 2D - 1 - w",
        formula="forall D>=1, N>=D, w: max_t inflight(w, t) = D - w + 1",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, slack=1),
        control_of=NAME,
    ),
)
