"""Conformance of traces to schedules, on synthetic traces (no torch needed).

Expected values come from chimera.md's closed forms and from the perturbation made
(which op was moved, dropped or swapped), never from the checker's own output.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.core.actions import Op, OpKind
from verify.core.costs import CostModel
from verify.core.results import ViolationKind as K
from verify.errors import ScheduleFormatError
from verify.generators import generate
from verify.traces import check_trace, synthetic_trace
from verify.traces.events import KIND_CODE, TraceEvents


def find(ev: TraceEvents, label: str, step_index: int = 0) -> int:
    """Index of the step_index-th event labelled ``label`` (in time order)."""
    hits = [i for i in np.argsort(ev.start, kind="stable").tolist() if ev.label(i) == label]
    return hits[step_index]


def with_columns(ev: TraceEvents, **cols: np.ndarray) -> TraceEvents:
    return dataclasses.replace(ev, **cols)


def drop(ev: TraceEvents, i: int) -> TraceEvents:
    keep = np.arange(len(ev)) != i
    fields = {f.name: getattr(ev, f.name)[keep] for f in dataclasses.fields(ev)
              if isinstance(getattr(ev, f.name), np.ndarray)}
    return dataclasses.replace(ev, **fields)


# ------------------------------------------------------------------ conforming


@pytest.mark.parametrize("family,D,N", [("gpipe", 4, 4), ("1f1b", 4, 8), ("chimera", 4, 4),
                                        ("interleaved-1f1b", 2, 4), ("zb-v", 2, 4), ("dualpipev", 2, 4)])
def test_perfect_trace_conforms(family: str, D: int, N: int) -> None:
    s = generate(family, D, N)
    r = check_trace(s, synthetic_trace(s, steps=3, messages=True))
    assert r.ok, r.report.violations[:3]
    assert [x.label for x in r.steps] == ["step 1", "step 2", "step 3"]
    assert all(x.ops_executed == s.num_ops for x in r.steps)


def test_measured_metrics_match_chimera_md() -> None:
    # chimera.md: Chimera D=4 N=4, F=1, B=2: makespan 16, bubble ratio 0.25
    s = generate("chimera", 4, 4)
    costs = CostModel(F=1, B=2)
    r = check_trace(s, synthetic_trace(s, steps=2, costs=costs))
    m = r.report.metrics
    assert m is not None and m.makespan == 16 and m.bubble_ratio == pytest.approx(0.25)
    assert m.busy == (12, 12, 12, 12)  # 2 F + 2 B of each pipeline per worker: 4*1 + 4*2
    # GPipe D=4 N=4 unit slots: 2(N+D-1) = 14, bubble (D-1)/(N+D-1) = 3/7
    g = generate("gpipe", 4, 4)
    mg = check_trace(g, synthetic_trace(g)).report.metrics
    assert mg is not None and mg.makespan == 14 and mg.bubble_ratio == pytest.approx(3 / 7)


def test_fitted_costs_recover_the_durations_and_predict_the_makespan() -> None:
    # 1F1B D=4 N=8 with F=1.5, B=2.5: makespan (N+D-1)(F+B) = 44 (chimera.md)
    s = generate("1f1b", 4, 8)
    costs = CostModel(F=1.5, B=2.5)
    r = check_trace(s, synthetic_trace(s, steps=2, costs=costs))
    assert r.fitted is not None
    assert r.fitted.durations(0)[:2] == (1.5, 2.5) and r.fitted.durations(3)[:2] == (1.5, 2.5)
    assert r.measured_makespan == 44 and r.predicted_makespan == 44


def test_fitted_split_backward_costs() -> None:
    s = generate("zb-v", 2, 4)
    r = check_trace(s, synthetic_trace(s, costs=CostModel(F=1, I=2, W=3)))
    assert r.fitted is not None and r.fitted.durations(1) == (1, 5, 2, 3)


# ------------------------------------------------------------------ each check fails


def test_dropped_op_is_not_executed_and_nothing_else() -> None:
    s = generate("1f1b", 2, 4)
    ev = synthetic_trace(s, steps=2)
    r = check_trace(s, drop(ev, find(ev, "1F2", 1)))
    assert [v.kind for v in r.report.violations] == [K.NOT_EXECUTED]
    assert r.report.violations[0].message == "step 2: 1F2 (worker 1, position 4) was not executed"
    assert r.diverged == ("step 2",)
    assert r.steps[0].ok and not r.steps[1].ok


def test_swapped_ops_diverge_with_both_sequences_shown() -> None:
    # two W ops of one worker feed nothing: swapping them changes the order only
    s = generate("zb-v", 2, 4)
    ev = synthetic_trace(s)
    a, b = find(ev, "0W0"), find(ev, "0W1")
    mb = ev.microbatch.copy()
    mb[a], mb[b] = mb[b], mb[a]
    r = check_trace(s, with_columns(ev, microbatch=mb))
    assert [v.kind for v in r.report.violations] == [K.ORDER_DIVERGENCE]
    # schedule order of worker 0 (zb-v generator): ... 0F3 0I0 0W0 3F2 3I2 3W2 0I1 0W1 ...
    msg = r.report.violations[0].message
    assert msg.startswith(
        "step 1, worker 0: the execution order diverges from the schedule at op 11: "
        "schedule ... 3W1 0F3 0I0 [0W0] 3F2 3I2 3W2 ...; trace ... 3W1 0F3 0I0 [0W1] 3F2 3I2 3W2 ...")
    assert r.report.violations[0].ops == (Op("main", 0, 0, OpKind.W), Op("main", 0, 1, OpKind.W))


def test_op_moved_before_its_producer_violates_the_dependency() -> None:
    s = generate("gpipe", 2, 2)
    ev = synthetic_trace(s)  # unit slots: 0F0 [0,1), 1F0 [1,2)
    i = find(ev, "1F0")
    start, end = ev.start.copy(), ev.end.copy()
    start[i], end[i] = 0.5, 0.9
    r = check_trace(s, with_columns(ev, start=start, end=end))
    assert [v.kind for v in r.report.violations] == [K.DEPENDENCY_VIOLATED]
    assert r.report.violations[0].message == (
        f"step 1: 1F0 (worker 1) started computing at 0.5 ({ev.where(i)}), before its producer "
        f"0F0 (worker 0) ended at 1 ({ev.where(find(ev, '0F0'))})")


def test_waiting_inside_the_span_is_not_a_violation_but_ending_before_the_input_is() -> None:
    s = generate("gpipe", 2, 2)
    ev = synthetic_trace(s)
    i = find(ev, "1F0")
    start, ready = ev.start.copy(), ev.ready.copy()
    start[i], ready[i] = 0.2, 1.0  # the span opens early, the input arrives at 1: fine
    assert check_trace(s, with_columns(ev, start=start, ready=ready)).ok
    end = ev.end.copy()
    end[i], ready[i] = 0.8, 1.0  # but it cannot end before its input arrived
    r = check_trace(s, with_columns(ev, start=start, ready=ready, end=end))
    assert r.report.kinds() == {K.DEPENDENCY_VIOLATED}


def test_overlapping_compute_units_on_one_worker() -> None:
    s = generate("gpipe", 2, 2)
    ev = synthetic_trace(s)  # worker 0: 0F0 [0,1) 0F1 [1,2)
    i = find(ev, "0F1")
    start = ev.start.copy()
    start[i] = 0.5
    r = check_trace(s, with_columns(ev, start=start))
    assert r.report.kinds() == {K.COMPUTE_OVERLAP}
    assert r.report.violations[0].message == (
        f"step 1, worker 0: 0F0 [0, 1) ({ev.where(find(ev, '0F0'))}) and 0F1 [0.5, 2) "
        f"({ev.where(i)}) overlap on the compute stream")


def test_op_run_twice_and_op_on_the_wrong_worker_are_unscheduled() -> None:
    s = generate("gpipe", 2, 2)
    ev = synthetic_trace(s)
    i = find(ev, "0B1")  # worker 0: 0F0 [0,1) 0F1 [1,2) 0B0 [4,5) 0B1 [5,6); worker 1 is idle at 5
    worker = ev.worker.copy()
    worker[i] = 1
    r = check_trace(s, with_columns(ev, worker=worker))
    msgs = [v.message for v in r.report.violations]
    assert r.report.kinds() == {K.NOT_EXECUTED, K.UNSCHEDULED}
    assert msgs == ["step 1: 0B1 (worker 0, position 3) was not executed",
                    f"step 1: 0B1 ran on worker 1 at 5 ({ev.where(i)}), but the schedule runs it on worker 0"]
    j = find(ev, "0F1")
    kind = ev.kind.copy()
    mb = ev.microbatch.copy()
    mb[j] = 0  # 0F1 recorded as a second 0F0
    r = check_trace(s, with_columns(ev, kind=kind, microbatch=mb))
    assert r.report.kinds() == {K.NOT_EXECUTED, K.UNSCHEDULED}
    assert (f"step 1: 0F0 ran 2 times on worker 0 (at 0 ({ev.where(find(ev, '0F0'))}), 1 ({ev.where(j)})); "
            "the schedule runs it once") in [v.message for v in r.report.violations]


def test_unknown_stage_and_microbatch_are_unscheduled() -> None:
    s = generate("gpipe", 2, 2)
    ev = synthetic_trace(s)
    i = find(ev, "1B1")
    mb = ev.microbatch.copy()
    mb[i] = 7
    r = check_trace(s, with_columns(ev, microbatch=mb))
    assert (f"step 1: 1B7 ran on worker 1 at 4 ({ev.where(i)}): pipeline 'main' has micro-batches 0..1"
            in [v.message for v in r.report.violations])


def test_message_pairing_is_first_in_first_out() -> None:
    s = generate("gpipe", 2, 3)
    ev = synthetic_trace(s, messages=True)
    # the receiver posts RECV_F of micro-batches 1 and 2 in the wrong order
    a, b = find(ev, "1RECV_F1"), find(ev, "1RECV_F2")
    start = ev.start.copy()
    start[a], start[b] = start[b], start[a]
    seq = np.full(len(ev), -1)  # no message ids: pairing by posting order
    r = check_trace(s, with_columns(ev, start=start, seq=seq))
    assert r.report.kinds() == {K.MESSAGE_ORDER}
    assert r.report.violations[0].message == (
        f"step 1: channel worker 0 -> worker 1: receive no. 2 1RECV_F2 ({ev.where(b)}) expects the output "
        f"of 0F2, but first-in first-out pairing gives it send no. 2 0SEND_F1 "
        f"({ev.where(find(ev, '0SEND_F1'))}), "
        "which carries the output of 0F1")


def test_message_ids_reveal_receives_out_of_fifo_order() -> None:
    s = generate("gpipe", 2, 3)
    ev = synthetic_trace(s, messages=True)
    a, b = find(ev, "1RECV_F1"), find(ev, "1RECV_F2")
    seq = ev.seq.copy()
    seq[a], seq[b] = seq[b], seq[a]
    r = check_trace(s, with_columns(ev, seq=seq))
    assert K.MESSAGE_ORDER in r.report.kinds()
    assert any("was received after" in v.message and "not first-in first-out" in v.message
               for v in r.report.violations)
    kind = ev.kind.copy()
    kind[find(ev, "0RECV_B0")] = KIND_CODE["RECV_F"]  # a receive missing: its send is unmatched
    r2 = check_trace(s, with_columns(ev, kind=kind))
    assert any(v.message.endswith("has no matching receive") for v in r2.report.violations)


def test_violations_per_kind_are_limited_with_a_summary() -> None:
    s = generate("gpipe", 2, 8)
    ev = synthetic_trace(s)
    keep = ev.worker == 0
    ev2 = dataclasses.replace(ev, **{f.name: getattr(ev, f.name)[keep] for f in dataclasses.fields(ev)
                                     if isinstance(getattr(ev, f.name), np.ndarray)})
    r = check_trace(s, ev2, limit=5)
    msgs = [v.message for v in r.report.violations]
    assert len(msgs) == 6 and msgs[-1] == "step 1: ... and 11 more not-executed violations"
    assert dict(r.counts)["not-executed"] == 16


# ------------------------------------------------------------------ steps


def test_marked_steps_are_named_and_outside_events_ignored() -> None:
    s = generate("1f1b", 2, 2)
    ev = synthetic_trace(s, steps=2, marked=True)
    step = ev.step.copy()
    step[find(ev, "0F0", 0)] = -2  # e.g. a warm-up action outside every step
    r = check_trace(s, with_columns(ev, step=step))
    assert r.ignored == 1 and r.report.kinds() == {K.NOT_EXECUTED}
    assert [x.label for x in r.steps] == ["step 0", "step 1"] and r.diverged == ("step 0",)


@given(st.integers(0, 3), st.integers(0, 15))
def test_unmarked_steps_survive_a_dropped_op(k: int, op: int) -> None:
    s = generate("1f1b", 2, 4)
    ev = synthetic_trace(s, steps=4)
    order = np.argsort(ev.start, kind="stable")
    per_step = [i for i in order.tolist() if ev.start[i] >= k * (s.num_ops / 2 + 5) - 1e-9][:1]
    assert per_step
    victim = next(i for i in order.tolist() if int(ev.location[i]) == k * s.num_ops + op)
    r = check_trace(s, drop(ev, victim))
    assert [v.kind for v in r.report.violations] == [K.NOT_EXECUTED]
    assert r.diverged == (f"step {k + 1}",)


@given(st.permutations(list(range(8))))
def test_any_reordering_of_a_worker_is_found(perm: list[int]) -> None:
    s = generate("gpipe", 1, 4)  # one worker: no cross-worker dependencies to disturb
    ev = synthetic_trace(s)
    order = np.argsort(ev.start, kind="stable")
    start, end = ev.start.copy(), ev.end.copy()
    start[order] = ev.start[order][perm]
    end[order] = ev.end[order][perm]
    r = check_trace(s, with_columns(ev, start=start, end=end))
    assert (K.ORDER_DIVERGENCE in r.report.kinds()) == (perm != sorted(perm))
    assert r.report.kinds() <= {K.ORDER_DIVERGENCE}


def test_a_trace_of_another_job_is_an_error_not_a_pass() -> None:
    ev = synthetic_trace(generate("chimera", 4, 4))
    with pytest.raises(ScheduleFormatError, match="nothing in the trace matches the schedule gpipe D=2 N=2"):
        check_trace(generate("gpipe", 2, 2), ev)


def test_against_a_different_schedule() -> None:
    ev = synthetic_trace(generate("gpipe", 4, 4))
    r = check_trace(generate("1f1b", 4, 4), ev)
    assert r.report.kinds() == {K.ORDER_DIVERGENCE}
    assert len(r.report.violations) == 3  # workers 0-2; the last stage runs F0 B0 ... in both?


def test_receives_without_any_send_are_reported_not_crashed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from verify import generate
    from verify.core.results import ViolationKind
    from verify.traces import check_trace, read_trace

    log = tmp_path / "recv_only.csv"
    log.write_text(
        "worker,pipeline,stage,microbatch,kind,start,end,peer,seq\n"
        "0,main,0,0,F,0,1,,\n1,main,1,0,RECV_F,0,1,0,0\n1,main,1,0,F,1,2,,\n"
        "1,main,1,0,B,2,3,,\n0,main,0,0,B,3,4,,\n"
    )
    r = check_trace(generate("1f1b", 2, 1), read_trace([str(log)]))
    (v,) = r.report.violations
    assert v.kind is ViolationKind.MESSAGE_ORDER
    assert "receive #0 1RECV_F0" in v.message and "has no matching send" in v.message


def test_absurd_durations_give_no_fitted_costs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from verify import generate
    from verify.traces import check_trace, read_trace

    log = tmp_path / "big.csv"
    log.write_text("worker,pipeline,stage,microbatch,kind,start,end\n0,main,0,0,F,0,1e23\n")
    r = check_trace(generate("1f1b", 2, 1), read_trace([str(log)]))
    assert not r.report.ok
    assert r.fitted is None
