"""The NetworkX view agrees with the linear-time simulator and deadlock check (two
independent routes over the same semantics)."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.mutations import swap_across_dependency
from verify import CostModel, check, generate
from verify.generators import families
from verify.passes.dag import critical_path, to_dag
from verify.sim import simulate

EXAMPLES = [(f.name, D, N, dict(o)) for f in families() for D, N, o in f.examples]


@pytest.mark.parametrize(("family", "D", "N", "opts"), EXAMPLES)
@pytest.mark.parametrize("costs", ["F=1,B=2", "F=1,I=1,W=1,latency=0.5", "F=2,B=3,overlap=4"])
def test_longest_path_is_the_simulated_makespan(family: str, D: int, N: int, opts: dict, costs: str) -> None:  # type: ignore[type-arg]
    s = generate(family, D, N, **opts)
    c = CostModel.parse(costs)
    length, path = critical_path(to_dag(s, c))
    assert length == pytest.approx(simulate(s, c).makespan)
    assert path and all(isinstance(u, tuple) for u in path)


@given(h=st.integers(1, 4), seed=st.integers(0, 1000))
def test_acyclic_iff_deadlock_free(h: int, seed: int) -> None:
    import random

    s = generate("1f1b", 2 * h, 2 * h).without_timing()
    bad = swap_across_dependency(s, random.Random(seed))
    for schedule in (s, bad):
        g = to_dag(schedule)
        assert nx.is_directed_acyclic_graph(g) == check(schedule).ok
