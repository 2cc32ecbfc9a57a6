"""Benchmark: check + simulate large schedules (the foundation's linear-time budget).

Run: ``python benchmarks/bench_check.py`` (add ``--repeat 5`` for steadier figures).
Prints seconds and ops/second per phase: generation, the array index, the structural
checks (completeness + placement), the simulation (earliest start + deadlock detection),
and the whole ``verify.check``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from verify.checks import check, check_completeness, check_placement
from verify.core.costs import CostModel
from verify.generators import generate
from verify.passes.index import index_schedule
from verify.sim.execute import execute
from verify.sim.metrics import compute_metrics

CASES = [("chimera", 64, 512), ("1f1b", 64, 1024)]


def _time(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    costs = CostModel(F=1, B=2)
    print(f"{'schedule':<22} {'ops':>7} {'phase':<22} {'seconds':>8} {'ops/s':>11}")
    for family, D, N in CASES:
        schedule = generate(family, D, N)
        n = schedule.num_ops
        index = index_schedule(schedule)
        execution = execute(index, costs)
        phases: list[tuple[str, Callable[[], object]]] = [
            ("generate", lambda f=family, d=D, m=N: generate(f, d, m)),
            ("index", lambda s=schedule: index_schedule(s)),
            ("structural checks", lambda i=index: (check_completeness(i), check_placement(i))),
            ("simulate+deadlock", lambda i=index: execute(i, costs)),
            ("metrics", lambda e=execution: compute_metrics(e, costs)),
            ("check (all)", lambda s=schedule: check(s, costs=costs)),
        ]
        name = f"{family} D={D} N={N}"
        for phase, fn in phases:
            sec = _time(fn, args.repeat)
            print(f"{name:<22} {n:>7} {phase:<22} {sec:>8.3f} {n / sec:>11,.0f}")


if __name__ == "__main__":
    main()
