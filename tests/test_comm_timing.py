"""Timing with communication: makespans, and bubbles split into waiting for data and
waiting for a peer.

Expected values: closed forms of 1F1B (``chimera.md``), a two-worker case worked out by
hand below, and the naive reference executor of ``tests/oracle.py`` (compute-only
earliest start with latency), which the lazy lowering under unbounded buffering must
match exactly: sends never block and each receive waits for its data only.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import oracle
from tests.test_comm_support import compute_schedules, interleaved
from verify.comm import BATCHED, RENDEZVOUS, Policy, analyze_comms, buffered, comm_timing, lower
from verify.core.costs import CostModel
from verify.core.schedule import Schedule
from verify.generators import generate


@pytest.mark.parametrize("D,N", [(2, 2), (4, 8), (5, 3)])
def test_1f1b_bubbles_are_waits_for_data(D: int, N: int) -> None:
    t = comm_timing(lower(generate("1f1b", D, N), Policy.LAZY), model=buffered())
    assert t is not None
    assert t.makespan == 2 * (N + D - 1)  # chimera.md: 1F1B, unit slots
    # worker w finishes w slots early (the last gradient still travels to stage 0) and
    # spends the rest of its 2(D-1) idle slots waiting for data; no sender ever waits
    assert t.idle_after == tuple(float(w) for w in range(D))
    assert t.wait_data == tuple(float(2 * (D - 1) - w) for w in range(D))
    assert t.wait_peer == (0.0,) * D


def test_two_workers_by_hand() -> None:
    # GPipe D=2 N=1, F=1, B=2, latency 0.5, rendezvous:
    # w0: 0F0 [0,1]; 0SEND_F0 posted 1, w1's 1RECV_F0 posted 0 -> pair done at 1.5
    # w1: 1F0 [1.5,2.5], 1B0 [2.5,4.5]; 1SEND_B0 posted 4.5, w0's 0RECV_B0 posted 1.5 -> 5
    # w0: 0B0 [5,7]. Makespan 7.
    s = lower(generate("gpipe", 2, 1), Policy.LAZY)
    t = comm_timing(s, model=RENDEZVOUS, costs=CostModel(F=1, B=2, latency=0.5))
    assert t is not None
    assert t.makespan == 7
    assert t.busy == (3, 3)
    assert t.wait_data == (3.5, 1.5)  # w0 in 0RECV_B0 from 1.5 to 5; w1 in 1RECV_F0 0 to 1.5
    assert t.wait_peer == (0.5, 0.5)  # each send waits 0.5 for the transfer
    assert t.idle_after == (0, 2)
    assert t.starts[0] == (0, 1, 1.5, 5)
    assert t.ends[1] == (1.5, 2.5, 4.5, 5)


CASES = [generate("1f1b", 4, 8), generate("gpipe", 3, 4), generate("chimera", 4, 8),
         interleaved(2, 4, 2), generate("chimera", 4, 4)]


@pytest.mark.parametrize("schedule", CASES, ids=[s.name for s in CASES])
@pytest.mark.parametrize("F,B,lat", [(1, 1, 0), (1, 2, 0.5), (2, 3, 0.25)])
def test_lazy_unbounded_timing_matches_the_reference_executor(
        schedule: Schedule, F: float, B: float, lat: float) -> None:
    starts, complete = oracle.run(schedule, F=F, B=B, latency=lat)
    assert complete
    length = {"F": F, "B": B}
    expected = max(t + sum(length[o.kind.value] for o in _ops(schedule, w, i))
                   for (w, i), t in starts.items())
    t = comm_timing(lower(schedule, Policy.LAZY), model=buffered(),
                    costs=CostModel(F=F, B=B, latency=lat))
    assert t is not None
    assert t.makespan == pytest.approx(expected)


def _ops(s: Schedule, w: int, i: int) -> tuple:  # type: ignore[type-arg]
    from verify.core.actions import compute_ops

    return compute_ops(s.programs[w][i])


@settings(max_examples=40, deadline=None)
@given(compute_schedules(), st.sampled_from([Policy.TORCH, Policy.EAGER]),
       st.sampled_from([RENDEZVOUS, buffered(1), buffered(), BATCHED]),
       st.sampled_from([0.0, 0.5]))
def test_time_is_busy_plus_waits_plus_idle(s: Schedule, policy: Policy, model: object,
                                           lat: float) -> None:
    costs = CostModel(F=1, B=2, latency=lat)
    t = comm_timing(lower(s, policy), model=model, costs=costs)  # type: ignore[arg-type]
    assert t is not None
    for b, d, p, a in zip(t.busy, t.wait_data, t.wait_peer, t.idle_after):
        assert min(d, p, a) >= 0
        assert b + d + p + a == pytest.approx(t.makespan)
    # every action ends no earlier than it starts, and a worker never goes back in time
    # (the actions of one batch share its span)
    for starts, ends in zip(t.starts, t.ends):
        assert all(e >= st_ for st_, e in zip(starts, ends))
        assert all(b >= a for a, b in pairwise(starts))
        assert all(b >= a for a, b in pairwise(ends))


def test_blocking_costs_time_only_where_the_model_says_so() -> None:
    s = lower(generate("1f1b", 4, 8), Policy.TORCH)
    costs = CostModel(F=1, B=2, latency=0.5)
    times = {v.model.name: v.timing.makespan for v in analyze_comms(s, costs=costs).verdicts
             if v.timing is not None}
    # rendezvous makes senders wait for receivers: never faster than buffering
    assert times["rendezvous"] >= times["buffered(1)"] >= times["buffered"]
    assert comm_timing(lower(generate("1f1b", 2, 2), Policy.LAZY)) is None  # deadlocks
