"""The Chimera generators produce exactly the closed-form slots (bounded, exhaustive).

The parametric theorems speak about the closed form of :mod:`proofs.model`; these
theorems tie it to the code that users run. Since a generator is Python code, not a
formula, the check is an enumeration up to a stated bound: for each instance, every
worker's program and start times must be the closed-form ops of that worker sorted by
slot (ties: down before up), and the pipelines must have the stated placement and
micro-batch split. The expected programs are computed here from the placement rules and
:func:`proofs.model.chimera_slot`, never from the generator module.

**Claims.**

* ``chimera-generator-slots``: for even D <= 32 and K <= 4 (N = K*D),
  ``verify.generators.chimera.chimera(D, N)`` is the closed-form slot table.
* ``chimera-naive-generator-slots``: for odd D <= 21 and K <= 3 (N = K*D),
  ``chimera_naive(D, N)`` is the naive closed form (ceil(D/2) micro-batches per unit),
  and worker (D-1)/2 runs ``down:mF0`` and ``up:mF0`` both in slot m = (D-1)/2 (the
  collision of :mod:`proofs.chimera_odd` is really in the generator's output).

**Negative control** ``chimera-generator-slots-control-late-backward``: comparing the
generator with B at 2D*k + 2i + 2D - s (one slot late) must fail, with the first
mismatching op printed.
"""

from __future__ import annotations

from functools import partial

from proofs.model import DOWN, UP, SlotForm, chimera_slot, label
from verify.core.actions import format_action
from verify.core.schedule import Schedule, TimingUnit
from verify.generators.chimera import chimera, chimera_naive
from verify.smt.encoding import Term, select
from verify.smt.theorem import Enumeration, Finding, Theorem, Verdict

NAME = "chimera-generator-slots"
NAME_NAIVE = "chimera-naive-generator-slots"
MAX_D, MAX_K = 32, 4
MAX_ODD_D, MAX_ODD_K = 21, 3


def _late_backward(D: Term, unit_start: Term, i: Term, stage: Term, forward: Term) -> Term:
    return unit_start + 2 * i + select(forward, stage, 2 * D - stage)


def expected_rows(D: int, N: int, per_unit: int, slot_of: SlotForm) -> list[list[tuple[int, str]]]:
    """Per worker, ``(slot, op)`` of the closed form, sorted by slot then pipeline."""
    rows: list[list[tuple[int, int, str]]] = [[] for _ in range(D)]
    for order, (pipe, count) in enumerate(((DOWN, (N + 1) // 2), (UP, N // 2))):
        for stage in range(D):
            worker = stage if pipe == DOWN else D - 1 - stage
            for j in range(count):
                k, i = divmod(j, per_unit)
                for kind in ("F", "B"):
                    slot = int(slot_of(D, 2 * D * k, i, stage, kind == "F"))
                    rows[worker].append((slot, order, label(pipe, stage, kind, j)))
    return [[(slot, op) for slot, _, op in sorted(row)] for row in rows]


def _compare(s: Schedule, D: int, N: int, per_unit: int, slot_of: SlotForm) -> Finding | None:
    base: tuple[tuple[str, int | bool | str], ...] = (("D", D), ("N", N))
    pipes = {p.name: p for p in s.pipelines}
    want = {DOWN: (tuple(range(D)), (N + 1) // 2), UP: (tuple(range(D - 1, -1, -1)), N // 2)}
    if set(pipes) != set(want) or any(
        (pipes[n].placement, pipes[n].microbatches) != want[n] for n in want
    ):
        return Finding(base, f"D={D}, N={N}: pipelines differ from the placement rules")
    if s.timing is None or s.timing.unit is not TimingUnit.STEPS:
        return Finding(base, f"D={D}, N={N}: the schedule is not timed in steps")
    for w, row in enumerate(expected_rows(D, N, per_unit, slot_of)):
        got = [
            (int(t), format_action(a, default_pipeline=None))
            for t, a in zip(s.timing.starts[w], s.programs[w])
        ]
        for pos in range(max(len(got), len(row))):
            g = got[pos] if pos < len(got) else None
            e = row[pos] if pos < len(row) else None
            if g != e:
                shown_g = f"{g[1]}@{g[0]}" if g else "nothing"
                shown_e = f"{e[1]}@{e[0]}" if e else "nothing"
                values = (*base, ("worker", w), ("position", pos), ("generator", shown_g),
                          ("closed_form", shown_e))
                return Finding(
                    values,
                    f"D={D}, N={N}: worker {w}, position {pos}: the generator has {shown_g}, "
                    f"the closed form {shown_e}",
                )
    return None


def check_even(max_d: int = MAX_D, max_k: int = MAX_K, slot_of: SlotForm = chimera_slot) -> Enumeration:
    """Compare ``chimera(D, K*D)`` with the closed form for even D <= max_d, K <= max_k."""
    cases = 0
    for D in range(2, max_d + 1, 2):
        for K in range(1, max_k + 1):
            cases += 1
            found = _compare(chimera(D, K * D), D, K * D, D // 2, slot_of)
            if found is not None:
                return Enumeration(cases, found)
    return Enumeration(cases, None)


def check_naive(max_d: int = MAX_ODD_D, max_k: int = MAX_ODD_K) -> Enumeration:
    """Compare ``chimera_naive(D, K*D)`` with the naive closed form for odd D, and find
    the middle-worker collision in its output."""
    cases = 0
    for D in range(3, max_d + 1, 2):
        m = (D - 1) // 2
        for K in range(1, max_k + 1):
            cases += 1
            s = chimera_naive(D, K * D)
            found = _compare(s, D, K * D, (D + 1) // 2, chimera_slot)
            if found is not None:
                return Enumeration(cases, found)
            starts = s.timing.starts[m] if s.timing is not None else ()
            at = {format_action(a, default_pipeline=None): t
                  for t, a in zip(starts, s.programs[m])}
            if at.get(label(DOWN, m, "F", 0)) != m or at.get(label(UP, m, "F", 0)) != m:
                values = (("D", D), ("N", K * D), ("worker", m))
                return Enumeration(cases, Finding(
                    values, f"D={D}: down:{m}F0 and up:{m}F0 are not both in slot {m} on worker {m}"
                ))
    return Enumeration(cases, None)


THEOREMS = (
    Theorem(
        name=NAME,
        claim="verify.generators.chimera.chimera(D, N) returns exactly the closed-form "
        "unit-slot table (programs sorted by slot, start times = slots)",
        formula="forall even D <= 32, K <= 4, w: program(w) = sort_by_slot(closed-form ops of w)",
        expected=Verdict.PROVED,
        scope=f"even D <= {MAX_D}, K <= {MAX_K} (N = K*D), exhaustive",
        enumerate=check_even,
    ),
    Theorem(
        name=NAME_NAIVE,
        claim="chimera_naive(D, N) returns the naive closed form for odd D, with down:F0 "
        "and up:F0 of stage (D-1)/2 both in slot (D-1)/2 on worker (D-1)/2",
        formula="forall odd D <= 21, K <= 3: program(w) = sort_by_slot(naive ops of w), "
        "collision at worker (D-1)/2",
        expected=Verdict.PROVED,
        scope=f"odd 3 <= D <= {MAX_ODD_D}, K <= {MAX_ODD_K} (N = K*D), exhaustive",
        enumerate=check_naive,
    ),
    Theorem(
        name=f"{NAME}-control-late-backward",
        claim="chimera(D, N) places B at 2D*k + 2i + 2D - s",
        formula="forall even D, K, w: program(w) = sort_by_slot(late-backward ops of w)",
        expected=Verdict.REFUTED,
        scope=f"even D <= {MAX_D}, K <= {MAX_K} (N = K*D), exhaustive",
        enumerate=partial(check_even, slot_of=_late_backward),
        control_of=NAME,
    ),
)
