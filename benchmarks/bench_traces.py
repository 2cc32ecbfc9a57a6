"""Benchmark: read and check a synthetic 1,000,000-event trace on 64 workers.

Run: ``PYTHONPATH=. python benchmarks/bench_traces.py`` (``--repeat 3`` for steadier
figures, ``--events N`` to scale). The trace is what a perfect runtime would log for
1F1B with D=64 (compute ops plus a send and a receive per cross-worker tensor, with peer
and message id), written once as a generic CSV event log (not timed). Timed phases:
reading the file (streaming CSV parser, 8 MiB chunks parsed with NumPy), the
conformance check alone (vectorised: sorts, gathers, running maxima), and the whole
``check_trace`` including the measured metrics, the cost fit and the simulation of the
schedule under the fitted costs. The check includes indexing the schedule, work that
depends on the schedule and not on the trace: ``schedule index`` times it on its own.
Figures are medians over the repeats; the first repeat of a process also pays for
touching fresh memory. Target (issue 7): read + check <= 3 s end to end, the check
>= 3M events/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from verify.core.costs import CostModel
from verify.generators import generate
from verify.passes.index import index_schedule
from verify.traces import check_trace, read_trace, synthetic_trace, write_event_log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    D = args.workers
    per_mb = 2 * D + 4 * (D - 1)  # compute ops + send/receive events per micro-batch
    N = -(-args.events // per_mb)
    schedule = generate("1f1b", D, N)
    trace = synthetic_trace(schedule, costs=CostModel(F=1, B=2), messages=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "trace.csv")
        with open(path, "w") as f:
            write_event_log(trace, f, "csv")
        size = os.path.getsize(path)
        rows: list[tuple[str, float]] = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            events = read_trace([path])
            t1 = time.perf_counter()
            report = check_trace(schedule, events, fit=False)
            t2 = time.perf_counter()
            full = check_trace(schedule, events)
            t3 = time.perf_counter()
            index_schedule(schedule)
            t4 = time.perf_counter()
            assert report.ok and full.ok, report.report.violations[:3]
            rows += [("read", t1 - t0), ("check", t2 - t1), ("read+check", t2 - t0),
                     ("check+fit+predict", t3 - t2), ("schedule index", t4 - t3)]
    n = len(events)
    print(f"1f1b D={D} N={N}: {n:,} events ({size / 1e6:.0f} MB CSV)")
    print(f"{'phase':<20} {'seconds':>8} {'events/s':>12}")
    for phase in ("read", "check", "read+check", "check+fit+predict", "schedule index"):
        sec = statistics.median(t for p, t in rows if p == phase)
        rate = f"{n / sec:>12,.0f}" if phase != "schedule index" else f"{'(per schedule)':>14}"
        print(f"{phase:<20} {sec:>8.3f} {rate}")


if __name__ == "__main__":
    main()
