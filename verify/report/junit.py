"""JUnit XML rendering of reports, for CI systems that show test results.

One ``<testsuite>`` per checked schedule (named after the file) and one ``<testcase>``
per property (``complete``, ``placed``, ``deadlock-free``, ...): a violated property is
a ``<failure>`` whose text lists every violation as ``file:where: kind: message``; a
skipped one is ``<skipped>`` with the reason. A file that could not be checked at all is
a testsuite with one ``load`` testcase in ``<error>``. Metrics go into the suite's
``<properties>``. Built with `junitparser <https://pypi.org/project/junitparser/>`_.

>>> from verify.generators import generate
>>> from verify.checks import check
>>> s = generate("chimera-naive", 3, 3)
>>> xml = render_junit([(check(s), s)])
>>> xml.count("<testcase "), xml.count("<failure ")
(5, 1)
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from verify.core.results import Report, Status
from verify.core.schedule import Schedule
from verify.report.deps import require
from verify.report.where import violation_line

SUITES_NAME = "chimera-verify"


def _num(x: float) -> str:
    return f"{x:g}"


def render_junit(
    items: Sequence[tuple[Report, Schedule | None]],
    errors: Sequence[tuple[str, str]] = (),
) -> str:
    """All reports (and the files that could not be read, as ``(file, message)``) in
    one JUnit XML document."""
    ju: Any = require("junitparser", extra=None, what="JUnit output")
    doc = ju.JUnitXml(SUITES_NAME)
    for report, schedule in items:
        suite = ju.TestSuite(report.subject)
        suite.add_property("costs", report.costs)
        if report.metrics is not None:
            m = report.metrics
            suite.add_property("makespan", _num(m.makespan))
            suite.add_property("bubble_ratio", f"{m.bubble_ratio:.6g}")
            suite.add_property("peak_activations", " ".join(_num(p) for p in m.peak_activations))
        for result in report.properties:
            case = ju.TestCase(result.property.value, classname=report.subject)
            if result.status is Status.SKIPPED:
                case.result = [ju.Skipped(result.reason or "skipped")]
            elif result.status is Status.UNKNOWN:
                case.result = [ju.Error(f"undecided: {result.reason or 'unknown'}", "unknown")]
            elif result.status is Status.VIOLATED:
                found = [v for v in report.violations if v.property is result.property]
                kinds = sorted({v.kind.value for v in found})
                head = found[0].message if found else "violated"
                n = len(found)
                failure = ju.Failure(f"{n} violation{'s' if n != 1 else ''}: {head}", " ".join(kinds))
                failure.text = "\n".join(violation_line(report, v, schedule) for v in found)
                case.result = [failure]
            suite.add_testcase(case)
        doc.add_testsuite(suite)
    for path, message in errors:
        suite = ju.TestSuite(path)
        case = ju.TestCase("load", classname=path)
        err = ju.Error(message, "unusable-input")
        err.text = message
        case.result = [err]
        suite.add_testcase(case)
        doc.add_testsuite(suite)
    doc.update_statistics()
    buf = io.BytesIO()
    doc.write(buf, pretty=True)
    return buf.getvalue().decode("utf-8")
