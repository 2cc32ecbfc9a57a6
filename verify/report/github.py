"""GitHub Actions workflow annotations: one ``::error`` command per violation.

GitHub shows each annotation on the pull request, at the file and (for CSV schedules)
the line and column of the offending cell; a native JSON/TOML schedule is annotated at
file level with the JSON path in the message. Files that could not be checked get an
``::error`` too, and a final ``::notice`` summarises the run. At most
:data:`MAX_PER_KIND` violations of one kind are annotated per schedule (GitHub itself
shows only the first few per step).

>>> from verify.generators import generate
>>> from verify.checks import check
>>> s = generate("chimera-naive", 3, 3)
>>> first = render_github([(check(s), s)]).splitlines()[0]
>>> first.split("::")[1]
'error title=chimera-verify%3A conflict'
>>> first.split("::")[2][:60]
'chimera-naive D=3 N=3:worker 1, position 1: conflict on work'

"""

from __future__ import annotations

from collections.abc import Sequence

from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.report.where import where

MAX_PER_KIND = 20


def escape_data(text: str) -> str:
    """Escape the message part of a workflow command.

    >>> escape_data("50% done\\nnext")
    '50%25 done%0Anext'
    """
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``) of a workflow command.

    >>> escape_property("a,b:c")
    'a%2Cb%3Ac'
    """
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **props: str | int | None) -> str:
    """One workflow command line, e.g. ``::error file=x.csv,line=2::message``."""
    given = [f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None]
    head = f"::{name} {','.join(given)}" if given else f"::{name}"
    return f"{head}::{escape_data(message)}"


def render_github(
    items: Sequence[tuple[Report, Schedule | None]],
    errors: Sequence[tuple[str, str]] = (),
) -> str:
    """Annotations for every violation and unreadable file, then a summary notice."""
    lines: list[str] = []
    for report, schedule in items:
        is_file = schedule is not None and schedule.source is not None
        counts: dict[str, int] = {}
        for v in report.violations:
            kind = v.kind.value
            counts[kind] = counts.get(kind, 0) + 1
            if counts[kind] > MAX_PER_KIND:
                continue
            place = where(report, v, schedule)
            text = f"{place}: {v.message}"
            lines.append(command(
                "error", text, file=report.subject if is_file else None, line=place.line,
                col=place.column, title=f"chimera-verify: {kind}"))
        for kind, c in counts.items():
            if c > MAX_PER_KIND:
                lines.append(command(
                    "error", f"{report.subject}: ... and {c - MAX_PER_KIND} more {kind} violations",
                    file=report.subject if is_file else None, title=f"chimera-verify: {kind}"))
    for path, message in errors:
        lines.append(command("error", message, file=path, title="chimera-verify: unusable input"))
    bad = sum(1 for r, _ in items if not r.ok)
    summary = f"{len(items)} schedule{'s' if len(items) != 1 else ''} checked, {bad} with violations"
    if errors:
        summary += f", {len(errors)} could not be checked"
    lines.append(command("notice", summary, title="chimera-verify"))
    return "\n".join(lines)
