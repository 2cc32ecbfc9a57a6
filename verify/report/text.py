"""Plain-text rendering of reports: ``file:where: kind: message`` lines, verdicts, metrics."""

from __future__ import annotations

from collections.abc import Sequence

from verify.core.results import Metrics, Report, Status
from verify.core.schedule import Schedule
from verify.report.location import locate

MAX_LISTED = 20
"""Violations of one kind listed before the rest are summarised."""


def format_number(x: float) -> str:
    """A number as people write it: ``16`` rather than ``16.0``, ``0.25`` as is."""
    return f"{x:g}" if abs(x - round(x)) > 1e-9 else str(round(x))


def render_metrics(m: Metrics) -> list[str]:
    """Metrics as indented lines."""
    peaks = " ".join(format_number(p) for p in m.peak_activations)
    idle = " ".join(format_number(x) for x in m.idle)
    weights = " ".join(format_number(x) for x in m.weights)
    return [
        f"    makespan          {format_number(m.makespan)}",
        f"    bubble ratio      {m.bubble_ratio:.4f}",
        f"    idle per worker   {idle}",
        f"    peak activations  {peaks}",
        f"    weights (M_theta) {weights}",
        f"    ops               {m.num_ops}",
    ]


def render_report(report: Report, schedule: Schedule | None = None) -> str:
    """One report as text: a verdict line, one located line per violation (at most
    :data:`MAX_LISTED` per kind), the property verdicts and the metrics."""
    subject = report.subject
    n = len(report.violations)
    head = "OK" if report.ok else f"FAIL ({n} violation{'s' if n != 1 else ''})"
    lines = [f"{subject}: {head}  [costs {report.costs}]"]
    shown: dict[str, int] = {}
    for v in report.violations:
        k = v.kind.value
        shown[k] = shown.get(k, 0) + 1
        if shown[k] > MAX_LISTED:
            continue
        where = subject
        if v.positions and schedule is not None:
            w, i = v.positions[-1]
            where = f"{subject}:{locate(schedule, w, i)}"
        lines.append(f"{where}: {k}: {v.message}")
    for k, c in shown.items():
        if c > MAX_LISTED:
            lines.append(f"{subject}: ... and {c - MAX_LISTED} more {k} violations")
    lines.append("  properties:")
    for r in report.properties:
        status = r.status.value.upper() if r.status in (Status.VIOLATED, Status.UNKNOWN) else r.status.value
        reason = f" ({r.reason})" if r.reason else ""
        lines.append(f"    {r.property.value:<14} {status}{reason}")
    if report.metrics is not None:
        lines.append("  metrics:")
        lines.extend(render_metrics(report.metrics))
    return "\n".join(lines)


def render_reports(items: Sequence[tuple[Report, Schedule | None]], *, brief: bool = False) -> str:
    """Several reports, then a summary line when there is more than one. With ``brief``,
    a report without violations is one line (``subject: OK``)."""
    parts = [
        f"{r.subject}: OK" if brief and r.ok else render_report(r, s) for r, s in items
    ]
    if len(items) > 1:
        bad = sum(1 for r, _ in items if not r.ok)
        parts.append(f"{len(items)} schedules checked, {bad} with violations")
    return "\n".join(parts)
