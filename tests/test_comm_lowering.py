"""Lowering: PyTorch's own lowered orders reproduced cell for cell, the guarantees of the
``torch`` and ``eager`` policies on every family, and the shape of every policy's output.

Expected values come from PyTorch's output (fixtures made once with torch 2.13, see
``tests/data/comm/README.md``), from the placement (which edges cross workers, counted
here independently), or from orders written by hand.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_comm_support import DATA, compute_schedules, interleaved, read_rows
from verify.comm import (
    DEFAULT_MODELS,
    LoweringError,
    Policy,
    add_reduce_grad,
    add_unshard_reshard,
    analyze_comms,
    lower,
    lower_like_torch,
)
from verify.core.actions import (
    Comm,
    Op,
    StageAction,
    StageActionKind,
    compute_ops,
    format_action,
    parse_action,
)
from verify.core.costs import CostModel
from verify.core.results import ViolationKind
from verify.core.schedule import Schedule
from verify.generators import families, generate
from verify.io import dumps_schedule, load_schedule, loads_schedule

K_FIFO = ViolationKind.FIFO_MISMATCH
COMPUTE = sorted(p.name for p in DATA.glob("torch_*.compute.csv"))
TORCH_LOWERED = sorted(p.name for p in DATA.glob("torch_*.comms.csv"))


def cells(schedule: Schedule) -> list[list[str]]:
    return [[format_action(a, default_pipeline=schedule.default_pipeline) for a in p]
            for p in schedule.programs]


@pytest.mark.parametrize("name", COMPUTE)
@pytest.mark.parametrize("defer", [False, True])
def test_torch_policy_reproduces_pytorch_lowering(name: str, defer: bool) -> None:
    reference = name.replace(".compute.csv", ".deferred.comms.csv" if defer else ".comms.csv")
    if not (DATA / reference).exists():
        pytest.skip("PyTorch has no deferred variant for this schedule")
    schedule = load_schedule(DATA / name)
    assert cells(lower_like_torch(schedule, defer_recv=defer)) == read_rows(reference)


def test_fixtures_cover_every_multi_stage_builtin() -> None:
    kinds = {n.split("_")[1] for n in TORCH_LOWERED}
    assert kinds == {"DualPipeV", "GPipe", "Interleaved1F1B", "InterleavedZeroBubble",
                     "LoopedBFS", "ZBVZeroBubble"}
    # the lowered orders carry FSDP, gradient reduction and overlap containers
    text = "".join((DATA / n).read_text() for n in TORCH_LOWERED)
    for token in ("UNSHARD", "RESHARD", "REDUCE_GRAD", "OVERLAP_F_B", "SEND_F", "RECV_B"):
        assert token in text


@pytest.mark.parametrize("name", [n for n in TORCH_LOWERED if ".deferred." not in n])
def test_pytorch_lowered_orders_are_accepted_under_every_model(name: str) -> None:
    analysis = analyze_comms(load_schedule(DATA / name))
    assert analysis.static == ()
    assert [v.outcome for v in analysis.verdicts] == ["completes"] * len(DEFAULT_MODELS)


def _family_cases() -> list[tuple[str, Schedule]]:
    out = []
    for fam in families():
        if fam.name == "chimera-naive":
            continue  # odd D conflicts by design; its order is still checked below
        for D, N, opts in fam.examples:
            out.append((f"{fam.name} D={D} N={N}", fam.build(D, N, **dict(opts))))
    out += [(f"interleaved {a}", interleaved(*a)) for a in ((2, 4, 2), (4, 8, 2), (3, 6, 3))]
    out += [(f"chimera {D} {N}", generate("chimera", D, N)) for D, N in ((4, 8), (8, 8), (6, 12))]
    out += [(n, load_schedule(DATA / n).without_timing()) for n in COMPUTE]
    return out


FAMILY_CASES = _family_cases()


@pytest.mark.parametrize("policy", [Policy.TORCH, Policy.EAGER])
@pytest.mark.parametrize("name,schedule", FAMILY_CASES, ids=[n for n, _ in FAMILY_CASES])
def test_torch_and_eager_lowerings_are_safe_under_every_model(
        name: str, schedule: Schedule, policy: Policy) -> None:
    # eager also places each allreduce of replicated stages as one event of its global
    # order; torch keeps PyTorch's per-replica placement (see the Chimera D=6 N=3 test)
    variants = [schedule]
    if policy is Policy.EAGER:
        variants.append(add_reduce_grad(schedule, stages="replicated"))
    for prepared in variants:
        for groups in ("shared", "per-pipeline"):
            analysis = analyze_comms(lower(prepared, policy), groups=groups)
            assert analysis.static == (), analysis.static[:1]
            assert all(v.outcome == "completes" for v in analysis.verdicts), analysis.summary()


def _cross_edges(schedule: Schedule) -> Counter[tuple[str, int, int, str]]:
    """Messages the placement implies, derived here: (pipeline, producer stage, mb, dir)."""
    home = {(p.name, s): w for p in schedule.pipelines for s, w in enumerate(p.placement)}
    ops = {(o.pipeline, o.stage, o.microbatch, o.kind.value) for _, _, o in schedule.ops()}
    out: Counter[tuple[str, int, int, str]] = Counter()
    for p, s, m, k in ops:
        if k == "F" and (p, s + 1) in home and home[(p, s + 1)] != home[(p, s)]:
            out[(p, s, m, "act")] += 1
        grad = "I" if (p, s, m, "I") in ops else "B"
        if k == grad and s > 0 and home[(p, s - 1)] != home[(p, s)]:
            out[(p, s, m, "grad")] += 1
    return out


def _messages(lowered: Schedule, sends: bool) -> Counter[tuple[str, int, int, str]]:
    out: Counter[tuple[str, int, int, str]] = Counter()
    for prog in lowered.programs:
        for a in prog:
            if isinstance(a, Comm) and a.kind.is_send == sends:
                kind = a.kind.value
                stage = a.stage if sends else (a.stage - 1 if kind == "RECV_F" else a.stage + 1)
                out[(a.pipeline, stage, a.microbatch, "act" if kind.endswith("F") else "grad")] += 1
    return out


@settings(max_examples=40)
@given(compute_schedules(), st.sampled_from(list(Policy)))
def test_every_policy_sends_and_receives_each_cross_worker_tensor_once(
        schedule: Schedule, policy: Policy) -> None:
    lowered = lower(schedule, policy)
    expected = _cross_edges(schedule)
    assert _messages(lowered, sends=True) == expected
    assert _messages(lowered, sends=False) == expected
    # the compute order of every worker is kept
    for before, after in zip(schedule.programs, lowered.programs):
        assert [a for a in after if compute_ops(a)] == list(before)


def test_adjacent_stages_on_one_worker_exchange_locally() -> None:
    # ZBV: stages 1 and 2 share rank 1 (V placement): no message between them
    lowered = lower_like_torch(load_schedule(DATA / "torch_ZBVZeroBubble_r2_n4.compute.csv"))
    names = {str(a) for p in lowered.programs for a in p}
    assert not {"1SEND_F0", "2RECV_F0", "2SEND_B0", "1RECV_B0"} & names
    assert {"0SEND_F0", "1RECV_F0", "2SEND_F0", "3RECV_F0"} <= names


def test_lazy_policy_posts_receives_just_before_their_consumer() -> None:
    lowered = lower(generate("1f1b", 2, 2), Policy.LAZY)
    assert cells(lowered) == [
        ["0F0", "0SEND_F0", "0F1", "0SEND_F1", "0RECV_B0", "0B0", "0RECV_B1", "0B1"],
        ["1RECV_F0", "1F0", "1B0", "1SEND_B0", "1RECV_F1", "1F1", "1B1", "1SEND_B1"],
    ]


def test_batched_policy_groups_sends_with_the_next_receives() -> None:
    lowered = lower(generate("1f1b", 2, 2), Policy.BATCHED)
    assert cells(lowered)[1] == ["1RECV_F0", "1F0", "1B0", "1SEND_B0", "1RECV_F1", "1F1",
                                 "1B1", "1SEND_B1"]
    assert cells(lowered)[0] == ["0F0", "0SEND_F0", "0F1", "0SEND_F1", "0RECV_B0", "0B0",
                                 "0RECV_B1", "0B1"]


def test_eager_policy_posts_receives_when_the_data_is_sent() -> None:
    # GPipe D=2 N=2, unit costs: 1F0 can run at 1; 0F1's activation is sent at 2
    lowered = lower(generate("gpipe", 2, 2), Policy.EAGER)
    assert cells(lowered)[1][:4] == ["1RECV_F0", "1F0", "1RECV_F1", "1F1"]
    slow = lower(generate("gpipe", 2, 2), Policy.EAGER, costs=CostModel(F=1, B=5))
    assert cells(slow)[0][-4:] == ["0RECV_B0", "0RECV_B1", "0B0", "0B1"] or \
        cells(slow)[0][-4:] == ["0RECV_B0", "0B0", "0RECV_B1", "0B1"]


def test_per_replica_allreduce_placement_deadlocks_chimera_with_an_uneven_split() -> None:
    # N=3 on D=6: down gets 2 micro-batches, up 1, so replicas finish at different times.
    # Worker 2 holds down:2 and up:3, worker 3 holds down:3 and up:2; each reaches the
    # allreduce of its up replica first, which waits for the other's down replica.
    s = add_reduce_grad(generate("chimera", 6, 3), stages="replicated")
    analysis = analyze_comms(lower(s, Policy.TORCH))
    assert analysis.static == ()
    assert [v.outcome for v in analysis.verdicts] == ["deadlocks"] * 4
    assert analysis.verdicts[0].deadlocks[0].message == (
        "deadlock under rendezvous: worker 2 waits in up:3REDUCE_GRAD for worker 3, which "
        "waits in up:2REDUCE_GRAD for worker 2 (4 more workers blocked behind it)")
    assert analyze_comms(lower(s, Policy.EAGER)).ok


def test_add_reduce_grad_puts_one_allreduce_per_replica_after_its_last_backward() -> None:
    s = add_reduce_grad(generate("chimera", 4, 4), stages="replicated")
    for prog in s.programs:
        reduces = [(i, a) for i, a in enumerate(prog) if isinstance(a, StageAction)]
        assert len(reduces) == 2  # every worker holds two replicas (s and D-1-s)
        for i, a in reduces:
            assert a.kind is StageActionKind.REDUCE_GRAD
            last = max(j for j, b in enumerate(prog) if isinstance(b, Op)
                       and (b.pipeline, b.stage) == (a.pipeline, a.stage))
            assert i == last + 1
    plain = add_reduce_grad(generate("1f1b", 3, 2), stages="replicated")
    assert plain.programs == generate("1f1b", 3, 2).programs  # nothing is replicated


def test_add_unshard_reshard_follows_pytorch() -> None:
    lowered = lower_like_torch(load_schedule(DATA / "torch_LoopedBFS_r2_n4.compute.csv"))
    assert cells(lowered)[0][:2] == ["0UNSHARD", "2UNSHARD"]
    assert cells(lowered)[0][-1] == "0RESHARD"
    assert [str(a) for a in add_unshard_reshard(generate("gpipe", 1, 2)).programs[0]] == [
        "0UNSHARD", "0F0", "0F1", "0B0", "0B1", "0RESHARD"]


def test_lowering_refuses_what_it_cannot_lower() -> None:
    lowered = lower(generate("1f1b", 2, 2))
    with pytest.raises(LoweringError, match=r"0SEND_F0 at worker 0, position 1: the schedule already"):
        lower(lowered)
    s = generate("1f1b", 2, 2)
    swapped = dataclasses.replace(s, programs=(s.programs[1], s.programs[0]))
    with pytest.raises(LoweringError, match=r"1F0 at worker 0, position 0: stage 1 is placed on worker 1"):
        lower(swapped)
    dup = dataclasses.replace(s, programs=(s.programs[0] + (parse_action("0F0"),), s.programs[1]))
    with pytest.raises(LoweringError, match=r"0F0 at worker 0, position 4: the op runs twice"):
        lower(dup)
    # 0B0 needs 1B0, which runs after 1F1, which needs 0F1, which runs after 0B0
    cyclic = dataclasses.replace(s, programs=(
        tuple(map(parse_action, ["0F0", "0B0", "0F1", "0B1"])),
        tuple(map(parse_action, ["1F0", "1F1", "1B0", "1B1"]))))
    with pytest.raises(LoweringError, match=r"^0B0 at worker 0, position 1 can never start: the compute"):
        lower(cyclic, Policy.TORCH)
    with pytest.raises(LoweringError, match=r"can never start: the compute schedule deadlocks"):
        lower(cyclic, Policy.EAGER)
    assert lower(cyclic, Policy.LAZY).num_ops == 8  # lazy needs no global order


@pytest.mark.parametrize("fmt", ["csv", "json", "toml"])
def test_lowered_schedules_round_trip_through_the_file_formats(fmt: str) -> None:
    lowered = lower(add_reduce_grad(generate("chimera", 4, 4)))
    text = dumps_schedule(lowered, fmt)  # type: ignore[arg-type]
    back = loads_schedule(text, fmt=fmt, source=f"x.{fmt}")  # type: ignore[arg-type]
    assert back.programs == lowered.programs
    assert analyze_comms(back).ok


def test_chimera_naive_order_also_lowers_safely() -> None:
    s = generate("chimera-naive", 4, 4).without_timing()
    assert analyze_comms(lower(s)).ok


def test_policy_names_parse() -> None:
    assert Policy.parse("torch-deferred") is Policy.TORCH_DEFERRED
    with pytest.raises(ValueError, match="expected one of torch, torch-deferred, lazy, eager, batched"):
        Policy.parse("fifo")




def _fifo_bad_by_hand(name: str) -> bool:
    """Per rank pair, do sends and receives name their tensors in the same order?
    Worked out from the cells alone (PyTorch's stage-to-rank maps: loop or V)."""
    import re

    rows = read_rows(name)
    ranks = len(rows)
    v_style = "ZBV" in name or "DualPipeV" in name

    def rank(stage: int) -> int:
        if v_style:
            return stage if stage < ranks else 2 * ranks - 1 - stage
        return stage % ranks

    sends: dict[tuple[int, int], list[tuple[int, str, int]]] = {}
    recvs: dict[tuple[int, int], list[tuple[int, str, int]]] = {}
    for row in rows:
        for cell in row:
            m = re.fullmatch(r"(\d+)(SEND|RECV)_([FB])(\d+)", cell)
            if not m:
                continue
            s, what, d, mb = int(m[1]), m[2], m[3], int(m[4])
            src = s if what == "SEND" else (s - 1 if d == "F" else s + 1)
            dst = (s + 1 if d == "F" else s - 1) if what == "SEND" else s
            table = sends if what == "SEND" else recvs
            table.setdefault((rank(src), rank(dst)), []).append((src, d, mb))
    return any(sends.get(k, []) != recvs.get(k, []) for k in set(sends) | set(recvs))


@pytest.mark.parametrize("name", [n for n in TORCH_LOWERED if ".deferred." in n])
def test_pytorch_deferred_receives_are_judged_like_a_hand_count(name: str) -> None:
    found = {v.kind for v in analyze_comms(load_schedule(DATA / name)).static}
    assert (K_FIFO in found) == _fifo_bad_by_hand(name)


def test_pytorch_deferred_zbv_pairs_an_activation_with_a_gradient_receive() -> None:
    name = "torch_ZBVZeroBubble_r2_n4.deferred.comms.csv"
    rows = read_rows(name)
    (v,) = [v for v in analyze_comms(load_schedule(DATA / name)).static]
    assert v.message.startswith(
        f"FIFO mismatch on channel worker 0 -> worker 1: the 3rd send is 0SEND_F2 (worker 0, "
        f"position {rows[0].index('0SEND_F2')}) but the 3rd receive is 2RECV_B0 (worker 1, "
        f"position {rows[1].index('2RECV_B0')})")
    assert _fifo_bad_by_hand(name)
    assert not _fifo_bad_by_hand(name.replace(".deferred", ""))


@settings(max_examples=40)
@given(compute_schedules(), st.sampled_from(list(Policy)), st.booleans())
def test_fused_lowering_index_equals_reading_the_lowered_schedule(
        schedule: Schedule, policy: Policy, extras: bool) -> None:
    from verify.comm import lower_and_check, lower_indexed
    from verify.comm.program import index_comms

    if extras:
        schedule = add_reduce_grad(add_unshard_reshard(schedule))
    lowered, fused = lower_indexed(schedule, policy)
    assert lowered == lower(schedule, policy)
    read = index_comms(lowered)
    for f in dataclasses.fields(read):
        a, b = getattr(fused, f.name), getattr(read, f.name)
        if f.name == "schedule":
            assert a == b
        elif hasattr(a, "dtype"):
            assert a.tolist() == b.tolist(), f.name
        else:
            assert a == b, f.name
    from verify.comm import check_comms

    _, found = lower_and_check(schedule, policy)
    assert [v.message for v in found] == [v.message for v in check_comms(lowered)]


def test_trusted_records_equal_checked_ones() -> None:
    from verify.comm._fast import make_comms, trusted_schedule
    from verify.core.actions import CommKind

    s = generate("1f1b", 2, 1)
    progs = (s.programs[0], s.programs[1] + tuple(make_comms(["main"], [1], [0], [CommKind.SEND_B])))
    fast = trusted_schedule(s, progs, "x", (("k", 1),))
    slow = Schedule(s.num_workers, s.pipelines, progs, None, "x", (("k", 1),))
    assert fast == slow and hash(fast) == hash(slow) and fast.source is None
    assert progs[1][-1] == Comm("main", 1, 0, CommKind.SEND_B)
    assert hash(progs[1][-1]) == hash(Comm("main", 1, 0, CommKind.SEND_B))
