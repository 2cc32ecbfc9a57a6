"""1F1B in unit slots: the closed form is a valid timetable for every D and N >= D.

**Closed form** (derived from the 1F1B order with F = B = 1, zero latency). Stage D-1
alternates F and B from slot D-1: F(D-1, j) = D - 1 + 2j, B(D-1, j) = D + 2j. Each
backward of stage s follows the one of stage s+1 immediately: B(s, j) = 2D - 1 - s + 2j.
Stage s first runs D-1-s warm-up forwards, each as soon as stage s-1 delivers:
F(s, j) = j + s while j + s <= D - 1; afterwards each forward follows the backward of
micro-batch j - (D - s) on its worker, which ends at 2D - 1 - s + 2(j - D + s) + 1, so
F(s, j) = 2j + s.

**Claim.** For every D >= 1 and N >= D, on every worker no two ops share a slot, and
every dependency edge F(s-1)->F(s), F(s)->B(s), B(s+1)->B(s) points strictly forward in
slot time (so the timetable respects the data dependencies and the per-worker order
sorted by slot cannot deadlock). ::

    forall D >= 1, N >= D, 0 <= w < D, ops a != b on w: slot(a) != slot(b)
    forall D, N, 0 <= j < N, edges u -> v: slot(u) < slot(v)

Piecewise-linear (an ``ite`` on j + s <= D - 1), no products: QF_LIA.

**Negative control** ``1f1b-timetable-valid-control-early-forward``: steady-state
forwards one slot early (2j + s - 1) must be refuted.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import (
    label,
    one_f_one_b_backward,
    one_f_one_b_label,
    one_f_one_b_params,
)
from verify.smt.encoding import Builder, Term, select
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "1f1b-timetable-valid"
SCOPE = "every D >= 1 and N >= D"


def _forward(D: Term, stage: Term, j: Term, *, early: int) -> Term:
    return select(j + stage <= D - 1, j + stage, 2 * j + stage - early)


def _slot(D: Term, stage: Term, j: Term, forward: Term, *, early: int) -> Term:
    return select(forward, _forward(D, stage, j, early=early), one_f_one_b_backward(D, stage, j))


def _describe(v: Values) -> Finding:
    D, N, w = int(v["D"]), int(v["N"]), int(v["w"])
    base: tuple[tuple[str, int | bool | str], ...] = (("D", D), ("N", N))
    if v["collide"]:
        a, b = one_f_one_b_label(v, "a", w), one_f_one_b_label(v, "b", w)
        values = (*base, ("worker", w), ("op_a", a), ("op_b", b), ("slot", int(v["a_slot"])))
        return Finding(values, f"D={D}, N={N}: on worker {w}, {a} and {b} both run in slot {v['a_slot']}")
    j = int(v["j"])
    src = label(None, int(v["src_stage"]), "F" if v["src_fwd"] else "B", j)
    dst = label(None, int(v["dst_stage"]), "F" if v["dst_fwd"] else "B", j)
    values = (*base, ("edge", f"{src} -> {dst}"), ("producer_slot", int(v["src_slot"])),
              ("consumer_slot", int(v["dst_slot"])))
    return Finding(values, f"D={D}, N={N}: dependency {src} -> {dst} goes from slot "
                           f"{v['src_slot']} to slot {v['dst_slot']} (not forward)")


def _recheck(v: Values, early: int) -> bool:
    D, N = int(v["D"]), int(v["N"])
    if v["collide"]:
        w = int(v["w"])
        ops = {(bool(v[f"{t}_fwd"]), int(v[f"{t}_j"])) for t in ("a", "b")}
        slots = {_slot(D, w, j, fwd, early=early) for fwd, j in ops}
        return len(ops) == 2 and len(slots) == 1 and all(0 <= j < N for _, j in ops)
    j, ss, ds = int(v["j"]), int(v["src_stage"]), int(v["dst_stage"])
    ok = 0 <= j < N and 0 <= ss < D and 0 <= ds < D
    src = _slot(D, ss, j, bool(v["src_fwd"]), early=early)
    dst = _slot(D, ds, j, bool(v["dst_fwd"]), early=early)
    return bool(ok and dst <= src)


def build(ctx: z3.Context, *, early: int = 0) -> Query:
    """The negated claim: a collision on worker w, or a dependency edge not forward."""
    b = Builder(ctx)
    D, N, w = one_f_one_b_params(b)
    slot = partial(_slot, early=early)
    ops = []
    for tag in ("a", "b"):
        fwd = b.boolean(f"{tag}_fwd")
        j = b.integer(f"{tag}_j", lo=0, below=N)
        ops.append((fwd, j, b.define(f"{tag}_slot", slot(D, w, j, fwd))))
    collide = b.boolean("collide")
    b.require(collide == z3.And(z3.Or(ops[0][0] != ops[1][0], ops[0][1] != ops[1][1]),
                                ops[0][2] == ops[1][2]))
    edge = b.integer("edge", lo=0, below=3)
    s = b.integer("s", lo=0, below=D)
    j = b.integer("j", lo=0, below=N)
    src_stage = b.define("src_stage", select(edge == 0, s - 1, select(edge == 1, s, s + 1)))
    dst_stage = b.define("dst_stage", s)
    src_fwd, dst_fwd = b.boolean("src_fwd"), b.boolean("dst_fwd")
    b.require(src_fwd == (edge <= 1), dst_fwd == (edge == 0), src_stage >= 0, src_stage < D)
    src = b.define("src_slot", slot(D, src_stage, j, src_fwd))
    dst = b.define("dst_slot", slot(D, dst_stage, j, dst_fwd))
    return b.query(
        z3.Or(collide, dst <= src),
        _describe,
        shrink=("D", "N", "w"),
        recheck=partial(_recheck, early=early),
    )


THEOREMS = (
    Theorem(
        name=NAME,
        claim="the 1F1B unit-slot closed form puts at most one op per worker per slot and "
        "every dependency edge points strictly forward in slot time",
        formula="forall D>=1, N>=D: slots distinct per worker, slot(u) < slot(v) for edges u->v",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-early-forward",
        claim="with steady-state forwards at 2j + s - 1 the 1F1B timetable is still valid",
        formula="forall D>=1, N>=D: slots' distinct per worker, slot'(u) < slot'(v)",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, early=1),
        control_of=NAME,
    ),
)
