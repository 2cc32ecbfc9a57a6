"""CLI plumbing for the report outputs: ``check --format text|json|junit|github``,
``check/show --html``, and ``show --svg/--png/--perfetto``.

The commands in :mod:`verify.cli.core_commands` call these helpers; they choose the
renderer, refuse to overwrite an input file, and write the outputs. They never decide
the exit code (the command does: 0 all hold, 1 a violation, 2 unusable input).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from verify.core.costs import CostModel
from verify.core.results import Report
from verify.core.schedule import Schedule

F = TypeVar("F", bound=Callable[..., Any])

CHECK_FORMATS: tuple[str, ...] = ("text", "json", "junit", "github")
"""Report formats of ``check --format``."""

Items = Sequence[tuple[Report, Schedule | None]]


def render_check(
    fmt: str, items: Items, errors: Sequence[tuple[str, str]] = (), *, brief: bool = False
) -> str:
    """The check report in ``fmt``; JUnit and GitHub outputs also carry the files that
    could not be checked (``(file, message)``), text and JSON leave them to stderr."""
    from verify.report import render_json, render_reports

    if fmt == "text":
        return render_reports(items, brief=brief) if items else ""
    if fmt == "json":
        return render_json(items) if items else ""
    if fmt == "junit":
        from verify.report.junit import render_junit

        return render_junit(items, errors)
    if fmt == "github":
        from verify.report.github import render_github

        return render_github(items, errors)
    raise click.BadParameter(f"unknown format {fmt!r}", param_hint="--format")


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def guard_output(path: str, inputs: Sequence[str], option: str) -> None:
    """Refuse to write ``path`` when it is one of the ``inputs`` (exit code 2)."""
    for src in inputs:
        if _same_file(path, src):
            raise click.UsageError(f"{option} {path} is an input file; refusing to overwrite it")


def guard_outputs(inputs: Sequence[str], **outputs: str | None) -> None:
    """Check every given output path (keyword = option name without dashes, e.g.
    ``svg=...``) against the inputs before any work is done."""
    for option, path in outputs.items():
        if path is not None:
            guard_output(path, inputs, "--" + option.replace("_", "-"))


def _write(path: str, data: str | bytes, what: str) -> None:
    target = Path(path)
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(data, encoding="utf-8")
    click.echo(f"wrote {path} ({what})", err=True)


def check_output_options(fn: F) -> F:
    """``--format``, ``-o/--output`` and ``--html`` for ``check``."""
    fn = click.option("--html", "html_out", type=click.Path(dir_okay=False),
                      help="Also write a self-contained HTML report to FILE.")(fn)
    fn = click.option("-o", "--output", type=click.Path(dir_okay=False),
                      help="Write the report to FILE instead of standard output.")(fn)
    fn = click.option("--format", "fmt", type=click.Choice(list(CHECK_FORMATS)), default="text",
                      show_default=True,
                      help="Report format: text, json (documented schema), junit (JUnit XML), "
                           "github (workflow annotations).")(fn)
    return fn


def emit_check_output(
    fmt: str,
    items: Items,
    errors: Sequence[tuple[str, str]],
    *,
    inputs: Sequence[str],
    output: str | None = None,
    html_out: str | None = None,
    use_schedule_times: bool = True,
    brief: bool = False,
) -> None:
    """Print (or write to ``output``) the report in ``fmt`` and write the HTML page;
    ``brief`` text output gives passing reports one line each."""
    for path in (output, html_out):
        if path is not None:
            guard_output(path, inputs, "--output" if path == output else "--html")
    text = render_check(fmt, items, errors, brief=brief)
    if output is not None:
        _write(output, text if text.endswith("\n") or not text else text + "\n", fmt)
    elif text:
        click.echo(text)
    if html_out is not None and items:
        from verify.report.html import render_html

        _write(html_out, render_html(items, use_schedule_times=use_schedule_times), "html")


def visual_output_options(fn: F) -> F:
    """``--svg``, ``--png``, ``--html``, ``--perfetto``, ``--arrows`` and ``--trace`` for
    ``show``."""
    fn = click.option("--step", "trace_step", type=click.IntRange(0, None),
                      help="With --trace: draw only this training step of the trace.")(fn)
    fn = click.option("--trace", "trace_paths", multiple=True, type=click.Path(dir_okay=False),
                      help="Draw this measured trace (profiler trace per rank, or event log; "
                           "repeatable) above the schedule in --svg/--png.")(fn)
    fn = click.option("--arrows", is_flag=True,
                      help="Draw cross-worker dependencies and SEND/RECV pairs as arrows.")(fn)
    fn = click.option("--perfetto", "perfetto_out", type=click.Path(dir_okay=False),
                      help="Write the simulated timeline as a Perfetto/Chrome trace (JSON).")(fn)
    fn = click.option("--html", "html_out", type=click.Path(dir_okay=False),
                      help="Write a self-contained HTML report (verdicts, metrics, timeline).")(fn)
    fn = click.option("--png", "png_out", type=click.Path(dir_okay=False),
                      help="Write the timeline picture as PNG (needs chimera-verify[png]).")(fn)
    fn = click.option("--svg", "svg_out", type=click.Path(dir_okay=False),
                      help="Write the timeline picture as SVG.")(fn)
    return fn


def write_visual_outputs(
    schedule: Schedule,
    report: Report,
    costs: CostModel,
    *,
    inputs: Sequence[str],
    svg_out: str | None = None,
    png_out: str | None = None,
    html_out: str | None = None,
    perfetto_out: str | None = None,
    use_schedule_times: bool = True,
    arrows: bool = False,
    trace_paths: Sequence[str] = (),
    trace_step: int | None = None,
) -> list[str]:
    """Write the requested pictures and exports of one schedule; returns the paths.
    ``trace_paths`` (a measured trace) is drawn above the schedule in the pictures."""
    wanted = {"--svg": svg_out, "--png": png_out, "--html": html_out, "--perfetto": perfetto_out}
    for option, path in wanted.items():
        if path is not None:
            guard_output(path, inputs, option)
    written: list[str] = []
    if svg_out is not None or png_out is not None:
        from verify.report.svg import render_svg, trace_spans

        spans = None
        if trace_paths:
            from verify.traces import read_trace

            spans = trace_spans(read_trace(list(trace_paths)), step=trace_step)
        svg = render_svg(schedule, costs, report=report, use_schedule_times=use_schedule_times,
                         arrows=arrows, trace=spans)
        if svg_out is not None:
            _write(svg_out, svg, "svg")
            written.append(svg_out)
        if png_out is not None:
            from verify.report.png import svg_to_png

            _write(png_out, svg_to_png(svg), "png")
            written.append(png_out)
    if html_out is not None:
        from verify.report.html import render_html

        _write(html_out, render_html([(report, schedule)], costs=costs,
                                     use_schedule_times=use_schedule_times, arrows=arrows), "html")
        written.append(html_out)
    if perfetto_out is not None:
        from verify.report.perfetto import render_perfetto

        _write(perfetto_out, render_perfetto(schedule, costs, report=report), "perfetto trace")
        written.append(perfetto_out)
    return written
