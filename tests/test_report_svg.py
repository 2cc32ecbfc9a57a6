"""Timeline pictures, checked by parsing the SVG with a standard XML parser.

Expected values come from chimera.md (the D=4 N=4 slot table, idle slots, makespans and
idle times with B = 2F), from the schedules' construction, or from geometry that must
hold for any picture (ops and bubbles tile every row exactly).
"""

from __future__ import annotations

import dataclasses
import struct
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_report_snapshots import known_bad_items
from verify import CostModel, check, generate
from verify.core.actions import Op, OpKind
from verify.generators import families
from verify.report.svg import TraceSpan, TraceSpans, render_svg

NS = {"s": "http://www.w3.org/2000/svg"}

# chimera.md, "D = 4, N = 4, slot by slot": the idle slots ('.') of each worker
CHIMERA_D4N4_IDLE = {(0, 1), (0, 8), (1, 0), (1, 9), (2, 0), (2, 9), (3, 1), (3, 8)}
# ... and two rows of the table, to check that blocks sit in the right slots
CHIMERA_D4N4_ROWS = {
    0: ["Fd0", None, "Fd1", "Fu0", "Bu0", "Fu1", "Bu1", "Bd0", None, "Bd1"],
    3: ["Fu0", None, "Fu1", "Fd0", "Bd0", "Fd1", "Bd1", "Bu0", None, "Bu1"],
}


def classes(el: ET.Element) -> set[str]:
    return set((el.get("class") or "").split())


def elements(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{{NS['s']}}}{tag}") if cls in classes(e)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def test_chimera_d4_n4_has_4_rows_32_blocks_and_8_empty_slots() -> None:
    root = parse(render_svg(generate("chimera", 4, 4)))
    rows = elements(root, "g", "row")
    ops = elements(root, "rect", "op")
    bubbles = elements(root, "rect", "bubble")
    assert len(rows) == 4
    assert len(ops) == 32
    assert len(bubbles) == 8  # 4 workers x 10 slots - 32 ops
    assert {(int(b.get("data-worker", -1)), int(float(b.get("data-start", -1)))) for b in bubbles} \
        == CHIMERA_D4N4_IDLE


def test_blocks_sit_in_the_slots_of_the_papers_table() -> None:
    root = parse(render_svg(generate("chimera", 4, 4)))
    ops = elements(root, "rect", "op")
    bubbles = elements(root, "rect", "bubble")
    # geometry, independent of the data attributes: x = left + slot * width
    widths = {round(float(e.get("width", 0)), 6) for e in ops + bubbles}
    assert len(widths) == 1
    w = widths.pop()
    left = min(float(e.get("x", 0)) for e in ops + bubbles)
    for worker, expected in CHIMERA_D4N4_ROWS.items():
        row: list[str | None] = [None] * 10
        for e in ops:
            if e.get("data-worker") == str(worker):
                slot = round((float(e.get("x", 0)) - left) / w)
                tag = e.get("data-pipeline", "?")[0]
                row[slot] = f"{e.get('data-kind')}{tag}{e.get('data-microbatch')}"
        assert row == expected


def test_colour_by_pipeline_and_shade_by_kind() -> None:
    root = parse(render_svg(generate("chimera", 4, 4)))
    fill: dict[tuple[str, str], set[str]] = {}
    for e in elements(root, "rect", "op"):
        fill.setdefault((e.get("data-pipeline", ""), e.get("data-kind", "")), set()).add(e.get("fill", ""))
    # one colour per (pipeline, kind), and all four differ
    assert all(len(v) == 1 for v in fill.values())
    assert len({next(iter(v)) for v in fill.values()}) == 4
    labels = [t.text for t in elements(root, "text", "label")]
    assert len(labels) == 32 and all(label and label[-1] in "01" for label in labels)


def test_b_twice_f_simulated_matches_the_closed_form() -> None:
    """chimera.md: D=4, N=4, F=1, B=2 executed in order: makespan 16, idle per worker
    (D-2)*(F + K*(B-F)) = 4."""
    root = parse(render_svg(generate("chimera", 4, 4), CostModel(F=1, B=2), use_schedule_times=False))
    idle = [0.0] * 4
    for b in elements(root, "rect", "bubble"):
        idle[int(b.get("data-worker", 0))] += float(b.get("data-end", 0)) - float(b.get("data-start", 0))
    assert idle == [4.0] * 4
    ends = [float(e.get("data-end", 0)) for e in elements(root, "rect", "op")]
    assert max(ends) == 16.0


def _row_widths(root: ET.Element, worker: int) -> tuple[float, float]:
    ops = [e for e in elements(root, "rect", "op") if e.get("data-worker") == str(worker)]
    seen: set[tuple[str | None, str | None]] = set()
    busy = 0.0
    for e in ops:  # the ops of an Overlap share one interval: count it once
        key = (e.get("data-position"), e.get("data-start"))
        if key not in seen:
            seen.add(key)
            busy += float(e.get("width", 0))
    idle = sum(float(b.get("width", 0)) for b in elements(root, "rect", "bubble")
               if b.get("data-worker") == str(worker))
    return busy, idle


EXAMPLES = [(f.name, D, N, dict(opts)) for f in families() for D, N, opts in f.examples]


@settings(max_examples=25, deadline=None)
@given(case=st.sampled_from(EXAMPLES), F=st.integers(1, 3), B=st.integers(1, 4))
def test_ops_and_bubbles_tile_every_row(
    case: tuple[str, int, int, dict[str, object]], F: int, B: int
) -> None:
    name, D, N, opts = case
    schedule = generate(name, D, N, **opts)
    root = parse(render_svg(schedule, CostModel(F=F, B=B), use_schedule_times=False))
    assert len(elements(root, "rect", "op")) == schedule.num_ops
    assert len(elements(root, "g", "row")) == schedule.num_workers
    makespan = max(float(e.get("data-end", 0)) for e in elements(root, "rect", "op"))
    px = {float(e.get("width", 0)) / (float(e.get("data-end", 0)) - float(e.get("data-start", 0)))
          for e in elements(root, "rect", "op")}
    scale = next(iter(px))
    for w in range(schedule.num_workers):
        busy, idle = _row_widths(root, w)
        assert busy + idle == pytest.approx(makespan * scale)


def test_conflicts_are_outlined_in_place() -> None:
    (report, schedule), _ = known_bad_items()
    root = parse(render_svg(schedule, report=report))
    bad = {(int(e.get("data-worker", -1)), int(e.get("data-position", -1)))
           for e in elements(root, "rect", "violation")}
    expected = {p for v in report.violations for p in v.positions}
    assert bad == expected
    # two ops in one slot are drawn one above the other, both inside the row
    first = [e for e in elements(root, "rect", "violation")
             if (e.get("data-worker"), e.get("data-start")) == ("1", "1")]
    assert len(first) == 2
    ys = sorted(float(e.get("y", 0)) for e in first)
    assert ys[0] < ys[1] and {float(e.get("height", 0)) for e in first} == {13.0}


def test_a_deadlock_draws_its_cycle_and_the_ops_that_never_start() -> None:
    _, (report, schedule) = known_bad_items()
    root = parse(render_svg(schedule, report=report))
    stuck = elements(root, "rect", "stuck")
    drawn = elements(root, "rect", "op")
    assert len(drawn) == schedule.num_ops
    cycle = next(v for v in report.violations if v.kind.value == "deadlock")
    stuck_pos = {(int(e.get("data-worker", -1)), int(e.get("data-position", -1))) for e in stuck}
    assert set(cycle.positions) <= stuck_pos
    assert len(elements(root, "path", "cycle")) == len(cycle.positions)
    # the missing op has no position: it is listed below the picture
    assert any("2B2" in (t.get("data-violations", "") + "".join(t.itertext()))
               for t in elements(root, "text", "unplaced"))


def test_arrows_for_cross_worker_dependencies() -> None:
    """Chimera D=4, N=4: each pipeline sends every micro-batch's activation D-1 times up
    and its gradient D-1 times down: 2 pipelines x 2 micro-batches x 2 x 3 = 24."""
    root = parse(render_svg(generate("chimera", 4, 4), arrows=True))
    assert len(elements(root, "path", "data")) == 24
    assert elements(root, "path", "data")[0].get("marker-end", "").startswith("url(#")


def test_send_receive_pairs_are_linked() -> None:
    from verify.core.actions import parse_action
    from verify.core.schedule import Pipeline, Schedule

    prog0 = tuple(map(parse_action, ["0F0", "0SEND_F0", "0RECV_B0", "0B0"]))
    prog1 = tuple(map(parse_action, ["1RECV_F0", "1F0", "1B0", "1SEND_B0"]))
    s = Schedule(2, (Pipeline("main", (0, 1), 1),), (prog0, prog1))
    root = parse(render_svg(s, arrows=True))
    assert len(elements(root, "path", "message")) == 2
    assert len(elements(root, "path", "comm")) == 4  # zero-time markers when simulated


def test_measured_trace_is_drawn_above_the_schedule() -> None:
    s = generate("1f1b", 2, 2)
    spans = tuple(
        TraceSpan(w, 100.0 * k, 100.0 * k + 90.0, str(op), op if isinstance(op, Op) else None)
        for w, prog in enumerate(s.programs) for k, op in enumerate(prog))
    root = parse(render_svg(s, trace=TraceSpans(spans, unit="us")))
    trace_rows = elements(root, "g", "trace-row")
    rows = elements(root, "g", "row")
    assert len(trace_rows) == 2 and len(elements(root, "rect", "span")) == len(spans)
    top_of_trace = max(float(e.get("y", 0)) for e in elements(root, "rect", "span"))
    top_of_schedule = min(float(e.get("y", 0)) for e in elements(root, "rect", "op"))
    assert top_of_trace < top_of_schedule
    assert len(rows) == 2


def test_overlap_units_draw_every_op() -> None:
    from verify.core.actions import Overlap
    from verify.core.schedule import Pipeline, Schedule

    f1 = Op("main", 0, 1, OpKind.F)
    b0 = Op("main", 0, 0, OpKind.B)
    prog0 = (Op("main", 0, 0, OpKind.F), Overlap((f1, b0)), Op("main", 0, 1, OpKind.B))
    prog1 = tuple(Op("main", 1, m, k) for m in (0, 1) for k in (OpKind.F, OpKind.B))
    s = Schedule(2, (Pipeline("main", (0, 1), 2),), (prog0, prog1))
    root = parse(render_svg(s))
    assert len(elements(root, "rect", "op")) == s.num_ops == 8


def test_png_rendering(tmp_path: object) -> None:
    pytest.importorskip("cairosvg")
    from verify.report.png import svg_to_png

    svg = render_svg(generate("chimera", 4, 4))
    data = svg_to_png(svg, scale=2.0)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    root = parse(svg)
    assert width == round(2 * float(root.get("width", 0)))
    assert height == round(2 * float(root.get("height", 0)))
    pil = pytest.importorskip("PIL.Image")
    import io

    image = pil.open(io.BytesIO(data)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16) or []
    down_b = (0x00, 0x72, 0xB2)  # the down pipeline's B blocks
    assert any(c == down_b and n > 100 for n, c in colours)


def test_readme_picture_is_countable() -> None:
    from pathlib import Path

    picture = Path(__file__).parent.parent / "docs" / "images" / "chimera-d4-n4.svg"
    root = ET.parse(picture).getroot()
    assert len(elements(root, "g", "row")) == 4
    assert len(elements(root, "rect", "op")) == 32
    assert len(elements(root, "rect", "bubble")) == 8
    assert (Path(str(picture)).with_suffix(".png")).read_bytes()[:4] == b"\x89PNG"


def test_the_report_changes_the_picture_only_by_highlights() -> None:
    s = generate("chimera", 4, 4)
    plain = parse(render_svg(s))
    with_report = parse(render_svg(s, report=check(s)))
    assert not elements(with_report, "rect", "violation")
    assert len(elements(plain, "rect", "op")) == len(elements(with_report, "rect", "op"))
    unchanged = dataclasses.replace(s, name="renamed")
    assert "renamed" in render_svg(unchanged)


def test_a_columnar_trace_is_drawn_span_for_span() -> None:
    """A trace built with the trace readers' own builder (skipped without them)."""
    events_mod = pytest.importorskip("verify.traces.events")
    from verify import simulate
    from verify.report.svg import trace_spans

    s = generate("1f1b", 2, 2)
    ex = simulate(s)
    b = events_mod.EventBuilder()
    src = b.add_source("t.csv", "line")
    for u, op in enumerate(ex.index.ops):
        b.append(int(ex.index.op_worker[u]), "", op.stage, op.microbatch, op.kind.value,
                 1000.0 * float(ex.start[u]), 1000.0 * float(ex.end[u]), source=src, location=u + 1)
    spans = trace_spans(b.build())
    assert len(spans.spans) == s.num_ops
    root = parse(render_svg(s, trace=spans))
    assert len(elements(root, "rect", "span")) == s.num_ops
