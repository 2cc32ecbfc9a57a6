"""The comparison table: every family side by side, costs rescaled so that every row does
the same work; values checked against closed forms written here."""

from __future__ import annotations

import csv
import io
import json

import pytest

import verify.cli.library_commands  # noqa: F401  (registers ``compare`` on the cli group)
from verify import CostModel, generate
from verify.cli import main
from verify.errors import ParameterError
from verify.specs import normalized_costs, p2p_messages, work_scale
from verify.specs.compare import compare, render

COSTS = CostModel(F=1, B=2)


def _rows(D: int, N: int, costs: CostModel = COSTS, **kw):  # type: ignore[no-untyped-def]
    return {r.family: r for r in compare(D, N, costs, **kw)}


def test_every_family_verifies_and_does_the_same_work() -> None:
    D, N = 4, 8
    rows = _rows(D, N)
    assert "chimera-naive" not in rows
    assert all(r.verdict == "ok" for r in rows.values()), [r.note for r in rows.values()]
    F, B = 1, 2
    # closed forms at the rescaled costs (chunk costs F/v, B/v; halves F/2, B/2):
    assert rows["1f1b"].makespan == (N + D - 1) * (F + B)
    assert rows["interleaved-1f1b"].makespan == (2 * N + D - 1) * (F + B) / 2
    assert rows["zb-v"].makespan == 2 * N * (F + B) / 2 + (D - 1) * F / 2
    assert rows["chimera"].makespan == (D + 2 * 2 - 2) * F + 2 * (2 * D - 2) * B
    assert rows["chimera-fd"].makespan == (N + D / 2 - 1) * (F + B)
    assert rows["chimera-bh"].makespan == N * (F + B) + (D / 2 - 1) * (F + B) / 2
    assert rows["gpipe"].bubble_ratio == pytest.approx((D - 1) / (N + D - 1))


def test_memory_and_weights_are_in_common_units() -> None:
    D, N = 4, 8
    rows = _rows(D, N)
    assert rows["1f1b"].peak_activations == D and rows["1f1b"].total_activations == sum(range(1, D + 1))
    assert rows["gpipe"].peak_activations == N
    # interleaved v=2: worker 0 holds 2(D-1) + (v-1)D + 1 chunks of half a stage each
    assert rows["interleaved-1f1b"].peak_activations == (2 * (D - 1) + D + 1) / 2
    assert rows["zb-v"].peak_activations == D  # 1F1B's memory
    for fam in ("chimera", "chimera-fd", "dualpipe"):
        assert rows[fam].weights == (2.0, 2.0)
    for fam in ("1f1b", "zb-v", "dualpipev", "hanayo", "interleaved-1f1b"):
        assert rows[fam].weights == (1.0, 1.0)


def test_p2p_messages_count_cross_worker_dependencies() -> None:
    D, N = 4, 8
    rows = _rows(D, N)
    assert rows["1f1b"].p2p_messages == 2 * (D - 1) * N
    assert rows["interleaved-1f1b"].p2p_messages == 2 * (2 * D - 1) * N
    # a V turns on the last worker: stages D-1 and D are local
    assert rows["zb-v"].p2p_messages == rows["dualpipev"].p2p_messages == 2 * (2 * D - 2) * N
    # Hanayo with w waves turns 2w - 1 times
    assert p2p_messages(generate("hanayo", D, N, waves=2)) == 2 * (4 * D - 1 - 3) * N
    # each pipeline of Chimera crosses D - 1 boundaries per micro-batch
    assert rows["chimera"].p2p_messages == 2 * (D - 1) * N


def test_unfit_parameters_are_rows_not_errors() -> None:
    rows = _rows(5, 5)
    assert rows["chimera"].verdict == "n/a"
    assert rows["chimera"].note == "chimera: D must be even (odd D conflicts; see chimera-naive), got D=5"
    assert rows["dualpipe"].verdict == "n/a"
    assert rows["1f1b"].verdict == "ok"


def test_options_for_all_or_one_family() -> None:
    rows = _rows(8, 16, options={"*": {"v": 4}, "chimera-2f": {"f": 2}})
    assert rows["interleaved-1f1b"].options == (("v", 4),)
    assert rows["looped-bfs"].options == (("v", 4),)
    assert rows["chimera-2f"].options == (("f", 2),)
    assert rows["chimera-2f"].weights == (4.0, 4.0)
    assert rows["1f1b"].options == ()


def test_requested_negative_example_fails_its_check() -> None:
    (row,) = compare(3, 3, families=["chimera-naive"])
    assert row.verdict == "violations"
    assert row.note.startswith("4 violation(s): conflict on worker 1, slot 1")


def test_unknown_family() -> None:
    with pytest.raises(ParameterError, match="compare: unknown schedule family 'x'"):
        compare(4, 4, families=["x"])


def test_normalisation() -> None:
    assert work_scale(generate("1f1b", 4, 8)) == 1
    assert work_scale(generate("hanayo", 4, 8, waves=3)) == pytest.approx(1 / 6)
    assert work_scale(generate("dualpipe", 4, 8)) == 1
    c = normalized_costs(generate("interleaved-1f1b", 4, 8, v=4), CostModel(F=2, B=4, W=1, latency=0.5))
    assert (c.F, c.B, c.W, c.latency, c.activation) == (0.5, 1.0, 0.25, 0.5, 0.25)
    with pytest.raises(ParameterError, match="per-stage costs cannot be rescaled to its 8 stages"):
        normalized_costs(generate("zb-v", 4, 8), CostModel.parse("F=1,F@0=2"))


def test_raw_costs() -> None:
    (row,) = compare(4, 8, COSTS, families=["interleaved-1f1b"], normalize=False)
    assert row.makespan == (2 * 8 + 4 - 1) * 3  # chunk ops at full cost


def test_renderings() -> None:
    rows = compare(4, 8, COSTS, families=["1f1b", "chimera"])
    text = render(rows, 4, 8, COSTS)
    lines = text.splitlines()
    assert lines[0].startswith("D=4, N=8, F=1,B=2 (costs per 1/D of the model")
    assert lines[1].split() == ["family", "makespan", "bubble", "peak", "act.", "total", "act.",
                                "weights", "p2p", "msgs", "check"]
    assert lines[3].split() == ["1f1b", "33", "0.2727", "4", "10", "1", "48", "ok"]
    md = render(rows, 4, 8, COSTS, "markdown").splitlines()
    assert md[2] == "| family | makespan | bubble | peak act. | total act. | weights | p2p msgs | check |"
    assert md[4] == "| 1f1b | 33 | 0.2727 | 4 | 10 | 1 | 48 | ok |"
    table = list(csv.reader(io.StringIO(render(rows, 4, 8, COSTS, "csv"))))
    assert table[2] == ["chimera", "30", "0.2000", "4", "14", "2", "48", "ok"]
    doc = json.loads(render(rows, 4, 8, COSTS, "json"))
    assert doc["rows"][1]["makespan"] == 30 and doc["rows"][1]["weights"] == [2, 2]


def test_cli() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(["compare", "-D", "8", "-N", "16", "--costs", "F=1,B=2,W=1,overlap=2.5"], out, err)
    assert code == 0, err.getvalue()
    families = {line.split()[0] for line in out.getvalue().splitlines()[3:] if line.strip()}
    assert {"gpipe", "1f1b", "chimera", "dualpipe", "zb-v", "hanayo"} <= families
    out, err = io.StringIO(), io.StringIO()
    assert main(["compare", "-D", "4", "-N", "8", "-f", "nope"], out, err) == 2
    assert "unknown schedule family 'nope'" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["compare", "-D", "4", "-N", "8", "-O", "v"], out, err) == 2
    assert "expected KEY=VALUE or FAMILY.KEY=VALUE, got 'v'" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["compare", "-D", "3", "-N", "3", "-f", "chimera-naive"], out, err) == 1
    out, err = io.StringIO(), io.StringIO()
    args = ["compare", "-D", "4", "-N", "8", "-f", "chimera-2f", "-O", "chimera-2f.f=2", "--format", "json"]
    code = main(args, out, err)
    assert code == 0 and json.loads(out.getvalue())["rows"][0]["options"] == {"f": 2}
