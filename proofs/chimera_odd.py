"""Chimera's naive merge for odd D: it always collides, first on the middle worker.

The merge of :mod:`proofs.chimera_conflict` applied as-is to odd D (what
``verify.generators.chimera.chimera_naive`` builds): ceil(D/2) micro-batches per pipeline
per unit, unit k starting at slot 2D*k, the N micro-batches split as evenly as possible
(down gets the odd one).

**Claim refuted** (``chimera-odd-naive-conflict-free``, expected REFUTED): "for every odd
D >= 3 and N >= 2 the naive merge is conflict-free". The counterexample is shrunk (D,
then N, then the slot) to the smallest instance: D = 3, N = 2, worker 1, ``down:1F0``
and ``up:1F0`` in slot 1.

**Claim proved** (``chimera-odd-first-collision``): for *every* odd D >= 3 and N >= 2,
with m = (D-1)/2, ``down:mF0`` and ``up:mF0`` both run on worker m in slot m, and no two
ops share a slot on any worker before slot m. ::

    forall m >= 1 (D = 2m + 1), N >= 2:
        place(down, m) = place(up, D-1-m) = m,  slot_F(down, m, 0) = slot_F(up, m, 0) = m
        and forall w, ops a != b on w: slot(a) = slot(b) -> slot(a) >= m

**Encoding.** With h' = m + 1 micro-batches per unit, micro-batch j = h'*k + i and the
unit offset 2D*k = 4*(h'*k) - 2k; h'*k_a, h'*k_b are product variables (QF_LIA). The
split of N is n_down + n_up = N, 0 <= n_down - n_up <= 1.

**Negative control** ``chimera-odd-first-collision-control-inclusive``: "no collision
in a slot <= m" must be refuted, by the witness itself.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import (
    chimera_op,
    chimera_slot,
    chimera_stage,
    collision_holds,
    describe_collision,
    differ,
)
from verify.smt.encoding import Builder
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME_NAIVE = "chimera-odd-naive-conflict-free"
NAME_FIRST = "chimera-odd-first-collision"
SCOPE = "every odd D >= 3 and N >= 2"


def _describe(v: Values) -> Finding:
    return describe_collision(v, per_unit=int(v["hn"]), microbatches=int(v["N"]))


def _recheck(v: Values) -> bool:
    return collision_holds(_describe(v), int(v["hn"]))


def _describe_witness(v: Values) -> Finding:
    if int(v["a_slot"]) == int(v["b_slot"]) and int(v["a_slot"]) < int(v["m"]) + int(v["late"]):
        return describe_collision(
            v, per_unit=int(v["hn"]), microbatches=int(v["N"]),
            extra=f", not after slot (D-1)/2 = {v['m']}",
        )
    values: tuple[tuple[str, int | bool | str], ...] = (("D", int(v["D"])), ("N", int(v["N"])))
    return Finding(values, f"D={v['D']}: the witness down:F0 / up:F0 on worker (D-1)/2 fails")


def _params(b: Builder) -> tuple[z3.ArithRef, ...]:
    m = b.integer("m", lo=1)
    D = b.define("D", 2 * m + 1)
    hn = b.define("hn", m + 1)
    n_down, n_up = b.integer("n_down", lo=1), b.integer("n_up", lo=1)
    b.require(n_down - n_up >= 0, n_down - n_up <= 1)
    N = b.define("N", n_down + n_up)
    return m, D, hn, n_down, n_up, N


def _collision(b: Builder, D: z3.ArithRef, hn: z3.ArithRef, n_down: z3.ArithRef,
               n_up: z3.ArithRef) -> tuple[z3.BoolRef, z3.ArithRef]:
    w = b.integer("w", lo=0, below=D)
    ka, kb = b.integer("a_k", lo=0), b.integer("b_k", lo=0)
    hk = b.multiply(hn, [("hn_a_k", ka), ("hn_b_k", kb)])
    ops = []
    for tag, k in (("a", ka), ("b", kb)):
        unit = 4 * hk[f"hn_{tag}_k"] - 2 * k
        op = chimera_op(b, tag, D=D, worker=w, k=k, unit_start=unit, per_unit=hn)
        b.require(hk[f"hn_{tag}_k"] + op.i < z3.If(op.down, n_down, n_up))
        ops.append(op)
    return z3.And(differ(ops[0], ops[1]), ops[0].slot == ops[1].slot), ops[0].slot


def build_naive(ctx: z3.Context) -> Query:
    """The negated claim "conflict-free": a collision of the naive merge for odd D."""
    b = Builder(ctx)
    _m, D, hn, n_down, n_up, _N = _params(b)
    clash, _slot = _collision(b, D, hn, n_down, n_up)
    return b.query(clash, _describe, shrink=("D", "N", "a_slot", "w"), recheck=_recheck)


def build_first(ctx: z3.Context, *, late: int = 0) -> Query:
    """The negated claim: the witness fails, or a collision comes before slot m
    (``late`` = 1 moves the bound past the witness: the negative control)."""
    b = Builder(ctx)
    m, D, hn, n_down, n_up, _N = _params(b)
    lateness = b.define("late", z3.IntVal(late, ctx))
    # The witness: on worker m, each pipeline's stage and the F slot of its micro-batch 0.
    witness = [
        b.define(f"{pipe}_witness_slot", chimera_slot(D, 0, 0, chimera_stage(D, m, down), True))
        for pipe, down in (("down", True), ("up", False))
    ]
    witness_ok = z3.And(witness[0] == m, witness[1] == m, n_up >= 1)
    clash, slot = _collision(b, D, hn, n_down, n_up)
    wrong = z3.Or(z3.Not(witness_ok), z3.And(clash, slot < m + lateness))
    return b.query(
        wrong, _describe_witness, shrink=("D", "N", "a_slot", "w"),
        recheck=lambda v: v["a_slot"] != v["b_slot"] or _recheck(v),
    )


THEOREMS = (
    Theorem(
        name=NAME_NAIVE,
        claim="Chimera's naive merge (ceil(D/2) micro-batches per pipeline per unit) is "
        "conflict-free for odd D",
        formula="forall odd D>=3, N>=2, w, ops a!=b on w: slot(a) != slot(b)",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=build_naive,
    ),
    Theorem(
        name=NAME_FIRST,
        claim="for every odd D the naive merge puts down:F0 and up:F0 on worker (D-1)/2 in "
        "slot (D-1)/2, and no collision happens in an earlier slot",
        formula="forall odd D>=3, N>=2: slot(down:mF0) = slot(up:mF0) = m on worker m "
        "(m = (D-1)/2), and every collision is at a slot >= m",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build_first,
    ),
    Theorem(
        name=f"{NAME_FIRST}-control-inclusive",
        claim="for odd D the naive merge has no collision in a slot <= (D-1)/2",
        formula="forall odd D>=3, N>=2, w, ops a!=b on w: slot(a) = slot(b) -> slot(a) > m",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build_first, late=1),
        control_of=NAME_FIRST,
    ),
)
