"""Snapshot tests: the text, JSON, JUnit and GitHub renderings of known-bad schedules.

The snapshots under ``tests/snapshots/`` are the reviewed output; a change in a renderer
shows up here as a diff. Updating them is deliberate::

    CHIMERA_VERIFY_UPDATE_SNAPSHOTS=1 PYTHONPATH=. python -m pytest tests/test_report_snapshots.py

then review ``git diff tests/snapshots``. A missing snapshot fails (it is never created
silently).

The known-bad schedules:

* ``schedules/chimera_naive_d3.json``: Chimera's merge applied to odd D = 3 (chimera.md:
  "for odd D the naive merge always collides; the first collision is on the middle
  worker (D-1)/2, where forward(down, m) and forward(up, m) land in the same slot");
* ``schedules/1f1b_swapped.csv``: 1F1B D = 3, N = 3 where worker 1 runs ``1B1`` first
  (it waits for its own later ``1F1``: a deadlock) and worker 2 lost its last op
  (``2B2`` missing).
"""

from __future__ import annotations

import dataclasses
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from verify import check, generate
from verify.core.actions import Action
from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.report import render_json, render_reports

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("CHIMERA_VERIFY_UPDATE_SNAPSHOTS") == "1"


def known_bad_schedules() -> list[Schedule]:
    """The two known-bad schedules described in the module docstring."""
    naive = dataclasses.replace(generate("chimera-naive", 3, 3), source="schedules/chimera_naive_d3.json")
    base = generate("1f1b", 3, 3)
    programs: list[list[Action]] = [list(p) for p in base.programs]
    names = [str(a) for a in programs[1]]
    programs[1].insert(0, programs[1].pop(names.index("1B1")))
    assert str(programs[2][-1]) == "2B2"
    programs[2].pop()
    swapped = dataclasses.replace(
        base, programs=tuple(tuple(p) for p in programs), timing=None,
        name="1f1b swapped", source="schedules/1f1b_swapped.csv")
    return [naive, swapped]


def known_bad_items() -> list[tuple[Report, Schedule | None]]:
    return [(check(s), s) for s in known_bad_schedules()]


MISSING = [("schedules/missing.csv", "schedules/missing.csv: file not found")]


def _compare(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"snapshot {path} is missing; create it deliberately with "
                    "CHIMERA_VERIFY_UPDATE_SNAPSHOTS=1 and review it")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{name} differs from its snapshot; if the change is intended, rerun with "
        "CHIMERA_VERIFY_UPDATE_SNAPSHOTS=1 and review git diff tests/snapshots")


def test_known_bad_schedules_are_bad_for_the_documented_reasons() -> None:
    """The fixtures themselves, against chimera.md and their construction."""
    (naive_r, _), (swapped_r, _) = known_bad_items()
    first = naive_r.violations[0]
    assert first.kind.value == "conflict" and first.workers == (1,)  # middle worker (D-1)/2
    assert {str(a) for a in first.ops} == {"down:1F0", "up:1F0"}
    assert {v.kind.value for v in swapped_r.violations} == {"deadlock", "missing-op"}


def test_text_snapshot() -> None:
    _compare("known_bad.txt", render_reports(known_bad_items()) + "\n")


def test_json_snapshot() -> None:
    text = render_json(known_bad_items()) + "\n"
    json.loads(text)
    _compare("known_bad.json", text)


def test_junit_snapshot() -> None:
    from verify.report.junit import render_junit

    text = render_junit(known_bad_items(), MISSING)
    ET.fromstring(text.encode("utf-8"))
    _compare("known_bad.junit.xml", text)


def test_github_snapshot() -> None:
    from verify.report.github import render_github

    text = render_github(known_bad_items(), MISSING)
    _compare("known_bad.github.txt", text + "\n")
