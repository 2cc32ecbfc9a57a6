"""Benchmark: the bounded SMT check of one schedule (``verify.smt.bounded.smt_check``).

Run: ``PYTHONPATH=. python benchmarks/bench_smt_bounded.py`` (``--repeat 3`` for medians).

Prints, per schedule and mode (``ordered``: start times symbolic; ``timed``: the slot
table too), the seconds of the whole ``smt_check`` next to the DAG verifier's
``check``, the number of ops, and each Z3 query: answer, constraints, rlimit used, seconds,
Z3's peak memory. The makespan proved minimal by Z3 is compared with the simulator's.

``--api`` also times building the ordered query with the Z3 Python API (one
``Implies`` per constraint) against the SMT-LIB text, both checked under assumptions.
``--crosscheck`` runs the exhaustive agreement sweep: every family example and every
generated schedule up to D=16, each with every mutation of ``tests/mutations.py``
(several minutes).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import z3

from verify.checks import check
from verify.core.costs import CostModel
from verify.core.schedule import Schedule
from verify.generators import families, generate
from verify.passes.index import index_schedule
from verify.smt.bounded import SmtResult, disagreements, smt_check
from verify.smt.encode import encode_execution

CASES = [("chimera", 16, 16), ("chimera", 32, 32), ("chimera", 64, 64), ("chimera", 64, 128),
         ("1f1b", 64, 128)]
COSTS = CostModel(F=1, B=2)


def _median(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    runs: list[float] = []
    out: object = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), out


def bench(repeat: int) -> None:
    print(f"{'schedule':<20} {'mode':<8} {'ops':>6} {'smt s':>7} {'dag s':>7} {'makespan':>9}  queries "
          "(answer, constraints, rlimit, s, Z3 MB)")
    for family, D, N in CASES:
        base = generate(family, D, N)
        for mode in ("ordered", "timed"):
            if mode == "timed" and base.timing is None:
                continue
            s = base if mode == "timed" else base.without_timing()
            sec, res = _median(lambda s=s: smt_check(s, costs=COSTS), repeat)
            dag_sec, dag = _median(lambda s=s: check(s, costs=COSTS), repeat)
            assert isinstance(res, SmtResult)
            assert dag is not None and res.ok and not disagreements(dag, res)  # type: ignore[arg-type]
            queries = "; ".join(f"{q.query} {q.answer} {q.constraints} {q.rlimit} {q.seconds:.2f} "
                                f"{q.memory_mb:.0f}" for q in res.queries)
            print(f"{family} D={D} N={N:<6} {mode:<8} {s.num_ops:>6} {sec:>7.2f} {dag_sec:>7.3f} "
                  f"{res.makespan:>9g}  {queries}")


def api_versus_text(D: int, N: int) -> None:
    """The ordered query built through the Python API and as text, same constraints."""
    s = generate("chimera", D, N).without_timing()
    enc = encode_execution(index_schedule(s), COSTS)
    for how in ("text", "api"):
        t0 = time.perf_counter()
        ctx = z3.Context()
        solver = z3.Solver(ctx=ctx)
        solver.set("arith.solver", 1)
        if how == "text":
            solver.from_string(enc.text)
            lits = [z3.Bool(f"p{j}", ctx) for j in range(enc.num_constraints)]
        else:
            starts = [z3.Int(f"s{u}", ctx) for u in range(enc.index.num_units)]
            lits = [z3.Bool(f"p{j}", ctx) for j in range(enc.num_constraints)]
            for j in range(enc.num_constraints):
                a, b = int(enc.src[j]), int(enc.dst[j])
                lhs = starts[b] if a < 0 else starts[b] - starts[a]
                solver.add(z3.Implies(lits[j], lhs >= enc.lifted(j)))
        t1 = time.perf_counter()
        answer = solver.check(*lits)
        t2 = time.perf_counter()
        print(f"chimera D={D} N={N} {how:<4}: build {t1 - t0:.2f} s, check {t2 - t1:.2f} s ({answer}), "
              f"{enc.num_constraints} constraints")


def crosscheck() -> None:
    """Every family example and generated schedule up to D=16, with every mutation."""
    from tests.mutations import mutants

    schedules: list[Schedule] = []
    for fam in families():
        for D, N, opts in fam.examples:
            schedules.append(generate(fam.name, D, N, **dict(opts)))
    for D in range(1, 17):
        for N in sorted({1, max(1, D // 2), D, 2 * D}):
            schedules += [generate("gpipe", D, N), generate("1f1b", D, N)]
            if D % 2 == 0 and (N <= D or N % D == 0):
                schedules.append(generate("chimera", D, N))
    cases = bad = unknown = 0
    t = time.perf_counter()
    for base in schedules:
        for s in (base, base.without_timing()):
            for costs in (CostModel(), CostModel(F=1, B=2, latency=0.5)):
                items = [s] + [m for seed in range(3) for _, m, _ in mutants(s, seed)]
                for x in items:
                    dag, res = check(x, costs=costs, memory_cap=3), smt_check(x, costs=costs, memory_cap=3)
                    cases += 1
                    unknown += not all(v.verdict.value != "unknown" for v in res.verdicts)
                    found = disagreements(dag, res)
                    if found:
                        bad += 1
                        print(x.name, found)
    print(f"crosscheck: {cases} schedule/cost pairs, {bad} disagreements, {unknown} unknown, "
          f"{time.perf_counter() - t:.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--api", action="store_true", help="also compare the Python API with SMT-LIB text")
    ap.add_argument("--crosscheck", action="store_true", help="run the exhaustive agreement sweep")
    args = ap.parse_args()
    bench(args.repeat)
    if args.api:
        api_versus_text(64, 64)
    if args.crosscheck:
        crosscheck()


if __name__ == "__main__":
    main()
