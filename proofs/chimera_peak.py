"""Chimera, unit slots: peak in-flight activations on worker w are D/2 + 1 + min(w, D-1-w).

**Claim.** For every even D >= 2 and K >= 1 (N = K*D), the largest number of
micro-batches whose activations worker w holds at one slot (a micro-batch is in flight
on its stage from its F slot to its B slot, both included; both pipelines count) is
exactly D/2 + 1 + min(w, D-1-w). Since 0 <= min(w, D-1-w) <= D/2 - 1, every worker's
peak lies in [D/2 + 1, D] (chimera.md: 3 4 4 3 for D = 4; 5 6 7 8 8 7 6 5 for D = 8).

**Formula.** With c = min(w, D-1-w), in(p, j, t) = slot_F(p, j) <= t <= slot_B(p, j)::

    upper: forall h, K, w, t:  #{(p, j) : in(p, j, t)} <= D/2 + 1 + c
    lower: forall h, K, w:     at t* = D - 1 + c, in(own, j, t*) for j < D/2 and
                               in(other, j, t*) for j <= c
           (own = down if w < D/2 else up; D/2 + c + 1 micro-batches)

**Encoding of a count.** A count is not a linear term, so the upper bound is proved
through intervals: at any t, the in-flight micro-batches of pipeline p lie between the
smallest and the largest in-flight one, lo_p <= hi_p, so their number is at most
hi_p - lo_p + 1. The query asks for t and in-flight lo_p <= hi_p (or an empty pipeline)
with (hi_down - lo_down + 1) + (hi_up - lo_up + 1) > D/2 + 1 + c; unsat bounds every
count. The lower bound exhibits the in-flight micro-batches at t* one by one (a symbolic
index below the claimed count). Micro-batch j = h*k + i: the products h*k are fresh
variables with lemmas (QF_LIA).

**Negative controls**: the upper bound lowered by one (``...-upper-control-minus-one``)
and the lower-bound witness raised by one (``...-lower-control-plus-one``) must both be
refuted.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import (
    DOWN,
    UP,
    chimera_in_flight,
    chimera_params,
    chimera_slot,
    chimera_stage,
    label,
)
from verify.smt.encoding import Builder, Term, select
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME_UPPER = "chimera-peak-upper"
NAME_LOWER = "chimera-peak-lower"
SCOPE = "every even D >= 2, K >= 1 (N = K*D) and worker w"

_PIPES = ((DOWN, True), (UP, False))


def _in_flight(D: Term, unit_start: Term, i: Term, stage: Term, t: Term) -> Term:
    return z3.And(
        chimera_slot(D, unit_start, i, stage, True) <= t,
        t <= chimera_slot(D, unit_start, i, stage, False),
    )


def _describe_upper(v: Values) -> Finding:
    D, h, w, t = int(v["D"]), int(v["h"]), int(v["w"]), int(v["t"])
    parts = []
    for pipe, _ in _PIPES:
        if v[f"{pipe}_nonempty"]:
            lo = int(v[f"{pipe}_lo_k"]) * h + int(v[f"{pipe}_lo_i"])
            hi = int(v[f"{pipe}_hi_k"]) * h + int(v[f"{pipe}_hi_i"])
            stage = int(v[f"{pipe}_stage"])
            parts.append(f"{label(pipe, stage, 'F', lo)}..{label(pipe, stage, 'F', hi)}")
    count = chimera_in_flight(D, int(v["K"]) * D, w, t)
    bound = int(v["bound"])
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", D), ("N", int(v["K"]) * D), ("worker", w), ("slot", t),
        ("in_flight", count), ("bound", bound),
    )
    text = (
        f"D={D}, N={int(v['K']) * D}: worker {w} holds {count} activations in slot {t} "
        f"({', '.join(parts)}), more than {bound}"
    )
    return Finding(values, text)


def _recheck_upper(v: Values) -> bool:
    D, K = int(v["D"]), int(v["K"])
    return chimera_in_flight(D, K * D, int(v["w"]), int(v["t"])) > int(v["bound"])


def build_upper(ctx: z3.Context, *, slack: int = 0) -> Query:
    """The negated upper bound: in-flight intervals longer than the bound in total."""
    b = Builder(ctx)
    p = chimera_params(b)
    w = b.integer("w", lo=0, below=p.D)
    t = b.integer("t")
    c = b.define("c", select(w < p.h, w, p.D - 1 - w))
    bound = b.define("bound", p.h + 1 + c + slack)
    ks = {
        f"{pipe}_{end}_k": b.integer(f"{pipe}_{end}_k", lo=0, below=p.K)
        for pipe, _ in _PIPES
        for end in ("lo", "hi")
    }
    hk = b.multiply(p.h, [(f"h_{name}", k) for name, k in ks.items()])
    spans = []
    for pipe, down in _PIPES:
        stage = b.define(f"{pipe}_stage", chimera_stage(p.D, w, down))
        nonempty = b.boolean(f"{pipe}_nonempty")
        ends = {}
        for end in ("lo", "hi"):
            i = b.integer(f"{pipe}_{end}_i", lo=0, below=p.h)
            unit = 4 * hk[f"h_{pipe}_{end}_k"]
            j = b.define(f"{pipe}_{end}_j", hk[f"h_{pipe}_{end}_k"] + i)
            ends[end] = (j, _in_flight(p.D, unit, i, stage, t))
        (j_lo, in_lo), (j_hi, in_hi) = ends["lo"], ends["hi"]
        b.require(z3.Implies(nonempty, z3.And(in_lo, in_hi, j_lo <= j_hi)))
        spans.append(b.define(f"{pipe}_span", select(nonempty, j_hi - j_lo + 1, 0)))
    return b.query(
        spans[0] + spans[1] > bound,
        _describe_upper,
        shrink=("D", "K", "w", "t"),
        recheck=_recheck_upper,
    )


def _describe_lower(v: Values) -> Finding:
    D, w, t = int(v["D"]), int(v["w"]), int(v["t"])
    pipe = DOWN if v["down"] else UP
    op = label(pipe, int(v["stage"]), "F", int(v["i"]))
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", D), ("N", int(v["K"]) * D), ("worker", w), ("slot", t), ("microbatch", op),
        ("claimed", int(v["bound"])),
    )
    text = (
        f"D={D}: on worker {w} at slot {t}, {op} is not in flight, so the witness for "
        f"{v['bound']} activations fails"
    )
    return Finding(values, text)


def build_lower(ctx: z3.Context, *, slack: int = 0) -> Query:
    """The negated lower bound: a micro-batch of the witness set not in flight at t*."""
    b = Builder(ctx)
    p = chimera_params(b)
    w = b.integer("w", lo=0, below=p.D)
    c = b.define("c", select(w < p.h, w, p.D - 1 - w))
    t = b.define("t", p.D - 1 + c)
    down = b.boolean("down")
    own = b.boolean("own")
    b.require(own == (down == (w < p.h)))
    count = b.define("count", select(own, p.h, c + 1 + slack))
    b.define("bound", p.h + c + 1 + slack)
    stage = b.define("stage", chimera_stage(p.D, w, down))
    i = b.integer("i", lo=0, below=p.h)
    missing = z3.And(i < count, z3.Not(_in_flight(p.D, 0, i, stage, t)))
    wrong = z3.Or(c < 0, c + 1 > p.h, missing)
    return b.query(wrong, _describe_lower, shrink=("D", "w", "i"))


THEOREMS = (
    Theorem(
        name=NAME_UPPER,
        claim="worker w of Chimera's unit-slot schedule never holds more than "
        "D/2 + 1 + min(w, D-1-w) <= D activations at once",
        formula="forall even D>=2, K>=1, w, t: inflight(w, t) <= D/2 + 1 + min(w, D-1-w)",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build_upper,
    ),
    Theorem(
        name=NAME_LOWER,
        claim="worker w of Chimera's unit-slot schedule holds D/2 + 1 + min(w, D-1-w) >= "
        "D/2 + 1 activations at slot D - 1 + min(w, D-1-w)",
        formula="forall even D>=2, K>=1, w: inflight(w, D-1+c) >= D/2 + 1 + c, "
        "c = min(w, D-1-w)",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build_lower,
    ),
    Theorem(
        name=f"{NAME_UPPER}-control-minus-one",
        claim="worker w never holds more than D/2 + min(w, D-1-w) activations",
        formula="forall even D, K, w, t: inflight(w, t) <= D/2 + min(w, D-1-w)",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build_upper, slack=-1),
        control_of=NAME_UPPER,
    ),
    Theorem(
        name=f"{NAME_LOWER}-control-plus-one",
        claim="at slot D - 1 + c worker w holds the other pipeline's first c + 2 micro-batches",
        formula="forall even D, K, w: inflight(w, D-1+c) >= D/2 + 2 + c",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build_lower, slack=1),
        control_of=NAME_LOWER,
    ),
)
