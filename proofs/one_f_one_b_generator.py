"""The 1F1B generator's per-worker order is the closed form sorted by slot (bounded).

**Claim** (``1f1b-generator-order``). For 1 <= D <= 16 and D <= N <= 32, every worker
program of ``verify.generators.classic.one_f_one_b(D, N)`` is the list of that worker's
ops (stage w, F and B of every micro-batch) sorted by the 1F1B closed form of
:mod:`proofs.model`, and its one pipeline places stage s on worker s. The expected order
is computed here from the closed form, not from the generator.

Together with ``1f1b-timetable-valid`` and ``1f1b-earliest-start`` this makes the
parametric makespan and peak theorems statements about the generator's schedule.

**Negative control** ``1f1b-generator-order-control-gpipe``: GPipe's order
(``gpipe(D, N)``) compared with the same closed form must fail, with the first differing
position printed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from proofs.model import label, one_f_one_b_slot
from verify.core.actions import format_action
from verify.core.schedule import Schedule
from verify.generators.classic import gpipe, one_f_one_b
from verify.smt.theorem import Enumeration, Finding, Theorem, Verdict

NAME = "1f1b-generator-order"
MAX_D, MAX_N = 16, 32


def expected_order(D: int, N: int, w: int) -> list[str]:
    """Worker w's ops sorted by their 1F1B closed-form slot."""
    ops = [(int(one_f_one_b_slot(D, w, j, f)), label(None, w, "F" if f else "B", j))
           for j in range(N) for f in (True, False)]
    return [op for _, op in sorted(ops)]


def check(generator: Callable[[int, int], Schedule] = one_f_one_b,
          max_d: int = MAX_D, max_n: int = MAX_N) -> Enumeration:
    """Compare the generator's programs with the closed-form order for all D, N in range."""
    cases = 0
    for D in range(1, max_d + 1):
        for N in range(D, max_n + 1):
            cases += 1
            s = generator(D, N)
            if len(s.pipelines) != 1 or s.pipelines[0].placement != tuple(range(D)):
                return Enumeration(cases, Finding((("D", D), ("N", N)),
                                                  f"D={D}, N={N}: placement is not stage s on worker s"))
            pipe = s.pipelines[0].name
            for w in range(D):
                got = [format_action(a, default_pipeline=pipe) for a in s.programs[w]]
                want = expected_order(D, N, w)
                if got != want:
                    pos = next((i for i, (g, e) in enumerate(zip(got, want)) if g != e),
                               min(len(got), len(want)))
                    g = got[pos] if pos < len(got) else "nothing"
                    e = want[pos] if pos < len(want) else "nothing"
                    values: tuple[tuple[str, int | bool | str], ...] = (
                        ("D", D), ("N", N), ("worker", w), ("position", pos), ("generator", g),
                        ("closed_form", e),
                    )
                    return Enumeration(cases, Finding(
                        values, f"D={D}, N={N}: worker {w}, position {pos}: the generator has "
                                f"{g}, the closed form {e}"))
    return Enumeration(cases, None)


THEOREMS = (
    Theorem(
        name=NAME,
        claim="one_f_one_b(D, N) runs on each worker exactly the 1F1B closed-form ops sorted "
        "by slot",
        formula="forall 1<=D<=16, D<=N<=32, w: program(w) = sort_by_slot(ops of stage w)",
        expected=Verdict.PROVED,
        scope=f"1 <= D <= {MAX_D}, D <= N <= {MAX_N}, exhaustive",
        enumerate=check,
    ),
    Theorem(
        name=f"{NAME}-control-gpipe",
        claim="gpipe(D, N) runs the 1F1B closed-form order",
        formula="forall D, N, w: program_gpipe(w) = sort_by_slot(ops of stage w)",
        expected=Verdict.REFUTED,
        scope=f"1 <= D <= {MAX_D}, D <= N <= {MAX_N}, exhaustive",
        enumerate=partial(check, gpipe),
        control_of=NAME,
    ),
)
