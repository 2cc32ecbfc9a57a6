"""The generated schedules reproduce the published figures of chimera.md."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import reference as ref
from verify import CostModel, ViolationKind, check, generate
from verify.core.actions import Op
from verify.core.schedule import TimingUnit


def slot_table(schedule) -> list[str]:  # type: ignore[no-untyped-def]
    """Independent rendering of a steps-timed Chimera schedule in the paper's notation."""
    assert schedule.timing is not None and schedule.timing.unit is TimingUnit.STEPS
    horizon = int(max(max(r) for r in schedule.timing.starts)) + 1
    rows = []
    for prog, starts in zip(schedule.programs, schedule.timing.starts):
        cells = ["."] * horizon
        for op, t in zip(prog, starts):
            assert isinstance(op, Op)
            cells[int(t)] = f"{op.kind.value}{op.pipeline[0]}{op.microbatch}"
        rows.append(" ".join(cells))
    return rows


def test_chimera_d4_n4_slot_table_equals_the_paper() -> None:
    assert slot_table(generate("chimera", 4, 4)) == ref.CHIMERA_D4_N4_SLOTS


@pytest.mark.parametrize(("D", "N"), sorted(ref.CHIMERA_UNIT_FIGURES))
def test_chimera_unit_figures(D: int, N: int) -> None:
    makespan, peaks = ref.CHIMERA_UNIT_FIGURES[(D, N)]
    report = check(generate("chimera", D, N))
    assert report.ok
    m = report.metrics
    assert m is not None
    assert m.makespan == makespan
    assert list(m.peak_activations) == peaks
    assert list(m.idle) == [D - 2] * D
    assert list(m.weights) == [2] * D


@given(h=st.integers(1, 16), K=st.integers(1, 4))
def test_chimera_unit_closed_forms_for_even_d(h: int, K: int) -> None:
    D = 2 * h
    N = K * D
    report = check(generate("chimera", D, N))
    assert report.ok, report.violations[:3]
    m = report.metrics
    assert m is not None
    assert m.makespan == ref.chimera_unit_makespan(D, N)
    assert all(idle == D - 2 for idle in m.idle)
    assert all(D / 2 + 1 <= p <= D for p in m.peak_activations)
    assert m.bubble_ratio == pytest.approx((D - 2) / (2 * N + D - 2))


@given(h=st.integers(1, 8), K=st.integers(1, 3), F=st.integers(1, 3), extra=st.integers(0, 4))
def test_chimera_direct_concatenation_with_real_costs(h: int, K: int, F: int, extra: int) -> None:
    D, B = 2 * h, F + extra
    report = check(generate("chimera", D, K * D), costs=CostModel(F=F, B=B))
    m = report.metrics
    assert m is not None
    assert m.makespan == ref.chimera_concat_makespan(D, K, F, B)
    assert all(x == pytest.approx(ref.chimera_concat_idle(D, K, F, B)) for x in m.idle)


def test_chimera_d4_n4_with_backward_twice_forward() -> None:
    m = check(generate("chimera", 4, 4), costs=CostModel(F=1, B=2)).metrics
    assert m is not None
    assert m.makespan == 16
    assert m.bubble_ratio == pytest.approx(0.25)  # the paper's (D-2)/(3N/2+D-2)


@given(D=st.integers(1, 12), extra=st.integers(0, 12), F=st.integers(1, 3), B=st.integers(1, 6))
def test_one_f_one_b(D: int, extra: int, F: int, B: int) -> None:
    N = D + extra
    m = check(generate("1f1b", D, N), costs=CostModel(F=F, B=B)).metrics
    assert m is not None
    assert m.makespan == ref.one_f_one_b_makespan(D, N, F, B)
    assert list(m.peak_activations) == list(range(D, 0, -1))
    assert m.bubble_ratio == pytest.approx(ref.one_f_one_b_bubble_ratio(D, N))


@given(D=st.integers(1, 10), N=st.integers(1, 12))
def test_gpipe(D: int, N: int) -> None:
    m = check(generate("gpipe", D, N)).metrics
    assert m is not None
    assert m.makespan == 2 * (N + D - 1)
    assert list(m.peak_activations) == [N] * D
    assert list(m.weights) == [1] * D


def test_one_f_one_b_d4_n4_unit() -> None:
    m = check(generate("1f1b", 4, 4)).metrics
    assert m is not None
    assert m.makespan == 14  # chimera.md: "Same D, N under 1F1B: 14 slots, 6 idle"
    assert list(m.idle) == [6] * 4


@pytest.mark.parametrize("D", [3, 5, 7, 9, 11, 13, 15])
def test_naive_merge_conflicts_on_the_middle_worker_for_odd_d(D: int) -> None:
    report = check(generate("chimera-naive", D, D))
    first = report.violations[0]
    assert first.kind is ViolationKind.CONFLICT
    mid = (D - 1) // 2
    assert first.workers == (mid,)
    assert first.message == (
        f"conflict on worker {mid}, slot {mid}: down:{mid}F0 and up:{D - 1 - mid}F0 are both "
        "scheduled in it"
    )


@pytest.mark.parametrize("D", [2, 4, 6, 8])
def test_naive_merge_equals_chimera_for_even_d(D: int) -> None:
    assert generate("chimera-naive", D, D).programs == generate("chimera", D, D).programs
    assert check(generate("chimera-naive", D, 2 * D)).ok


@given(h=st.integers(1, 6), N=st.integers(1, 12))
def test_chimera_small_n_split_evenly(h: int, N: int) -> None:
    D = 2 * h
    if N > D and N % D:
        return
    s = generate("chimera", D, N)
    down, up = s.pipelines
    assert (down.microbatches, up.microbatches) == ((N + 1) // 2, N // 2)
    assert check(s).ok
