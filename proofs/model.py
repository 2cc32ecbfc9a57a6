"""Closed forms of the unit-slot schedules, shared by the theorem modules.

Each closed form is written once, for Python integers and Z3 terms alike (through
:func:`verify.smt.encoding.select`), so the formula the parametric theorems prove things
about is the very formula the bounded theorems compare with the generators. None of it
is taken from the generators.

**Chimera** (D even, h = D/2, K units): pipeline ``down`` puts stage s on worker s,
``up`` on worker D-1-s; a pipeline's micro-batch j = k*h + i (unit k, position i < h)
runs ``F`` at ``2D*k + 2i + s`` and ``B`` at ``2D*k + 2i + 2D - 1 - s``.

>>> chimera_slot(4, 0, 1, 0, True), chimera_slot(4, 0, 1, 0, False)
(2, 9)

**1F1B** (one pipeline, stage s on worker s, unit slots, F = B = 1): stage s runs
``F(s, j)`` at ``j + s`` during warm-up (``j + s <= D - 1``), at ``2j + s`` afterwards, and
``B(s, j)`` at ``2D - 1 - s + 2j``.

>>> [one_f_one_b_forward(4, 3, j) for j in range(3)], one_f_one_b_backward(4, 3, 0)
([3, 5, 7], 4)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from verify.smt.encoding import Builder, Finding, Term, select

DOWN, UP = "down", "up"

SlotForm = Callable[[Term, Term, Term, Term, Term], Term]
"""``(D, unit_start, i, stage, forward) -> slot``."""


def chimera_stage(D: Term, worker: Term, down: Term) -> Term:
    """The stage a pipeline places on ``worker``: s = w (down) or s = D-1-w (up)."""
    return select(down, worker, D - 1 - worker)


def chimera_slot(D: Term, unit_start: Term, i: Term, stage: Term, forward: Term) -> Term:
    """Unit slot of F (``forward``) or B of position ``i`` in the unit starting at
    ``unit_start`` (= 2D*k) on ``stage``."""
    return unit_start + 2 * i + select(forward, stage, 2 * D - 1 - stage)


def one_f_one_b_forward(D: Term, stage: Term, j: Term) -> Term:
    """Unit slot of ``F(stage, j)`` under 1F1B."""
    return select(j + stage <= D - 1, j + stage, 2 * j + stage)


def one_f_one_b_backward(D: Term, stage: Term, j: Term) -> Term:
    """Unit slot of ``B(stage, j)`` under 1F1B."""
    return 2 * D - 1 - stage + 2 * j


def label(pipeline: str | None, stage: int, kind: str, microbatch: int) -> str:
    """An op in the action grammar (``down:1F0``; no prefix for a single pipeline)."""
    prefix = f"{pipeline}:" if pipeline else ""
    return f"{prefix}{stage}{kind}{microbatch}"


# ------------------------------------------------------------------ Chimera encodings
@dataclass(frozen=True, slots=True)
class ChimeraOp:
    """The Z3 variables of one symbolic Chimera op named ``tag`` on a given worker."""

    tag: str
    down: Any
    forward: Any
    k: Any
    i: Any
    stage: Any
    slot: Any


@dataclass(frozen=True, slots=True)
class ChimeraParams:
    """Even D = 2h with K >= 1 basic units (N = K*D)."""

    D: Any
    h: Any
    K: Any


def chimera_params(b: Builder) -> ChimeraParams:
    """Declare ``h >= 1``, ``D = 2h``, ``K >= 1``."""
    h = b.integer("h", lo=1)
    D = b.define("D", 2 * h)
    K = b.integer("K", lo=1)
    return ChimeraParams(D, h, K)


def chimera_op(
    b: Builder,
    tag: str,
    *,
    D: Term,
    worker: Term,
    k: Term,
    unit_start: Term,
    per_unit: Term,
    slot_of: SlotForm = chimera_slot,
) -> ChimeraOp:
    """An op of either pipeline and kind on ``worker``, in unit ``k`` (whose first slot
    is ``unit_start``), position ``0 <= i < per_unit``."""
    down = b.boolean(f"{tag}_down")
    forward = b.boolean(f"{tag}_fwd")
    i = b.integer(f"{tag}_i", lo=0, below=per_unit)
    stage = b.define(f"{tag}_stage", chimera_stage(D, worker, down))
    slot = b.define(f"{tag}_slot", slot_of(D, unit_start, i, stage, forward))
    return ChimeraOp(tag, down, forward, k, i, stage, slot)


def differ(a: ChimeraOp, b: ChimeraOp) -> Any:
    """The two symbolic ops are different ops (pipeline, kind or micro-batch differ)."""
    return z3.Or(a.down != b.down, a.forward != b.forward, a.k != b.k, a.i != b.i)


def chimera_label(v: Any, tag: str, per_unit: int) -> str:
    """Render the op ``tag`` of a model (``down:1F0``)."""
    pipe = DOWN if v[f"{tag}_down"] else UP
    kind = "F" if v[f"{tag}_fwd"] else "B"
    return label(pipe, int(v[f"{tag}_stage"]), kind, int(v[f"{tag}_k"]) * per_unit + int(v[f"{tag}_i"]))


def op_order(text: str) -> tuple[bool, bool, str]:
    """Sort key showing ``down`` before ``up`` and F before B in counterexamples."""
    return (not text.startswith(DOWN), "F" not in text.rsplit(":", maxsplit=1)[-1], text)


def describe_collision(v: Any, *, per_unit: int, microbatches: int, extra: str = "") -> Finding:
    """Counterexample of a slot collision between symbolic ops ``a`` and ``b`` on ``w``."""
    first, second = sorted(
        (chimera_label(v, "a", per_unit), chimera_label(v, "b", per_unit)), key=op_order
    )
    values: tuple[tuple[str, int | bool | str], ...] = (
        ("D", int(v["D"])),
        ("N", microbatches),
        ("worker", int(v["w"])),
        ("op_a", first),
        ("op_b", second),
        ("slot", int(v["a_slot"])),
    )
    text = (
        f"D={v['D']}, N={microbatches}: on worker {v['w']}, {first} and {second} "
        f"both run in slot {v['a_slot']}{extra}"
    )
    return Finding(values, text)


# ------------------------------------------------------- concrete re-checks (Python ints)
_LABEL_RE = re.compile(r"^(?:(?P<pipe>[a-z0-9]+):)?(?P<stage>\d+)(?P<kind>[FB])(?P<mb>\d+)$")


def chimera_place(
    D: int, N: int, per_unit: int, text: str, slot_of: SlotForm = chimera_slot
) -> tuple[int, int] | None:
    """``(worker, slot)`` of the Chimera op written ``text`` (``up:1F0``) in the
    instance with D stages and N micro-batches (down gets the odd one), or None if the
    instance has no such op."""
    m = _LABEL_RE.match(text)
    if m is None or m.group("pipe") not in (DOWN, UP):
        return None
    down = m.group("pipe") == DOWN
    stage, j = int(m.group("stage")), int(m.group("mb"))
    if not (0 <= stage < D and j < ((N + 1) // 2 if down else N // 2)):
        return None
    k, i = divmod(j, per_unit)
    worker = stage if down else D - 1 - stage
    return worker, int(slot_of(D, 2 * D * k, i, stage, m.group("kind") == "F"))


def collision_holds(finding: Finding, per_unit: int, slot_of: SlotForm = chimera_slot) -> bool:
    """Re-check a reported collision by evaluating the slot form on Python ints."""
    f = finding.as_dict()
    D, N, w, slot = (int(f[key]) for key in ("D", "N", "worker", "slot"))
    a, b = str(f["op_a"]), str(f["op_b"])
    return a != b and all(
        chimera_place(D, N, per_unit, op, slot_of) == (w, slot) for op in (a, b)
    )


def chimera_in_flight(D: int, N: int, worker: int, t: int) -> int:
    """Micro-batches of both pipelines whose activations ``worker`` holds at slot ``t``."""
    h = D // 2
    count = 0
    for down, n in ((True, (N + 1) // 2), (False, N // 2)):
        stage = worker if down else D - 1 - worker
        for j in range(n):
            k, i = divmod(j, h)
            f = chimera_slot(D, 2 * D * k, i, stage, True)
            count += f <= t <= chimera_slot(D, 2 * D * k, i, stage, False)
    return count


# --------------------------------------------------------------------- 1F1B encodings
@dataclass(frozen=True, slots=True)
class OneFOneBOp:
    """The Z3 variables of one symbolic 1F1B op named ``tag`` on a given stage."""

    tag: str
    forward: Any
    j: Any
    slot: Any


def one_f_one_b_slot(D: Term, stage: Term, j: Term, forward: Term) -> Term:
    """Unit slot of F (``forward``) or B of micro-batch ``j`` on ``stage`` under 1F1B."""
    return select(forward, one_f_one_b_forward(D, stage, j), one_f_one_b_backward(D, stage, j))


def one_f_one_b_op(b: Builder, tag: str, *, D: Term, N: Term, stage: Term) -> OneFOneBOp:
    """A symbolic op (F or B of any micro-batch ``0 <= j < N``) on ``stage``."""
    forward = b.boolean(f"{tag}_fwd")
    j = b.integer(f"{tag}_j", lo=0, below=N)
    slot = b.define(f"{tag}_slot", one_f_one_b_slot(D, stage, j, forward))
    return OneFOneBOp(tag, forward, j, slot)


def one_f_one_b_params(b: Builder) -> tuple[Any, Any, Any]:
    """Declare ``D >= 1``, ``N >= D`` and the worker (= stage) ``0 <= w < D``."""
    D = b.integer("D", lo=1)
    N = b.integer("N", lo=D)
    w = b.integer("w", lo=0, below=D)
    return D, N, w


def one_f_one_b_label(v: Any, tag: str, stage: int) -> str:
    """Render the 1F1B op ``tag`` of a model (``2F0``)."""
    return label(None, stage, "F" if v[f"{tag}_fwd"] else "B", int(v[f"{tag}_j"]))
