"""The search problem and its task graph: placements, scaling, dependencies, bounds and
the closed-form infeasibility checks (no solver involved)."""

from __future__ import annotations

import pytest

from verify.core.actions import Op, OpKind
from verify.core.costs import CostModel
from verify.core.deps import producers
from verify.errors import ParameterError
from verify.generators import generate
from verify.search import Limits, Objective, SearchProblem, placement_pipelines
from verify.search.tasks import build_tasks, common_scale


def test_bidirectional_matches_the_chimera_generator() -> None:
    p = SearchProblem.build(4, 8, placement="bidirectional")
    assert p.pipelines == generate("chimera", 4, 8).pipelines
    assert [q.microbatches for q in SearchProblem.build(4, 3).pipelines] == [2, 1]


def test_named_placements() -> None:
    assert placement_pipelines("single", 3, 2)[0].placement == (0, 1, 2)
    assert placement_pipelines("interleaved", 2, 2, 2)[0].placement == (0, 1, 0, 1)
    assert placement_pipelines("v-shape", 4, 2)[0].placement == (0, 1, 2, 3, 3, 2, 1, 0)
    with pytest.raises(ParameterError, match="unknown placement"):
        placement_pipelines("ring", 2, 2)
    with pytest.raises(ParameterError, match="takes no chunks"):
        placement_pipelines("single", 2, 2, 3)


@pytest.mark.parametrize("bad", [
    {"stages": 0, "microbatches": 2},
    {"stages": 2, "microbatches": 2, "memory_cap": -1},
    {"stages": 2, "microbatches": 2, "objective": "speed"},
    {"stages": 2, "microbatches": 2, "costs": "F=0,B=1"},
])
def test_invalid_problems_raise_parameter_errors(bad: dict[str, object]) -> None:
    stages = bad.pop("stages")
    microbatches = bad.pop("microbatches")
    with pytest.raises(ParameterError):
        SearchProblem.build(stages, microbatches, **bad)  # type: ignore[arg-type]


def test_limits_validation() -> None:
    with pytest.raises(ParameterError, match="workers=1"):
        Limits(workers=2)
    assert Limits(workers=2, deterministic=False).wall_limit == 60.0
    with pytest.raises(ParameterError):
        Limits(time_limit=0)


def test_edges_are_the_core_dependencies() -> None:
    for costs in ("F=1,B=2", "F=1,I=1,W=1"):
        p = SearchProblem.build(3, 4, placement="v-shape", costs=costs, )
        g = build_tasks(p)
        grad = OpKind.I if p.split_backward else OpKind.B
        expected = set()
        for op in g.ops:
            stages = p.pipelines[0].num_stages
            for src in producers(op, stages, lambda _p, _s, _m, k=grad: k):
                expected.add((src, op))
        assert {(g.ops[a], g.ops[b]) for a, b, _ in g.edges} == expected


def test_latency_only_across_workers() -> None:
    p = SearchProblem.build(2, 1, placement="v-shape", costs="F=1,B=2,latency=0.5")
    g = build_tasks(p)
    assert g.time_scale == 2
    lags = {(str(g.ops[a]), str(g.ops[b])): lag for a, b, lag in g.edges}
    assert lags[("0F0", "1F0")] == 1  # worker 0 -> worker 1
    assert lags[("1F0", "2F0")] == 0  # stages 1 and 2 share worker 1


def test_scaling_is_exact_or_rejected() -> None:
    assert common_scale([0.5, 0.25, 3], "x") == 4
    with pytest.raises(ParameterError, match="decimal"):
        common_scale([1 / 3], "durations")


def test_static_lower_bound_is_the_closed_form_for_one_pipeline() -> None:
    # 1F1B is optimal for one pipeline and its makespan (N + D - 1)(F + B) is the bound
    for D, N in ((4, 4), (8, 8), (3, 7)):
        g = build_tasks(SearchProblem.build(D, N, placement="single", costs="F=1,B=2"))
        assert g.lower_bound == (N + D - 1) * 3


def test_memory_need_counts_every_stage_of_one_microbatch() -> None:
    g = build_tasks(SearchProblem.build(4, 4, placement="v-shape", costs="activation=1.5"))
    assert [g.to_memory(x) for x in g.memory_need] == [3.0] * 4
    g = build_tasks(SearchProblem.build(4, 4, placement="bidirectional"))
    assert g.memory_need == (1, 1, 1, 1)


def test_problem_key_is_stable_and_distinguishes() -> None:
    a = SearchProblem.build(4, 8, costs="F=1,B=2")
    assert a.key() == SearchProblem.build(4, 8, costs=CostModel(F=1, B=2)).key()
    assert a.key() != SearchProblem.build(4, 8, costs="F=1,B=2", memory_cap=4).key()
    assert SearchProblem.build(4, 8, objective="bubble").objective is Objective.BUBBLE


def test_from_schedule_keeps_the_placement() -> None:
    s = generate("chimera", 4, 4)
    p = SearchProblem.from_schedule(s, costs="F=1,I=1,W=1")
    assert p.pipelines == s.pipelines and p.split_backward
    assert p.placement == "custom (from chimera)"
    ops = {op for _, _, op in s.ops()}
    assert {o for o in build_tasks(SearchProblem.from_schedule(s)).ops} == ops
    assert Op("down", 0, 0, OpKind.F) in ops
