"""Where a violation points: the file and the place in it, for CI renderers.

Built on :func:`verify.report.location.locate` (the single source of file locations):
its ``line L, cell C`` form (CSV files) becomes a line and column that CI annotations
can point at; other forms (JSON paths, ``worker w, position i``) are kept as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verify.core.results import Report, Violation
from verify.core.schedule import Schedule
from verify.report.location import locate

_LINE_CELL = re.compile(r"^line (\d+), cell (\d+)$")


@dataclass(frozen=True, slots=True)
class Where:
    """``file`` (the report's subject), ``location`` inside it (``None`` when the
    violation has no program position) and, for line-based files, ``line``/``column``."""

    file: str
    location: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.location}" if self.location else self.file


def where(report: Report, violation: Violation, schedule: Schedule | None) -> Where:
    """The place ``violation`` points at: its last position (the op that went wrong).

    >>> from verify.generators import generate
    >>> from verify.checks import check
    >>> s = generate("chimera-naive", 3, 3)
    >>> r = check(s)
    >>> str(where(r, r.violations[0], s))
    'chimera-naive D=3 N=3:worker 1, position 1'
    """
    if not violation.positions or schedule is None:
        return Where(report.subject)
    w, i = violation.positions[-1]
    loc = locate(schedule, w, i)
    m = _LINE_CELL.match(loc)
    if m is None:
        return Where(report.subject, loc)
    return Where(report.subject, loc, int(m.group(1)), int(m.group(2)))


def violation_line(report: Report, violation: Violation, schedule: Schedule | None) -> str:
    """``file:where: kind: message``, as the text report prints it."""
    return f"{where(report, violation, schedule)}: {violation.kind.value}: {violation.message}"
