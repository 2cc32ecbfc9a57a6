"""JSON rendering of reports: a stable, documented document (see docs/report-schema.md)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.report.location import locate

REPORT_FORMAT = "chimera-verify/report"
REPORT_VERSION = 1


def report_dict(report: Report, schedule: Schedule | None = None) -> dict[str, Any]:
    """``Report.to_dict()`` plus the file location of every violation."""
    d = report.to_dict()
    for v, vd in zip(report.violations, d["violations"]):
        if v.positions and schedule is not None:
            w, i = v.positions[-1]
            vd["location"] = locate(schedule, w, i)
        else:
            vd["location"] = None
    return d


def render_json(items: Sequence[tuple[Report, Schedule | None]]) -> str:
    """All reports in one JSON document with an overall ``ok``."""
    doc = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "ok": all(r.ok for r, _ in items),
        "reports": [report_dict(r, s) for r, s in items],
    }
    return json.dumps(doc, indent=2)
