"""The linear-time simulator agrees with the naive reference executor in tests/oracle.py,
on generated schedules and on random (often deadlocking) reorderings of them."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests import oracle
from verify import CostModel, ViolationKind, check, generate
from verify.passes.index import index_schedule
from verify.sim.execute import execute

FAMILIES = ["gpipe", "1f1b", "chimera"]


def _compare(schedule, F: float, B: float, latency: float) -> None:  # type: ignore[no-untyped-def]
    costs = CostModel(F=F, B=B, latency=latency)
    ref_starts, ref_complete = oracle.run(schedule, F=F, B=B, latency=latency)
    for engine in ("kahn", "wavefront"):
        _compare_engine(schedule, costs, engine, ref_starts, ref_complete)


def _compare_engine(schedule, costs, engine, ref_starts, ref_complete) -> None:  # type: ignore[no-untyped-def]
    ex = execute(index_schedule(schedule), costs, engine=engine)
    assert ex.complete == ref_complete
    report = check(schedule.without_timing(), costs=costs)
    assert (ViolationKind.DEADLOCK in report.kinds()) == (not ref_complete)
    idx = ex.index
    for u in range(idx.num_units):
        key = (int(idx.unit_worker[u]), int(idx.unit_pos[u]))
        if key in ref_starts:
            assert ex.start[u] == pytest.approx(ref_starts[key])
        else:
            assert ex.start[u] != ex.start[u]  # NaN: never ran


@given(
    family=st.sampled_from(FAMILIES),
    h=st.integers(1, 3),
    k=st.integers(1, 2),
    F=st.integers(1, 3),
    B=st.integers(1, 4),
    latency=st.sampled_from([0, 0.5, 1]),
)
def test_generated_schedules_agree(family: str, h: int, k: int, F: int, B: int, latency: float) -> None:
    D = 2 * h
    _compare(generate(family, D, k * D), F, B, latency)


@given(
    family=st.sampled_from(FAMILIES),
    h=st.integers(1, 3),
    data=st.data(),
)
def test_random_reorderings_agree(family: str, h: int, data: st.DataObject) -> None:
    D = 2 * h
    s = generate(family, D, D).without_timing()
    programs = list(s.programs)
    for _ in range(data.draw(st.integers(1, 3))):
        w = data.draw(st.integers(0, D - 1))
        prog = list(programs[w])
        i = data.draw(st.integers(0, len(prog) - 1))
        j = data.draw(st.integers(0, len(prog) - 1))
        prog[i], prog[j] = prog[j], prog[i]
        programs[w] = tuple(prog)
    _compare(dataclasses.replace(s, programs=tuple(programs)), 1, 2, 0)
