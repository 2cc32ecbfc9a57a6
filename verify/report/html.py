"""A self-contained HTML report: verdicts, metrics, timeline and counterexamples.

One page with no external resources (inline CSS, inline SVG, a few lines of inline
script), so it can be attached to a CI run or mailed. For every checked schedule:

* the verdict and the property table (holds / VIOLATED / skipped, with reasons);
* the metrics table (makespan, bubble ratio, and per worker: busy, idle, peak
  activations, weights);
* the timeline picture (:mod:`verify.report.svg`) with the violations outlined in place;
* the counterexamples: every violation with its location, the ops involved and the
  command that reproduces it; hovering one highlights its blocks in the timeline;
* the slot table as text, for copying into an issue.

Page structure (a stable interface for tests and scrapers): ``section.schedule`` per
report, ``div.timeline`` holding the ``svg``, ``table.properties``, ``table.metrics``,
``ol.violations > li.violation[data-violation]``.

>>> from verify.generators import generate
>>> from verify.checks import check
>>> s = generate("chimera", 4, 4)
>>> page = render_html([(check(s), s)])
>>> page.startswith("<!DOCTYPE html>"), page.count('class="op ')
(True, 32)
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Sequence

from verify.core.costs import CostModel
from verify.core.results import Metrics, Report, Status
from verify.core.schedule import Schedule
from verify.report.svg import render_svg
from verify.report.text import format_number
from verify.report.timeline import render_timeline
from verify.report.where import where

_CSS = """
:root { --bad: #C00000; --ok: #1B7F3B; --skip: #777; --line: #DDD; }
* { box-sizing: border-box; }
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 24px; color: #222;
       max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 14px; margin: 18px 0 6px; text-transform: uppercase; letter-spacing: .04em; color: #555; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
         vertical-align: middle; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { border: 1px solid var(--line); padding: 3px 9px; text-align: left; }
th { background: #F5F5F5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.holds { color: var(--ok); } td.violated { color: var(--bad); font-weight: bold; }
td.skipped { color: var(--skip); }
.timeline { overflow-x: auto; border: 1px solid var(--line); padding: 4px; background: #fff; }
.timeline svg { display: block; }
ol.violations { padding-left: 22px; font-size: 13px; }
li.violation { margin: 6px 0; padding: 4px 6px; border-left: 3px solid var(--bad); cursor: default; }
li.violation.active { background: #FDECEC; }
li.violation code, pre { font-family: DejaVu Sans Mono, Menlo, Consolas, monospace; font-size: 12px; }
.where { color: #555; } .repro { color: #555; }
pre { background: #F7F7F7; padding: 8px; overflow-x: auto; }
svg .focus { stroke: var(--bad) !important; stroke-width: 4px !important; }
.summary { color: #444; }
"""

_SCRIPT = """
(function () {
  var items = document.querySelectorAll('li.violation[data-violation]');
  Array.prototype.forEach.call(items, function (li) {
    var section = li.closest('section.schedule');
    var key = li.getAttribute('data-violation');
    function mark(on) {
      li.classList.toggle('active', on);
      if (!section) { return; }
      var els = section.querySelectorAll('.timeline [data-violations]');
      Array.prototype.forEach.call(els, function (el) {
        var ids = (el.getAttribute('data-violations') || '').split(' ');
        if (ids.indexOf(key) >= 0) { el.classList.toggle('focus', on); }
      });
    }
    li.addEventListener('mouseenter', function () { mark(true); });
    li.addEventListener('mouseleave', function () { mark(false); });
  });
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _metrics_html(m: Metrics) -> str:
    head = (
        '<table class="metrics summary-metrics"><tbody>'
        f'<tr><th>makespan</th><td class="num">{format_number(m.makespan)}</td></tr>'
        f'<tr><th>bubble ratio</th><td class="num">{m.bubble_ratio:.4f}</td></tr>'
        f'<tr><th>ops</th><td class="num">{m.num_ops}</td></tr>'
        f'<tr><th>timing</th><td>{_e(m.timing)}</td></tr>'
        "</tbody></table>"
    )
    rows = "".join(
        f'<tr><td>P{w}</td><td class="num">{format_number(b)}</td><td class="num">{format_number(i)}</td>'
        f'<td class="num">{format_number(p)}</td><td class="num">{format_number(wt)}</td>'
        f'<td class="num">{r}</td></tr>'
        for w, (b, i, p, wt, r) in enumerate(
            zip(m.busy, m.idle, m.peak_activations, m.weights, m.stage_replicas))
    )
    per_worker = (
        '<table class="metrics per-worker"><thead><tr><th>worker</th><th>busy</th><th>idle</th>'
        "<th>peak activations (M_a)</th><th>weights (M_theta)</th><th>stage replicas</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )
    return head + per_worker


def _repro(report: Report, schedule: Schedule | None) -> str:
    if schedule is not None and schedule.source is not None:
        return f"chimera-verify check {shlex.quote(schedule.source)} --costs {shlex.quote(report.costs)}"
    family, D, N = (schedule.param(k) for k in ("family", "D", "N")) if schedule else (None, None, None)
    if family is not None and D is not None and N is not None:
        return (f"chimera-verify generate {family} -D {D} -N {N} -o s.json && "
                f"chimera-verify check s.json --costs {shlex.quote(report.costs)}")
    return ""


def _section(k: int, report: Report, schedule: Schedule | None, costs: CostModel | None,
             use_schedule_times: bool, arrows: bool) -> str:
    badge = ('<span class="badge ok">OK</span>' if report.ok else
             f'<span class="badge bad">{len(report.violations)} violation'
             f'{"s" if len(report.violations) != 1 else ""}</span>')
    parts = [f'<section class="schedule" id="schedule-{k}">',
             f"<h2>{_e(report.subject)} {badge}</h2>",
             f'<p class="summary">costs <code>{_e(report.costs)}</code></p>',
             "<h3>Properties</h3>",
             '<table class="properties"><thead><tr><th>property</th><th>verdict</th><th>reason</th>'
             "</tr></thead><tbody>"]
    for r in report.properties:
        status = r.status.value.upper() if r.status in (Status.VIOLATED, Status.UNKNOWN) else r.status.value
        parts.append(f'<tr><td>{_e(r.property.value)}</td><td class="{r.status.value}">{status}</td>'
                     f"<td>{_e(r.reason)}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h3>Metrics</h3>")
    parts.append(_metrics_html(report.metrics) if report.metrics is not None else
                 '<p class="summary">no metrics: the schedule does not run to completion</p>')
    if schedule is not None:
        model = costs if costs is not None else CostModel.parse(report.costs)
        svg = render_svg(schedule, model, report=report, use_schedule_times=use_schedule_times,
                         arrows=arrows, title=report.subject, id_prefix=f"s{k}-")
        svg = svg.split("?>", 1)[1].lstrip() if svg.startswith("<?xml") else svg
        parts.append("<h3>Timeline</h3>")
        parts.append(f'<div class="timeline" id="timeline-{k}">{svg}</div>')
    if report.violations:
        parts.append("<h3>Counterexamples</h3>")
        parts.append('<ol class="violations">')
        for j, v in enumerate(report.violations):
            ops = " ".join(f"<code>{_e(str(a))}</code>" for a in v.ops)
            parts.append(
                f'<li class="violation" data-violation="{j}" data-kind="{_e(v.kind.value)}">'
                f"<b>{_e(v.kind.value)}</b> <span class=\"where\">{_e(where(report, v, schedule))}"
                f"</span><br>{_e(v.message)}" + (f"<br>ops: {ops}" if ops else "") + "</li>")
        parts.append("</ol>")
        repro = _repro(report, schedule)
        if repro:
            parts.append(f'<p class="repro">reproduce: <code>{_e(repro)}</code></p>')
    if schedule is not None:
        model = costs if costs is not None else CostModel.parse(report.costs)
        table = render_timeline(schedule, model, use_schedule_times=use_schedule_times)
        parts.append(f"<details><summary>slot table (text)</summary><pre>{_e(table)}</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(
    items: Sequence[tuple[Report, Schedule | None]],
    *,
    costs: CostModel | None = None,
    use_schedule_times: bool = True,
    arrows: bool = False,
    title: str = "chimera-verify report",
) -> str:
    """The reports as one self-contained HTML page.

    ``costs`` overrides the cost model of the timelines (default: the one each report
    was checked with, ``report.costs``).
    """
    bad = sum(1 for r, _ in items if not r.ok)
    verdict = ('<span class="badge ok">all properties hold</span>' if not bad else
               f'<span class="badge bad">{bad} of {len(items)} with violations</span>')
    body = "\n".join(_section(k, r, s, costs, use_schedule_times, arrows)
                     for k, (r, s) in enumerate(items))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1><p class=\"summary\">{len(items)} schedule"
        f"{'s' if len(items) != 1 else ''} checked {verdict}</p></header>\n"
        f"<main>\n{body}\n</main>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )
