"""Every family's valid schedules pass; each mutation is caught with the right kind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.mutations import MUTATIONS, mutants
from verify import ViolationKind, check, generate, parse_action
from verify.core.schedule import Schedule
from verify.generators import families

INSTANCES = [
    (fam.name, D, N, dict(opts))
    for fam in families()
    if fam.name != "chimera-naive"
    for D, N, opts in fam.examples
]


@pytest.mark.parametrize(("family", "D", "N", "opts"), INSTANCES)
def test_examples_are_valid(family: str, D: int, N: int, opts: dict) -> None:  # type: ignore[type-arg]
    report = check(generate(family, D, N, **opts))
    assert report.ok, report.violations[:3]


@pytest.mark.parametrize(("family", "D", "N", "opts"), INSTANCES)
@pytest.mark.parametrize("timed", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_mutations_are_caught(family: str, D: int, N: int, opts: dict, timed: bool, seed: int) -> None:  # type: ignore[type-arg]
    s = generate(family, D, N, **opts)
    if not timed:
        s = s.without_timing()
    for name, mutant, kind in mutants(s, seed):
        report = check(mutant)
        assert kind in report.kinds(), (name, [v.message for v in report.violations][:4])


@given(data=st.data())
def test_mutations_over_random_parameters(data: st.DataObject) -> None:
    family = data.draw(st.sampled_from(["gpipe", "1f1b", "chimera"]))
    D = data.draw(st.integers(1, 6).map(lambda h: 2 * h))
    N = data.draw(st.sampled_from([D, 2 * D, max(1, D // 2)]))
    name = data.draw(st.sampled_from(sorted(MUTATIONS)))
    s = generate(family, D, N)
    fn, kind = MUTATIONS[name]
    if name == "move-to-other-worker" and D < 2:
        return
    import random

    report = check(fn(s, random.Random(data.draw(st.integers(0, 10**6)))))
    assert kind in report.kinds()


def _one_f_one_b_2x2(rows: list[str]) -> Schedule:
    base = generate("1f1b", 2, 2)
    import dataclasses

    return dataclasses.replace(
        base, programs=tuple(tuple(parse_action(x) for x in r.split()) for r in rows)
    )


def test_exact_diagnosis_missing() -> None:
    report = check(_one_f_one_b_2x2(["0F0 0F1 0B0 0B1", "1F0 1B0 1F1"]))
    assert [v.message for v in report.violations] == [
        "1B1 is missing: stage 1 of pipeline 'main' must run its backward (B, or I and W) "
        "for micro-batch 1 (expected on worker 1)"
    ]


def test_exact_diagnosis_duplicate_and_range() -> None:
    report = check(_one_f_one_b_2x2(["0F0 0F1 0B0 0B1 0B1", "1F0 1B0 1F1 1B1 1F2"]))
    msgs = [(v.kind, v.message) for v in report.violations]
    assert (ViolationKind.MICROBATCH_OUT_OF_RANGE,
            "1F2 at worker 1, position 4: pipeline 'main' has micro-batches 0..1") in msgs
    assert (ViolationKind.DUPLICATE_OP,
            "0B1 runs twice: at worker 0, position 3 and at worker 0, position 4") in msgs


def test_exact_diagnosis_wrong_worker_and_unknowns() -> None:
    report = check(_one_f_one_b_2x2(["0F0 0F1 0B0 0B1 1F0 2F0 x:0F0", "1B0 1F1 1B1"]))
    msgs = [(v.kind, v.message) for v in report.violations]
    assert (ViolationKind.WRONG_WORKER,
            "1F0 runs on worker 0 (position 4), but stage 1 of pipeline 'main' is placed on "
            "worker 1") in msgs
    assert (ViolationKind.UNKNOWN_STAGE,
            "2F0 at worker 0, position 5: pipeline 'main' has stages 0..1") in msgs
    assert (ViolationKind.UNKNOWN_PIPELINE,
            "x:0F0 at worker 0, position 6: no pipeline named 'x' (known: main)") in msgs


def test_exact_diagnosis_deadlock_is_the_shortest_cycle() -> None:
    report = check(_one_f_one_b_2x2(["0F0 0B0 0F1 0B1", "1F1 1F0 1B0 1B1"]))
    (v,) = report.violations
    assert v.kind is ViolationKind.DEADLOCK
    assert v.message == (
        "cycle of 5 ops (7 ops can never start): "
        "0B0 (worker 0) waits for 1B0 (worker 1) [needs its output]; "
        "1B0 (worker 1) waits for 1F0 (worker 1) [needs its output]; "
        "1F0 (worker 1) waits for 1F1 (worker 1) [runs after it in program order]; "
        "1F1 (worker 1) waits for 0F1 (worker 0) [needs its output]; "
        "0F1 (worker 0) waits for 0B0 (worker 0) [runs after it in program order]"
    )
    assert report.metrics is None


def test_exact_diagnosis_mixed_backward() -> None:
    report = check(_one_f_one_b_2x2(["0F0 0F1 0B0 0B1", "1F0 1B0 1I0 1W0 1F1 1B1"]))
    kinds = [v.kind for v in report.violations]
    assert ViolationKind.MIXED_BACKWARD in kinds
    assert ViolationKind.DUPLICATE_OP not in kinds
