"""Hand-built failing programs, each with its exact diagnosis.

Every case is a PyTorch-style ``compute_comms`` program written by hand (fixtures in
``tests/data/comm/`` or rows below) with one planted defect; positions and the expected
text are worked out from the rows in the test itself.
"""

from __future__ import annotations

import pytest

from tests.test_comm_support import DATA, read_rows
from verify.comm import (
    BATCHED,
    DEFAULT_MODELS,
    RENDEZVOUS,
    Policy,
    analyze_comms,
    buffered,
    check_comms,
    comm_report,
    lower,
)
from verify.comm.models import CommModel
from verify.core.actions import parse_action
from verify.core.results import Property, Status, ViolationKind
from verify.core.schedule import Pipeline, Schedule
from verify.io import load_schedule

K = ViolationKind


def program(rows: list[str], pipelines: tuple[Pipeline, ...] | None = None) -> Schedule:
    """A schedule from space-separated rows (one per worker); one line pipeline by default."""
    single = pipelines is None or len(pipelines) == 1
    progs = tuple(tuple(parse_action(c, default_pipeline="main" if single else None)
                        for c in r.split()) for r in rows)
    if pipelines is None:
        pipelines = (Pipeline("main", tuple(range(len(rows))), 2),)
    return Schedule(len(rows), pipelines, progs)


def messages(schedule: Schedule, model: CommModel = RENDEZVOUS) -> list[tuple[str, str]]:
    return [(v.kind.value, v.message) for v in check_comms(schedule, model=model)]


def position(name: str, worker: int, cell: str) -> int:
    return read_rows(name)[worker].index(cell)


# ------------------------------------------------------------------ deadlock
def test_mutual_blocking_sends_deadlock_under_rendezvous_only() -> None:
    s = load_schedule(DATA / "deadlock_mutual_sends.csv")
    assert messages(s) == [(
        "comm-deadlock",
        "deadlock under rendezvous: worker 0 waits in 0SEND_F1 for worker 1, which waits in "
        "1SEND_B0 for worker 0")]
    v = check_comms(s)[0]
    assert v.workers == (0, 1)
    assert v.positions == ((0, position("deadlock_mutual_sends.csv", 0, "0SEND_F1")),
                           (1, position("deadlock_mutual_sends.csv", 1, "1SEND_B0")))
    # the same programs are safe with buffered sends: the report shows both
    assert check_comms(s, model=buffered(1)) == []
    assert check_comms(s, model=buffered()) == []
    analysis = analyze_comms(s)
    assert analysis.summary() == "deadlocks under rendezvous; holds under buffered(1), buffered, batched"
    report = comm_report(s)
    (result,) = report.properties
    assert (result.property, result.status) == (Property.COMMUNICATION, Status.VIOLATED)
    assert result.reason == analysis.summary()


def test_cross_pipeline_cycle_in_chimera() -> None:
    name = "chimera_cross_pipeline_cycle.csv"
    s = load_schedule(DATA / name)
    expected = ("deadlock under {}: worker 0 waits in up:3RECV_F0 for worker 1, which waits in "
                "down:1RECV_F1 for worker 0 (2 more workers blocked behind it)")
    # two receives wait for each other: no buffer helps ...
    for model in DEFAULT_MODELS[:3]:
        assert messages(s, model) == [("comm-deadlock", expected.format(model.name))]
    # ... but a batch posts worker 0's receive and the send after it together
    assert check_comms(s, model=BATCHED) == []
    v = check_comms(s)[0]
    assert [str(a) for a in v.ops] == ["up:3RECV_F0", "down:1RECV_F1"]
    assert v.positions == ((0, position(name, 0, "up:3RECV_F0")), (1, position(name, 1, "down:1RECV_F1")))


def test_batched_groups_couple_unrelated_messages() -> None:
    # naive batching of interleaved 1F1B: a batch on worker 1 holds 3SEND_B1 and
    # 1RECV_F2, so 1F2 waits for worker 0 to post the receive of 3B1's gradient
    from tests.test_comm_support import interleaved

    s = lower(interleaved(2, 4, 2), Policy.BATCHED)
    assert messages(s, BATCHED) == [(
        "comm-deadlock",
        "deadlock under batched: worker 0 waits in 2SEND_B0 for worker 1, which waits in "
        "3SEND_B1 for worker 0")]
    assert check_comms(s, model=buffered()) == []


# ------------------------------------------------------------------ FIFO
def test_receives_posted_in_swapped_order_pair_the_wrong_tensors() -> None:
    name = "fifo_swapped_recvs.csv"
    s = load_schedule(DATA / name)
    s_at = position(name, 0, "0SEND_F0")
    r_at = position(name, 1, "1RECV_F1")
    assert messages(s) == [(
        "fifo-mismatch",
        f"FIFO mismatch on channel worker 0 -> worker 1: the 1st send is 0SEND_F0 (worker 0, "
        f"position {s_at}) but the 1st receive is 1RECV_F1 (worker 1, position {r_at}); paired "
        "first-in first-out, 1RECV_F1 would get the activation 0SEND_F0 carries; 2 positions "
        "on this channel disagree")]
    # not a hang: every model runs it (and silently swaps the tensors)
    assert [v.outcome for v in analyze_comms(s).verdicts] == ["completes"] * 4
    assert not analyze_comms(s).ok


def test_fifo_depends_on_the_process_groups() -> None:
    # two pipelines on one worker pair; the receiver takes them in the other order
    pipes = (Pipeline("a", (0, 1), 1), Pipeline("b", (0, 1), 1))
    s = program(["a:0F0 b:0F0 a:0SEND_F0 b:0SEND_F0 a:0RECV_B0 b:0RECV_B0 a:0B0 b:0B0",
                 "b:1RECV_F0 a:1RECV_F0 a:1F0 b:1F0 a:1B0 b:1B0 a:1SEND_B0 b:1SEND_B0"], pipes)
    shared = check_comms(s)
    assert [v.kind for v in shared] == [K.FIFO_MISMATCH]
    assert shared[0].message.startswith(
        "FIFO mismatch on channel worker 0 -> worker 1: the 1st send is a:0SEND_F0 (worker 0, "
        "position 2) but the 1st receive is b:1RECV_F0 (worker 1, position 0)")
    # with one group per pipeline the tensors pair right, but worker 0 sends a:0F0 first
    # while worker 1 waits for b:0F0 first: a rendezvous deadlock, not a buffered one
    assert messages(s) == [(K.FIFO_MISMATCH.value, shared[0].message)]
    per = [(v.kind.value, v.message) for v in check_comms(s, groups="per-pipeline")]
    assert per == [("comm-deadlock", "deadlock under rendezvous: worker 0 waits in a:0SEND_F0 for "
                    "worker 1, which waits in b:1RECV_F0 for worker 0")]
    assert check_comms(s, model=buffered(1), groups="per-pipeline") == []


# ------------------------------------------------------------------ unmatched
def test_missing_receive() -> None:
    name = "missing_recv.csv"
    s = load_schedule(DATA / name)
    send_at = position(name, 0, "0SEND_F1")
    f1_at = position(name, 1, "1F1")
    expected = [
        ("unmatched-send",
         f"0SEND_F1 (worker 0, position {send_at}) sends the activation of micro-batch 1 to "
         "worker 1, which never receives it (no 1RECV_F1 there)"),
        ("compute-before-input",
         f"1F1 (worker 1, position {f1_at}) needs the activation of micro-batch 1 from worker 0, "
         "but worker 1 never receives it (no 1RECV_F1)"),
    ]
    assert messages(s) == expected
    # worker 0 hangs in the unmatched send; worker 1 waits behind it: no cycle
    assert analyze_comms(s).verdicts[0].outcome == "hangs"


def test_duplicate_send() -> None:
    name = "duplicate_send.csv"
    s = load_schedule(DATA / name)
    assert messages(s) == [(
        "unmatched-send",
        "0SEND_F0 (worker 0, position 2) sends the activation of micro-batch 0 a second time "
        "(first at position 1): the extra message has no partner")]
    outcomes = {v.model.name: v.outcome for v in analyze_comms(s).verdicts}
    assert outcomes == {"rendezvous": "hangs", "buffered(1)": "completes",
                        "buffered": "completes", "batched": "hangs"}


def test_receive_without_any_sender() -> None:
    s = program(["0F0 0SEND_F0 0RECV_B0 0B0", "1RECV_F0 1RECV_F1 1F0 1B0 1SEND_B0"])
    assert messages(s) == [(
        "recv-without-producer",
        "1RECV_F1 (worker 1, position 1) waits for the activation of micro-batch 1 from stage 0, "
        "but no worker runs 0F1")]
    s2 = program(["0F0 0F1 0SEND_F0 0RECV_B0 0B0 0B1", "1RECV_F0 1RECV_F1 1F0 1F1 1B0 1SEND_B0 1B1"])
    assert (K.UNMATCHED_RECV.value,
            "1RECV_F1 (worker 1, position 1) waits for the activation of micro-batch 1 from worker 0, "
            "which never sends it (no 0SEND_F1 there)") in messages(s2)


def test_comms_that_name_impossible_stages() -> None:
    s = program(["0F0 0RECV_F0 0SEND_B0 0SEND_F0 0RECV_B0 0B0", "1RECV_F0 1F0 1SEND_F0 1B0 1SEND_B0"])
    assert messages(s) == [
        ("recv-without-producer", "0RECV_F0 (worker 0, position 1): stage 0 is the first stage of "
         "pipeline 'main', so no stage sends it an activation"),
        ("unmatched-send", "0SEND_B0 (worker 0, position 2): stage 0 is the first stage of "
         "pipeline 'main', so its input gradient goes to no other stage"),
        ("unmatched-send", "1SEND_F0 (worker 1, position 2): stage 1 is the last stage of "
         "pipeline 'main', so its activation goes to no other stage"),
    ]


def test_comm_on_the_wrong_worker_and_local_exchange() -> None:
    v_shape = (Pipeline("main", (0, 1, 1, 0), 1),)
    s = program(["0F0 0SEND_F0 3RECV_F0 3F0 3B0 3SEND_B0 0RECV_B0 0B0",
                 "1RECV_F0 1F0 1SEND_F0 2RECV_F0 2F0 2SEND_F0 2RECV_B0 2B0 1B0 1SEND_B0 0SEND_F0"],
                v_shape)
    assert messages(s) == [
        ("unmatched-send", "1SEND_F0 (worker 1, position 2): stages 1 and 2 of pipeline 'main' are "
         "both on worker 1, which passes the activation locally; this send has no receiver"),
        ("unmatched-recv", "2RECV_F0 (worker 1, position 3): stages 1 and 2 of pipeline 'main' are "
         "both on worker 1, which passes the activation locally; nothing is sent to this receive"),
        ("unmatched-send", "0SEND_F0 runs on worker 1 (position 10), but stage 0 of pipeline "
         "'main' is placed on worker 0, so no peer receives from it here"),
    ]


# ------------------------------------------------------------------ order
def test_compute_before_its_input_arrives_and_send_before_compute() -> None:
    s = program(["0F0 0SEND_F0 0RECV_B0 0B0", "1F0 1RECV_F0 1SEND_B0 1B0"])
    assert messages(s) == [
        ("compute-before-input", "1F0 (worker 1, position 0) needs the activation of micro-batch 0 "
         "from worker 0, but 1RECV_F0 comes later (position 1)"),
        ("compute-before-input", "1SEND_B0 (worker 1, position 2) sends the input gradient of "
         "micro-batch 0 before 1B0 computes it (position 3)"),
    ]


# ------------------------------------------------------------------ collectives
def test_a_replica_that_skips_its_allreduce() -> None:
    name = "chimera_skipped_allreduce.csv"
    s = load_schedule(DATA / name)
    at = position(name, 2, "down:2REDUCE_GRAD")
    assert messages(s) == [(
        "collective-mismatch",
        "the gradient allreduce of stage 2 never runs on replica up:2 (worker 1), while "
        f"down:2REDUCE_GRAD (worker 2, position {at}) waits for every replica")]
    assert [v.outcome for v in analyze_comms(s).verdicts] == ["hangs"] * 4


def test_allreduce_twice_and_before_the_last_backward() -> None:
    pipes = (Pipeline("down", (0, 1), 1), Pipeline("up", (1, 0), 1))
    rows = ["down:0F0 down:0SEND_F0 up:1RECV_F0 up:1F0 up:1B0 up:1SEND_B0 down:0RECV_B0 "
            "down:0REDUCE_GRAD down:0B0 up:1REDUCE_GRAD down:0REDUCE_GRAD",
            "down:1RECV_F0 up:0F0 up:0SEND_F0 down:1F0 down:1B0 up:0RECV_B0 down:1SEND_B0 up:0B0 "
            "up:0REDUCE_GRAD down:1REDUCE_GRAD"]
    s = program(rows, pipes)
    assert messages(s) == [
        ("collective-mismatch", "down:0REDUCE_GRAD (worker 0, position 7) reduces the gradients of "
         "stage 0 before its last backward down:0B0 (position 8): that micro-batch's gradient would "
         "be left out"),
        ("collective-mismatch", "down:0REDUCE_GRAD (worker 0, position 10) reaches the gradient "
         "allreduce of stage 0 a second time (first at position 7); the other replicas reach it once"),
    ]
    # the second allreduce has no partner: worker 0 hangs there (no cycle)
    assert analyze_comms(s).verdicts[0].outcome == "hangs"


def test_fsdp_unshard_and_reshard_are_understood() -> None:
    s = program(["0UNSHARD 0F0 0SEND_F0 0RESHARD 0RECV_B0 0B0 0RESHARD",
                 "1UNSHARD 1RECV_F0 1F0 1UNSHARD 1B0 1SEND_B0 1RESHARD"])
    assert messages(s) == [
        ("compute-before-input", "0B0 (worker 0, position 5) computes on stage 0, whose weights "
         "are sharded there (UNSHARD it first)"),
        ("collective-mismatch", "0RESHARD (worker 0, position 6) reshards stage 0, which is not "
         "unsharded"),
        ("collective-mismatch", "1UNSHARD (worker 1, position 3) unshards stage 1 again (already "
         "unsharded at position 0)"),
    ]


V_ROW1 = ("1RECV_F0 1F0 2F0 2SEND_F0 1RECV_F1 1F1 2F1 2RECV_B0 2SEND_F1 2B0 1B0 1SEND_B0 "
          "2RECV_B1 2B1 1B1 1SEND_B1")


def test_overlap_containers_are_checked_by_their_ops() -> None:
    v_shape = (Pipeline("main", (0, 1, 1, 0), 2),)
    good = program(["0F0 0SEND_F0 3RECV_F0 (3F0;0F1)OVERLAP_F_B 0SEND_F1 3B0 3SEND_B0 3RECV_F1 3F1 3B1 "
                    "0RECV_B0 3SEND_B1 0B0 0RECV_B1 0B1", V_ROW1], v_shape)
    assert analyze_comms(good).ok
    bad = program(["0F0 0SEND_F0 (3F0;0F1)OVERLAP_F_B 3RECV_F0 0SEND_F1 3B0 3SEND_B0 3RECV_F1 3F1 3B1 "
                   "0RECV_B0 3SEND_B1 0B0 0RECV_B1 0B1", V_ROW1], v_shape)
    assert [m for k, m in messages(bad) if k == "compute-before-input"] == [
        "3F0 in (3F0;0F1)OVERLAP_F_B (worker 0, position 2) needs the activation of micro-batch 0 "
        "from worker 1, but 3RECV_F0 comes later (position 3)"]


def test_stage_actions_and_comms_of_unknown_pipelines() -> None:
    s = program(["0F0 x:0SEND_F0 0SEND_F0 0RECV_B0 0B0 x:0REDUCE_GRAD", "1RECV_F0 1F0 1B0 1SEND_B0"])
    assert messages(s) == [
        ("unmatched-send", "x:0SEND_F0 (worker 0, position 1): no pipeline named 'x' (known: main)"),
        ("collective-mismatch", "x:0REDUCE_GRAD (worker 0, position 5): no pipeline named 'x' "
         "(known: main)"),
    ]


def test_comms_of_unknown_stages_and_microbatches() -> None:
    s = program(["0F0 0F1 0SEND_F0 0SEND_F1 7SEND_F0 0SEND_F5 0RECV_B0 0RECV_B1 0B0 0B1",
                 "1RECV_F0 1RECV_F1 1F0 1F1 1B0 1SEND_B0 1B1 1SEND_B1"])
    assert messages(s) == [
        ("unmatched-send", "7SEND_F0 (worker 0, position 4): pipeline 'main' has stages 0..1"),
        ("unmatched-send", "0SEND_F5 (worker 0, position 5): pipeline 'main' has micro-batches 0..1"),
    ]


@pytest.mark.parametrize("text,name", [("rendezvous", "rendezvous"), ("buffered:3", "buffered(3)"),
                                       ("buffered(2)", "buffered(2)"), ("BATCHED", "batched"),
                                       ("buffered", "buffered")])
def test_model_names(text: str, name: str) -> None:
    assert CommModel.parse(text).name == name


@pytest.mark.parametrize("text", ["buffered:0", "buffered:x", "eager", "buffered(1"])
def test_bad_model_names(text: str) -> None:
    with pytest.raises(ValueError, match="unknown communication model"):
        CommModel.parse(text)
