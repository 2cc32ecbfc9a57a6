"""Each library family's mutation set is caught: the shared mutations of
tests/mutations.py over hypothesis-drawn grids, and one family-specific mutation each
(the mistake that family invites) with its exact diagnosis."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mutations import MUTATIONS
from tests.test_library_generators import LIBRARY, instances
from verify import ViolationKind, check, generate, parse_action
from verify.core.schedule import Schedule, Timing


@pytest.mark.parametrize("family", LIBRARY)
@settings(max_examples=15)
@given(data=st.data())
def test_shared_mutations_over_random_parameters(family: str, data: st.DataObject) -> None:
    D, N, opts = data.draw(instances(family))
    schedule = generate(family, D, N, **opts)
    if data.draw(st.booleans()):
        schedule = schedule.without_timing()
    name = data.draw(st.sampled_from(sorted(MUTATIONS)))
    if name == "move-to-other-worker" and D < 2:
        return
    fn, kind = MUTATIONS[name]
    mutant = fn(schedule, random.Random(data.draw(st.integers(0, 10**6))))
    report = check(mutant)
    assert kind in report.kinds(), (family, D, N, opts, name, [v.message for v in report.violations][:3])


def _with(schedule: Schedule, worker: int, rows: str, starts: list[float] | None = None) -> Schedule:
    """``schedule`` with worker ``worker``'s program replaced by ``rows``."""
    default = schedule.default_pipeline
    programs = list(schedule.programs)
    programs[worker] = tuple(parse_action(x, default_pipeline=default) for x in rows.split())
    timing = schedule.timing
    if timing is not None and starts is not None:
        table = list(timing.starts)
        table[worker] = tuple(starts)
        timing = Timing(timing.unit, tuple(table))
    return dataclasses.replace(schedule, programs=tuple(programs), timing=timing)


def _only(schedule: Schedule) -> tuple[ViolationKind, str]:
    report = check(schedule)
    (v,) = report.violations
    return v.kind, v.message


def test_zb_weight_gradient_before_its_input_gradient() -> None:
    base = generate("zb-h1", 2, 2)  # worker 0: 0F0 0F1 0I0 0W0 0I1 0W1
    kind, message = _only(_with(base, 0, "0F0 0F1 0W0 0I0 0I1 0W1"))
    assert kind is ViolationKind.DEADLOCK
    assert "cycle of 2 ops (4 ops can never start)" in message
    assert "0W0 (worker 0) waits for 0I0 (worker 0) [needs its output]" in message
    assert "0I0 (worker 0) waits for 0W0 (worker 0) [runs after it in program order]" in message


def test_zb_dropped_weight_gradient() -> None:
    base = generate("zb-v", 1, 1)  # one rank, stages 0 and 1
    prog = " ".join(str(a) for a in base.programs[0] if str(a) != "0W0")
    assert _only(_with(base, 0, prog)) == (
        ViolationKind.MISSING_OP,
        "0W0 is missing: stage 0 of pipeline 'main' must run W for micro-batch 0 (expected on worker 0)",
    )


def test_interleaved_chunk_before_its_previous_chunk() -> None:
    base = generate("interleaved-1f1b", 2, 2, v=2)  # worker 0: 0F0 0F1 2F0 2F1 2B0 2B1 0B0 0B1
    kind, message = _only(_with(base, 0, "2F0 0F0 0F1 2F1 2B0 2B1 0B0 0B1"))
    assert kind is ViolationKind.DEADLOCK
    assert "cycle of 3 ops" in message
    assert "2F0 (worker 0) waits for 1F0 (worker 1) [needs its output]" in message
    assert "1F0 (worker 1) waits for 0F0 (worker 0) [needs its output]" in message
    assert "0F0 (worker 0) waits for 2F0 (worker 0) [runs after it in program order]" in message


def test_chimera_2f_two_ops_in_one_slot() -> None:
    base = generate("chimera-2f", 4, 4, f=2)  # every worker busy in slots 0..7
    starts = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 7.0]
    rows = " ".join(str(a) for a in base.programs[0])
    report = check(_with(base, 0, rows, starts))
    conflicts = [v.message for v in report.violations if v.kind is ViolationKind.CONFLICT]
    assert conflicts == ["conflict on worker 0, slot 7: up1:1B0 and down0:0B0 are both scheduled in it"]
    # moving up1:1B0 one slot later also makes its consumer on worker 1 start too early
    assert ViolationKind.EARLY_START in report.kinds()
    assert ViolationKind.DEADLOCK not in report.kinds()


def test_dualpipe_backward_of_an_overlapped_chunk_moved_ahead() -> None:
    base = generate("dualpipe", 2, 4)
    # worker 0: down:0F0 up:1F0 down:0F1 up:1B0 (up:1F1;down:0B0)OVERLAP_F_B up:1B1 down:0I1 down:0W1
    rows = "down:0F0 up:1F0 down:0F1 up:1B0 up:1B1 (up:1F1;down:0B0)OVERLAP_F_B down:0I1 down:0W1"
    kind, message = _only(_with(base, 0, rows))
    assert kind is ViolationKind.DEADLOCK
    assert "up:1B1 (worker 0) waits for (up:1F1;down:0B0)OVERLAP_F_B (worker 0) [needs its output]" in message


def test_dualpipev_mixed_backward() -> None:
    base = generate("dualpipev", 1, 2)  # 0F0 1F0 0F1 1B0 (1F1;0B0)OVERLAP_F_B 1B1 0I1 0W1
    report = check(_with(base, 0, "0F0 1F0 0F1 1B0 (1F1;0B0)OVERLAP_F_B 1B1 0B1 0W1"))
    assert [(v.kind, v.message) for v in report.violations] == [(
        ViolationKind.MIXED_BACKWARD,
        "micro-batch 1 of stage 0 (main) has both a full backward 0B1 and a split one (0W1)",
    )]


def test_hanayo_backward_down_the_wave_in_the_wrong_order() -> None:
    base = generate("hanayo", 2, 2)  # worker 1: 1F0 2F0 1F1 2F1 2B0 1B0 2B1 1B1
    kind, message = _only(_with(base, 1, "1F0 2F0 1F1 2F1 1B0 2B0 2B1 1B1"))
    assert kind is ViolationKind.DEADLOCK
    assert "cycle of 2 ops (6 ops can never start)" in message
    assert "1B0 (worker 1) waits for 2B0 (worker 1) [needs its output]" in message
    assert "2B0 (worker 1) waits for 1B0 (worker 1) [runs after it in program order]" in message


def test_forward_doubling_pair_broken_by_its_own_backward() -> None:
    base = generate("chimera-fd", 2, 4)  # worker 0: down:0F0 down:0F1 up:1F0 up:1F1 up:1B0 down:0B0 ...
    rows = "down:0F0 up:1F0 up:1F1 up:1B0 down:0B0 up:1B1 down:0B1 down:0F1"
    kind, message = _only(_with(base, 0, rows))
    assert kind is ViolationKind.DEADLOCK
    assert "down:0F1 (worker 0)" in message
