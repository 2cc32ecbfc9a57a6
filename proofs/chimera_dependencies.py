"""Chimera, unit slots: every data dependency points strictly forward in slot time.

**Claim.** For every even D >= 2 and K >= 1, in either pipeline and for every
micro-batch, each dependency edge of :mod:`verify.core.deps`, F(s-1) -> F(s),
F(s) -> B(s) and B(s+1) -> B(s), goes from an earlier slot to a later one. Hence the
per-worker order (ops sorted by slot) together with the data dependencies is acyclic:
executing it with *any* positive durations cannot deadlock.

**Formula.** With slot_F(s) = 2D*k + 2i + s and slot_B(s) = 2D*k + 2i + 2D - 1 - s::

    forall h >= 1, K >= 1, 0 <= k < K, 0 <= i < h (D = 2h):
        1 <= s < D      -> slot_F(s-1) < slot_F(s)
        0 <= s < D      -> slot_F(s)   < slot_B(s)
        0 <= s < D - 1  -> slot_B(s+1) < slot_B(s)

Both pipelines use the same slot formula in terms of stages (only the worker differs),
so one symbolic pipeline covers both. Producer and consumer share the micro-batch, hence
the unit offset 2D*k (one product variable h*k). QF_LIA.

**Negative control** ``chimera-dependencies-forward-control-mirrored-backward``: B at
2D*k + 2i + D - 1 - s (mirrored about D instead of 2D) puts B(s) before F(s) for
s >= D/2, so it must be refuted.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import DOWN, SlotForm, chimera_params, chimera_place, chimera_slot, label
from verify.smt.encoding import Builder, Term, select
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "chimera-dependencies-forward"
SCOPE = "every even D >= 2 and K >= 1 (N = K*D)"

_EDGES = ("F(s-1)->F(s)", "F(s)->B(s)", "B(s+1)->B(s)")


def _mirrored_backward(D: Term, unit_start: Term, i: Term, stage: Term, forward: Term) -> Term:
    return unit_start + 2 * i + select(forward, stage, D - 1 - stage)


def _describe(v: Values) -> Finding:
    h, k, i = int(v["h"]), int(v["k"]), int(v["i"])
    j = k * h + i
    src = label(DOWN, int(v["src_stage"]), "F" if v["src_fwd"] else "B", j)
    dst = label(DOWN, int(v["dst_stage"]), "F" if v["dst_fwd"] else "B", j)
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", int(v["D"])),
        ("N", int(v["N"])),
        ("edge", f"{src} -> {dst}"),
        ("producer_slot", int(v["src_slot"])),
        ("consumer_slot", int(v["dst_slot"])),
    )
    text = (
        f"D={v['D']}: dependency {src} -> {dst} goes from slot {v['src_slot']} "
        f"to slot {v['dst_slot']} (not forward)"
    )
    return Finding(values, text)


def _recheck(v: Values, slot_of: SlotForm) -> bool:
    f = _describe(v).as_dict()
    D, N = int(v["D"]), int(v["N"])
    src, dst = (chimera_place(D, N, int(v["h"]), op, slot_of) for op in str(f["edge"]).split(" -> "))
    return src is not None and dst is not None and dst[1] <= src[1]


def build(ctx: z3.Context, *, slot_of: SlotForm = chimera_slot) -> Query:
    """The negated claim: some edge whose consumer slot is not after its producer's."""
    b = Builder(ctx)
    p = chimera_params(b)
    k = b.integer("k", lo=0, below=p.K)
    i = b.integer("i", lo=0, below=p.h)
    hk = b.multiply(p.h, [("hk", k), ("hK", p.K)])
    b.define("N", 2 * hk["hK"])
    unit = 4 * hk["hk"]
    edge = b.integer("edge", lo=0, below=len(_EDGES))
    s = b.integer("s", lo=0, below=p.D)
    src_stage = b.define("src_stage", select(edge == 0, s - 1, select(edge == 1, s, s + 1)))
    src_fwd, dst_fwd = b.boolean("src_fwd"), b.boolean("dst_fwd")
    b.require(
        src_fwd == (edge <= 1),
        dst_fwd == (edge == 0),
        src_stage >= 0,
        src_stage < p.D,
    )
    src = b.define("src_slot", slot_of(p.D, unit, i, src_stage, src_fwd))
    dst_stage = b.define("dst_stage", s)
    dst = b.define("dst_slot", slot_of(p.D, unit, i, dst_stage, dst_fwd))
    return b.query(
        dst <= src,
        _describe,
        shrink=("D", "K", "dst_slot"),
        recheck=partial(_recheck, slot_of=slot_of),
    )


THEOREMS = (
    Theorem(
        name=NAME,
        claim="every dependency edge of Chimera's unit-slot schedule (F(s-1)->F(s), "
        "F(s)->B(s), B(s+1)->B(s)) points strictly forward in slot time",
        formula="forall even D>=2, K>=1, k<K, i<D/2, edges u->v: slot(u) < slot(v)",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-mirrored-backward",
        claim="with B at 2D*k + 2i + D - 1 - s every dependency edge points forward",
        formula="forall even D, K, k, i, edges u->v: slot'(u) < slot'(v)",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, slot_of=_mirrored_backward),
        control_of=NAME,
    ),
)
