"""The bounded SMT check and the DAG verifier agree (each is the other's independent
route): on every family's examples, on generated schedules up to D=16, on every mutation
of the foundation's mutation tests, and on random reorderings and timings.

Expected values otherwise come from ``chimera.md`` (makespans, peaks) or from checks
that share nothing with the encoding (cycles re-walked op by op, critical paths re-summed
from the cost model).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mutations import MUTATIONS, mutants
from verify import CostModel, Report, Schedule, ViolationKind, check, generate, parse_action, simulate
from verify.checks import stuck_graph
from verify.core.actions import Op, OpKind, Overlap, compute_ops
from verify.core.deps import producers
from verify.core.results import Property, Status, Violation
from verify.core.schedule import Timing, TimingUnit
from verify.errors import ParameterError
from verify.generators import families
from verify.passes.index import index_schedule
from verify.smt.bounded import SmtResult, disagreements, smt_check

UNIT = CostModel()
B2 = CostModel(F=1, B=2)
B2_LAT = CostModel(F=1, B=2, latency=0.5)


# ------------------------------------------------------------------------ comparison
def _waits_for(schedule: Schedule, waiter: tuple[int, int], awaited: tuple[int, int]) -> bool:
    """Does the action at ``waiter`` wait for the one at ``awaited`` (program order on
    one worker, or a data dependency)? Re-derived from :mod:`verify.core.deps`."""
    (w1, i1), (w2, i2) = waiter, awaited
    if w1 == w2 and i1 == i2 + 1:
        return True
    split = {(o.pipeline, o.stage, o.microbatch) for _, _, o in schedule.ops() if o.kind is OpKind.I}
    stages = {p.name: p.num_stages for p in schedule.pipelines}
    needed = compute_ops(schedule.programs[w2][i2])
    for op in compute_ops(schedule.programs[w1][i1]):
        if op.pipeline not in stages:
            continue
        grad = lambda p, s, m: OpKind.I if (p, s, m) in split else OpKind.B  # noqa: E731
        if any(x in needed for x in producers(op, stages[op.pipeline], grad)):
            return True
    return False


def _knot_of(schedule: Schedule, costs: CostModel) -> dict[tuple[int, int], int]:
    """Position -> number of its knot (strongly connected set of stuck units)."""
    ex = simulate(schedule, costs)
    g = stuck_graph(ex)
    out: dict[tuple[int, int], int] = {}
    for n, comp in enumerate(c for c in nx.strongly_connected_components(g) if len(c) > 1):
        for u in comp:
            out[(int(ex.index.unit_worker[u]), int(ex.index.unit_pos[u]))] = n
    return out


def _key(v: Violation) -> tuple[object, ...]:
    return (v.kind.value, v.message, tuple(str(a) for a in v.ops), v.workers, v.times, v.positions)


def assert_agree(dag: Report, smt: SmtResult, schedule: Schedule, costs: CostModel) -> None:
    """Same verdicts, same violation records (deadlocks: one genuine cycle per knot),
    same metrics."""
    assert all(v.status is not Status.UNKNOWN for v in smt.verdicts), smt.verdicts
    dag_status = {r.property: r.status.value for r in dag.properties}
    smt_status = {v.property: v.status.value for v in smt.verdicts}
    assert dag_status == smt_status
    others = lambda r: sorted(_key(v) for v in r.violations if v.kind is not ViolationKind.DEADLOCK)  # noqa: E731
    assert others(dag) == others(smt.report)
    dag_cycles = dag.of_kind(ViolationKind.DEADLOCK)
    smt_cycles = smt.report.of_kind(ViolationKind.DEADLOCK)
    assert len(dag_cycles) == len(smt_cycles)
    if smt_cycles:
        knot = _knot_of(schedule, costs)
        for v in smt_cycles:
            pos = v.positions
            assert len(pos) >= 2
            for k in range(len(pos)):
                assert _waits_for(schedule, pos[k], pos[(k + 1) % len(pos)]), v.message
            assert len({knot[p] for p in pos}) == 1
        assert sorted(knot[v.positions[0]] for v in smt_cycles) == sorted(
            knot[v.positions[0]] for v in dag_cycles)
    if dag.metrics is None:
        assert smt.report.metrics is None and smt.makespan is None
    else:
        m, s = dag.metrics, smt.report.metrics
        assert s is not None
        assert smt.makespan == m.makespan
        assert (s.makespan, s.busy, s.idle, s.peak_activations, s.num_ops) == (
            m.makespan, m.busy, m.idle, m.peak_activations, m.num_ops)
        assert s.bubble_ratio == pytest.approx(m.bubble_ratio)
    assert disagreements(dag, smt) == ()


def run_both(schedule: Schedule, costs: CostModel = UNIT, cap: float | None = None,
             timed: bool = True) -> SmtResult:
    dag = check(schedule, costs=costs, memory_cap=cap, timed=timed)
    smt = smt_check(schedule, costs=costs, memory_cap=cap, timed=timed)
    assert_agree(dag, smt, schedule, costs)
    return smt


# --------------------------------------------------------------- families and mutants
EXAMPLES = [(fam.name, D, N, dict(opts)) for fam in families() for D, N, opts in fam.examples]
MUTATED = [x for x in EXAMPLES if x[0] != "chimera-naive"]  # as in tests/test_mutations.py


@pytest.mark.parametrize(("family", "D", "N", "opts"), EXAMPLES)
@pytest.mark.parametrize("costs", [UNIT, B2_LAT], ids=["unit", "F1B2lat"])
def test_family_examples_agree(family: str, D: int, N: int, opts: dict, costs: CostModel) -> None:  # type: ignore[type-arg]
    s = generate(family, D, N, **opts)
    run_both(s, costs)
    if costs is UNIT:
        run_both(s, costs, timed=False)
        run_both(s.without_timing(), costs, cap=2)


def _generated() -> Iterator[tuple[str, int, int]]:
    for D in range(1, 17):
        for N in sorted({1, max(1, D // 2), D, 2 * D}):
            yield "gpipe", D, N
            yield "1f1b", D, N
            if D % 2 == 0 and (N <= D or N % D == 0):
                yield "chimera", D, N
    for D in (3, 5, 7):
        yield "chimera-naive", D, D


def test_generated_schedules_up_to_d16_agree() -> None:
    count = 0
    for family, D, N in _generated():
        s = generate(family, D, N)
        costs = B2 if (D + N) % 2 else UNIT
        run_both(s, costs, cap=D if D % 3 == 0 else None)
        count += 1
    assert count > 150


@pytest.mark.parametrize(("family", "D", "N", "opts"), MUTATED)
@pytest.mark.parametrize("timed", [True, False])
def test_every_mutation_agrees(family: str, D: int, N: int, opts: dict, timed: bool) -> None:  # type: ignore[type-arg]
    s = generate(family, D, N, **opts)
    if not timed:
        s = s.without_timing()
    for seed in range(3):  # the seeds of tests/test_mutations.py
        for name, mutant, kind in mutants(s, seed):
            smt = run_both(mutant)
            assert kind in smt.report.kinds(), name


def test_mutations_of_generated_schedules_agree() -> None:
    for family, D, N in [("gpipe", 16, 16), ("1f1b", 16, 32), ("chimera", 16, 16), ("chimera", 12, 24),
                         ("1f1b", 5, 3), ("chimera", 8, 3)]:
        s = generate(family, D, N)
        for seed in range(2):
            if seed and D > 8:
                continue
            for _, mutant, kind in mutants(s, seed):
                assert kind in run_both(mutant, B2_LAT).report.kinds()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_reorderings_agree(data: st.DataObject) -> None:
    family = data.draw(st.sampled_from(["gpipe", "1f1b", "chimera"]))
    D = data.draw(st.integers(1, 4).map(lambda h: 2 * h))
    N = data.draw(st.sampled_from([D, 2 * D]))
    s = generate(family, D, N).without_timing()
    programs = [list(p) for p in s.programs]
    for _ in range(data.draw(st.integers(0, 4))):
        w = data.draw(st.integers(0, D - 1))
        i = data.draw(st.integers(0, len(programs[w]) - 1))
        j = data.draw(st.integers(0, len(programs[w]) - 1))
        programs[w][i], programs[w][j] = programs[w][j], programs[w][i]
    s = dataclasses.replace(s, programs=tuple(tuple(p) for p in programs))
    F = data.draw(st.sampled_from([0, 0.5, 1, 2]))
    B = data.draw(st.sampled_from([0, 1, 2, 3]))
    latency = data.draw(st.sampled_from([0, 0.25, 1]))
    cap = data.draw(st.sampled_from([None, 1, 2, 3.5]))
    run_both(s, CostModel(F=F, B=B, latency=latency), cap=cap)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_random_timings_agree(data: st.DataObject) -> None:
    """Slot tables and start-time tables with random shifts, in both timing units."""
    D = data.draw(st.integers(1, 3).map(lambda h: 2 * h))
    s = generate("chimera", D, data.draw(st.sampled_from([D, 2 * D])))
    assert s.timing is not None
    unit = data.draw(st.sampled_from([TimingUnit.STEPS, TimingUnit.TIMES]))
    scale = data.draw(st.sampled_from([1, 2]))
    rows = [[t * scale for t in r] for r in s.timing.starts]
    for _ in range(data.draw(st.integers(0, 4))):
        w = data.draw(st.integers(0, D - 1))
        i = data.draw(st.integers(0, len(rows[w]) - 1))
        rows[w][i] = max(0, rows[w][i] + data.draw(st.sampled_from([-2, -1, -0.5, 1, 3])))
    timed = dataclasses.replace(s, timing=Timing(unit, tuple(tuple(r) for r in rows)))
    costs = data.draw(st.sampled_from([UNIT, B2, B2_LAT, CostModel(F=1, B=1, latency=0.5)]))
    run_both(timed, costs)


def _fixture_files() -> list[str]:
    from pathlib import Path

    root = Path(__file__).parent / "data"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.csv"))


@pytest.mark.parametrize("name", _fixture_files())
def test_schedule_files_agree(name: str) -> None:
    """PyTorch CSV fixtures, some with communication and FSDP actions in the programs."""
    from pathlib import Path

    from verify import load_schedule
    from verify.errors import ScheduleFormatError

    try:
        s = load_schedule(Path(__file__).parent / "data" / name)
    except ScheduleFormatError:
        pytest.skip("not a schedule file (a trace or a partial fixture)")
    run_both(s, UNIT, cap=2)
    run_both(s, B2_LAT, timed=False)


# ------------------------------------------------------------------ targeted behaviour
def _two_by_two(rows: list[str], N: int = 2) -> Schedule:
    base = generate("1f1b", 2, N)
    return dataclasses.replace(
        base, programs=tuple(tuple(parse_action(x) for x in r.split()) for r in rows))


def test_deadlock_is_a_cycle_of_the_known_example() -> None:
    s = _two_by_two(["0F0 0B0 0F1 0B1", "1F1 1F0 1B0 1B1"])
    smt = run_both(s)
    (v,) = smt.report.violations
    # the cycle of tests/test_mutations.py::test_exact_diagnosis_deadlock_is_the_shortest_cycle
    assert sorted(map(str, v.ops)) == ["0B0", "0F1", "1B0", "1F0", "1F1"]
    assert v.message.startswith("cycle of 5 ops: ")
    (core,) = smt.cores
    assert core.query == "deadlock" and len(core.names) == 5
    assert smt.makespan is None and "deadlocks" in smt.makespan_reason


def test_two_knots_give_two_deadlocks() -> None:
    s = _two_by_two(["0F0 0B0 0F1 0B1 0F2 0B2 0F3 0B3", "1F1 1F0 1B0 1B1 1F3 1F2 1B2 1B3"], N=4)
    smt = run_both(s)
    assert len(smt.report.of_kind(ViolationKind.DEADLOCK)) == 2


def test_zero_cost_cycles_still_deadlock() -> None:
    """With F = B = 0 a cycle has total weight 0; the lifted encoding still refutes it."""
    s = _two_by_two(["0F0 0B0 0F1 0B1", "1F1 1F0 1B0 1B1"])
    smt = run_both(s, CostModel(F=0, B=0))
    assert smt.verdict(Property.DEADLOCK_FREE) is Status.VIOLATED
    ok = run_both(generate("1f1b", 4, 4), CostModel(F=0, B=1, latency=0))
    assert ok.makespan == simulate(generate("1f1b", 4, 4), CostModel(F=0, B=1)).makespan


@pytest.mark.parametrize(
    ("family", "D", "N", "costs", "expected"),
    [
        # chimera.md: Chimera at unit slots 2N + D - 2; with B = 2F at N = D, 16 for D = 4
        ("chimera", 4, 4, UNIT, 10),
        ("chimera", 8, 8, UNIT, 22),
        ("chimera", 4, 8, UNIT, 18),
        ("chimera", 4, 4, B2, 16),
        # (D + 2K - 2) F + K (2D - 2) B with K = 2, D = 4, F = 1, B = 2
        ("chimera", 4, 8, B2, 30),
        # 1F1B: (N + D - 1)(F + B) for any ratio; GPipe 2(N + D - 1) at unit costs
        ("1f1b", 4, 8, B2, 33),
        ("1f1b", 8, 8, CostModel(F=2, B=3), 75),
        ("gpipe", 4, 4, UNIT, 14),
    ],
)
def test_minimal_makespan_matches_reference(family: str, D: int, N: int, costs: CostModel,
                                            expected: float) -> None:
    s = generate(family, D, N).without_timing()
    r = smt_check(s, costs=costs)
    assert r.makespan == expected == simulate(s, costs).makespan


@pytest.mark.parametrize(("family", "D", "N"), [("chimera", 8, 16), ("1f1b", 6, 12), ("gpipe", 5, 4)])
def test_critical_path_core_explains_the_makespan(family: str, D: int, N: int) -> None:
    """Asking for makespan <= optimum - 1 fails with a chain of ops whose durations and
    latencies, summed here from the cost model, are exactly the optimum."""
    costs = B2_LAT
    s = generate(family, D, N).without_timing()
    best = simulate(s, costs).makespan
    r = smt_check(s, costs=costs, makespan_bound=best - 0.5, want_core=True)
    assert r.verdict(Property.CLAIMS) is Status.VIOLATED
    (v,) = r.report.of_kind(ViolationKind.CLAIM)
    total = 0.0
    for k, (a, w) in enumerate(zip(v.ops, v.workers)):
        assert isinstance(a, Op)
        total += costs.duration(a.kind, a.stage)
        if k and w != v.workers[k - 1]:
            total += costs.latency
            assert _waits_for(s, v.positions[k], v.positions[k - 1])
    assert total == best
    names = {c.query: c.names for c in r.cores}
    assert names["makespan-bound"][0].startswith("start[w=")
    assert names["makespan-bound"][-1].endswith(f"<= {best - 0.5:g}") or any(
        n.startswith("end[") for n in names["makespan-bound"])
    assert names["makespan-optimal"][0].startswith("start[")
    held = smt_check(s, costs=costs, makespan_bound=best)
    assert held.verdict(Property.CLAIMS) is Status.HOLDS and held.ok


def test_success_cores_on_request() -> None:
    s = generate("chimera", 4, 4)
    plain = smt_check(s)
    assert plain.cores == ()
    r = smt_check(s, want_core=True)
    queries = {c.query: c for c in r.cores}
    assert set(queries) == {"timing", "makespan-optimal"}
    # unit costs, makespan 10: the critical chain has 10 ops, hence 9 edges and a start
    chain = [n for n in queries["makespan-optimal"].names if n.startswith(("start", "order", "dep"))]
    assert len(chain) == 10
    assert any(n.startswith("no-overlap[w=") for n in queries["timing"].names)


def test_times_timing_with_rigid_slots_conflicts_like_the_dag() -> None:
    """chimera.md: keeping the unit-slot times rigid with B = 2F produces overlaps."""
    s = generate("chimera", 4, 4)
    assert s.timing is not None
    rigid = dataclasses.replace(s, timing=Timing(TimingUnit.TIMES, s.timing.starts))
    smt = run_both(rigid, B2)
    assert ViolationKind.CONFLICT in smt.report.kinds()
    assert run_both(rigid, UNIT).ok


def test_memory_cap_and_peaks() -> None:
    s = generate("chimera", 4, 4)
    smt = run_both(s, cap=3)
    assert smt.report.metrics is not None
    assert smt.report.metrics.peak_activations == (3, 4, 4, 3)  # chimera.md
    assert [v.workers for v in smt.report.of_kind(ViolationKind.MEMORY_CAP)] == [(1,), (2,)]
    assert run_both(s, cap=4).verdict(Property.MEMORY) is Status.HOLDS


def test_split_backward_and_overlaps_agree() -> None:
    base = generate("1f1b", 2, 2)
    rows = ["0F0 0F1 0I0 0W0 0I1 0W1", "1F0 (1I0;1F1)OVERLAP_F_B 1W0 1I1 1W1"]
    s = dataclasses.replace(base, programs=tuple(tuple(parse_action(x) for x in r.split()) for r in rows))
    assert isinstance(s.programs[1][1], Overlap)
    for costs in (UNIT, CostModel(F=1, I=1, W=1, overlap=1.5, latency=0.25)):
        run_both(s, costs, cap=1)


def test_tiny_budget_is_unknown_never_success() -> None:
    s = generate("chimera", 8, 8)
    r = smt_check(s, rlimit=1, memory_cap=2, makespan_bound=100)
    assert not r.ok
    for prop in (Property.DEADLOCK_FREE, Property.CONFLICT_FREE, Property.MEMORY, Property.CLAIMS):
        assert r.verdict(prop) is Status.UNKNOWN
    assert r.verdict(Property.COMPLETE) is Status.HOLDS  # structural, no solver
    assert r.makespan is None and r.report.metrics is None
    assert r.makespan_reason.startswith("unknown")
    statuses = {p.property: p.status for p in r.report.properties}
    assert statuses[Property.DEADLOCK_FREE] is not Status.HOLDS
    assert all(q.rlimit <= 1 or q.answer == "unknown" for q in r.queries)
    # an UNKNOWN contradicts nothing, but it is no agreement either: ok is False
    assert disagreements(check(s, memory_cap=2), r) == ()


def test_budget_is_deterministic() -> None:
    s = generate("1f1b", 8, 16)
    a, b = smt_check(s, costs=B2), smt_check(s, costs=B2)
    assert [q.rlimit for q in a.queries] == [q.rlimit for q in b.queries]
    used = a.rlimit_used
    assert smt_check(s, costs=B2, rlimit=used).ok


def test_disagreements_are_detected() -> None:
    s = generate("chimera-naive", 3, 3)
    dag, smt = check(s), smt_check(s)
    assert disagreements(dag, smt) == ()
    doctored = dataclasses.replace(smt, report=dataclasses.replace(smt.report, violations=()))
    assert disagreements(dag, doctored)


def test_bad_parameters_raise() -> None:
    s = generate("1f1b", 2, 2)
    with pytest.raises(ParameterError):
        smt_check(s, rlimit=0)
    with pytest.raises(ParameterError):
        smt_check(s, makespan_bound=float("nan"))


def test_mutation_set_is_covered() -> None:
    """Every mutation kind of tests/mutations.py is exercised above."""
    seen = set()
    for family, D, N, opts in MUTATED:
        for name, _, _ in mutants(generate(family, D, N, **opts), random.Random(0).randint(0, 9)):
            seen.add(name)
    assert seen == set(MUTATIONS)


def test_index_is_shared_not_the_decision() -> None:
    """Sanity: the encoding is linear in the ops (neighbours only, never all pairs)."""
    s = generate("chimera", 16, 32)
    r = smt_check(s)
    n = len(index_schedule(s).ops)
    execution = next(q for q in r.queries if q.query == "execution")
    assert execution.constraints < 3 * n
