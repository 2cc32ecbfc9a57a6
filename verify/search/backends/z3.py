"""Z3 backend: binary search on the objective with plain satisfiability checks.

``z3.Optimize`` stalls on these problems (see ``measurements.md``), while deciding
"is there an order with makespan <= T?" repeatedly is fast: each candidate T is one
check of a fresh solver holding the encoding plus the bound (non-incremental, so Z3's
preprocessing applies every time). A sat answer lowers the upper end to the model's
makespan, an unsat answer raises the lower end; the search ends when they meet
(OPTIMAL), or when the budget runs out with an incumbent (FEASIBLE with the proven lower
end as bound).

Encoding (quantifier-free linear integer arithmetic):

* an integer start per task within ``[head, horizon - tail - duration]``;
* ``start[consumer] >= end[producer] + lag`` per dependency;
* one disjunction ``end[i] <= start[j] or end[j] <= start[i]`` per pair of tasks on a
  worker that the dependencies do not already order (reachability is precomputed);
* with a memory cap, at the start of every F on a worker, the activations held by the
  other micro-batches (a pseudo-Boolean sum ``PbLe`` over "allocated before and released
  after" conditions, pairs already decided by the dependencies folded in as constants)
  plus its own stay within the cap; for the peak-memory objective the binary search
  runs over the cap instead of the makespan;
* stage-0 forwards of a pipeline in micro-batch order (symmetry breaking).

Every atom is a difference bound, so the checks use Z3's difference-logic solver
(``QF_IDL``, with the pseudo-Boolean memory sums in its SAT core): 3-15x faster here
than general linear arithmetic.

Determinism: every check gets the remaining share of a total resource budget
(``rlimit``, derived from the time limit) and a fixed random seed, so the answer is the
same on every run and machine for a given Z3 version; the wall-clock safety net is
reported when it fires.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from verify.errors import SolverError
from verify.search.backend import BackendResult, BoundReport, SolveRequest, horizon_too_short
from verify.search.outcome import SearchStatus
from verify.search.tasks import descendants

RLIMIT_PER_SECOND = 1_000_000
"""Z3 resource units per second of budget for pure difference logic (measured 0.5-1 M/s
on a 2-core machine; the figure varies by machine, which is the point: the budget
does not)."""

RLIMIT_PER_SECOND_MEMORY = 8_000_000
"""The same with memory constraints (pseudo-Boolean sums count faster: ~9 M/s)."""


def _z3() -> Any:
    try:
        import z3
    except ImportError as e:  # pragma: no cover - z3-solver is a core dependency
        raise SolverError(f"the Z3 backend needs z3-solver ({e}): pip install z3-solver") from None
    return z3


class Z3Backend:
    """The design's solver (see the module docstring)."""

    name = "z3"

    def version(self) -> str:
        return f"z3 {_z3().get_version_string()}"

    def solve(self, request: SolveRequest, report: BoundReport | None = None) -> BackendResult:
        z3 = _z3()
        began = time.perf_counter()
        g = request.graph
        H = request.horizon
        n = g.num_tasks
        dur = g.duration
        short = horizon_too_short(request, began)
        if short is not None:
            return short
        ctx = z3.Context()
        s = [z3.Int(f"s{i}", ctx) for i in range(n)]
        base: list[Any] = []
        for i in range(n):
            base.append(s[i] >= g.head[i])
            base.append(s[i] <= H - g.tail[i] - dur[i])
        for a, b, lag in g.edges:
            base.append(s[b] >= s[a] + (dur[a] + lag))
        if request.symmetry_breaking:
            for firsts in g.first_forwards:
                for x, y in itertools.pairwise(firsts):
                    base.append(s[y] >= s[x] + dur[x])
        reach = descendants(g)
        pairs = 0
        for tasks in g.worker_tasks():
            for k, i in enumerate(tasks):
                ri = reach[i]
                for j in tasks[k + 1:]:
                    if (ri >> j) & 1 or (reach[j] >> i) & 1:
                        continue
                    base.append(z3.Or(s[i] + dur[i] <= s[j], s[j] + dur[j] <= s[i]))
                    pairs += 1
        minimise_peak = request.minimise == "peak_memory"
        memory = _MemoryTerms(z3, g, s, reach) if (minimise_peak or request.memory_cap is not None) else None
        makespan = z3.Int("makespan", ctx)
        base.append(makespan <= H)
        for i in g.sinks:
            base.append(makespan >= s[i] + dur[i])

        limits = request.limits
        rate = RLIMIT_PER_SECOND if memory is None else RLIMIT_PER_SECOND_MEMORY
        budget = None
        if limits.deterministic and limits.time_limit is not None:
            budget = int(limits.time_limit * rate)
        wall = limits.wall_limit
        used = 0
        seen = 0
        calls = 0
        counters_extra: list[tuple[str, int | float | str]] = [("tasks", n), ("order_pairs", pairs)]
        lo = request.lower_bound
        best: tuple[int, ...] | None = request.hint
        best_value = request.hint_value
        stopped = "proof"

        def run(limit_value: int) -> tuple[str, tuple[int, ...] | None, int | None]:
            """Is there a solution with objective <= limit_value?"""
            nonlocal used, seen, calls
            solver = z3.SolverFor("QF_IDL", ctx=ctx)
            solver.set("random_seed", limits.seed)
            if budget is not None:
                solver.set("rlimit", max(1, budget - used))
            if wall is not None:
                remaining = wall - (time.perf_counter() - began)
                solver.set("timeout", max(1, int(remaining * 1000)))
            solver.add(*base)
            cap: int | None
            if minimise_peak:
                cap = limit_value if request.memory_cap is None else min(limit_value, request.memory_cap)
            else:
                solver.add(makespan <= limit_value)
                cap = request.memory_cap
            if memory is not None and cap is not None:
                solver.add(*memory.within(cap))
            answer = solver.check()
            calls += 1
            stats = solver.statistics()
            names = stats.keys()
            if "rlimit count" in names:  # one counter per context, cumulative
                count = int(stats.get_key_value("rlimit count"))
                used += max(0, count - seen)
                seen = count
            if answer == z3.sat:
                model = solver.model()
                values = tuple(model.eval(s[i], model_completion=True).as_long() for i in range(n))
                value = _peak(g, values) if minimise_peak else int(
                    model.eval(makespan, model_completion=True).as_long())
                return "sat", values, value
            if answer == z3.unsat:
                return "unsat", None, None
            return "unknown", None, None

        if best is None:
            top = H if not minimise_peak else _peak_ceiling(g, request.memory_cap)
            verdict, values, value = run(top)
            if verdict == "unsat":
                return BackendResult(SearchStatus.INFEASIBLE, None, None, None, "proof",
                                     time.perf_counter() - began,
                                     (*counters_extra, ("calls", calls), ("rlimit", used)))
            if verdict == "unknown" or values is None or value is None:
                stopped = self._why(budget, used)
                return BackendResult(SearchStatus.UNKNOWN, None, None, lo, stopped,
                                     time.perf_counter() - began,
                                     (*counters_extra, ("calls", calls), ("rlimit", used)))
            best, best_value = values, value
            if report is not None:
                report(best_value, lo)
        if best_value is None:
            raise SolverError("z3: a warm start was given without its objective value")
        while lo < best_value:
            mid = (lo + best_value - 1) // 2
            verdict, values, value = run(mid)
            if verdict == "sat" and values is not None and value is not None:
                best, best_value = values, value
            elif verdict == "unsat":
                lo = mid + 1
            else:
                stopped = self._why(budget, used)
                break
            if report is not None:
                report(best_value, lo)
        counters = (*counters_extra, ("calls", calls), ("rlimit", used))
        status = SearchStatus.OPTIMAL if lo >= best_value else SearchStatus.FEASIBLE
        return BackendResult(status, best, best_value, min(lo, best_value), stopped,
                             time.perf_counter() - began, counters)

    @staticmethod
    def _why(budget: int | None, used: int) -> str:
        if budget is not None and used >= budget * 0.99:
            return "deterministic-limit"
        return "time-limit"


def _peak_ceiling(g: Any, cap: int | None) -> int:
    total = max(
        (sum(act for f, _, act in g.holds if g.worker[f] == w) for w in range(g.num_workers)),
        default=0,
    )
    return total if cap is None else min(total, cap)


def _peak(g: Any, starts: tuple[int, ...]) -> int:
    """The largest activation memory any worker holds under ``starts``."""
    events: list[tuple[int, int, int, int]] = []
    for f, r, act in g.holds:
        w = g.worker[f]
        events.append((w, starts[f], 1, act))
        events.append((w, starts[r] + g.duration[r], 0, -act))
    events.sort()
    best = 0
    level = 0
    current = -1
    for w, _, _, delta in events:
        if w != current:
            current, level = w, 0
        level += delta
        best = max(best, level)
    return best


class _MemoryTerms:
    """For every F: the activation certainly held when it starts (its own plus holds the
    dependencies place around it) and the conditional terms of the other holds, ready
    to be bounded by any cap as pseudo-Boolean constraints (``PbLe``), which keep the
    formula in difference logic."""

    def __init__(self, z3: Any, g: Any, s: list[Any], reach: list[int]) -> None:
        self.false = z3.BoolVal(False, ctx=s[0].ctx) if s else z3.BoolVal(False)
        self.z3 = z3
        dur = g.duration
        by_worker: dict[int, list[tuple[int, int, int]]] = {}
        for f, r, act in g.holds:
            by_worker.setdefault(g.worker[f], []).append((f, r, act))
        self.rows: list[tuple[int, int, list[tuple[Any, int]]]] = []
        """(total held on the worker, certain part, conditional terms) per F."""
        for holds in by_worker.values():
            total = sum(a for _, _, a in holds)
            for f, _, act in holds:
                const = act
                terms: list[tuple[Any, int]] = []
                for f2, r2, a2 in holds:
                    if f2 == f or a2 == 0:
                        continue
                    if (reach[f] >> f2) & 1 or (reach[r2] >> f) & 1:
                        continue  # starts after f, or released before f starts
                    if (reach[f2] >> f) & 1 and (reach[f] >> r2) & 1:
                        const += a2  # allocated before f and released after it
                        continue
                    held = z3.And(s[f2] <= s[f], s[f] < s[r2] + dur[r2])
                    terms.append((held, a2))
                self.rows.append((total, const, terms))

    def within(self, cap: int) -> list[Any]:
        """Constraints: every worker holds at most ``cap`` at the start of every F."""
        out: list[Any] = []
        for total, const, terms in self.rows:
            if total <= cap:
                continue
            if const > cap:
                out.append(self.false)
            elif terms:
                out.append(self.z3.PbLe(terms, cap - const))
        return out
