"""The published figures the schedule library must reproduce (chimera.md, the DualPipe
README, the zero-bubble and Megatron papers), with expected values written here from
those sources, over hypothesis-drawn parameters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import reference as ref
from verify import CostModel, check, generate
from verify.core.results import Metrics


def metrics_of(family: str, D: int, N: int, costs: CostModel | None = None, **opts: int) -> Metrics:
    report = check(generate(family, D, N, **opts), costs=costs or CostModel())
    assert report.ok, [v.message for v in report.violations][:3]
    assert report.metrics is not None
    return report.metrics


ratios = st.sampled_from([(1, 1), (1, 2), (1, 3), (2, 3), (2, 1)])


# ----------------------------------------------------- the paper's table (v1 Table 2)
@given(D=st.integers(2, 12), extra=st.integers(0, 12), fb=ratios)
def test_table_gpipe_and_dapple(D: int, extra: int, fb: tuple[int, int]) -> None:
    N = D + extra
    F, B = fb
    for family in ("gpipe", "1f1b"):
        m = metrics_of(family, D, N, CostModel(F=F, B=B))
        assert m.bubble_ratio == pytest.approx(ref.one_f_one_b_bubble_ratio(D, N))
        assert set(m.weights) == {1.0}  # M_theta
    assert set(metrics_of("gpipe", D, N).peak_activations) == {N}  # N * M_a
    peaks = metrics_of("1f1b", D, N).peak_activations
    assert (min(peaks), max(peaks)) == (1, D)  # [M_a, D * M_a]


@given(h=st.integers(1, 10), K=st.integers(1, 3))
def test_table_chimera(h: int, K: int) -> None:
    D, N = 2 * h, 2 * h * K
    m = metrics_of("chimera", D, N)
    assert m.bubble_ratio == pytest.approx((D - 2) / (2 * N + D - 2))
    assert set(m.weights) == {2.0}
    assert (min(m.peak_activations), max(m.peak_activations)) == (D // 2 + 1, D)


@settings(max_examples=30)
@given(h=st.integers(1, 12), data=st.data())
def test_table_chimera_2f_at_n_equals_d(h: int, data: st.DataObject) -> None:
    D = 2 * h
    f = data.draw(st.sampled_from([f for f in range(1, h + 1) if h % f == 0]))
    m = metrics_of("chimera-2f", D, D, f=f)
    assert m.bubble_ratio == pytest.approx((D - 2 * f) / (2 * f * D + D - 2 * f))
    assert m.makespan == 2 * D + D // f - 2
    assert set(m.idle) == {D // f - 2}
    assert set(m.stage_replicas) == {2 * f} and set(m.weights) == {2 * f}
    assert (min(m.peak_activations), max(m.peak_activations)) == (D - D // (2 * f) + 1, D)


# ----------------------------------------------------- B = 2F
@given(h=st.integers(1, 16), F=st.sampled_from([1, 2, 0.5]))
def test_chimera_n_equals_d_with_backward_twice_forward(h: int, F: float) -> None:
    D = N = 2 * h
    m = metrics_of("chimera", D, N, CostModel(F=F, B=2 * F))
    assert m.bubble_ratio == pytest.approx((D - 2) / (3 * N / 2 + D - 2))  # the paper's figure


@given(h=st.integers(1, 8), K=st.integers(1, 4), F=st.integers(1, 3), extra=st.integers(0, 3))
def test_direct_concatenation(h: int, K: int, F: int, extra: int) -> None:
    D, B = 2 * h, F + extra
    m = metrics_of("chimera", D, K * D, CostModel(F=F, B=B))
    assert m.makespan == ref.chimera_concat_makespan(D, K, F, B)


@given(h=st.integers(1, 10), units=st.integers(1, 3), F=st.sampled_from([1, 2, 0.5]))
def test_forward_doubling_with_backward_twice_forward(h: int, units: int, F: float) -> None:
    D = 2 * h
    N = 2 * units * D  # even K = N/D: doubling units only
    m = metrics_of("chimera-fd", D, N, CostModel(F=F, B=2 * F))
    assert all(x == pytest.approx((D / 2 - 1) * (F + 2 * F)) for x in m.idle)
    assert m.bubble_ratio == pytest.approx((D - 2) / (2 * N + D - 2))
    assert (min(m.peak_activations), max(m.peak_activations)) == (3 * D // 2 + 1, 2 * D)


@given(h=st.integers(1, 10), K=st.integers(1, 3))
def test_backward_halving_keeps_direct_concatenation_memory(h: int, K: int) -> None:
    D = 2 * h
    # ops on half micro-batches: half costs and half activations
    m = metrics_of("chimera-bh", D, K * D, CostModel(F=0.5, B=1, activation=0.5))
    assert max(m.peak_activations) == D  # direct concatenation's D * M_a
    assert m.bubble_ratio == pytest.approx((D - 2) / (4 * K * D + D - 2))


# ----------------------------------------------------- 1F1B for several ratios
@given(D=st.integers(1, 12), extra=st.integers(0, 12), fb=ratios)
def test_one_f_one_b_ratio_for_any_f_to_b(D: int, extra: int, fb: tuple[int, int]) -> None:
    N = D + extra
    m = metrics_of("1f1b", D, N, CostModel(F=fb[0], B=fb[1]))
    assert m.bubble_ratio == pytest.approx((D - 1) / (N + D - 1))
    assert m.makespan == ref.one_f_one_b_makespan(D, N, *fb)


# ----------------------------------------------------- DualPipe README
readme_costs = st.tuples(
    st.sampled_from([1.0, 2.0, 3.0]), st.sampled_from([0.25, 0.5, 1.0]), st.floats(0, 1),
).map(lambda t: (t[0], t[0] + t[1], t[1], max(t[0], t[0] + t[1]) + t[2] * min(t[0], t[0] + t[1])))


@settings(max_examples=40)
@given(hr=st.integers(1, 6), k=st.integers(0, 3), c=readme_costs)
def test_dualpipe_readme_bubble(hr: int, k: int, c: tuple[float, float, float, float]) -> None:
    """(PP/2-1)(F&B + B - 3W) under the README's cost model: backward-for-input as long
    as the forward (B = F + W), W <= F, F&B between max(F, B) and F + B."""
    F, B, W, FB = c
    PP = 2 * hr
    N = 2 * PP + 2 * k
    m = metrics_of("dualpipe", PP, N, CostModel(F=F, B=B, W=W, overlap=FB))
    assert max(m.idle) == pytest.approx((PP / 2 - 1) * (FB + B - 3 * W))
    assert set(m.peak_activations) == {PP + 1}  # README: PP + 1 activations
    assert set(m.weights) == {2.0}  # README: 2x parameters


@settings(max_examples=30)
@given(D=st.integers(1, 6), k=st.integers(0, 4), c=readme_costs)
def test_dualpipev_readme_bubble(D: int, k: int, c: tuple[float, float, float, float]) -> None:
    F, B, W, FB = c
    PP = 2 * D  # stages of the V
    m = metrics_of("dualpipev", D, 2 * D + k, CostModel(F=F, B=B, W=W, overlap=FB))
    assert max(m.idle) == pytest.approx((PP / 2 - 1) * (FB + B - 3 * W))
    assert set(m.peak_activations) == {PP + 1}


def test_dualpipe_where_the_readme_formula_differs() -> None:
    # F = B = 1, W = 1/2 (so I = 1/2 < F), F&B = 2 at PP = 4 and 8: the README's formula
    # gives (PP/2-1)*1.5, the schedule idles (PP/2-1)*2 on the ranks outside the middle pair:
    # (PP/2-1)(F&B + F - W - min(W, I)) in general for I <= F (docs/library.md).
    costs = CostModel(F=1, B=1, W=0.5, overlap=2)
    for PP in (4, 8):
        m = metrics_of("dualpipe", PP, 2 * PP, costs)
        assert max(m.idle) == (PP / 2 - 1) * 2
        assert (PP / 2 - 1) * (2 + 1 - 3 * 0.5) == (PP / 2 - 1) * 1.5


# ----------------------------------------------------- zero bubble and interleaving
zb_costs = st.tuples(st.sampled_from([1, 2]), st.sampled_from([1, 2]), st.sampled_from([0.5, 1]))


@given(D=st.integers(1, 8), extra=st.integers(0, 8), c=zb_costs)
def test_zb_h1_bubble_is_the_published_one(D: int, extra: int, c: tuple[int, int, float]) -> None:
    F, I, W = c  # W <= I
    m = metrics_of("zb-h1", D, D + extra, CostModel(F=F, I=I, W=W))
    # DualPipe README, ZB1P: (PP-1)(F + B - 2W) with B = I + W
    assert all(x == pytest.approx((D - 1) * (F + (I + W) - 2 * W)) for x in m.idle)


@given(D=st.integers(1, 8), extra=st.integers(0, 8), F=st.sampled_from([0.5, 1, 2]),
       W=st.sampled_from([0.5, 1, 2]), q=st.sampled_from([0.25, 0.5, 1, 1.5, 2]))
def test_zb_h2_keeps_only_the_pipeline_fill(D: int, extra: int, F: float, W: float, q: float) -> None:
    I = q * min(F, W)  # the measured regime: I <= 2 min(F, W)
    N = 2 * D - 1 + extra
    m = metrics_of("zb-h2", D, N, CostModel(F=F, I=I, W=W))
    assert all(x == pytest.approx((D - 1) * F) for x in m.idle)
    assert max(m.peak_activations) == 2 * D - 1  # the paper: (2p - 1) M_B


@given(D=st.integers(1, 8), extra=st.integers(0, 8), I=st.sampled_from([0.5, 1, 2]),
       q=st.sampled_from([0.5, 0.75, 1]))
def test_zb_v_keeps_only_the_pipeline_fill(D: int, extra: int, I: float, q: float) -> None:
    W = q * I  # the regime: F = I, I/2 <= W <= I (chunk costs)
    m = metrics_of("zb-v", D, 2 * D - 1 + extra, CostModel(F=I, I=I, W=W))
    assert all(x == pytest.approx((D - 1) * I) for x in m.idle)
    assert max(m.peak_activations) == 2 * D  # chunk activations: D stage activations, 1F1B's


@given(D=st.integers(1, 8), v=st.integers(2, 4), K=st.integers(1, 3), fb=ratios)
def test_interleaved_bubble(D: int, v: int, K: int, fb: tuple[int, int]) -> None:
    N = K * D
    m = metrics_of("interleaved-1f1b", D, N, CostModel(F=fb[0], B=fb[1]))
    busy = v * N * (fb[0] + fb[1])
    # Narayanan et al.: bubble time / ideal time = (p - 1)/(v * m)
    assert all(x / busy == pytest.approx((D - 1) / (v * N)) for x in m.idle)
