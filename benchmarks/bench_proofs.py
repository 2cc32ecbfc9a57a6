"""Benchmark: time per parametric theorem and in total (the budget is < 10 s for all).

Run from the repository root: ``python -m benchmarks.bench_proofs`` (``--repeat 5`` for
steadier figures, ``NAME ...`` for some theorems only). Prints, per theorem, the verdict,
the median wall time, and the Z3 resource count (``rlimit``, deterministic) or the number
of cases of an exhaustive check; then the total of the medians and of one cold run of
``prove()``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from verify.smt import Method, prove, theorems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", help="theorems to time (default: all)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    names = args.names or [t.name for t in theorems()]
    start = time.perf_counter()
    first = prove(names)
    cold = time.perf_counter() - start
    runs = [first] + [prove(names) for _ in range(args.repeat - 1)]
    width = max(len(n) for n in names)
    print(f"{'theorem':<{width}}  {'verdict':<8} {'seconds':>8}  {'rlimit / cases':>14}")
    total = 0.0
    for i, r in enumerate(first):
        median = statistics.median(run[i].seconds for run in runs)
        total += median
        effort = r.rlimit if r.method is Method.SMT else f"{r.cases} cases"
        mark = "" if r.passed else "  (unexpected)"
        print(f"{r.name:<{width}}  {r.verdict.value:<8} {median:8.3f}  {effort!s:>14}{mark}")
    print(f"{len(first)} theorems: total of medians {total:.2f} s; one cold prove() {cold:.2f} s")


if __name__ == "__main__":
    main()
