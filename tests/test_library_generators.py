"""The schedule library: every family's schedules verify over hypothesis-drawn grids,
their structure follows the published definitions (checked by independent code here),
their timings agree with the naive reference executor, and bad parameters are refused
with the constraint that failed.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import oracle
from verify import CostModel, check, generate
from verify.core.actions import Op, OpKind, Overlap, compute_ops
from verify.core.schedule import Schedule
from verify.errors import ParameterError
from verify.sim import simulate

LIBRARY = ("interleaved-1f1b", "looped-bfs", "zb-h1", "zb-h2", "zb-v", "chimera-fd", "chimera-bh",
           "chimera-2f", "dualpipe", "dualpipev", "hanayo")


@st.composite
def instances(draw: st.DrawFn, family: str) -> tuple[int, int, dict[str, int]]:
    """Valid (D, N, options) of ``family``, small enough for fast tests."""
    if family == "interleaved-1f1b":
        D = draw(st.integers(1, 6))
        return D, D * draw(st.integers(1, 3)), {"v": draw(st.integers(2, 4))}
    if family == "looped-bfs":
        return draw(st.integers(1, 6)), draw(st.integers(1, 12)), {"v": draw(st.integers(1, 3))}
    if family == "hanayo":
        return draw(st.integers(1, 6)), draw(st.integers(1, 12)), {"waves": draw(st.integers(1, 3))}
    if family in ("zb-h1", "zb-h2", "zb-v"):
        return draw(st.integers(1, 8)), draw(st.integers(1, 16)), {}
    if family in ("chimera-fd", "chimera-bh", "chimera-2f"):
        D = 2 * draw(st.integers(1, 6))
        N = draw(st.one_of(st.integers(1, D), st.integers(1, 4).map(lambda k: k * D)))
        if family != "chimera-2f":
            return D, N, {}
        f = draw(st.sampled_from([f for f in range(1, D // 2 + 1) if (D // 2) % f == 0]))
        return D, N, {"f": f}
    if family == "dualpipe":
        D = 2 * draw(st.integers(1, 5))
        return D, 2 * D + 2 * draw(st.integers(0, 6)), {}
    D = draw(st.integers(1, 6))  # dualpipev
    return D, 2 * D + draw(st.integers(0, 8)), {}


costs_strategy = st.builds(
    CostModel,
    F=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    B=st.sampled_from([1.0, 2.0, 3.0, 4.0]),
    W=st.sampled_from([None, 0.25, 0.5]),
    latency=st.sampled_from([0.0, 0.0, 0.5]),
    overlap=st.sampled_from([None, 4.0, 6.0]),
)


def required_ops(schedule: Schedule) -> int:
    """Ops a complete schedule needs, counted from the pipelines alone: per stage and
    micro-batch one F and a backward (one B, or I and W when split)."""
    split = {(o.pipeline, o.stage, o.microbatch) for _, _, o in schedule.ops() if o.kind is OpKind.I}
    total = 0
    for p in schedule.pipelines:
        for s in range(p.num_stages):
            for m in range(p.microbatches):
                total += 3 if (p.name, s, m) in split else 2
    return total


@pytest.mark.parametrize("family", LIBRARY)
@settings(max_examples=25)
@given(data=st.data())
def test_every_generated_schedule_verifies(family: str, data: st.DataObject) -> None:
    D, N, opts = data.draw(instances(family))
    costs = data.draw(costs_strategy)
    schedule = generate(family, D, N, **opts)
    report = check(schedule, costs=costs)
    assert report.ok, (family, D, N, opts, [v.message for v in report.violations][:3])
    assert schedule.num_ops == required_ops(schedule)
    assert report.metrics is not None and report.metrics.makespan > 0
    if schedule.timing is not None:  # the closed-form slots themselves are conflict-free
        assert check(schedule).ok


@pytest.mark.parametrize("family", LIBRARY)
@settings(max_examples=10)
@given(data=st.data())
def test_timings_agree_with_the_reference_executor(family: str, data: st.DataObject) -> None:
    """tests/oracle.py re-derives dependencies and runs programs naively: an independent
    route to every start time (the oracle has no overlap duration, so none is set)."""
    D, N, opts = data.draw(instances(family))
    schedule = generate(family, D, N, **opts)
    F = data.draw(st.sampled_from([1.0, 2.0]))
    B = data.draw(st.sampled_from([1.0, 2.0, 3.0]))
    latency = data.draw(st.sampled_from([0.0, 0.5]))
    starts, complete = oracle.run(schedule, F=F, B=B, latency=latency)
    assert complete
    ex = simulate(schedule, CostModel(F=F, B=B, latency=latency))
    idx = ex.index
    for u in range(idx.num_units):
        key = (int(idx.unit_worker[u]), int(idx.unit_pos[u]))
        assert ex.start[u] == pytest.approx(starts[key])


# ------------------------------------------------------------------ placements
def _holder(schedule: Schedule) -> dict[tuple[str, int], int]:
    return {(p.name, s): w for p in schedule.pipelines for s, w in enumerate(p.placement)}


@given(D=st.integers(1, 8), v=st.integers(2, 4))
def test_interleaved_and_bfs_place_stage_s_on_worker_s_mod_d(D: int, v: int) -> None:
    for fam in ("interleaved-1f1b", "looped-bfs"):
        s = generate(fam, D, D, v=v)
        assert all(w == st_ % D for (_, st_), w in _holder(s).items())
        assert s.stage_replicas() == (v,) * D


@given(D=st.integers(1, 8))
def test_v_placements(D: int) -> None:
    # ZB-V / DualPipeV: rank r holds stages r and 2D-1-r (PyTorch's "v" style).
    for fam in ("zb-v", "dualpipev"):
        s = generate(fam, D, 2 * D)
        (p,) = s.pipelines
        for r in range(D):
            assert p.placement[r] == r and p.placement[2 * D - 1 - r] == r


@given(D=st.integers(1, 6), waves=st.integers(1, 3))
def test_hanayo_zigzag(D: int, waves: int) -> None:
    (p,) = generate("hanayo", D, D, waves=waves).pipelines
    assert p.num_stages == 2 * waves * D
    for c in range(2 * waves):
        for j in range(D):
            assert p.placement[c * D + j] == (j if c % 2 == 0 else D - 1 - j)


@given(h=st.integers(1, 8), data=st.data())
def test_chimera_2f_placement_formula(h: int, data: st.DataObject) -> None:
    D = 2 * h
    f = data.draw(st.sampled_from([f for f in range(1, h + 1) if h % f == 0]))
    s = generate("chimera-2f", D, D, f=f)
    # chimera.md: down k puts stage s on (k*D/f + s) mod D, up k on (k*D/f + D-1-s) mod D
    for k in range(f):
        assert s.pipeline(f"down{k}").placement == tuple((k * D // f + x) % D for x in range(D))
        assert s.pipeline(f"up{k}").placement == tuple((k * D // f + D - 1 - x) % D for x in range(D))
    assert [p.microbatches for p in s.pipelines] == [D // (2 * f)] * (2 * f)


@pytest.mark.parametrize("N", [1, 2, 3, 5, 7])
def test_chimera_variants_split_small_n_evenly(N: int) -> None:
    for fam, unit in (("chimera-fd", 1), ("chimera-bh", 2)):
        s = generate(fam, 8, N)
        assert [p.microbatches for p in s.pipelines] == [unit * ((N + 1) // 2), unit * (N // 2)]
    s = generate("chimera-2f", 8, N, f=2)
    counts = [p.microbatches for p in s.pipelines]
    assert sum(counts) == N and max(counts) - min(counts) <= 1


# ------------------------------------------------------------------ definitions
def _in_flight_peak(schedule: Schedule, worker: int) -> int:
    """Micro-batches whose forward ran and whose last backward op (B or W) did not,
    walking the program (independent of verify.sim)."""
    open_: set[tuple[str, int, int]] = set()
    peak = 0
    for a in schedule.programs[worker]:
        for o in compute_ops(a):
            key = (o.pipeline, o.stage, o.microbatch)
            if o.kind is OpKind.F:
                open_.add(key)
            elif o.kind in (OpKind.B, OpKind.W):
                open_.discard(key)
            peak = max(peak, len(open_))
    return peak


@given(D=st.integers(1, 8), extra=st.integers(0, 10))
def test_zero_bubble_memory(D: int, extra: int) -> None:
    N = D + extra
    h1, h2 = generate("zb-h1", D, N), generate("zb-h2", D, N)
    for w in range(D):
        # ZB-H1 keeps 1F1B's worker-0 peak on every worker; ZB-H2 allows 2D - 1.
        assert _in_flight_peak(h1, w) == min(D, N)
        assert _in_flight_peak(h2, w) <= 2 * D - 1
    assert _in_flight_peak(h2, 0) == min(2 * D - 1, N)


@given(D=st.integers(1, 6), N=st.integers(1, 12), waves=st.integers(1, 2))
def test_hanayo_in_flight_cap(D: int, N: int, waves: int) -> None:
    s = generate("hanayo", D, N, waves=waves)
    for w in range(D):
        seen: dict[int, int] = {}
        flight: set[int] = set()
        for a in s.programs[w]:
            (o,) = compute_ops(a)
            if o.kind is OpKind.F:
                flight.add(o.microbatch)
            else:
                seen[o.microbatch] = seen.get(o.microbatch, 0) + 1
                if seen[o.microbatch] == 2 * waves:
                    flight.discard(o.microbatch)
            assert len(flight) <= D


@given(h=st.integers(1, 6), K=st.integers(1, 3))
def test_forward_doubling_pairs_consecutive_microbatches(h: int, K: int) -> None:
    D = 2 * h
    s = generate("chimera-fd", D, 2 * K * D)  # even unit count: doubling units only
    for prog in s.programs:
        fwd = [a for a in prog if isinstance(a, Op) and a.kind is OpKind.F]
        pairs = list(zip(fwd[::2], fwd[1::2]))
        assert len(pairs) * 2 == len(fwd)
        for a, b in pairs:
            assert (a.pipeline, a.stage) == (b.pipeline, b.stage)
            assert a.microbatch % 2 == 0 and b.microbatch == a.microbatch + 1


@given(hr=st.integers(1, 4), k=st.integers(0, 4))
def test_dualpipe_overlaps_forward_and_backward_of_both_directions(hr: int, k: int) -> None:
    D = 2 * hr
    s = generate("dualpipe", D, 2 * D + 2 * k)
    for prog in s.programs:
        for a in prog:
            if isinstance(a, Overlap):
                f, b = a.ops
                assert f.kind is OpKind.F and b.kind is OpKind.B and f.pipeline != b.pipeline


def test_interleaved_warmup_follows_megatron() -> None:
    # Megatron-LM: worker r runs (D - r - 1)*2 + (v - 1)*D warm-up forwards.
    D, v, N = 4, 3, 8
    s = generate("interleaved-1f1b", D, N, v=v)
    for r, prog in enumerate(s.programs):
        lead = 0
        for a in prog:
            if isinstance(a, Op) and a.kind is OpKind.F:
                lead += 1
            else:
                break
        assert lead == (D - r - 1) * 2 + (v - 1) * D + 1  # warm-up, then the first 1F1B forward


# ------------------------------------------------------------------ bad parameters
@pytest.mark.parametrize(
    ("family", "D", "N", "opts", "message"),
    [
        ("chimera-fd", 5, 5, {}, "chimera-fd: D must be even (the two pipelines collide for odd D), got D=5"),
        ("chimera-bh", 3, 3, {}, "chimera-bh: D must be even (the two pipelines collide for odd D), got D=3"),
        ("chimera-fd", 4, 6, {},
         "chimera-fd: N must be at most D or a multiple of D (K = N/D basic units), got D=4 N=6"),
        ("chimera-2f", 6, 6, {"f": 2},
         "chimera-2f: f must divide D/2 (f down and f up pipelines of D/(2f) micro-batches each), "
         "got D=6 f=2"),
        ("chimera-2f", 7, 7, {"f": 1},
         "chimera-2f: D must be even (the two pipelines collide for odd D), got D=7"),
        ("chimera-2f", 8, 8, {"f": 0}, "chimera-2f: f must be an integer in [1, 1000000], got 0"),
        ("interleaved-1f1b", 4, 6, {},
         "interleaved-1f1b: N must be a multiple of D (rounds of D micro-batches), got D=4 N=6"),
        ("interleaved-1f1b", 4, 8, {"v": 1},
         "interleaved-1f1b: v must be at least 2 (v = 1 is the 1f1b family), got v=1"),
        ("looped-bfs", 4, 8, {"v": 0}, "looped-bfs: v must be an integer in [1, 1000000], got 0"),
        ("dualpipe", 5, 10, {}, "dualpipe: D must be even (ranks pair up as r and D-1-r), got D=5"),
        ("dualpipe", 4, 9, {}, "dualpipe: N must be even (N/2 micro-batches per direction), got N=9"),
        ("dualpipe", 4, 6, {}, "dualpipe: N must be at least 2D (N/2 per direction), got D=4 N=6"),
        ("dualpipev", 4, 7, {}, "dualpipev: N must be at least 2D (twice the number of ranks), got D=4 N=7"),
        ("hanayo", 4, 4, {"waves": 0}, "hanayo: waves must be an integer in [1, 1000000], got 0"),
        ("zb-h1", 0, 4, {}, "zb-h1: D must be an integer in [1, 1000000], got 0"),
        ("zb-v", 2, 0, {}, "zb-v: N must be an integer in [1, 1000000], got 0"),
    ],
)
def test_invalid_parameters_say_which_constraint_failed(
    family: str, D: int, N: int, opts: dict[str, int], message: str
) -> None:
    with pytest.raises(ParameterError) as info:
        generate(family, D, N, **opts)
    assert str(info.value) == message


def test_list_shows_the_library() -> None:
    import io

    from verify.cli import main

    out = io.StringIO()
    assert main(["generate", "--list"], stdout=out) == 0
    listed = {line.split()[0] for line in out.getvalue().splitlines() if line.strip()}
    assert set(LIBRARY) <= listed
