"""Benchmark: lowering + communication checks of a large interleaved 1F1B schedule.

Run: ``python benchmarks/bench_comm.py`` (``--repeat 5`` for steadier figures,
``--no-torch`` to skip PyTorch). The schedule is interleaved 1F1B with 64 workers, 512
micro-batches and 2 stages per worker: 131,072 compute actions, 391,168 once lowered.

Phases (median wall time over the repeats, and CPU time of this process, which a busy
machine distorts less):

* ``lower``: PyTorch's lowering policy (``torch``), building the lowered schedule;
* ``check``: ``check_comms`` under rendezvous: classification, matching, FIFO, order,
  collectives, and the deadlock search;
* ``lower + check``: the two together, as two calls (``check_comms(lower(s))``), and
  fused (``lower_and_check(s)``: the checks read the lowering's own columns instead of
  re-reading the 391k records it wrote; same findings, compared in the tests). The
  issue's budget for this is 0.5 s;
* the same check under the other models, and a timed analysis of all four models.

Where torch is installed, PyTorch's ``_simulate_comms_compute`` runs once on the same
lowered schedule (it is unit-time, deadlock-blind for sends, and superlinear) and the
ratio is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from verify.comm import BATCHED, analyze_comms, buffered, check_comms, lower, lower_and_check
from verify.core.actions import DEFAULT_PIPELINE, Action, Op, OpKind
from verify.core.costs import CostModel
from verify.core.schedule import Pipeline, Schedule

D, N, V = 64, 512, 2


def interleaved_local(D: int, N: int, v: int) -> Schedule:
    """Interleaved 1F1B built here (used when the library has no ``interleaved-1f1b``)."""
    p, total = DEFAULT_PIPELINE, N * v

    def op(w: int, k: int, kind: OpKind) -> Op:
        chunk = (k // D) % v if kind is OpKind.F else v - 1 - (k // D) % v
        return Op(p, chunk * D + w, (k // (D * v)) * D + k % D, kind)

    programs: list[tuple[Action, ...]] = []
    for w in range(D):
        warm = min(2 * (D - 1 - w) + (v - 1) * D, total)
        prog: list[Action] = [op(w, k, OpKind.F) for k in range(warm)]
        nf, nb = warm, 0
        while nb < total:
            if nf < total:
                prog.append(op(w, nf, OpKind.F))
                nf += 1
            prog.append(op(w, nb, OpKind.B))
            nb += 1
        programs.append(tuple(prog))
    return Schedule(D, (Pipeline(p, tuple(s % D for s in range(D * v)), N),), tuple(programs))


def build() -> tuple[Schedule, str]:
    try:
        from verify.generators import generate

        return generate("interleaved-1f1b", D, N, v=V), "library generator interleaved-1f1b"
    except Exception:  # the family is not registered
        return interleaved_local(D, N, V), "local builder (no interleaved-1f1b family)"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    walls, cpus = [], []
    out = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def torch_simulation(lowered: Schedule) -> float | None:
    try:
        from torch.distributed.pipelining import schedules as torch_schedules
    except ImportError:
        return None
    placement = lowered.pipelines[0].placement
    order = {w: [torch_schedules._Action.from_str(str(a)) for a in prog]
             for w, prog in enumerate(lowered.programs)}
    t = time.perf_counter()
    torch_schedules._simulate_comms_compute(order, lambda s: placement[s], len(placement))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    schedule, origin = build()
    print(f"interleaved 1F1B: {D} workers, {N} micro-batches, {V} stages per worker ({origin})")
    w, c, lowered = timed(lambda: lower(schedule), args.repeat)
    n = sum(len(p) for p in lowered.programs)
    print(f"{schedule.num_ops:,} compute actions, {n:,} with comms")
    rows = [("lower (torch policy)", w, c)]
    w, c, found = timed(lambda: check_comms(lowered), args.repeat)
    assert found == [], found[:1]
    rows.append(("check (rendezvous)", w, c))
    w, c, _ = timed(lambda: check_comms(lower(schedule)), args.repeat)
    rows.append(("lower + check (2 calls)", w, c))
    w, c, (_, found) = timed(lambda: lower_and_check(schedule), args.repeat)
    assert found == [], found[:1]
    rows.append(("lower + check (fused)", w, c))
    ours = w
    for model in (buffered(1), buffered(), BATCHED):
        w, c, found = timed(lambda m=model: check_comms(lowered, model=m), args.repeat)  # type: ignore[misc]
        rows.append((f"check ({model.name})", w, c))
    w, c, analysis = timed(lambda: analyze_comms(lowered, costs=CostModel(F=1, B=2, latency=0.1)), 1)
    rows.append(("analyze, 4 models, timed", w, c))
    print(f"{'phase':<28} {'wall s':>8} {'cpu s':>8} {'actions/s':>12}")
    for name, w, c in rows:
        print(f"{name:<28} {w:8.3f} {c:8.3f} {n / w:12,.0f}")
    print(f"verdict: {analysis.summary()}")
    verdict = analysis.verdicts[0]
    if verdict.timing is not None:
        t = verdict.timing
        print(f"rendezvous, F=1 B=2 latency=0.1: makespan {t.makespan:g}, waiting for data "
              f"{sum(t.wait_data):g}, for a peer {sum(t.wait_peer):g} (all workers)")
    if not args.no_torch:
        secs = torch_simulation(lowered)
        if secs is None:
            print("torch not installed: skipping _simulate_comms_compute")
        else:
            print(f"torch _simulate_comms_compute: {secs:.2f} s, {secs / ours:.0f}x our lower + check")



if __name__ == "__main__":
    main()
