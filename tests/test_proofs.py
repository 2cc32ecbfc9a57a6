"""Parametric theorems: verdicts, negative controls, counterexamples, the prover API.

Expected verdicts are written here from chimera.md (not read from the theorems), and
every closed form the theorems reason about is spot-checked by brute force at small D
through a route written in this file (or the independent executor ``tests/oracle.py``).
"""

from __future__ import annotations

import json
from itertools import combinations

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

from proofs import model
from tests import oracle, reference
from verify.core.actions import Op, OpKind
from verify.errors import ModelError, ParameterError
from verify.generators.classic import one_f_one_b
from verify.smt import (
    Finding,
    Method,
    Query,
    Theorem,
    TheoremResult,
    Verdict,
    prove,
    render_text,
    run,
    theorem,
    theorems,
)
from verify.smt.lemmas import products

PROVED, REFUTED = Verdict.PROVED, Verdict.REFUTED

# The statements and the verdicts chimera.md leads us to expect.
EXPECTED = {
    "chimera-conflict-free": PROVED,
    "chimera-dependencies-forward": PROVED,
    "chimera-makespan": PROVED,
    "chimera-idle": PROVED,
    "chimera-peak-upper": PROVED,
    "chimera-peak-lower": PROVED,
    "chimera-odd-naive-conflict-free": REFUTED,  # "for odd D the naive merge always collides"
    "chimera-odd-first-collision": PROVED,
    "chimera-rigid-b2f-conflict-free": REFUTED,  # "rigid unit-slot times with B = 2F overlap"
    "chimera-rigid-unit-conflict-free": PROVED,
    "chimera-2f-conflict-free": PROVED,
    "chimera-2f-makespan-idle": PROVED,
    "chimera-generator-slots": PROVED,
    "chimera-naive-generator-slots": PROVED,
    "1f1b-timetable-valid": PROVED,
    "1f1b-earliest-start": PROVED,
    "1f1b-makespan": PROVED,
    "1f1b-peak": PROVED,
    "1f1b-generator-order": PROVED,
}


@pytest.fixture(scope="module")
def results() -> dict[str, TheoremResult]:
    return {r.name: r for r in prove()}


# ------------------------------------------------------------------ verdicts
def test_registered_theorems_are_the_expected_ones() -> None:
    mains = {t.name for t in theorems() if t.control_of is None}
    assert mains == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_theorem_verdict(results: dict[str, TheoremResult], name: str) -> None:
    r = results[name]
    assert r.verdict is EXPECTED[name], r.text
    assert r.passed


def test_no_theorem_is_unknown(results: dict[str, TheoremResult]) -> None:
    assert [n for n, r in results.items() if r.verdict is Verdict.UNKNOWN] == []


def test_every_proved_theorem_has_a_negative_control() -> None:
    controlled = {t.control_of for t in theorems() if t.control_of}
    proved_smt = {n for n, v in EXPECTED.items() if v is PROVED}
    # the odd-D refutation is itself the control of conflict-freedom for odd D; the
    # generator checks share controls per family
    exempt = {"chimera-naive-generator-slots", "chimera-rigid-unit-conflict-free"}
    assert proved_smt - exempt <= controlled


def test_negative_controls_are_refuted_with_an_instance(results: dict[str, TheoremResult]) -> None:
    controls = [t for t in theorems() if t.control_of]
    assert len(controls) >= 15
    for t in controls:
        r = results[t.name]
        assert t.control_of in EXPECTED
        assert r.verdict is REFUTED, (t.name, r.text)
        cx = r.counterexample
        assert cx is not None and "D" in cx and r.text.startswith("D="), (t.name, r.text)


def test_refuted_results_print_instances(results: dict[str, TheoremResult]) -> None:
    for r in results.values():
        if r.verdict is REFUTED:
            assert r.instance and r.text and "\n" not in r.text
        else:
            assert r.counterexample is None


# ------------------------------------------------------- counterexamples checked here
def _chimera_slot(D: int, pipe: str, stage: int, j: int, kind: str, per_unit: int) -> tuple[int, int]:
    """(worker, slot) from chimera.md's closed form, written independently of proofs/."""
    k, i = divmod(j, per_unit)
    worker = stage if pipe == "down" else D - 1 - stage
    slot = 2 * D * k + 2 * i + (stage if kind == "F" else 2 * D - 1 - stage)
    return worker, slot


def _parse(op: str) -> tuple[str, int, str, int]:
    pipe, rest = op.split(":")
    kind = "F" if "F" in rest else "B"
    stage, mb = rest.split(kind)
    return pipe, int(stage), kind, int(mb)


def test_odd_d_counterexample_names_the_middle_worker(results: dict[str, TheoremResult]) -> None:
    cx = results["chimera-odd-naive-conflict-free"].counterexample
    assert cx is not None
    D = int(cx["D"])
    assert D % 2 == 1
    m = (D - 1) // 2
    assert cx["worker"] == m and cx["slot"] == m
    assert {cx["op_a"], cx["op_b"]} == {f"down:{m}F0", f"up:{m}F0"}
    assert cx == {"D": 3, "N": 2, "worker": 1, "op_a": "down:1F0", "op_b": "up:1F0", "slot": 1}
    for op in (cx["op_a"], cx["op_b"]):
        pipe, stage, kind, mb = _parse(str(op))
        assert _chimera_slot(D, pipe, stage, mb, kind, (D + 1) // 2) == (m, m)


def test_odd_control_refutes_with_the_witness(results: dict[str, TheoremResult]) -> None:
    cx = results["chimera-odd-first-collision-control-inclusive"].counterexample
    assert cx is not None and cx["worker"] == (int(cx["D"]) - 1) // 2


def test_rigid_b2f_instance_is_a_real_overlap(results: dict[str, TheoremResult]) -> None:
    cx = results["chimera-rigid-b2f-conflict-free"].counterexample
    assert cx is not None and cx["F"] == 1 and cx["B"] == 2
    D, h = int(cx["D"]), int(cx["D"]) // 2
    (wa, sa), (wb, sb) = (_chimera_slot(D, *_reorder(str(cx[k])), h) for k in ("op_a", "op_b"))
    dur_a = 1 if _parse(str(cx["op_a"]))[2] == "F" else 2
    assert wa == wb == cx["worker"] and cx["op_a"] != cx["op_b"]
    assert sa <= sb < sa + dur_a
    assert (cx["start_a"], cx["start_b"], cx["end_a"]) == (sa, sb, sa + dur_a)


def _reorder(op: str) -> tuple[str, int, int, str]:
    pipe, stage, kind, mb = _parse(op)
    return pipe, stage, mb, kind


def test_collision_controls_are_real_collisions(results: dict[str, TheoremResult]) -> None:
    # chimera-conflict-free control: B at 2D*k + 2i + 2D - 2 - s
    cx = results["chimera-conflict-free-control-early-backward"].counterexample
    assert cx is not None
    D = int(cx["D"])
    slots = set()
    for key in ("op_a", "op_b"):
        pipe, stage, kind, mb = _parse(str(cx[key]))
        worker, slot = _chimera_slot(D, pipe, stage, mb, kind, D // 2)
        slot -= kind == "B"
        assert worker == cx["worker"]
        slots.add(slot)
    assert slots == {cx["slot"]}


def test_peak_control_instance_exceeds_the_bound(results: dict[str, TheoremResult]) -> None:
    cx = results["chimera-peak-upper-control-minus-one"].counterexample
    assert cx is not None
    D, N, w, t = (int(cx[k]) for k in ("D", "N", "worker", "slot"))
    table = _chimera_table(D, N)
    held = sum(f <= t <= b for f, b in table[w])
    assert held == cx["in_flight"] > int(cx["bound"]) == D // 2 + min(w, D - 1 - w)


# ----------------------------------------------- brute-force spot checks of closed forms
def _chimera_table(D: int, N: int) -> list[list[tuple[int, int]]]:
    """Per worker, (F slot, B slot) of every micro-batch of both pipelines."""
    rows: list[list[tuple[int, int]]] = [[] for _ in range(D)]
    for pipe in ("down", "up"):
        for stage in range(D):
            for j in range(N // 2):
                w, f = _chimera_slot(D, pipe, stage, j, "F", D // 2)
                _, b = _chimera_slot(D, pipe, stage, j, "B", D // 2)
                rows[w].append((f, b))
    return rows


def test_closed_form_matches_the_published_d4_table() -> None:
    for w, row in enumerate(reference.CHIMERA_D4_N4_SLOTS):
        for slot, cell in enumerate(row.split()):
            if cell == ".":
                continue
            kind, pipe, j = cell[0], "down" if cell[1] == "d" else "up", int(cell[2:])
            stage = w if pipe == "down" else 3 - w
            assert _chimera_slot(4, pipe, stage, j, kind, 2) == (w, slot)
            assert model.chimera_slot(4, 0, j, stage, kind == "F") == slot


@pytest.mark.parametrize("D", [2, 4, 6, 8, 10])
@pytest.mark.parametrize("K", [1, 2, 3])
def test_chimera_closed_form_by_brute_force(D: int, K: int) -> None:
    N = K * D
    table = _chimera_table(D, N)
    span = reference.chimera_unit_makespan(D, N)
    for w, row in enumerate(table):
        slots = [s for pair in row for s in pair]
        assert len(slots) == len(set(slots)) == 2 * N  # conflict-free, busy 2N
        assert min(slots) >= 0 and max(slots) <= span - 1
        assert span - len(slots) == D - 2  # idle D - 2
        peak = max(sum(f <= t <= b for f, b in row) for t in range(span))
        assert D // 2 + 1 <= peak <= D
        assert peak == D // 2 + 1 + min(w, D - 1 - w)  # the exact form proved
    assert max(s for row in table for pair in row for s in pair) == span - 1
    if (D, N) in reference.CHIMERA_UNIT_FIGURES:
        makespan, peaks = reference.CHIMERA_UNIT_FIGURES[(D, N)]
        assert makespan == span
        assert peaks == [D // 2 + 1 + min(w, D - 1 - w) for w in range(D)]
    # dependencies point forward (same pipeline, micro-batch)
    for j in range(N // 2):
        for pipe in ("down", "up"):
            F = [_chimera_slot(D, pipe, s, j, "F", D // 2)[1] for s in range(D)]
            B = [_chimera_slot(D, pipe, s, j, "B", D // 2)[1] for s in range(D)]
            assert all(F[s - 1] < F[s] for s in range(1, D))
            assert all(F[s] < B[s] for s in range(D))
            assert all(B[s + 1] < B[s] for s in range(D - 1))


@given(h=st.integers(1, 12), k=st.integers(0, 5), i=st.integers(0, 11), s=st.integers(0, 23))
def test_model_chimera_slot_is_the_published_formula(h: int, k: int, i: int, s: int) -> None:
    D = 2 * h
    i, s = i % h, s % D
    for kind in ("F", "B"):
        expected = _chimera_slot(D, "down", s, k * h + i, kind, h)[1]
        assert model.chimera_slot(D, 2 * D * k, i, s, kind == "F") == expected


@pytest.mark.parametrize("D", [3, 5, 7, 9, 11])
def test_naive_odd_first_collision_by_brute_force(D: int) -> None:
    per_unit, m = (D + 1) // 2, (D - 1) // 2
    for N in (2, 3, D, 2 * D):
        seen: dict[tuple[int, int], list[str]] = {}
        for pipe, count in (("down", (N + 1) // 2), ("up", N // 2)):
            for stage in range(D):
                for j in range(count):
                    for kind in "FB":
                        key = _chimera_slot(D, pipe, stage, j, kind, per_unit)
                        seen.setdefault(key, []).append(f"{pipe}:{stage}{kind}{j}")
        clashes = sorted((slot, w) for (w, slot), ops in seen.items() if len(ops) > 1)
        assert clashes, "odd D always collides"
        assert clashes[0] == (m, m)
        assert sorted(seen[(m, m)]) == [f"down:{m}F0", f"up:{m}F0"]


@pytest.mark.parametrize("D", [2, 4, 6, 8, 12, 16])
def test_2f_pipelines_by_brute_force(D: int) -> None:
    for f in (f for f in range(1, D // 2 + 1) if (D // 2) % f == 0):
        m = D // (2 * f)
        busy: dict[int, list[int]] = {w: [] for w in range(D)}
        for k in range(f):
            for down in (True, False):
                for s in range(D):
                    w = (k * D // f + (s if down else D - 1 - s)) % D
                    for i in range(m):
                        busy[w] += [2 * i + s, 2 * i + 2 * D - 1 - s]
        span = 2 * D + D // f - 2
        for slots in busy.values():
            assert len(slots) == len(set(slots)) == 2 * D
            assert min(slots) >= 0 and max(slots) < span
            assert span - len(slots) == D // f - 2
        assert max(max(v) for v in busy.values()) == span - 1
        # chimera.md's bubble ratio at N = D
        ratio = (D // f - 2) / span
        assert ratio == pytest.approx((D - 2 * f) / (2 * f * D + D - 2 * f))


@pytest.mark.parametrize("D", [1, 2, 3, 4, 6])
def test_1f1b_closed_form_is_the_earliest_start_execution(D: int) -> None:
    for N in (D, D + 1, 2 * D + 1):
        s = one_f_one_b(D, N)
        starts, complete = oracle.run(s, F=1, B=1)
        assert complete
        slot = {}
        for w, prog in enumerate(s.programs):
            for idx, op in enumerate(prog):
                assert isinstance(op, Op)
                slot[str(op)] = starts[(w, idx)]
                if op.kind is OpKind.F:
                    expected = model.one_f_one_b_forward(D, w, op.microbatch)
                else:
                    expected = model.one_f_one_b_backward(D, w, op.microbatch)
                assert starts[(w, idx)] == expected
        assert max(slot.values()) + 1 == reference.one_f_one_b_makespan(D, N, 1, 1)
        for w in range(D):
            life = [(slot[f"{w}F{j}"], slot[f"{w}B{j}"]) for j in range(N)]
            peak = max(sum(a <= t <= b for a, b in life) for t in range(2 * (N + D)))
            assert peak == D - w


# ----------------------------------------------------------------- the prover API
def test_unknown_name_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="unknown theorem"):
        prove(["no-such-theorem"])


@pytest.mark.parametrize("bad", [0, -5, True, 2.5])
def test_rlimit_must_be_positive(bad: object) -> None:
    with pytest.raises(ParameterError):
        prove(["1f1b-makespan"], rlimit=bad)  # type: ignore[arg-type]


def test_tiny_budget_gives_unknown_never_proved() -> None:
    r = run(theorem("chimera-2f-conflict-free"), rlimit=500)
    assert r.verdict is Verdict.UNKNOWN and not r.passed
    assert "limit" in r.text


def test_results_are_deterministic() -> None:
    a = prove(["chimera-idle-control-one-less", "chimera-peak-upper"])
    b = prove(["chimera-idle-control-one-less", "chimera-peak-upper"])
    assert [(r.verdict, r.rlimit, r.instance) for r in a] == [(r.verdict, r.rlimit, r.instance) for r in b]


def test_names_select_in_the_given_order_without_duplicates() -> None:
    rs = prove(["1f1b-peak", "1f1b-makespan", "1f1b-peak"])
    assert [r.name for r in rs] == ["1f1b-peak", "1f1b-makespan"]


def test_to_dict_is_json_ready(results: dict[str, TheoremResult]) -> None:
    data = json.loads(json.dumps([r.to_dict() for r in results.values()]))
    odd = next(d for d in data if d["name"] == "chimera-odd-naive-conflict-free")
    assert odd["verdict"] == "refuted" and odd["expected"] == "refuted" and odd["passed"] is True
    assert odd["counterexample"]["worker"] == 1 and odd["method"] == "smt"
    gen = next(d for d in data if d["name"] == "chimera-generator-slots")
    assert gen["method"] == "exhaustive" and gen["cases"] == 16 * 4 and gen["rlimit"] == 0
    assert set(data[0]) >= {"name", "verdict", "expected", "passed", "seconds", "rlimit",
                            "counterexample", "text", "claim", "scope", "control_of"}


def test_render_text(results: dict[str, TheoremResult]) -> None:
    text = render_text(list(results.values()))
    lines = text.splitlines()
    assert lines[-1].startswith(f"{len(results)} theorems: {len(results)} as expected, 0 not")
    assert any("chimera-conflict-free" in ln and "PROVED" in ln for ln in lines)
    assert "D=3, N=2: on worker 1, down:1F0 and up:1F0 both run in slot 1" in text
    assert all(not ln.startswith("FAIL") for ln in lines)


def test_smt_and_exhaustive_methods(results: dict[str, TheoremResult]) -> None:
    assert results["chimera-conflict-free"].method is Method.SMT
    assert results["chimera-conflict-free"].rlimit > 0
    assert results["1f1b-generator-order"].method is Method.EXHAUSTIVE
    assert "D <= 16" in results["1f1b-generator-order"].scope


# ------------------------------------------------------ framework on toy theorems
def _toy(build: object, expected: Verdict = PROVED) -> Theorem:
    return Theorem("toy", "toy claim", "toy", expected, "toy scope", build=build)  # type: ignore[arg-type]


def _describe(v: object) -> Finding:
    return Finding((("x", 1),), "toy")


def test_a_spurious_abstract_model_is_unknown() -> None:
    def build(ctx: z3.Context) -> Query:
        h, k = z3.Int("h", ctx), z3.Int("k", ctx)
        fam = products(h, [("hk", k)], ctx=ctx)
        # 2*k == 7 has no solution, but the lemmas alone allow hk = 7 at k = 3
        return Query((h == 2, k >= 0, *fam.lemmas, fam["hk"] == 7), _describe, fam.items)

    r = run(_toy(build, REFUTED))
    assert r.verdict is Verdict.UNKNOWN and not r.passed


def test_a_vacuous_proof_is_unknown() -> None:
    def build(ctx: z3.Context) -> Query:
        x = z3.Int("x", ctx)
        return Query((x >= 1, x <= 0, x == 5), _describe)  # empty domain, then the claim

    r = run(_toy(build))
    assert r.verdict is Verdict.UNKNOWN and "vacuous" in r.text


def test_a_rejected_recheck_is_unknown() -> None:
    def build(ctx: z3.Context) -> Query:
        x = z3.Int("x", ctx)
        return Query((x == 1,), _describe, recheck=lambda v: False)

    assert run(_toy(build, REFUTED)).verdict is Verdict.UNKNOWN


def test_shrinking_reports_the_smallest_instance() -> None:
    def build(ctx: z3.Context) -> Query:
        x, y = z3.Int("x", ctx), z3.Int("y", ctx)
        return Query((x >= 5, y >= x, y % 7 == 3),
                     lambda v: Finding((("x", v["x"]), ("y", v["y"])), "xy"),
                     shrink=("x", "y"), logic="QF_NIA")

    r = run(_toy(build, REFUTED))
    assert r.verdict is REFUTED and r.counterexample == {"x": 5, "y": 10}


@pytest.mark.parametrize("kwargs", [
    {"name": "bad name!"},
    {"expected": Verdict.UNKNOWN},
    {"build": None},
    {"enumerate": lambda: None},
])
def test_theorem_records_are_validated(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "name": "ok", "claim": "c", "formula": "f", "expected": PROVED, "scope": "s",
        "build": lambda ctx: None,
    }
    fields.update(kwargs)
    with pytest.raises(ModelError):
        Theorem(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------- product lemma soundness
@given(c=st.integers(0, 50), x=st.integers(-20, 20), y=st.integers(-20, 20))
def test_product_lemmas_hold_for_true_products(c: int, x: int, y: int) -> None:
    ctx = z3.Context()
    fam = products(z3.IntVal(c, ctx), [("px", z3.IntVal(x, ctx)), ("py", z3.IntVal(y, ctx))], ctx=ctx)
    s = z3.Solver(ctx=ctx)
    s.add(*fam.lemmas, fam["px"] == c * x, fam["py"] == c * y)
    assert s.check() == z3.sat


def test_every_pair_of_products_is_related() -> None:
    ctx = z3.Context()
    names = [("p0", z3.Int("a", ctx)), ("p1", z3.Int("b", ctx)), ("p2", z3.Int("c", ctx))]
    fam = products(z3.Int("f", ctx), names, ctx=ctx)
    per_pair = len(fam.lemmas) // (len(names) + len(list(combinations(names, 2))))
    assert per_pair * 6 == len(fam.lemmas)
