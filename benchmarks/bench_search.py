"""Benchmark of ``verify.search``: proofs of optimality with CP-SAT and Z3.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_search.py            # everything (~10 min)
    PYTHONPATH=. python benchmarks/bench_search.py --quick    # the measured table only
    PYTHONPATH=. python benchmarks/bench_search.py --only D8N16-cap --solvers cpsat
    PYTHONPATH=. python benchmarks/bench_search.py --no-warm-start --solvers cpsat

Prints one Markdown row per (instance, solver): verdict, value, proven bound, gap,
wall time, and the comparable families (Chimera) and 1F1B for reference. Limits are the
deterministic budgets of :class:`verify.search.Limits` (``--limit`` seconds, each).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from verify.generators import generate
from verify.search import Limits, SearchProblem, search
from verify.sim import metrics


@dataclass(frozen=True)
class Row:
    name: str
    placement: str
    D: int
    N: int
    costs: str
    cap: float | str | None = None
    """A number, or ``"chimera"`` for Chimera's peak on this instance."""
    quick: bool = False


ROWS = (
    Row("D4N4", "bidirectional", 4, 4, "F=1,B=2", quick=True),
    Row("D4N8", "bidirectional", 4, 8, "F=1,B=2", quick=True),
    Row("D8N8", "bidirectional", 8, 8, "F=1,B=2", quick=True),
    Row("D4N8-cap4", "bidirectional", 4, 8, "F=1,B=2", 4, quick=True),
    Row("D4N8-split", "bidirectional", 4, 8, "F=1,I=1,W=1", quick=True),
    Row("D8N8-split", "bidirectional", 8, 8, "F=1,I=1,W=1", quick=True),
    Row("single-D8N8", "single", 8, 8, "F=1,B=2", quick=True),
    Row("D8N16", "bidirectional", 8, 16, "F=1,B=2"),
    Row("D16N16", "bidirectional", 16, 16, "F=1,B=2"),
    Row("D16N32", "bidirectional", 16, 32, "F=1,B=2"),
    Row("D32N64", "bidirectional", 32, 64, "F=1,B=2"),
    Row("D8N16-cap", "bidirectional", 8, 16, "F=1,B=2", "chimera"),
)


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the measured (small) instances")
    ap.add_argument("--only", nargs="*", help="row names to run")
    ap.add_argument("--solvers", nargs="*", default=["cpsat", "z3"])
    ap.add_argument("--limit", type=float, default=60.0, help="budget per search, seconds")
    ap.add_argument("--no-warm-start", action="store_true",
                    help="prove from scratch (no family as a solution hint)")
    args = ap.parse_args(argv)
    print("| instance | cap | solver | status | value | bound | gap | time (s) | chimera | 1f1b |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in ROWS:
        if args.quick and not row.quick:
            continue
        if args.only and row.name not in args.only:
            continue
        cap = row.cap
        if cap == "chimera":
            m = metrics(generate("chimera", row.D, row.N), SearchProblem.build(
                row.D, row.N, costs=row.costs).costs)
            cap = max(m.peak_activations) if m is not None else None
        problem = SearchProblem.build(row.D, row.N, placement=row.placement, costs=row.costs,
                                      memory_cap=cap if not isinstance(cap, str) else None)
        for solver in args.solvers:
            began = time.perf_counter()
            out = search(problem, solver=solver, limits=Limits(time_limit=args.limit),
                         warm_start=not args.no_warm_start)
            took = time.perf_counter() - began
            fam = {f.family: f for f in out.comparison}
            chim = fam.get("chimera")
            one = fam.get("1f1b")
            gap = "-" if out.gap is None else f"{100 * out.gap:.1f}%"
            print(f"| {row.name} ({row.placement} D={row.D} N={row.N} {row.costs}) | {_num(cap)} "
                  f"| {solver} | {out.status.value} | {_num(out.value)} | {_num(out.bound)} | {gap} "
                  f"| {took:.2f} | {_num(chim.makespan) if chim else '-'} "
                  f"| {_num(one.makespan) if one else '-'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
