"""Text rendering of a :class:`~verify.traces.results.TraceReport` (the CLI prints it)."""

from __future__ import annotations

from verify.traces.results import TraceReport


def _t(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    return f"{x:.6g}{' ' + unit if unit else ''}"


def render_trace_report(r: TraceReport) -> str:
    """Verdict, per-step results with their violations, measured vs predicted metrics."""
    u = r.time_unit
    lines = [r.report.subject]
    extra = f", {r.ignored} outside the marked steps (not checked)" if r.ignored else ""
    lines.append(f"  {r.events} actions read{extra}; {len(r.steps)} step(s)")
    for s in r.steps:
        if s.empty:
            lines.append(f"  {s.label}: nothing of the schedule ran (skipped)")
            continue
        verdict = "conforms" if s.ok else f"{len(s.violations)} violation(s)"
        mk = f", makespan {_t(s.metrics.makespan, u)}" if s.metrics else ""
        lines.append(f"  {s.label}: {verdict} ({s.ops_executed}/{s.ops_expected} ops{mk})")
        for v in s.violations:
            lines.append(f"    {v.kind.value}: {v.message}")
    m = r.report.metrics
    if m is not None:
        busy = ", ".join(f"{b:.4g}" for b in m.busy)
        lines.append(f"  measured (median over steps): makespan {_t(m.makespan, u)}, bubble ratio "
                     f"{m.bubble_ratio:.4f}, busy per worker [{busy}]")
    if r.fitted is not None:
        lines.append(f"  fitted costs ({u or 'trace time unit'}): {r.fitted.describe()}")
    pm, mm = r.predicted_makespan, r.measured_makespan
    if pm is not None and mm is not None:
        ratio = f" (measured / predicted = {mm / pm:.3g})" if pm > 0 else ""
        lines.append(f"  predicted makespan under the fitted costs: {_t(pm, u)}{ratio}; bubble ratio "
                     f"{r.predicted.bubble_ratio:.4f}" if r.predicted else "")
    if r.ok:
        lines.append("  verdict: the trace conforms to the schedule")
    else:
        counts = ", ".join(f"{n} {k}" for k, n in r.counts)
        lines.append(f"  verdict: DOES NOT CONFORM ({counts}) in step(s) {', '.join(r.diverged)}")
    return "\n".join(line for line in lines if line)
