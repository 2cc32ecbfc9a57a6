"""Renderers: the library's results as text, JSON, timelines, pictures (SVG, PNG), HTML,
Perfetto traces, JUnit XML and GitHub annotations (the CLI only calls these); plus the
progress helper for long work.

Optional libraries (drawsvg, CairoSVG, junitparser) are imported when a renderer that
needs them is called, so importing this package stays light.
"""

from verify.report.github import render_github
from verify.report.html import render_html
from verify.report.json_report import render_json, report_dict
from verify.report.junit import render_junit
from verify.report.layout import Timeline, compute_timeline
from verify.report.location import locate
from verify.report.perfetto import render_perfetto
from verify.report.png import render_png, svg_to_png
from verify.report.progress import progress, track
from verify.report.svg import TraceSpan, TraceSpans, render_svg, trace_spans
from verify.report.text import render_report, render_reports
from verify.report.timeline import render_timeline

__all__ = [
    "Timeline",
    "TraceSpan",
    "TraceSpans",
    "compute_timeline",
    "locate",
    "progress",
    "render_github",
    "render_html",
    "render_json",
    "render_junit",
    "render_perfetto",
    "render_png",
    "render_report",
    "render_reports",
    "render_svg",
    "render_timeline",
    "report_dict",
    "svg_to_png",
    "trace_spans",
    "track",
]
