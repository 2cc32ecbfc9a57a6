"""Benchmark: generate and check the largest grid point of every library family.

Run: ``PYTHONPATH=. python benchmarks/bench_library.py`` (``--repeat 3`` for steadier
figures, ``--quick`` for D=32). For each family at D=64 (where it allows it) it prints
the ops, seconds and ops/second of generation and of ``verify.check`` (which includes the
earliest-start simulation and the metrics), and the growth factor when N doubles: about 2
for a linear-time generator and checker (the foundation's budget, see bench_check.py).
It also times ``check`` of the whole ``specs/`` directory.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.checks import check
from verify.core.costs import CostModel
from verify.generators import generate

CASES: list[tuple[str, int, int, dict[str, Any]]] = [
    ("1f1b", 64, 256, {}),
    ("interleaved-1f1b", 64, 256, {"v": 2}),
    ("looped-bfs", 64, 256, {"v": 2}),
    ("zb-h1", 64, 256, {}),
    ("zb-h2", 64, 256, {}),
    ("zb-v", 64, 256, {}),
    ("chimera", 64, 512, {}),
    ("chimera-fd", 64, 512, {}),
    ("chimera-bh", 64, 256, {}),
    ("chimera-2f", 64, 512, {"f": 4}),
    ("dualpipe", 64, 512, {}),
    ("dualpipev", 64, 256, {}),
    ("hanayo", 64, 256, {"waves": 1}),
]


def _time(fn: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="D=32 and half the micro-batches")
    args = ap.parse_args()
    costs = CostModel(F=1, B=2, W=1, overlap=2.5)
    print(f"{'schedule':<34} {'ops':>7} {'generate s':>10} {'gen ops/s':>10} "
          f"{'check s':>8} {'check ops/s':>11} {'x2 N':>5}")
    for family, D0, N0, opts in CASES:
        D, N = (D0 // 2, N0 // 2) if args.quick else (D0, N0)
        schedule = generate(family, D, N, **opts)
        n = schedule.num_ops
        gen = _time(lambda f=family, d=D, m=N, o=opts: generate(f, d, m, **o), args.repeat)
        chk = _time(lambda s=schedule: check(s, costs=costs), args.repeat)
        big = generate(family, D, 2 * N, **opts)
        t2 = _time(lambda f=family, d=D, m=2 * N, o=opts, s=big: (generate(f, d, m, **o),
                                                                   check(s, costs=costs)), args.repeat)
        grow = t2 / (gen + chk)
        label = f"{family} D={D} N={N}" + "".join(f" {k}={v}" for k, v in opts.items())
        print(f"{label:<34} {n:>7} {gen:>10.3f} {n / gen:>10,.0f} {chk:>8.3f} {n / chk:>11,.0f} {grow:>5.2f}")

    from verify.specs import check_spec, collect_specs, load_spec

    root = Path(__file__).resolve().parent.parent / "specs"
    t = time.perf_counter()
    count = sum(len(check_spec(load_spec(p))) for p in collect_specs(root))
    print(f"\ncheck specs/: {count} instances in {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()
