"""Chimera, unit slots: every worker idles exactly D - 2 slots, for every even D and K.

**Claim.** For every even D >= 2 and K >= 1 (N = K*D), each worker w runs its 2N ops
(N/2 micro-batches of each pipeline, one F and one B each, on its one stage of each
pipeline) in 2N distinct slots, all inside the makespan window [0, 2N + D - 2); so it is
busy 2N slots and idle exactly (2N + D - 2) - 2N = D - 2 slots (bubble ratio
(D - 2)/(2N + D - 2)).

**Formula.**::

    forall h >= 1, K >= 1, 0 <= w < D (D = 2h), ops a != b on w:
        slot(a) != slot(b)  and  0 <= slot(a) < 2N + D - 2

The count 2N needs no solver: an op on w is determined by (pipeline, kind, k, i) with
2 * 2 * K * h = 2N choices, since each pipeline places exactly one stage on w (s = w
or D-1-w, both in [0, D)). Distinct slots inside a window of 2N + D - 2 slots leave
exactly D - 2 of them idle. Products h*k_a, h*k_b, h*K with lemmas (QF_LIA).

**Negative control** ``chimera-idle-control-one-less``: "idle D - 3" (window
2N + D - 3) must be refuted.
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import (
    chimera_label,
    chimera_op,
    chimera_params,
    chimera_place,
    collision_holds,
    describe_collision,
    differ,
)
from verify.smt.encoding import Builder
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "chimera-idle"
SCOPE = "every even D >= 2 and K >= 1 (N = K*D)"


def _describe(v: Values) -> Finding:
    D, N, window = int(v["D"]), int(v["N"]), int(v["window"])
    if int(v["a_slot"]) == int(v["b_slot"]):
        return describe_collision(v, per_unit=int(v["h"]), microbatches=N)
    op = chimera_label(v, "a", int(v["h"]))
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", D), ("N", N), ("worker", int(v["w"])), ("op", op), ("slot", int(v["a_slot"])),
        ("window", window),
    )
    text = (
        f"D={D}, N={N}: {op} on worker {v['w']} runs in slot {v['a_slot']}, outside the "
        f"window [0, {window}) that would leave {window - 2 * N} idle slots"
    )
    return Finding(values, text)


def _recheck(v: Values) -> bool:
    finding = _describe(v)
    if int(v["a_slot"]) == int(v["b_slot"]):
        return collision_holds(finding, int(v["h"]))
    f = finding.as_dict()
    place = chimera_place(int(v["D"]), int(v["N"]), int(v["h"]), str(f["op"]))
    return place is not None and place[0] == f["worker"] and not 0 <= place[1] < int(f["window"])


def build(ctx: z3.Context, *, slack: int = 0) -> Query:
    """The negated claim: a collision on w, or an op of w outside the window."""
    b = Builder(ctx)
    p = chimera_params(b)
    w = b.integer("w", lo=0, below=p.D)
    ka = b.integer("a_k", lo=0, below=p.K)
    kb = b.integer("b_k", lo=0, below=p.K)
    hk = b.multiply(p.h, [("h_a_k", ka), ("h_b_k", kb), ("hK", p.K)])
    N = b.define("N", 2 * hk["hK"])
    window = b.define("window", 2 * N + p.D - 2 + slack)
    a, c = (
        chimera_op(b, tag, D=p.D, worker=w, k=k, unit_start=4 * hk[f"h_{tag}_k"], per_unit=p.h)
        for tag, k in (("a", ka), ("b", kb))
    )
    wrong = z3.Or(z3.And(differ(a, c), a.slot == c.slot), a.slot < 0, a.slot >= window)
    return b.query(wrong, _describe, shrink=("D", "K"), recheck=_recheck)


THEOREMS = (
    Theorem(
        name=NAME,
        claim="every worker of Chimera's unit-slot schedule is busy 2N slots, all distinct "
        "and inside [0, 2N + D - 2), hence idle exactly D - 2 slots",
        formula="forall even D>=2, K>=1, w: idle(w) = (2N + D - 2) - 2N = D - 2",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-one-less",
        claim="every worker of Chimera's unit-slot schedule idles D - 3 slots "
        "(its 2N ops fit in [0, 2N + D - 3))",
        formula="forall even D>=2, K>=1, w: idle(w) = D - 3",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, slack=-1),
        control_of=NAME,
    ),
)
