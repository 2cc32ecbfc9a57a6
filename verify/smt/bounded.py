"""Bounded SMT verification of one schedule: the Z3 route next to the DAG verifier.

:func:`smt_check` decides the same properties as :func:`verify.check` and returns the
same :class:`~verify.core.results.Violation` records, so the two routes cross-check
each other (tests/test_smt_bounded.py runs both on every family and every mutation).

* **Completeness, placement** are structural: the DAG verifier's checks are reused
  as they are (no solver is needed to count ops).
* **Deadlock-freedom**: the ordered encoding (:func:`~verify.smt.encode.encode_execution`)
  is satisfiable iff the programs can run. Unsat: the core is a cycle of named order and
  dependency constraints, reported as a DEADLOCK naming the ops of the cycle; the
  constraints of its units are then switched off and the query repeated, so every knot
  of the dependency graph yields a cycle (at most ``MAX_CYCLES``). Each cycle is
  shortened by a minimised core over its units; cycles are grouped into knots by
  mutual reachability, which Z3 decides on the zero-weight constraints; one DEADLOCK
  per knot, as the DAG verifier reports.
* **Makespan** (order semantics): the model of the feasible query is an execution;
  ``every end < M`` is then asked for the model's makespan ``M`` until it is unsat, so
  the makespan reported is proved minimal (it equals the simulator's earliest-start
  makespan) and the unsat core of the last query is a critical path. With
  ``makespan_bound`` the claim ``every end <= T`` is decided as property CLAIMS; when it
  fails the core's critical path is reported as a CLAIM violation.
* **Conflict-freedom of a timed schedule** (:func:`~verify.smt.encode.encode_timing`):
  the start times are constants and the query asserts that some constraint is violated;
  unsat means all hold, a model lists every violated constraint, turned into the same
  CONFLICT / EARLY_START / TIMING_ORDER records as :func:`verify.checks.check_timing`.
* **Memory** (:func:`~verify.smt.encode.encode_memory`): some worker's running
  activation memory exceeds the cap; a model gives each offending worker's peak.

Verdicts have four values (:class:`Status`); UNKNOWN (budget exhausted, or a solver
answer that failed its re-check) is never success: :attr:`SmtResult.ok` is false.
Budgets are Z3 ``rlimit`` units shared by all queries of one call, not seconds.

>>> from verify.generators import generate
>>> from verify.core.costs import CostModel
>>> r = smt_check(generate("chimera", 4, 4), costs=CostModel(F=1, B=2))
>>> r.ok, r.makespan, r.verdict(Property.DEADLOCK_FREE)
(True, 16.0, <Status.HOLDS: 'holds'>)
>>> r = smt_check(generate("chimera", 4, 4).without_timing(), makespan_bound=9)
>>> r.verdict(Property.CLAIMS), r.makespan
(<Status.VIOLATED: 'violated'>, 10.0)
>>> print(r.report.violations[0].message.split(":")[0])
makespan bound 9 cannot be met
>>> r.cores[0].query, r.cores[0].names[0].startswith("start[")
('makespan-bound', True)
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import z3
from z3 import z3core

from verify.checks.completeness import check_completeness
from verify.checks.placement import check_placement
from verify.core.actions import Action
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.results import (
    Metrics,
    Property,
    PropertyResult,
    Report,
    Status,
    Violation,
    ViolationKind,
)
from verify.core.schedule import Schedule
from verify.errors import ParameterError, SolverError
from verify.passes.index import index_schedule
from verify.smt.encode import (
    ExecutionEncoding,
    Kind,
    MemoryEncoding,
    TimingEncoding,
    encode_execution,
    encode_memory,
    encode_timing,
    execution_subset_text,
    guarded_timing_text,
    overlap_member,
)

__all__ = [
    "DEFAULT_RLIMIT",
    "MAX_CYCLES",
    "Core",
    "PropertyResult",
    "QueryStats",
    "SmtResult",
    "Status",
    "disagreements",
    "smt_check",
]

DEFAULT_RLIMIT = 2_000_000_000
"""Z3 resource budget of one :func:`smt_check` call, shared by its queries. Chimera
D=64, N=64 (8k ops) uses about 1% of it; a budget is deterministic, unlike seconds."""

MAX_CYCLES = 16
"""Deadlock cycles reported at most (one per knot of the dependency graph)."""

MAX_DESCENT = 64
"""Model-guided makespan descent steps at most before the makespan is UNKNOWN."""


@dataclass(frozen=True, slots=True)
class QueryStats:
    """One solver call: the query, its answer, size, and the effort it took."""

    query: str
    answer: str
    constraints: int
    variables: int
    text_bytes: int
    rlimit: int
    seconds: float
    """Wall time of parsing and solving (informational; the budget is ``rlimit``)."""
    memory_mb: float = 0.0
    """Z3's ``max memory`` statistic after the query (process-wide peak, in MB)."""


@dataclass(frozen=True, slots=True)
class Core:
    """An unsat core over named constraints, and the query it explains.

    ``query`` is ``deadlock`` (a dependency cycle), ``makespan-optimal`` (why no
    execution ends earlier: a critical path), ``makespan-bound`` (why the bound fails:
    a critical path longer than it) or ``timing`` (every constraint a timed schedule's
    proof used).
    """

    query: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SmtResult:
    """What :func:`smt_check` found.

    ``report`` holds the same violation records the DAG verifier produces (its
    properties map UNKNOWN to SKIPPED with an ``unknown:`` reason, because
    :class:`~verify.core.results.Status` has no UNKNOWN: use :attr:`ok` and
    :attr:`verdicts`, never ``report.ok`` alone). ``makespan`` is the proved minimal
    makespan under the order semantics (None when the schedule deadlocks or it is
    unknown). ``cores`` are filled when ``want_core`` was given (deadlock cycles and a
    violated makespan bound always come with theirs).
    """

    report: Report
    verdicts: tuple[PropertyResult, ...]
    makespan: float | None
    cores: tuple[Core, ...]
    queries: tuple[QueryStats, ...]
    seconds: float
    rlimit: int
    """The budget given."""
    makespan_reason: str = ""
    """Why ``makespan`` is None (deadlock, budget, not requested)."""

    @property
    def ok(self) -> bool:
        """No violation and no UNKNOWN verdict."""
        return not self.report.violations and all(
            v.status is not Status.UNKNOWN for v in self.verdicts
        )

    @property
    def rlimit_used(self) -> int:
        return sum(q.rlimit for q in self.queries)

    def verdict(self, prop: Property) -> Status:
        """The verdict on ``prop`` (SKIPPED when it was not decided)."""
        for v in self.verdicts:
            if v.property is prop:
                return v.status
        return Status.SKIPPED

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "engine": "smt",
            "report": self.report.to_dict(),
            "verdicts": {
                v.property.value: {"verdict": v.status.value, **({"reason": v.reason} if v.reason else {})}
                for v in self.verdicts
            },
            "makespan": self.makespan,
            **({"makespan_reason": self.makespan_reason} if self.makespan_reason else {}),
            "cores": [{"query": c.query, "names": list(c.names)} for c in self.cores],
            "queries": [
                {"query": q.query, "answer": q.answer, "constraints": q.constraints,
                 "variables": q.variables, "text_bytes": q.text_bytes, "rlimit": q.rlimit,
                 "seconds": round(q.seconds, 6), "memory_mb": q.memory_mb}
                for q in self.queries
            ],
            "seconds": round(self.seconds, 6),
            "rlimit": self.rlimit,
            "rlimit_used": self.rlimit_used,
        }


# ----------------------------------------------------------------------------- solving
class _Budget:
    """The rlimit left for one :func:`smt_check` call and the statistics of each query."""

    def __init__(self, rlimit: int) -> None:
        self.limit = rlimit
        self.stats: list[QueryStats] = []
        self.reason = ""

    @property
    def left(self) -> int:
        return self.limit - sum(q.rlimit for q in self.stats)

    def solve(
        self,
        solver: z3.Solver,
        query: str,
        assumptions: Literals | None = None,
        *,
        size: tuple[int, int, int],
        parse_seconds: float = 0.0,
    ) -> z3.CheckSatResult:
        if self.left <= 0:
            self.reason = "resource limit exhausted"
            self.stats.append(QueryStats(query, "unknown", *size, 0, 0.0, _statistic(solver, "max memory")))
            return z3.unknown
        before = _rlimit_count(solver)
        solver.set("rlimit", self.left)
        t = time.perf_counter()
        try:
            answer = solver.check() if assumptions is None else assumptions.check(solver)
        except z3.Z3Exception as e:
            raise SolverError(f"Z3 failed on the {query} query: {e}") from None
        used = max(_rlimit_count(solver) - before, 0)
        if answer == z3.unknown:
            self.reason = f"solver gave up: {solver.reason_unknown()}"
        self.stats.append(QueryStats(query, str(answer), *size, used,
                                     parse_seconds + time.perf_counter() - t,
                                     _statistic(solver, "max memory")))
        return answer


class Literals:
    """Boolean constants used as assumptions, held as raw Z3 ASTs.

    Tens of thousands of assumptions are normal here (one per constraint); creating a
    Python wrapper for each costs seconds, so they go to ``Z3_solver_check_assumptions``
    as one C array.
    """

    def __init__(self, ctx: z3.Context, names: Sequence[str]) -> None:
        self.ctx = ctx
        ref = ctx.ref()
        sort = z3core.Z3_mk_bool_sort(ref)
        self.asts = (z3.Ast * len(names))()
        for j, name in enumerate(names):
            a = z3core.Z3_mk_const(ref, z3core.Z3_mk_string_symbol(ref, name), sort)
            z3core.Z3_inc_ref(ref, a)  # released with the context
            self.asts[j] = a
        self.chosen: Any = self.asts

    def select(self, ids: Sequence[int], extra: Sequence[z3.BoolRef] = ()) -> Literals:
        """Assume only the literals ``ids`` (plus ``extra``) in the next check."""
        arr = (z3.Ast * (len(ids) + len(extra)))()
        for k, j in enumerate(ids):
            arr[k] = self.asts[j]
        for k, e in enumerate(extra, start=len(ids)):
            arr[k] = e.as_ast()
        self.chosen = arr
        return self

    def check(self, solver: z3.Solver) -> z3.CheckSatResult:
        r = z3core.Z3_solver_check_assumptions(self.ctx.ref(), solver.solver, len(self.chosen), self.chosen)
        return z3.CheckSatResult(r)


def _statistic(solver: z3.Solver, key: str) -> float:
    stats = solver.statistics()
    keys = stats.keys()
    return float(stats.get_key_value(key)) if key in keys else 0.0


def _rlimit_count(solver: z3.Solver) -> int:
    return int(_statistic(solver, "rlimit count"))


def _solver(ctx: z3.Context, text: str, *, difference_logic: bool) -> tuple[z3.Solver, float]:
    """A fresh solver in ``ctx`` holding the SMT-LIB ``text`` (one context per
    :func:`smt_check` call, never shared between calls: answers and budgets do not
    depend on what ran before)."""
    t = time.perf_counter()
    solver = z3.Solver(ctx=ctx)
    if difference_logic:
        solver.set("arith.solver", 1)  # Z3's difference-logic solver (measured: 2-9x faster)
    try:
        solver.from_string(text)
    except z3.Z3Exception as e:
        raise SolverError(f"Z3 could not read the encoding: {e}") from None
    return solver, time.perf_counter() - t


_INT_RE = re.compile(r"\(define-fun ([a-z])(\d+) \(\) Int\s+(\(- \d+\)|\d+)\)")
_BOOL_RE = re.compile(r"\(define-fun ([a-z])(\d+) \(\) Bool\s+(true|false)\)")


def _int_values(model: z3.ModelRef, prefix: str, count: int, ctx: z3.Context) -> list[int]:
    """Values of ``<prefix>0 .. <prefix>count-1`` in ``model`` (read in one pass)."""
    out: list[int | None] = [None] * count
    for p, k, v in _INT_RE.findall(model.sexpr()):
        if p == prefix and int(k) < count:
            out[int(k)] = -int(v[3:-1]) if v.startswith("(") else int(v)
    return [
        # a constant missing from the model may take any value: ask Z3 for one
        v if v is not None else int(model.eval(z3.Int(f"{prefix}{k}", ctx), model_completion=True).as_long())
        for k, v in enumerate(out)
    ]


def _true_bools(model: z3.ModelRef, prefix: str) -> list[int]:
    """Indices ``k`` of the Booleans ``<prefix>k`` true in ``model``."""
    return sorted(int(k) for p, k, v in _BOOL_RE.findall(model.sexpr()) if p == prefix and v == "true")


def _fmt(t: float) -> str:
    return f"{t:g}"


# ---------------------------------------------------------------------- ordered route
@dataclass(frozen=True, slots=True)
class _Execution:
    """Outcome of the ordered queries."""

    deadlock: PropertyResult
    deadlock_violations: tuple[Violation, ...]
    makespan: int | None
    makespan_reason: str
    claim: PropertyResult | None
    claim_violations: tuple[Violation, ...]
    cores: tuple[Core, ...]


class _ExecutionSolver:
    """The ordered encoding loaded in one solver, checked under assumptions."""

    def __init__(self, ctx: z3.Context, enc: ExecutionEncoding, budget: _Budget) -> None:
        self.enc = enc
        self.budget = budget
        self.ctx = ctx
        self.solver, self.parse_seconds = _solver(ctx, enc.text, difference_logic=True)
        self.lits = Literals(self.ctx, [f"p{j}" for j in range(enc.num_constraints)])
        self.extra = 0

    def check(self, query: str, active: Sequence[int], extra: Sequence[z3.BoolRef] = ()) -> z3.CheckSatResult:
        size = (len(active) + len(extra), self.enc.index.num_units, len(self.enc.text))
        answer = self.budget.solve(self.solver, query, self.lits.select(active, extra),
                                   size=size, parse_seconds=self.parse_seconds)
        self.parse_seconds = 0.0
        return answer

    def core(self) -> tuple[list[int], list[int]]:
        """The last unsat core as (constraint ids, bound literal ids ``q<k>``)."""
        return _core_ids(self.solver)

    def starts(self) -> list[int] | None:
        """The model's start times (query units), or None when they fail the re-check:
        solver output is untrusted, every constraint is re-evaluated."""
        enc = self.enc
        s = _int_values(self.solver.model(), "s", enc.index.num_units, self.ctx)
        for j, (a, b) in enumerate(zip(enc.src.tolist(), enc.dst.tolist())):
            if s[b] - (s[a] if a >= 0 else 0) < enc.lifted(j):
                return None
        return s

    def makespan(self, starts: Sequence[int]) -> int:
        """The makespan (scaled, real time) of the execution the model stands for."""
        enc = self.enc
        ends = [starts[u] + enc.lift * enc.duration[u] for u in enc.last]
        return max(ends, default=0) // enc.lift

    def bound(self, limit: int, strict: bool) -> tuple[list[z3.BoolRef], list[str]]:
        """Fresh literals asserting that every worker's last unit ends by ``limit``
        (before it, when ``strict``), and their names."""
        enc = self.enc
        top = limit - 1 if strict else limit
        rel = "<" if strict else "<="
        lits: list[z3.BoolRef] = []
        names: list[str] = []
        for u in enc.last:
            q = z3.Bool(f"q{self.extra}", self.ctx)
            self.extra += 1
            # real end <= top  <=>  lifted end <= lift * top + lift - 1
            most = enc.lift * (top + 1 - enc.duration[u]) - 1
            self.solver.add(z3.Implies(q, z3.Int(f"s{u}", self.ctx) <= most))
            lits.append(q)
            names.append(f"end[w={int(enc.index.unit_worker[u])}] {rel} {_fmt(limit / enc.scale)}")
        return lits, names


def _core_ids(solver: z3.Solver) -> tuple[list[int], list[int]]:
    ids: list[int] = []
    bounds: list[int] = []
    for lit in solver.unsat_core():
        name = str(lit)
        if name.startswith("p"):
            ids.append(int(name[1:]))
        elif name.startswith("q"):
            bounds.append(int(name[1:]))
    return sorted(ids), sorted(bounds)


def _cycle(enc: ExecutionEncoding, ids: Sequence[int]) -> list[int] | None:
    """A cycle among the constraints ``ids``, as constraint ids in edge order."""
    out_edges: dict[int, list[int]] = {}
    for j in ids:
        a = int(enc.src[j])
        if a >= 0:
            out_edges.setdefault(a, []).append(j)
    for start in sorted(out_edges):
        path: list[int] = []
        seen_at: dict[int, int] = {start: 0}
        u = start
        while u in out_edges:
            j = out_edges[u][0]
            path.append(j)
            u = int(enc.dst[j])
            if u in seen_at:
                return path[seen_at[u]:]
            seen_at[u] = len(path)
    return None


def _cycle_units(enc: ExecutionEncoding, cycle: Sequence[int]) -> set[int]:
    return {int(enc.dst[j]) for j in cycle}


def _shorten(ctx: z3.Context, enc: ExecutionEncoding, cycle: list[int], budget: _Budget) -> list[int]:
    """A minimal cycle among the units of ``cycle`` (it may take chords): the core of
    the small query over the constraints between those units, minimised by Z3."""
    units = _cycle_units(enc, cycle)
    ids = [j for j in range(enc.num_constraints)
           if int(enc.src[j]) in units and int(enc.dst[j]) in units]
    if len(ids) == len(cycle):
        return cycle
    solver, parse = _solver(ctx, execution_subset_text(enc, ids), difference_logic=True)
    solver.set("core.minimize", True)
    lits = Literals(ctx, [f"p{j}" for j in ids])
    answer = budget.solve(solver, "deadlock-shorten", lits, size=(len(ids), len(units), 0),
                          parse_seconds=parse)
    if answer != z3.unsat:
        return cycle
    shorter = _cycle(enc, _core_ids(solver)[0])
    return shorter if shorter is not None and len(shorter) < len(cycle) else cycle


def _knots(ctx: z3.Context, enc: ExecutionEncoding, cycles: Sequence[list[int]], budget: _Budget) -> list[
    list[int]
]:
    """The cycles grouped by knot (mutual reachability, decided by Z3 on the
    zero-weight constraints); one list of cycle numbers per knot."""
    if len(cycles) < 2:
        return [list(range(len(cycles)))]
    ids = [j for j in range(enc.num_constraints) if enc.kind[j] is not Kind.START]
    solver, parse = _solver(ctx, execution_subset_text(enc, ids, reach=True), difference_logic=True)
    reps = [int(enc.dst[c[0]]) for c in cycles]

    def reaches(x: int, y: int) -> bool:
        nonlocal parse
        r = z3.Bool(f"r{x}_{y}", ctx)
        solver.add(z3.Implies(r, z3.Int(f"s{y}", ctx) < z3.Int(f"s{x}", ctx)))
        answer = budget.solve(solver, "deadlock-knots", _One(r), size=(len(ids) + 1, enc.index.num_units, 0),
                              parse_seconds=parse)
        parse = 0.0
        return bool(answer == z3.unsat)

    group = list(range(len(cycles)))
    for i in range(len(cycles)):
        for k in range(i + 1, len(cycles)):
            if group[k] == k and reaches(reps[i], reps[k]) and reaches(reps[k], reps[i]):
                group[k] = group[i]
    out: dict[int, list[int]] = {}
    for i, g in enumerate(group):
        out.setdefault(g, []).append(i)
    return list(out.values())


class _One(Literals):
    """A single assumption given as a Python term."""

    def __init__(self, lit: z3.BoolRef) -> None:
        self.ctx = lit.ctx
        self.asts = (z3.Ast * 1)()
        self.asts[0] = lit.as_ast()
        self.chosen = self.asts
        self.keep = lit


def _deadlock_violation(enc: ExecutionEncoding, cycle: Sequence[int]) -> Violation:
    """A DEADLOCK record for a cycle of constraints ``u -> v`` (v waits for u), listed
    like the DAG verifier does: each op waits for the next one."""
    index = enc.index

    def label(u: int) -> str:
        return f"{enc.unit_action(u)} (worker {int(index.unit_worker[u])})"

    waits = list(reversed(cycle))
    steps = []
    for j in waits:
        u, v = int(enc.src[j]), int(enc.dst[j])
        reason = "needs its output" if enc.kind[j] is Kind.DATA else "runs after it in program order"
        steps.append(f"{label(v)} waits for {label(u)} [{reason}]")
    units = [int(enc.dst[j]) for j in waits]
    return Violation(
        ViolationKind.DEADLOCK,
        f"cycle of {len(units)} ops: " + "; ".join(steps),
        tuple(enc.unit_action(u) for u in units),
        tuple(int(index.unit_worker[u]) for u in units),
        positions=tuple((int(index.unit_worker[u]), int(index.unit_pos[u])) for u in units),
    )


def _critical_path(enc: ExecutionEncoding, ids: Sequence[int]) -> list[int]:
    """Constraint ids of a chain in the core from a worker's ``start`` to a bounded
    last unit (the core of ``every end < M`` is such a chain); empty when none."""
    into: dict[int, int] = {}
    for j in ids:
        into.setdefault(int(enc.dst[j]), j)
    for last in enc.last:
        chain: list[int] = []
        u, seen = last, {last}
        while u in into:
            j = into[u]
            chain.append(j)
            if enc.kind[j] is Kind.START:
                return list(reversed(chain))
            u = int(enc.src[j])
            if u in seen:
                break
            seen.add(u)
    return []


def _core_names(enc: ExecutionEncoding, ids: Sequence[int], qs: Sequence[int], names: Sequence[str],
                first_q: int) -> tuple[str, ...]:
    """Names of a core: its chain from a start to an end first (when it is one)."""
    chain = _critical_path(enc, ids)
    rest = sorted(set(ids) - set(chain))
    return tuple(enc.label(j) for j in chain + rest) + tuple(names[q - first_q] for q in qs)


def _claim_violation(enc: ExecutionEncoding, ids: Sequence[int], bound: float) -> Violation:
    index = enc.index
    chain = _critical_path(enc, ids)
    units = [int(enc.dst[j]) for j in chain]
    length = sum(enc.weight[j] for j in chain) + (enc.duration[units[-1]] if units else 0)
    steps = [f"{enc.unit_action(u)} (worker {int(index.unit_worker[u])})" for u in units]
    what = " -> ".join(steps) if steps else "(no chain in the core)"
    return Violation(
        ViolationKind.CLAIM,
        f"makespan bound {_fmt(bound)} cannot be met: the chain {what} takes at least "
        f"{_fmt(length / enc.scale)}",
        tuple(enc.unit_action(u) for u in units),
        tuple(int(index.unit_worker[u]) for u in units),
        positions=tuple((int(index.unit_worker[u]), int(index.unit_pos[u])) for u in units),
    )


def _deadlocks(ex: _ExecutionSolver) -> tuple[PropertyResult, tuple[Violation, ...], tuple[Core, ...]]:
    """After an unsat execution query: one cycle per knot, from successive cores."""
    enc, budget = ex.enc, ex.budget
    active = list(range(enc.num_constraints))
    cycles: list[list[int]] = []
    answer = z3.unsat
    while answer == z3.unsat and len(cycles) < MAX_CYCLES:
        found = _cycle(enc, ex.core()[0])
        if found is None:
            why = "unknown: the solver's unsat core holds no dependency cycle"
            return PropertyResult(Property.DEADLOCK_FREE, Status.UNKNOWN, why), (), ()
        gone = _cycle_units(enc, found)
        cycles.append(_shorten(ex.ctx, enc, found, budget))
        active = [j for j in active if int(enc.dst[j]) not in gone and int(enc.src[j]) not in gone]
        answer = ex.check("execution (next knot)", active)
    chosen = [min((cycles[i] for i in knot), key=len) for knot in _knots(ex.ctx, enc, cycles, budget)]
    reason = "" if answer == z3.sat else f"searched {len(cycles)} cycles; more knots may exist"
    return (PropertyResult(Property.DEADLOCK_FREE, Status.VIOLATED, reason),
            tuple(_deadlock_violation(enc, c) for c in chosen),
            tuple(Core("deadlock", tuple(enc.label(j) for j in c)) for c in chosen))


def _run_execution(
    ctx: z3.Context, enc: ExecutionEncoding, budget: _Budget, bound: float | None, want_core: bool,
    minimize: bool,
) -> _Execution:
    ex = _ExecutionSolver(ctx, enc, budget)
    active = list(range(enc.num_constraints))
    answer = ex.check("execution", active)
    if answer == z3.unknown:
        why = f"unknown: {budget.reason}"
        return _Execution(PropertyResult(Property.DEADLOCK_FREE, Status.UNKNOWN, why), (),
                          None, why, _unknown_claim(bound, why), (), ())
    if answer == z3.unsat:
        verdict, found, cores = _deadlocks(ex)
        why = "the schedule deadlocks: no execution exists"
        skipped = None if bound is None else PropertyResult(Property.CLAIMS, Status.SKIPPED, why)
        return _Execution(verdict, found, None, why, skipped, (), cores)

    starts = ex.starts()
    if starts is None:
        why = "unknown: the solver's execution failed the re-check"
        return _Execution(PropertyResult(Property.DEADLOCK_FREE, Status.UNKNOWN, why), (),
                          None, why, _unknown_claim(bound, why), (), ())
    deadlock = PropertyResult(Property.DEADLOCK_FREE, Status.HOLDS)
    claim: PropertyResult | None = None
    claim_found: tuple[Violation, ...] = ()
    out_cores: list[Core] = []
    if bound is not None:
        scaled = Fraction(bound) * enc.scale
        top = scaled.numerator // scaled.denominator  # real ends are integers: end <= floor
        lits, names = ex.bound(top, strict=False)
        answer = ex.check("makespan-bound", active, lits)
        if answer == z3.sat:
            witness = ex.starts()
            if witness is None or ex.makespan(witness) > top:  # re-check against the bound too
                claim = PropertyResult(Property.CLAIMS, Status.UNKNOWN,
                                        "unknown: the solver's execution failed the re-check")
            else:
                claim = PropertyResult(Property.CLAIMS, Status.HOLDS)
                starts = witness
        elif answer == z3.unsat:
            ids, qs = ex.core()
            out_cores.append(Core("makespan-bound", _core_names(enc, ids, qs, names, ex.extra - len(lits))))
            claim = PropertyResult(Property.CLAIMS, Status.VIOLATED)
            claim_found = (_claim_violation(enc, ids, bound),)
        else:
            claim = PropertyResult(Property.CLAIMS, Status.UNKNOWN, f"unknown: {budget.reason}")
    if not minimize:
        return _Execution(deadlock, (), None, "not computed (minimize=False)", claim, claim_found,
                          tuple(out_cores))
    makespan = ex.makespan(starts)
    for _ in range(MAX_DESCENT):
        lits, names = ex.bound(makespan, strict=True)
        answer = ex.check("makespan-optimal", active, lits)
        if answer == z3.unsat:
            if want_core:
                ids, qs = ex.core()
                out_cores.append(Core("makespan-optimal",
                                      _core_names(enc, ids, qs, names, ex.extra - len(lits))))
            return _Execution(deadlock, (), makespan, "", claim, claim_found, tuple(out_cores))
        if answer == z3.unknown:
            break
        better = ex.starts()
        if better is None:
            return _Execution(deadlock, (), None, "unknown: the solver's execution failed the re-check",
                              claim, claim_found, tuple(out_cores))
        makespan = ex.makespan(better)
    why = f"unknown: {budget.reason or f'no proof of minimality after {MAX_DESCENT} steps'}"
    return _Execution(deadlock, (), None, why, claim, claim_found, tuple(out_cores))


def _unknown_claim(bound: float | None, why: str) -> PropertyResult | None:
    return None if bound is None else PropertyResult(Property.CLAIMS, Status.UNKNOWN, why)


# ------------------------------------------------------------------------ timed route
def _run_timing(ctx: z3.Context, enc: TimingEncoding, budget: _Budget, want_core: bool) -> tuple[
    PropertyResult, tuple[Violation, ...], tuple[Core, ...]
]:
    solver, parse = _solver(ctx, enc.text, difference_logic=False)
    size = (enc.num_constraints, len(enc.starts) + enc.num_constraints, len(enc.text))
    answer = budget.solve(solver, "timing", size=size, parse_seconds=parse)
    prop = Property.CONFLICT_FREE
    if answer == z3.unknown:
        return PropertyResult(prop, Status.UNKNOWN, f"unknown: {budget.reason}"), (), ()
    if answer == z3.unsat:
        cores: tuple[Core, ...] = ()
        if want_core and enc.num_constraints:
            g_solver, g_parse = _solver(ctx, guarded_timing_text(enc), difference_logic=False)
            guards = Literals(ctx, [f"g{j}" for j in range(enc.num_constraints)])
            if budget.solve(g_solver, "timing-core", guards, size=size, parse_seconds=g_parse) == z3.unsat:
                ids = sorted(int(str(g)[1:]) for g in g_solver.unsat_core())
                cores = (Core("timing", tuple(enc.label(j) for j in ids)),)
        return PropertyResult(prop, Status.HOLDS), (), cores
    model = solver.model()
    t = _int_values(model, "t", len(enc.starts), ctx)
    violated = _true_bools(model, "v")
    # solver output is untrusted: every reported constraint must really be violated
    for j in violated:
        if t[int(enc.b[j])] - t[int(enc.a[j])] >= enc.weight[j]:
            why = "unknown: the solver's model names a constraint that holds"
            return PropertyResult(prop, Status.UNKNOWN, why), (), ()
    if not violated:
        why = "unknown: the solver's model names no violated constraint"
        return PropertyResult(prop, Status.UNKNOWN, why), (), ()
    return PropertyResult(prop, Status.VIOLATED), _timing_violations(enc, t, violated), ()


def _timing_violations(enc: TimingEncoding, t: Sequence[int], violated: Sequence[int]) -> tuple[
    Violation, ...
]:
    index = enc.index
    word = "slot" if enc.steps else "time"
    sc = enc.scale

    def at(k: int) -> float:
        return float(Fraction(t[k], sc))

    conflicts: list[tuple[float, int, Violation]] = []
    order: list[Violation] = []
    causal: list[Violation] = []
    for j in violated:
        a, b = int(enc.a[j]), int(enc.b[j])
        wa, wb = int(enc.worker_of[a]), int(enc.worker_of[b])
        pa, pb = int(enc.pos_of[a]), int(enc.pos_of[b])
        xa, xb = enc.action(a), enc.action(b)
        ta, tb = at(a), at(b)
        k = enc.kind[j]
        if k is Kind.MONOTONE:
            order.append(Violation(
                ViolationKind.TIMING_ORDER,
                f"worker {wb}: {xb} starts at {word} {_fmt(tb)}, before {xa} at {_fmt(ta)}, which "
                "precedes it in the program",
                (xa, xb), (wb,), (ta, tb), ((wa, pa), (wb, pb))))
        elif k is Kind.NO_OVERLAP:
            if enc.steps:
                msg = (f"conflict on worker {wb}, slot {_fmt(ta)}: {xa} and {xb} are both "
                       "scheduled in it")
            else:
                end = float(Fraction(t[a] + enc.duration[a], sc))
                msg = (f"conflict on worker {wb} at time {_fmt(tb)}: {xa} runs [{_fmt(ta)}, "
                       f"{_fmt(end)}) and {xb} starts at {_fmt(tb)}")
            conflicts.append((tb, wb, Violation(ViolationKind.CONFLICT, msg, (xa, xb), (wb,),
                                                (ta, tb), ((wa, pa), (wb, pb)))))
        else:
            cwhat = overlap_member(xb, index, int(enc.row[j]))
            if enc.steps:
                detail = f"its producer {xa} (worker {wa}) runs in slot {_fmt(ta)}"
            else:
                end_i = t[a] + enc.duration[a]
                end = float(Fraction(end_i, sc))
                lat = float(Fraction(enc.weight[j] - enc.duration[a], sc))
                extra = "" if wa == wb else f" plus latency {_fmt(lat)}"
                detail = f"its producer {xa} (worker {wa}) ends at {_fmt(end)}{extra}"
            causal.append(Violation(
                ViolationKind.EARLY_START,
                f"{cwhat} (worker {wb}) starts at {word} {_fmt(tb)}, but {detail}",
                (xa, xb), (wa, wb), (ta, tb), ((wa, pa), (wb, pb))))
    conflicts.sort(key=lambda c: (c[0], c[1]))
    return tuple(c[2] for c in conflicts) + tuple(order) + tuple(causal)


# ----------------------------------------------------------------------- memory route
def _run_memory(ctx: z3.Context, enc: MemoryEncoding, budget: _Budget, cap: float) -> tuple[
    PropertyResult, tuple[Violation, ...]
]:
    prop = Property.MEMORY
    solver, parse = _solver(ctx, enc.text, difference_logic=False)
    n = len(enc.delta)
    answer = budget.solve(solver, "memory", size=(n, n, len(enc.text)), parse_seconds=parse)
    if answer == z3.unknown:
        return PropertyResult(prop, Status.UNKNOWN, f"unknown: {budget.reason}"), ()
    if answer == z3.unsat:
        return PropertyResult(prop, Status.HOLDS), ()
    model = solver.model()
    m = _int_values(model, "m", n, ctx)
    if m != enc.running():  # solver output is untrusted
        return PropertyResult(prop, Status.UNKNOWN, "unknown: the solver's running sums are wrong"), ()
    programs = enc.index.schedule.programs
    b = enc.bounds.tolist()
    out: list[Violation] = []
    for w in _true_bools(model, "x"):
        seg = m[b[w]:b[w + 1]]
        peak = max(seg)
        assert enc.cap is not None
        if peak <= enc.cap:
            return PropertyResult(prop, Status.UNKNOWN, "unknown: the solver's model names a worker "
                                   "within the cap"), ()
        k = b[w] + seg.index(peak)
        i = int(enc.index.unit_pos[int(enc.unit[k])])
        a: Action = programs[w][i]
        value = float(Fraction(peak, enc.scale))
        out.append(Violation(
            ViolationKind.MEMORY_CAP,
            f"worker {w} holds {value:g} activations at {a} (position {i}), above the cap of {cap:g}",
            (a,), (w,), positions=((w, i),)))
    if not out:
        return PropertyResult(prop, Status.UNKNOWN, "unknown: the solver's model names no worker"), ()
    return PropertyResult(prop, Status.VIOLATED), tuple(out)


def _peaks(enc: MemoryEncoding) -> tuple[float, ...]:
    running = enc.running()
    b = enc.bounds.tolist()
    out: list[float] = []
    for w in range(len(b) - 1):
        seg = running[b[w]:b[w + 1]]
        top = max(seg, default=0)
        out.append(float(Fraction(top, enc.scale)) if top > 0 else 0.0)
    return tuple(out)


# --------------------------------------------------------------------------- entry point
def smt_check(
    schedule: Schedule,
    *,
    costs: CostModel = UNIT_COSTS,
    memory_cap: float | None = None,
    makespan_bound: float | None = None,
    timed: bool = True,
    rlimit: int = DEFAULT_RLIMIT,
    want_core: bool = False,
    minimize: bool = True,
) -> SmtResult:
    """Decide the properties of :func:`verify.check` with Z3 (see the module docstring).

    ``makespan_bound`` adds the claim "every op ends by T" (property CLAIMS, order
    semantics). ``minimize`` proves the minimal makespan (needed for the metrics).
    ``want_core`` adds the unsat cores of successful queries (critical path, timing).
    Raises :class:`~verify.errors.SolverError` when Z3 fails (not when it is UNKNOWN)
    and :class:`~verify.errors.ParameterError` for a bad budget or bound.
    """
    if isinstance(rlimit, bool) or not isinstance(rlimit, int) or rlimit < 1:
        raise ParameterError(f"smt_check: rlimit must be a positive integer, got {rlimit!r}")
    if makespan_bound is not None and not (
        isinstance(makespan_bound, (int, float)) and not isinstance(makespan_bound, bool)
        and 0 <= makespan_bound < float("inf")
    ):
        raise ParameterError(
            f"smt_check: makespan_bound must be a finite number >= 0, got {makespan_bound!r}")
    started = time.perf_counter()
    budget = _Budget(rlimit)
    index = index_schedule(schedule)
    violations: list[Violation] = []
    verdicts: list[PropertyResult] = []
    cores: list[Core] = []

    for prop, found in ((Property.COMPLETE, check_completeness(index)),
                        (Property.PLACED, check_placement(index))):
        violations.extend(found)
        verdicts.append(PropertyResult(prop, Status.VIOLATED if found else Status.HOLDS))

    exec_enc = encode_execution(index, costs)
    ctx = z3.Context()
    ex = _run_execution(ctx, exec_enc, budget, makespan_bound, want_core, minimize)
    verdicts.append(ex.deadlock)
    violations.extend(ex.deadlock_violations)
    cores.extend(c for c in ex.cores if c.query == "deadlock")

    if schedule.timing is None:
        verdicts.append(PropertyResult(Property.CONFLICT_FREE, Status.SKIPPED,
                                        "the schedule has no start times (order only)"))
    elif not timed:
        verdicts.append(PropertyResult(Property.CONFLICT_FREE, Status.SKIPPED,
                                        "start times ignored: order semantics"))
    else:
        v, found_t, t_cores = _run_timing(ctx, encode_timing(index, costs), budget, want_core)
        verdicts.append(v)
        violations.extend(found_t)
        cores.extend(t_cores)

    mem_enc = encode_memory(index, costs, memory_cap)
    if memory_cap is None:
        verdicts.append(PropertyResult(Property.MEMORY, Status.SKIPPED, "no memory cap given"))
    else:
        v, found_m = _run_memory(ctx, mem_enc, budget, memory_cap)
        verdicts.append(v)
        violations.extend(found_m)

    if ex.claim is not None:
        verdicts.append(ex.claim)
        violations.extend(ex.claim_violations)
    cores.extend(c for c in ex.cores if c.query != "deadlock")

    makespan = None if ex.makespan is None else float(Fraction(ex.makespan, exec_enc.scale))
    metrics = None
    if makespan is not None:
        D = schedule.num_workers
        busy_int = [0] * D
        for u, d in enumerate(exec_enc.duration):
            busy_int[int(index.unit_worker[u])] += d
        busy = tuple(float(Fraction(b, exec_enc.scale)) for b in busy_int)
        idle = tuple(makespan - b for b in busy)
        metrics = Metrics(
            makespan=makespan,
            busy=busy,
            idle=idle,
            bubble_ratio=sum(idle) / (D * makespan) if makespan > 0 else 0.0,
            peak_activations=_peaks(mem_enc),
            stage_replicas=schedule.stage_replicas(),
            weights=schedule.weights(),
            num_ops=len(index.ops),
        )
    report = Report(
        subject=schedule.source or schedule.name or "<schedule>",
        violations=tuple(violations),
        properties=tuple(verdicts),
        metrics=metrics,
        costs=costs.describe(),
    )
    return SmtResult(report, tuple(verdicts), makespan, tuple(cores), tuple(budget.stats),
                     time.perf_counter() - started, rlimit, ex.makespan_reason)


# ------------------------------------------------------------------------- cross-check
_EXACT = (Property.COMPLETE, Property.PLACED, Property.CONFLICT_FREE, Property.MEMORY)


def _key(v: Violation) -> tuple[str, tuple[str, ...], tuple[int, ...], tuple[tuple[int, int], ...]]:
    return (v.kind.value, tuple(str(a) for a in v.ops), v.workers, v.positions)


def disagreements(dag: Report, smt: SmtResult) -> tuple[str, ...]:
    """Where the DAG verifier's report and the SMT result contradict each other (empty
    when they agree). UNKNOWN verdicts contradict nothing; compare :attr:`SmtResult.ok`
    separately.

    Compared: the verdict on every property both decided; for completeness, placement,
    timing and memory the violations themselves (kind, ops, workers, positions); for
    deadlocks that both find one; the makespan of the metrics.
    """
    out: list[str] = []
    dag_status = {r.property: r.status for r in dag.properties}
    for v in smt.verdicts:
        if v.status in (Status.UNKNOWN, Status.SKIPPED):
            continue
        d = dag_status.get(v.property)
        if d is None or d is Status.SKIPPED:
            continue
        if d is not v.status:
            out.append(f"{v.property.value}: DAG says {d.value}, SMT says {v.status.value}")
    for prop in _EXACT:
        if smt.verdict(prop) not in (Status.HOLDS, Status.VIOLATED):
            continue
        a = sorted(_key(v) for v in dag.violations if v.property is prop)
        b = sorted(_key(v) for v in smt.report.violations if v.property is prop)
        if a != b:
            out.append(f"{prop.value}: violations differ (DAG {len(a)}, SMT {len(b)}); "
                       f"first DAG-only {next((x for x in a if x not in b), None)}, "
                       f"first SMT-only {next((x for x in b if x not in a), None)}")
    if dag.metrics is not None and smt.makespan is not None and not np.isclose(
        dag.metrics.makespan, smt.makespan, rtol=1e-9, atol=1e-9
    ):
        out.append(f"makespan: DAG {dag.metrics.makespan:g}, SMT {smt.makespan:g}")
    return tuple(out)
