"""Timeline pictures: a schedule as coloured blocks per worker, as an SVG document.

One row per worker, time to the right (the :class:`~verify.report.layout.Timeline` of
the schedule under the chosen cost model); each compute op is a block coloured by its
pipeline and chunk and shaded by its kind (F light, I medium, B full, W pale), labelled
with its micro-batch. Bubbles are explicit empty cells. Optional arrows show the
cross-worker data dependencies and the SEND/RECV pairs; the violations of a
:class:`~verify.core.results.Report` are outlined in place (a deadlock's cycle also gets
red arrows). A measured trace can be drawn above the schedule for comparison.

The SVG is meant to be read by programs too; its classes are a stable interface:

* ``g.row`` (one per worker, ``data-worker``), ``g.trace-row`` for a trace panel;
* ``rect.op`` (one per compute op; ``data-op``, ``data-worker``, ``data-position``,
  ``data-pipeline``, ``data-stage``, ``data-microbatch``, ``data-kind``,
  ``data-start``, ``data-end``), with ``stuck`` when the op never starts;
* ``rect.bubble`` (one per idle cell; ``data-worker``, ``data-start``, ``data-end``);
* ``rect.comm`` / ``path.comm`` and ``rect.stage-action`` / ``path.stage-action`` for
  communication and per-stage actions (rects in steps timing, markers otherwise);
* ``.violation`` on every element involved in a violation (``data-violations`` lists
  the indices into ``report.violations``); ``path.arrow.data``, ``path.arrow.message``,
  ``path.arrow.cycle``; ``text.unplaced`` for violations without a program position.

The SVG is built with `drawsvg <https://pypi.org/project/drawsvg/>`_ (imported lazily).

>>> from verify.generators import generate
>>> svg = render_svg(generate("chimera", 4, 4))
>>> svg.count('class="op '), svg.count('class="bubble"'), svg.count('class="row"')
(32, 8, 4)
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from verify.core.actions import Action, Comm, Op, OpKind, compute_ops, format_action
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.results import Report, Violation, ViolationKind
from verify.core.schedule import Schedule
from verify.report.deps import require
from verify.report.layout import Block, BlockKind, Gap, LinkKind, Timeline, chunk_of, compute_timeline
from verify.report.timeline import op_label, pipeline_tags

PALETTE: tuple[str, ...] = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D31", "#7570B3",
)
"""Pipeline/chunk colours (colour-blind safe first: Okabe and Ito)."""

KIND_TINT: dict[OpKind, float] = {OpKind.F: 0.45, OpKind.I: 0.2, OpKind.B: 0.0, OpKind.W: 0.7}
"""How far each op kind is mixed towards white: F light, I medium, B full, W pale."""

VIOLATION_COLOR = "#C00000"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"

ROW_H = 26.0
ROW_GAP = 6.0
LEFT = 64.0
RIGHT = 16.0
TOP = 60.0
MIN_PX, MAX_PX, TARGET_W = 3.0, 48.0, 960.0


@dataclass(frozen=True, slots=True)
class TraceSpan:
    """One measured span of a runtime trace, drawn above the schedule.

    ``start``/``end`` are in the trace's own unit (``TraceSpans.unit``); ``op`` is the
    schedule op the span was matched to, if any (it gives the span its colour).
    """

    worker: int
    start: float
    end: float
    label: str
    op: Op | None = None


@dataclass(frozen=True, slots=True)
class TraceSpans:
    """A measured trace to compare with the schedule: spans and their time unit."""

    spans: tuple[TraceSpan, ...]
    unit: str = "us"
    title: str = "measured trace"


class TraceColumns(Protocol):
    """What :func:`trace_spans` reads from a columnar trace (such as
    ``verify.traces.TraceEvents``): per-event NumPy columns, pipeline names, a unit."""

    @property
    def worker(self) -> Any: ...

    @property
    def pipeline(self) -> Any: ...

    @property
    def stage(self) -> Any: ...

    @property
    def microbatch(self) -> Any: ...

    @property
    def kind(self) -> Any: ...

    @property
    def start(self) -> Any: ...

    @property
    def end(self) -> Any: ...

    @property
    def step(self) -> Any: ...

    @property
    def pipelines(self) -> tuple[str, ...]: ...

    @property
    def time_unit(self) -> str: ...

    def label(self, i: int) -> str: ...


_TRACE_KINDS = (OpKind.F, OpKind.B, OpKind.I, OpKind.W)


def trace_spans(events: TraceColumns, *, step: int | None = None,
                title: str = "measured trace") -> TraceSpans:
    """The compute events of a trace as :class:`TraceSpans` (messages and stage actions
    are left out), restricted to training step ``step`` when given. Events whose
    pipeline is unknown get no op (they are drawn grey).

    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> ev = SimpleNamespace(worker=np.array([0, 1]), pipeline=np.array([0, -1]),
    ...     stage=np.array([0, 1]), microbatch=np.array([0, 0]), kind=np.array([0, 0]),
    ...     start=np.array([0.0, 5.0]), end=np.array([4.0, 9.0]), step=np.array([-1, -1]),
    ...     pipelines=("main",), time_unit="us", label=lambda i: ["0F0", "1F0"][i])
    >>> [(s.worker, s.label, str(s.op)) for s in trace_spans(ev).spans]
    [(0, '0F0', '0F0'), (1, '1F0', 'None')]
    """
    out: list[TraceSpan] = []
    kinds = events.kind.tolist()
    steps = events.step.tolist()
    pipes = events.pipeline.tolist()
    for i, k in enumerate(kinds):
        if k >= len(_TRACE_KINDS) or (step is not None and steps[i] != step):
            continue
        p = pipes[i]
        stage, mb = int(events.stage[i]), int(events.microbatch[i])
        op = (Op(events.pipelines[p], stage, mb, _TRACE_KINDS[k])
              if p >= 0 and stage >= 0 and mb >= 0 else None)
        out.append(TraceSpan(int(events.worker[i]), float(events.start[i]), float(events.end[i]),
                             events.label(i), op))
    return TraceSpans(tuple(out), unit=events.time_unit or "time", title=title)


def _mix(hex_color: str, white: float) -> str:
    r, g, b = (int(hex_color[k : k + 2], 16) for k in (1, 3, 5))
    r, g, b = (round(c + (255 - c) * white) for c in (r, g, b))
    return f"#{r:02X}{g:02X}{b:02X}"


def _ink(fill: str) -> str:
    """Black or white text, whichever reads better on ``fill``."""
    r, g, b = (int(fill[k : k + 2], 16) / 255 for k in (1, 3, 5))
    _, light, _ = colorsys.rgb_to_hls(r, g, b)
    lum = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#000000" if lum > 0.5 or light > 0.75 else "#FFFFFF"


def group_colors(schedule: Schedule) -> dict[tuple[str, int], str]:
    """A colour per ``(pipeline, chunk)``, in pipeline order.

    >>> from verify.generators import generate
    >>> group_colors(generate("chimera", 4, 4))
    {('down', 0): '#0072B2', ('up', 0): '#E69F00'}
    """
    groups: list[tuple[str, int]] = []
    chunks = chunk_of(schedule)
    for p in schedule.pipelines:
        for c in sorted({chunks[(p.name, s)] for s in range(p.num_stages)}):
            groups.append((p.name, c))
    return {g: PALETTE[k % len(PALETTE)] for k, g in enumerate(groups)}


def op_fill(op: Op, colors: dict[tuple[str, int], str], chunks: dict[tuple[str, int], int]) -> str:
    """Fill colour of ``op``: its group's colour, tinted by its kind (grey if unknown)."""
    base = colors.get((op.pipeline, chunks.get((op.pipeline, op.stage), 0)), "#888888")
    return _mix(base, KIND_TINT[op.kind])


def _fmt(x: float) -> str:
    return f"{x:g}"


def _violations_at(report: Report | None) -> dict[tuple[int, int], list[int]]:
    at: dict[tuple[int, int], list[int]] = {}
    if report is None:
        return at
    for k, v in enumerate(report.violations):
        for pos in v.positions:
            lst = at.setdefault(pos, [])
            if k not in lst:
                lst.append(k)
    return at


def _ticks(horizon: float, px: float, unit: str) -> list[float]:
    if horizon <= 0:
        return [0.0]
    if unit == "slot" and px >= 14:
        return [float(t) for t in range(math.ceil(horizon) + 1)]
    raw = horizon / max(2.0, TARGET_W / 80)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [k * step for k in range(int(horizon / step + 1e-9) + 1)]


class _Canvas:
    """Geometry shared by the panels of one picture."""

    def __init__(self, horizon: float) -> None:
        self.px = min(MAX_PX, max(MIN_PX, TARGET_W / horizon)) if horizon > 0 else MAX_PX
        self.width = LEFT + max(horizon, 1.0) * self.px + RIGHT

    def x(self, t: float) -> float:
        return LEFT + t * self.px


def render_svg(
    schedule: Schedule,
    costs: CostModel = UNIT_COSTS,
    *,
    report: Report | None = None,
    use_schedule_times: bool = True,
    arrows: bool = False,
    trace: TraceSpans | None = None,
    title: str | None = None,
    id_prefix: str = "cv",
) -> str:
    """The schedule's timeline as an SVG document (see the module docstring).

    ``report`` (from :func:`verify.check` on the same schedule) highlights violations;
    ``arrows`` draws cross-worker dependencies and SEND/RECV pairs; ``trace`` is drawn
    above the schedule; ``id_prefix`` keeps element ids unique when several pictures
    share one HTML page.
    """
    timeline = compute_timeline(schedule, costs, use_schedule_times=use_schedule_times)
    drawing = _draw(schedule, timeline, report, arrows=arrows, trace=trace, title=title,
                    id_prefix=id_prefix)
    return str(drawing.as_svg())


def _draw(
    schedule: Schedule,
    timeline: Timeline,
    report: Report | None,
    *,
    arrows: bool,
    trace: TraceSpans | None,
    title: str | None,
    id_prefix: str,
) -> Any:
    dw: Any = require("drawsvg", extra=None, what="SVG output")

    canvas = _Canvas(timeline.horizon)
    D = timeline.num_workers
    colors = group_colors(schedule)
    chunks = chunk_of(schedule)
    unplaced = [(k, v) for k, v in enumerate(report.violations if report else ()) if not v.positions]
    trace_h = 0.0
    if trace is not None:
        trace_workers = max([D, *(s.worker + 1 for s in trace.spans)])
        trace_h = 22.0 + trace_workers * (ROW_H + ROW_GAP) + 24.0
    rows_top = TOP + trace_h
    rows_h = D * (ROW_H + ROW_GAP)
    legend_top = rows_top + rows_h + 18.0
    legend_h = 22.0 * (1 + math.ceil(len(colors) / 4))
    height = legend_top + legend_h + 18.0 * len(unplaced[:20]) + 8.0
    d = dw.Drawing(canvas.width, height, id_prefix=id_prefix, font_family=FONT,
                   class_="chimera-timeline")
    d.append(dw.Rectangle(0, 0, canvas.width, height, fill="#FFFFFF", class_="background"))

    heading = title if title is not None else (schedule.name or schedule.source or "schedule")
    what = {"steps": "own slots", "times": "own start times", "simulated": "earliest start"}
    sub = f"{what[timeline.source]}, costs {timeline.costs}, makespan {_fmt(timeline.makespan)}"
    if report is not None:
        n = len(report.violations)
        sub += ", OK" if report.ok else f", {n} violation{'s' if n != 1 else ''}"
    d.append(dw.Text(heading, 14, LEFT, 18, font_weight="bold", class_="title"))
    d.append(dw.Text(sub, 11, LEFT, 33, fill="#444444", class_="subtitle"))

    if trace is not None:
        _draw_trace(d, dw, trace, canvas, TOP + 16.0, colors, chunks, timeline.horizon)

    arrow_head = _marker(dw, "#555555")
    red_head = _marker(dw, VIOLATION_COLOR)
    # axis
    axis = dw.Group(class_="axis")
    for t in _ticks(timeline.horizon, canvas.px, timeline.unit):
        x = canvas.x(t)
        axis.append(dw.Line(x, rows_top - 4, x, rows_top + rows_h - ROW_GAP, stroke="#E4E4E4",
                            stroke_width=1))
        axis.append(dw.Text(_fmt(t), 9, x, rows_top - 7, text_anchor="middle", fill="#666666"))
    axis.append(dw.Text(timeline.unit, 9, LEFT - 8, rows_top - 7, text_anchor="end", fill="#666666"))
    d.append(axis)

    vat = _violations_at(report)
    tags = pipeline_tags(schedule)
    geometry: dict[int, tuple[float, float, float, float]] = {}
    bubbles_of: list[list[Gap]] = [[] for _ in range(D)]
    for g in timeline.bubbles:
        bubbles_of[g.worker].append(g)
    blocks_of: list[list[int]] = [[] for _ in range(D)]
    for k, b in enumerate(timeline.blocks):
        blocks_of[b.worker].append(k)
    for w in range(D):
        y0 = rows_top + w * (ROW_H + ROW_GAP)
        row = dw.Group(class_="row", data_worker=w)
        row.append(dw.Text(f"P{w}", 11, LEFT - 8, y0 + ROW_H / 2, text_anchor="end",
                           dominant_baseline="central", class_="row-label"))
        for g in bubbles_of[w]:
            row.append(dw.Rectangle(
                canvas.x(g.start), y0, (g.end - g.start) * canvas.px, ROW_H, fill="#FFFFFF",
                stroke="#BBBBBB", stroke_width=0.8, stroke_dasharray="3,2", class_="bubble",
                data_worker=w, data_start=_fmt(g.start), data_end=_fmt(g.end)))
        for k in blocks_of[w]:
            b = timeline.blocks[k]
            hits = vat.get((b.worker, b.position), [])
            geometry[k] = _draw_block(row, dw, b, canvas, y0, colors, chunks, hits, schedule, tags)
        d.append(row)

    if arrows:
        layer = dw.Group(class_="arrows")
        for link in timeline.links:
            if link.src in geometry and link.dst in geometry:
                sx, sy, _, _ = _right_mid(geometry[link.src])
                tx, ty, _, _ = _left_mid(geometry[link.dst])
                cls = "arrow data" if link.kind is LinkKind.DATA else "arrow message"
                dash = "4,3" if link.kind is LinkKind.MESSAGE else None
                layer.append(dw.Line(sx, sy, tx, ty, stroke="#555555", stroke_width=0.9,
                                     stroke_dasharray=dash, marker_end=arrow_head, class_=cls,
                                     fill="none"))
        d.append(layer)
    if report is not None:
        _draw_cycles(d, dw, report, timeline, geometry, red_head)
    _draw_legend(d, dw, legend_top, colors, schedule)
    max_chars = max(20, int((canvas.width - LEFT - RIGHT) / 6.3))
    for j, (k, v) in enumerate(unplaced[:20]):
        line = f"{v.kind.value}: {v.message}"
        if len(line) > max_chars:
            line = line[: max_chars - 1] + "\u2026"
        t = dw.Text(line, 11, LEFT, legend_top + legend_h + 14 + 18 * j, fill=VIOLATION_COLOR,
                    class_="unplaced violation",
                    data_violations=str(k))
        t.append_title(v.message)
        d.append(t)
    return d


def _marker(dw: Any, color: str) -> Any:
    m = dw.Marker(-0.1, -0.5, 0.9, 0.5, scale=6, orient="auto")
    m.append(dw.Lines(-0.1, 0.5, -0.1, -0.5, 0.9, 0, fill=color, close=True))
    return m


def _right_mid(g: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = g
    return x + w, y + h / 2, w, h


def _left_mid(g: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = g
    return x, y + h / 2, w, h


def _title_of(action: Action, b: Block, schedule: Schedule, hits: list[int]) -> str:
    name = format_action(action, default_pipeline=schedule.default_pipeline)
    when = f"[{_fmt(b.start)}, {_fmt(b.end)})" if b.end > b.start else f"at {_fmt(b.start)}"
    text = f"P{b.worker} #{b.position}: {name} {when}"
    if not b.started:
        text += " - never starts"
    if hits:
        text += " - violation " + ", ".join(str(h) for h in hits)
    return text


def _draw_block(
    row: Any, dw: Any, b: Block, canvas: _Canvas, y0: float,
    colors: dict[tuple[str, int], str], chunks: dict[tuple[str, int], int],
    hits: list[int], schedule: Schedule, tags: dict[str, str],
) -> tuple[float, float, float, float]:
    x = canvas.x(b.start)
    w = (b.end - b.start) * canvas.px
    lane_h = ROW_H / b.lanes
    y = y0 + b.lane * lane_h
    bad = bool(hits)
    vattr: dict[str, Any] = {"data_violations": " ".join(map(str, hits))} if bad else {}
    stroke = VIOLATION_COLOR if bad else "#FFFFFF"
    sw = 2.2 if bad else 0.8
    title = _title_of(b.action, b, schedule, hits)
    if b.kind is BlockKind.COMPUTE:
        ops = b.ops
        h = lane_h / len(ops)
        for j, op in enumerate(ops):
            fill = op_fill(op, colors, chunks)
            if not b.started:
                fill = _mix(fill, 0.6)
            cls = f"op op-{op.kind.value}" + ("" if b.started else " stuck") + (" violation" if bad else "")
            r = dw.Rectangle(
                x, y + j * h, max(w, 0.5), h, fill=fill, stroke=stroke, stroke_width=sw,
                stroke_dasharray=None if b.started else "3,2",
                class_=cls, data_op=format_action(op, default_pipeline=None), data_worker=b.worker,
                data_position=b.position, data_pipeline=op.pipeline, data_stage=op.stage,
                data_microbatch=op.microbatch, data_kind=op.kind.value,
                data_start=_fmt(b.start), data_end=_fmt(b.end), **vattr)
            r.append_title(title)
            row.append(r)
            font = min(11.0, h * 0.55, max(w, 1.0) * 0.6)
            if font >= 5.0:
                label = str(op.microbatch) if w < 26 else op_label(op, tags, False)
                row.append(dw.Text(label, font, x + w / 2, y + j * h + h / 2, text_anchor="middle",
                                   dominant_baseline="central", fill=_ink(fill), class_="label",
                                   pointer_events="none"))
        return (x, y, w, lane_h)
    cls = "comm" if b.kind is BlockKind.COMM else "stage-action"
    cls += " violation" if bad else ""
    if w > 0:
        r = dw.Rectangle(x + 1, y + lane_h * 0.25, max(w - 2, 0.5), lane_h * 0.5, fill="#EEEEEE",
                         stroke=VIOLATION_COLOR if bad else "#999999", stroke_width=sw if bad else 0.6,
                         class_=cls, data_worker=b.worker, data_position=b.position,
                         data_action=format_action(b.action, default_pipeline=None), **vattr)
        r.append_title(title)
        row.append(r)
        if w >= 30:
            short = "S" if isinstance(b.action, Comm) and b.action.kind.is_send else (
                "R" if isinstance(b.action, Comm) else "A")
            row.append(dw.Text(short, 8, x + w / 2, y + lane_h / 2, text_anchor="middle",
                               dominant_baseline="central", fill="#555555", class_="label",
                               pointer_events="none"))
        return (x + 1, y + lane_h * 0.25, max(w - 2, 0.5), lane_h * 0.5)
    # zero-width marker: a small diamond on the row's lower edge
    cy = y + lane_h - 4
    p = dw.Lines(x, cy - 4, x + 3, cy, x, cy + 4, x - 3, cy, close=True,
                 fill=VIOLATION_COLOR if bad else "#777777", class_=cls + " marker",
                 data_worker=b.worker, data_position=b.position,
                 data_action=format_action(b.action, default_pipeline=None), **vattr)
    p.append_title(title)
    row.append(p)
    return (x, cy - 4, 0.0, 8.0)


def _draw_cycles(
    d: Any, dw: Any, report: Report, timeline: Timeline,
    geometry: dict[int, tuple[float, float, float, float]], head: Any,
) -> None:
    layer = dw.Group(class_="cycles")
    for v in report.violations:
        if v.kind is not ViolationKind.DEADLOCK or len(v.positions) < 2:
            continue
        ks = [timeline.block_at(w, i) for w, i in v.positions]
        for a, b in zip(ks, ks[1:] + ks[:1]):
            if a is None or b is None or a not in geometry or b not in geometry:
                continue
            # positions list the cycle in waiting order: each op waits for the next one
            sx, sy, _, _ = _right_mid(geometry[b])
            tx, ty, _, _ = _left_mid(geometry[a])
            mx, my = (sx + tx) / 2, min(sy, ty) - ROW_H * 0.6
            layer.append(dw.Path(stroke=VIOLATION_COLOR, stroke_width=1.6, fill="none",
                                 marker_end=head, class_="arrow cycle").M(sx, sy).Q(mx, my, tx, ty))
    d.append(layer)


def _draw_legend(d: Any, dw: Any, top: float, colors: dict[tuple[str, int], str],
                 schedule: Schedule) -> None:
    legend = dw.Group(class_="legend")
    x = LEFT
    multi_chunk = any(c > 0 for _, c in colors)
    for k, ((pipe, chunk), color) in enumerate(colors.items()):
        col, line = k % 4, k // 4
        gx = x + col * 150
        gy = top + 22 * line
        name = pipe if not multi_chunk else f"{pipe} chunk {chunk}"
        for j, kind in enumerate((OpKind.F, OpKind.B)):
            legend.append(dw.Rectangle(gx + j * 14, gy, 12, 12, fill=_mix(color, KIND_TINT[kind]),
                                       class_="swatch"))
        legend.append(dw.Text(name, 10, gx + 32, gy + 6, dominant_baseline="central"))
    gy = top + 22 * math.ceil(len(colors) / 4)
    base = next(iter(colors.values()), "#888888")
    kinds_used = {op.kind for prog in schedule.programs for a in prog for op in compute_ops(a)}
    j = 0
    for kind in (OpKind.F, OpKind.B, OpKind.I, OpKind.W):
        if kind not in kinds_used and kind not in (OpKind.F, OpKind.B):
            continue
        gx = x + j * 70
        legend.append(dw.Rectangle(gx, gy, 12, 12, fill=_mix(base, KIND_TINT[kind]), class_="swatch"))
        legend.append(dw.Text(kind.value, 10, gx + 16, gy + 6, dominant_baseline="central"))
        j += 1
    gx = x + j * 70
    legend.append(dw.Rectangle(gx, gy, 12, 12, fill="#FFFFFF", stroke="#BBBBBB", stroke_dasharray="3,2"))
    legend.append(dw.Text("idle", 10, gx + 16, gy + 6, dominant_baseline="central"))
    gx += 60
    legend.append(dw.Rectangle(gx, gy, 12, 12, fill="#FFFFFF", stroke=VIOLATION_COLOR, stroke_width=2))
    legend.append(dw.Text("violation", 10, gx + 16, gy + 6, dominant_baseline="central"))
    d.append(legend)


def _draw_trace(
    d: Any, dw: Any, trace: TraceSpans, canvas: _Canvas, top: float,
    colors: dict[tuple[str, int], str], chunks: dict[tuple[str, int], int], horizon: float,
) -> None:
    spans = trace.spans
    t0 = min((s.start for s in spans), default=0.0)
    t1 = max((s.end for s in spans), default=1.0)
    span = max(t1 - t0, 1e-12)
    scale = (max(horizon, 1.0) * canvas.px) / span  # the trace gets the schedule's width
    workers = max([1, *(s.worker + 1 for s in spans)])
    d.append(dw.Text(f"{trace.title} ({_fmt(span)} {trace.unit} wide)", 11, LEFT, top - 4,
                     fill="#444444", class_="trace-title"))
    for w in range(workers):
        y0 = top + 4 + w * (ROW_H + ROW_GAP)
        row = dw.Group(class_="trace-row", data_worker=w)
        row.append(dw.Text(f"P{w}", 11, LEFT - 8, y0 + ROW_H / 2, text_anchor="end",
                           dominant_baseline="central", fill="#666666"))
        row.append(dw.Rectangle(LEFT, y0, span * scale, ROW_H, fill="#F6F6F6", class_="trace-lane"))
        for s in spans:
            if s.worker != w:
                continue
            x = LEFT + (s.start - t0) * scale
            wd = max((s.end - s.start) * scale, 0.5)
            fill = op_fill(s.op, colors, chunks) if s.op is not None else "#9E9E9E"
            r = dw.Rectangle(x, y0, wd, ROW_H, fill=fill, stroke="#FFFFFF", stroke_width=0.6,
                             class_="span", data_worker=w, data_start=_fmt(s.start),
                             data_end=_fmt(s.end))
            r.append_title(f"{s.label} [{_fmt(s.start)}, {_fmt(s.end)}) {trace.unit}")
            row.append(r)
        d.append(row)


def violation_positions(violations: Sequence[Violation]) -> set[tuple[int, int]]:
    """Every ``(worker, position)`` some violation points at (what gets outlined)."""
    return {p for v in violations for p in v.positions}
