"""Chimera, unit slots: the makespan is exactly 2N + D - 2 for every even D and K.

**Claim.** For every even D >= 2 and K >= 1 (N = K*D), every op of the merged schedule
runs in a slot in [0, 2N + D - 2), slot 0 is used (down:0F0 on worker 0) and the last
slot 2N + D - 3 is used by the backward of the last down micro-batch on stage 0, so
max slot + 1 = 2N + D - 2 is the makespan and it is attained.

**Formula.** With slot as in :mod:`proofs.chimera_conflict` and N = K*D::

    forall h >= 1, K >= 1, w, op a on w:  0 <= slot(a) <= 2N + D - 3
    and slot(down, F, stage 0, k=0, i=0) = 0
    and slot(down, B, stage 0, k=K-1, i=h-1) = 2N + D - 3

**Encoding.** N = 2*(h*K), the op's unit offset 4*(h*k) and the last unit's offset
4*(h*(K-1)) use three product variables with their lemmas (QF_LIA).

**Negative control** ``chimera-makespan-control-off-by-one``: the claim with makespan
2N + D - 3 must be refuted (the last backward lies outside).
"""

from __future__ import annotations

from functools import partial

import z3

from proofs.model import DOWN, chimera_op, chimera_params, chimera_place, chimera_slot, label
from verify.smt.encoding import Builder
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME = "chimera-makespan"
SCOPE = "every even D >= 2 and K >= 1 (N = K*D)"


def _describe(v: Values) -> Finding:
    D, h, N, span = int(v["D"]), int(v["h"]), int(v["N"]), int(v["makespan"])
    values: list[tuple[str, int | bool | str]] = [("D", D), ("N", N), ("makespan", span)]
    if not 0 <= int(v["a_slot"]) < span:
        op = label(DOWN if v["a_down"] else "up", int(v["a_stage"]),
                   "F" if v["a_fwd"] else "B", int(v["a_k"]) * h + int(v["a_i"]))
        values += [("worker", int(v["w"])), ("op", op), ("slot", int(v["a_slot"]))]
        text = f"D={D}, N={N}: {op} on worker {v['w']} runs in slot {v['a_slot']}, outside [0, {span})"
    else:
        op = label(DOWN, 0, "B", N // 2 - 1)
        values += [("op", op), ("slot", int(v["last_slot"]))]
        text = f"D={D}, N={N}: the last op {op} runs in slot {v['last_slot']}, not {span - 1}"
    return Finding(tuple(values), text)


def _recheck(v: Values) -> bool:
    f = _describe(v).as_dict()
    D, N, h, span = int(v["D"]), int(v["N"]), int(v["h"]), int(v["makespan"])
    place = chimera_place(D, N, h, str(f["op"]))
    if place is None or place[1] != f["slot"]:
        return False
    return not 0 <= place[1] < span if "worker" in f else place[1] != span - 1


def build(ctx: z3.Context, *, slack: int = 0) -> Query:
    """The negated claim: an op outside [0, makespan), or the extremes not attained.

    ``slack`` shifts the claimed makespan (negative controls)."""
    b = Builder(ctx)
    p = chimera_params(b)
    w = b.integer("w", lo=0, below=p.D)
    ka = b.integer("a_k", lo=0, below=p.K)
    hk = b.multiply(p.h, [("h_a_k", ka), ("hK", p.K), ("h_last_k", p.K - 1)])
    N = b.define("N", 2 * hk["hK"])
    span = b.define("makespan", 2 * N + p.D - 2 + slack)
    a = chimera_op(b, "a", D=p.D, worker=w, k=ka, unit_start=4 * hk["h_a_k"], per_unit=p.h)
    first = b.define("first_slot", chimera_slot(p.D, 0, 0, 0, True))
    last = b.define("last_slot", chimera_slot(p.D, 4 * hk["h_last_k"], p.h - 1, 0, False))
    wrong = z3.Or(a.slot < 0, a.slot >= span, first != 0, last != span - 1)
    return b.query(wrong, _describe, shrink=("D", "K"), recheck=_recheck)


THEOREMS = (
    Theorem(
        name=NAME,
        claim="Chimera's unit-slot makespan is exactly 2N + D - 2: every op lies in "
        "[0, 2N + D - 2) and the first and last slots are used",
        formula="forall even D>=2, K>=1: max slot + 1 = 2N + D - 2 (attained), min slot = 0",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build,
    ),
    Theorem(
        name=f"{NAME}-control-off-by-one",
        claim="Chimera's unit-slot makespan is 2N + D - 3",
        formula="forall even D>=2, K>=1: max slot + 1 = 2N + D - 3",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build, slack=-1),
        control_of=NAME,
    ),
)
