"""Chimera's unit-slot *times* kept rigid with real durations: overlaps unless B = F.

The slot table is drawn with equal forward and backward widths. Keeping its start times
(op at unit slot t starts at time t) but giving ops their real durations, an op occupies
[t, t + duration). This is the "rigid timetable" reading of the paper's figure; the
execution semantics the toolkit checks elsewhere is instead "per-worker order plus
durations, earliest start" (chimera.md), which never overlaps.

**Claim refuted** (``chimera-rigid-b2f-conflict-free``, expected REFUTED): "with F = 1
and B = 2 the rigid timetable has no two overlapping ops on a worker, for every even D
and K". The shrunk counterexample is printed (already D = 2: a backward of length 2
runs into the next op).

**Claim proved** (``chimera-rigid-unit-conflict-free``): with F = B = 1 the rigid
timetable never overlaps, for every even D >= 2 and K >= 1 (the interval form of
:mod:`proofs.chimera_conflict`; it shows the overlap encoding is not trivially sat).
::

    forall even D, K, w, ops a != b on w:
        not (start(a) <= start(b) < start(a) + dur(a)),  dur(F) = 1, dur(B) in {1, 2}

Products h*k_a, h*k_b as in the other Chimera theorems (QF_LIA).
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import chimera_label as _label
from proofs.model import chimera_op, chimera_params, chimera_place, differ
from verify.smt.encoding import Builder
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME_B2F = "chimera-rigid-b2f-conflict-free"
NAME_UNIT = "chimera-rigid-unit-conflict-free"
SCOPE = "every even D >= 2 and K >= 1 (N = K*D)"


def _describe(v: Values, backward: int) -> Finding:
    D, h, N = int(v["D"]), int(v["h"]), int(v["K"]) * int(v["D"])
    a, b = _label(v, "a", h), _label(v, "b", h)
    start_a, start_b, end_a = int(v["a_slot"]), int(v["b_slot"]), int(v["a_end"])
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", D), ("N", N), ("F", 1), ("B", backward), ("worker", int(v["w"])),
        ("op_a", a), ("start_a", start_a), ("end_a", end_a), ("op_b", b), ("start_b", start_b),
    )
    text = (
        f"D={D}, N={N}, F=1, B={backward}: on worker {v['w']}, {a} runs over "
        f"[{start_a}, {end_a}) and {b} starts at {start_b} inside it"
    )
    return Finding(values, text)


def _recheck(v: Values, backward: int) -> bool:
    f = _describe(v, backward).as_dict()
    D, N, h = int(f["D"]), int(f["N"]), int(v["h"])
    pa = chimera_place(D, N, h, str(f["op_a"]))
    pb = chimera_place(D, N, h, str(f["op_b"]))
    if pa is None or pb is None or pa[0] != pb[0] or f["op_a"] == f["op_b"]:
        return False
    dur = 1 if "F" in str(f["op_a"]).split(":")[1] else backward
    return pa[1] <= pb[1] < pa[1] + dur


def build(ctx: z3.Context, *, backward: int) -> Query:
    """The negated claim: op b starts while op a (same worker) is still running."""
    b = Builder(ctx)
    p = chimera_params(b)
    w = b.integer("w", lo=0, below=p.D)
    ka = b.integer("a_k", lo=0, below=p.K)
    kb = b.integer("b_k", lo=0, below=p.K)
    hk = b.multiply(p.h, [("h_a_k", ka), ("h_b_k", kb)])
    a, c = (
        chimera_op(b, tag, D=p.D, worker=w, k=k, unit_start=4 * hk[f"h_{tag}_k"], per_unit=p.h)
        for tag, k in (("a", ka), ("b", kb))
    )
    end_a = b.define("a_end", a.slot + z3.If(a.forward, 1, backward))
    overlap = z3.And(differ(a, c), a.slot <= c.slot, c.slot < end_a)
    return b.query(
        overlap,
        partial(_describe, backward=backward),
        shrink=("D", "K", "a_slot", "w"),
        recheck=partial(_recheck, backward=backward),
    )


THEOREMS = (
    Theorem(
        name=NAME_B2F,
        claim="keeping Chimera's unit-slot start times rigid with F = 1, B = 2, no two ops "
        "overlap on a worker",
        formula="forall even D, K, w, ops a!=b on w: not (t(a) <= t(b) < t(a) + dur(a)), "
        "dur(F) = 1, dur(B) = 2",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, backward=2),
    ),
    Theorem(
        name=NAME_UNIT,
        claim="keeping Chimera's unit-slot start times with F = B = 1, no two ops overlap "
        "on a worker",
        formula="forall even D, K, w, ops a!=b on w: not (t(a) <= t(b) < t(a) + 1)",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=partial(build, backward=1),
    ),
)
