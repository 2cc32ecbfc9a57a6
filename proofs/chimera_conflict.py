"""Chimera, unit slots: the merge is conflict-free for every even D and every K.

**Claim.** For every even D >= 2 and K >= 1 basic units (N = K*D micro-batches, N/2 per
pipeline, directly concatenated), no two different ops of the merged schedule share a
slot on one worker, whether they belong to the same unit or to different units.

**Formula.** With D = 2h, s_p(w) = w (down) or D-1-w (up), and
slot(p, F, k, i) = 2D*k + 2i + s_p(w), slot(p, B, k, i) = 2D*k + 2i + 2D - 1 - s_p(w)::

    forall h >= 1, K >= 1, 0 <= w < D, ops a != b on w with 0 <= k < K, 0 <= i < h:
        slot(a) != slot(b)

**Encoding.** One symbolic worker and two symbolic ops (pipeline and kind are Booleans).
The unit offset 2D*k = 4*(h*k) is non-linear; h*k_a and h*k_b are fresh variables with
the sound product lemmas of :mod:`verify.smt.lemmas`, so the query is QF_LIA. The
parity argument of chimera.md (only down-F/up-B and down-B/up-F share a parity, and they
would need micro-batches D/2 apart) is what the solver rediscovers.

**Negative control** ``chimera-conflict-free-control-early-backward``: B one slot
earlier (2D - 2 - s) must be refuted, with a printed collision.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import (
    SlotForm,
    chimera_op,
    chimera_params,
    chimera_slot,
    collision_holds,
    describe_collision,
    differ,
)
from verify.smt.encoding import Builder, Term, select
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "chimera-conflict-free"
SCOPE = "every even D >= 2 and K >= 1 (N = K*D)"


def _early_backward(D: Term, unit_start: Term, i: Term, stage: Term, forward: Term) -> Term:
    return unit_start + 2 * i + select(forward, stage, 2 * D - 2 - stage)


def _describe(v: Values) -> Finding:
    return describe_collision(v, per_unit=int(v["h"]), microbatches=int(v["K"]) * int(v["D"]))


def build(ctx: z3.Context, *, slot_of: SlotForm = chimera_slot) -> Query:
    """The negated claim: two different ops on one worker in the same slot."""
    b = Builder(ctx)
    p = chimera_params(b)
    w = b.integer("w", lo=0, below=p.D)
    ka = b.integer("a_k", lo=0, below=p.K)
    kb = b.integer("b_k", lo=0, below=p.K)
    hk = b.multiply(p.h, [("h_a_k", ka), ("h_b_k", kb)])
    ops = [
        chimera_op(b, tag, D=p.D, worker=w, k=k, unit_start=4 * hk[f"h_{tag}_k"],
                   per_unit=p.h, slot_of=slot_of)
        for tag, k in (("a", ka), ("b", kb))
    ]
    clash = z3.And(differ(ops[0], ops[1]), ops[0].slot == ops[1].slot)
    return b.query(
        clash,
        _describe,
        shrink=("D", "K", "a_slot", "w"),
        recheck=lambda v: collision_holds(_describe(v), int(v["h"]), slot_of),
    )


THEOREMS = (
    Theorem(
        name=NAME,
        claim="Chimera's merged unit-slot schedule puts at most one op per worker per slot, "
        "across all concatenated units",
        formula="forall even D>=2, K>=1, worker w, ops a!=b on w: slot(a) != slot(b)",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-early-backward",
        claim="with B at 2D*k + 2i + 2D - 2 - s (one slot early) the merge is conflict-free",
        formula="forall even D, K, w, ops a!=b on w: slot'(a) != slot'(b)",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, slot_of=_early_backward),
        control_of=NAME,
    ),
)
