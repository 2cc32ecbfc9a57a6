"""The comparison beside a search result puts every family on the same amount of work."""

from __future__ import annotations

import pytest

from verify import CostModel, generate, metrics
from verify.search import search


def test_chunked_families_are_compared_at_equal_work() -> None:
    out = search(stages=4, microbatches=8, placement="bidirectional", costs="F=1,B=2")
    rows = {r.family: r for r in out.comparison}
    # zb-v cuts the model into 2D chunks: each chunk op does half a stage's work
    m = metrics(generate("zb-v", 4, 8), CostModel(F=0.5, B=1, activation=0.5))
    assert m is not None
    assert rows["zb-v"].makespan == pytest.approx(m.makespan)
    assert not rows["zb-v"].comparable
    # a family on the problem's own placement keeps the problem's costs
    chimera = metrics(generate("chimera", 4, 8), CostModel(F=1, B=2))
    assert chimera is not None and rows["chimera"].makespan == chimera.makespan == 30


def test_a_chunked_problem_keeps_its_own_costs_for_its_own_placement() -> None:
    out = search(stages=2, microbatches=2, placement="v-shape", costs="F=1,B=2")
    rows = {r.family: r for r in out.comparison}
    m = metrics(generate("zb-v", 2, 2), CostModel(F=1, B=2))
    assert m is not None and rows["zb-v"].makespan == pytest.approx(m.makespan)
