"""Chimera with 2f pipelines (f | D/2): conflict-free, makespan 2D + D/f - 2.

**Placement** (chimera.md, "More than two pipelines"): f down and f up pipelines over D
workers, each with m = D/(2f) micro-batches (N = 2f*m = D). Down pipeline k puts stage s
on worker (k*D/f + s) mod D, up pipeline k puts stage s on (k*D/f + D - 1 - s) mod D.

**Derivation of the slot formula.** Every pipeline runs the Chimera unit of one pipeline
with m micro-batches instead of D/2, and all pipelines start at slot 0: micro-batch i of
any pipeline runs F(s) at 2i + s and B(s) at 2i + 2D - 1 - s. Why these slots fit
together on a worker w, in terms of stages (D/f = 2m is even, so "mod D" keeps parity):

* two pipelines of one direction place different stages on w, and those stages differ
  by a non-zero multiple of D/f = 2m (mod D); two F (or two B) of them would need
  2|i - i'| = |s - s'| >= 2m, but |i - i'| <= m - 1;
* down places a stage of the parity of w, up one of the other parity (D - 1 - w), and
  F(s) has the parity of s, B(s) the other one; so down-F can only meet up-B (and
  down-B only up-F), which needs s_down + s_up = 2D - 1 - 2(i - i'); with
  s_down + s_up = (k' - k)*2m + D - 1 (mod D) this forces |i - i'| to be a non-zero
  multiple of m or s_down + s_up = 2D - 1 > 2D - 2, both impossible.

With f = 1 this is Chimera's unit (h = m = D/2). The makespan is
B(0, m-1) + 1 = 2D + 2m - 2 = 2D + D/f - 2, each worker runs 2f*m*2 = 2D ops, so it idles
D/f - 2 slots (chimera.md: bubble ratio (D - 2f)/(2fN + D - 2f) at N = D).

**Formulas.**::

    conflict-free: forall m >= 1, f >= 1 (D = 2mf), w, ops a != b on w: slot(a) != slot(b)
    makespan/idle: forall m, f, w, op a on w: 0 <= slot(a) < 2D + 2m - 2,
                   slot(B(0, m-1)) = 2D + 2m - 3, and no two ops of w share a slot

**Encoding.** The placement is encoded forward, as stated: worker = 2m*k + s - D*q (down)
or 2m*k + D - 1 - s - D*q (up) with a wrap bit q and 0 <= worker < D; the products m*k_a,
m*k_b and m*f (D = 2*(m*f)) are fresh variables with lemmas (QF_LIA).

**Negative controls**: one extra micro-batch per pipeline (``...-control-extra-microbatch``)
and the makespan 2D + D/f - 3 (``...-control-off-by-one``) must be refuted.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import z3

from proofs.model import chimera_slot, label
from verify.smt.encoding import Builder
from verify.smt.theorem import Finding, Query, Theorem, Values, Verdict

NAME_CONFLICT = "chimera-2f-conflict-free"
NAME_SPAN = "chimera-2f-makespan-idle"
SCOPE = "every D >= 2 and f >= 1 with f | D/2 (m = D/(2f) micro-batches per pipeline)"


def _label(v: Values, tag: str) -> str:
    pipe = f"{'down' if v[f'{tag}_down'] else 'up'}{v[f'{tag}_k']}"
    return label(pipe, int(v[f"{tag}_s"]), "F" if v[f"{tag}_fwd"] else "B", int(v[f"{tag}_i"]))


def place(D: int, m: int, pipe: str, stage: int) -> int:
    """Worker of ``stage`` of pipeline ``down<k>`` / ``up<k>`` (Python ints)."""
    k = int(pipe.removeprefix("down").removeprefix("up"))
    offset = stage if pipe.startswith("down") else D - 1 - stage
    return (2 * m * k + offset) % D


def _recheck(v: Values, extra: int) -> bool:
    """Recompute both ops' workers and slots from their labels."""
    D, m, w = int(v["D"]), int(v["m"]), int(v["w"])
    seen = []
    for tag in ("a", "b"):
        pipe = _label(v, tag).split(":")[0]
        stage = int(v[f"{tag}_s"])
        kind = "F" if v[f"{tag}_fwd"] else "B"
        i = int(v[f"{tag}_i"])
        if not (0 <= i < m + extra and 0 <= stage < D) or place(D, m, pipe, stage) != w:
            return False
        seen.append((pipe, kind, i, chimera_slot(D, 0, i, stage, kind == "F")))
    return seen[0][:3] != seen[1][:3] and seen[0][3] == seen[1][3]


def _describe(v: Values) -> Finding:
    a, b = _label(v, "a"), _label(v, "b")
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", int(v["D"])), ("f", int(v["f"])), ("worker", int(v["w"])),
        ("op_a", a), ("op_b", b), ("slot", int(v["a_slot"])),
    )
    text = (
        f"D={v['D']}, f={v['f']} ({2 * int(v['f'])} pipelines): on worker {v['w']}, "
        f"{a} and {b} both run in slot {v['a_slot']}"
    )
    return Finding(values, text)


def _describe_span(v: Values) -> Finding:
    if int(v["a_slot"]) == int(v["b_slot"]) and _label(v, "a") != _label(v, "b"):
        return _describe(v)
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", int(v["D"])), ("f", int(v["f"])), ("makespan", int(v["makespan"])),
        ("last_slot", int(v["last_slot"])), ("worker", int(v["w"])), ("op", _label(v, "a")),
        ("slot", int(v["a_slot"])),
    )
    text = (
        f"D={v['D']}, f={v['f']}: claimed makespan {v['makespan']}, but {_label(v, 'a')} runs "
        f"in slot {v['a_slot']} and the last backward in slot {v['last_slot']}"
    )
    return Finding(values, text)


def _op(b: Builder, tag: str, *, D: Any, w: Any, m: Any, f: Any, mk: Any, per_pipe: Any) -> Any:
    down, fwd = b.boolean(f"{tag}_down"), b.boolean(f"{tag}_fwd")
    s = b.integer(f"{tag}_s", lo=0, below=D)
    i = b.integer(f"{tag}_i", lo=0, below=per_pipe)
    wrap = b.boolean(f"{tag}_wrap")
    b.require(w == 2 * mk + z3.If(down, s, D - 1 - s) - z3.If(wrap, D, 0))
    slot = b.define(f"{tag}_slot", chimera_slot(D, 0, i, s, fwd))
    return down, fwd, i, slot


def _setup(b: Builder, *, extra: int) -> tuple[Any, ...]:
    m = b.integer("m", lo=1)
    f = b.integer("f", lo=1)
    ka = b.integer("a_k", lo=0, below=f)
    kb = b.integer("b_k", lo=0, below=f)
    mk = b.multiply(m, [("m_a_k", ka), ("m_b_k", kb), ("mf", f)])
    D = b.define("D", 2 * mk["mf"])
    w = b.integer("w", lo=0, below=D)
    a = _op(b, "a", D=D, w=w, m=m, f=f, mk=mk["m_a_k"], per_pipe=m + extra)
    c = _op(b, "b", D=D, w=w, m=m, f=f, mk=mk["m_b_k"], per_pipe=m + extra)
    differ = z3.Or(a[0] != c[0], a[1] != c[1], ka != kb, a[2] != c[2])
    clash = z3.And(differ, a[3] == c[3])
    return m, D, a, clash


def build_conflict(ctx: z3.Context, *, extra: int = 0) -> Query:
    """The negated claim: two different ops on one worker in the same slot."""
    b = Builder(ctx)
    _m, _D, _a, clash = _setup(b, extra=extra)
    return b.query(
        clash, _describe, shrink=("D", "f", "a_slot", "w"), recheck=partial(_recheck, extra=extra)
    )


def build_span(ctx: z3.Context, *, slack: int = 0) -> Query:
    """The negated claim: a collision, an op outside the window, or the window not used."""
    b = Builder(ctx)
    m, D, a, clash = _setup(b, extra=0)
    span = b.define("makespan", 2 * D + 2 * m - 2 + slack)
    last = b.define("last_slot", chimera_slot(D, 0, m - 1, 0, False))
    wrong = z3.Or(clash, a[3] < 0, a[3] >= span, last != span - 1)
    return b.query(wrong, _describe_span, shrink=("D", "f"))


THEOREMS = (
    Theorem(
        name=NAME_CONFLICT,
        claim="Chimera with f down and f up pipelines (f | D/2, D/(2f) micro-batches each, "
        "all starting at slot 0) puts at most one op per worker per slot",
        formula="forall m>=1, f>=1 (D = 2mf), w, ops a!=b on w: slot(a) != slot(b)",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build_conflict,
    ),
    Theorem(
        name=NAME_SPAN,
        claim="Chimera with 2f pipelines has makespan 2D + D/f - 2 (attained) and every "
        "worker idles D/f - 2 slots",
        formula="forall m, f (D = 2mf): max slot + 1 = 2D + D/f - 2, idle(w) = D/f - 2",
        expected=Verdict.PROVED,
        scope=SCOPE,
        build=build_span,
    ),
    Theorem(
        name=f"{NAME_CONFLICT}-control-extra-microbatch",
        claim="Chimera with 2f pipelines stays conflict-free with D/(2f) + 1 micro-batches "
        "per pipeline",
        formula="forall m, f (D = 2mf), w, ops a!=b on w, i < m + 1: slot(a) != slot(b)",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build_conflict, extra=1),
        control_of=NAME_CONFLICT,
    ),
    Theorem(
        name=f"{NAME_SPAN}-control-off-by-one",
        claim="Chimera with 2f pipelines has makespan 2D + D/f - 3",
        formula="forall m, f (D = 2mf): max slot + 1 = 2D + D/f - 3",
        expected=Verdict.REFUTED,
        scope=SCOPE,
        build=partial(build_span, slack=-1),
        control_of=NAME_SPAN,
    ),
)
