"""Helpers shared by the schedule readers and writers: locations, value display, file
reading and the slot-table view of step timing.

Every reader reports a problem as :class:`verify.errors.ScheduleFormatError` with a
location inside the file: a JSON path (``$.programs[1][3]``) for native documents,
``line L, cell C`` for CSV, ``line L, column C`` for syntax errors.

>>> json_path(("programs", 1, 3))
'$.programs[1][3]'
>>> json_path(("params", "odd key"))
'$.params["odd key"]'
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from verify.core.schedule import Timing, TimingUnit
from verify.errors import ScheduleFormatError

STRING_SOURCE = "<string>"
"""Source name of schedules read from a string."""

OUTPUT = "<output>"
"""Source name used in errors raised while writing a schedule."""

MAX_COLUMNS = 1 << 20
"""Widest slot table written or read (steps per worker); wider step numbers are written
as explicit start times instead."""

MAX_FILE_BYTES = 1 << 30
"""Largest schedule file read (1 GiB)."""

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def json_path(parts: Iterable[str | int]) -> str:
    """The JSON path of a document element, as used in located diagnostics."""
    out = ["$"]
    for p in parts:
        if isinstance(p, int):
            out.append(f"[{p}]")
        elif _IDENT.match(p):
            out.append(f".{p}")
        else:
            escaped = p.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


@dataclass(frozen=True, slots=True)
class BadNumber:
    """A number a reader refuses to hold (``NaN``, ``Infinity``, ``1e400``, a
    5000-digit integer): kept as text so the schema reports it where it stands."""

    text: str


def show(value: object, limit: int = 40) -> str:
    """A short rendering of a document value for messages (strings quoted like Python).

    >>> show("1F0junk"), show(None), show(True), show([1, 2]), show(BadNumber("NaN"))
    ("'1F0junk'", 'null', 'true', 'a list', 'NaN')
    """
    if isinstance(value, BadNumber):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= limit else f"a {len(text)}-character number"
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else repr(value[:limit]) + "..."
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def read_text(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Read a schedule file as UTF-8 text (a leading byte-order mark is skipped).

    Returns ``(source, text)`` where ``source`` is the path as given. Missing,
    unreadable, oversized, non-UTF-8 and empty files raise a ScheduleFormatError.
    """
    source = os.fspath(path)
    try:
        size = os.stat(source).st_size
        if size > MAX_FILE_BYTES:
            raise ScheduleFormatError(
                source, None, f"file too large ({size} bytes, at most {MAX_FILE_BYTES})"
            )
        with open(source, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ScheduleFormatError(source, None, "file not found") from None
    except IsADirectoryError:
        raise ScheduleFormatError(source, None, "is a directory, not a schedule file") from None
    except PermissionError:
        raise ScheduleFormatError(source, None, "cannot read: permission denied") from None
    except OSError as e:
        raise ScheduleFormatError(source, None, f"cannot read: {e.strerror or e}") from None
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = skip + e.start
        line = data.count(b"\n", 0, at) + 1
        column = at - (data.rfind(b"\n", 0, at) + 1) + 1
        raise ScheduleFormatError(
            source, f"line {line}, column {column}", f"not UTF-8 text (byte 0x{data[at]:02x})"
        ) from None
    if not text.strip():
        raise ScheduleFormatError(source, "line 1", "empty file")
    return source, text


@dataclass(frozen=True, slots=True)
class StepProblem:
    """Why step timing cannot be drawn as a slot table (one action per cell)."""

    worker: int
    index: int
    reason: str


def step_problem(timing: Timing | None) -> StepProblem | None:
    """The first action whose step breaks the slot-table form, or None when every
    worker's steps are whole numbers, strictly increasing in program order and below
    :data:`MAX_COLUMNS` (or the schedule is not step-timed).

    >>> step_problem(Timing(TimingUnit.STEPS, ((0, 2, 2),)))
    StepProblem(worker=0, index=2, reason='step 2 is also the step of the previous action')
    """
    if timing is None or timing.unit is not TimingUnit.STEPS:
        return None
    for w, row in enumerate(timing.starts):
        prev = -1.0
        for i, t in enumerate(row):
            if not float(t).is_integer():
                return StepProblem(w, i, f"step {t!r} is not a whole number")
            if t >= MAX_COLUMNS:
                return StepProblem(w, i, f"step {int(t)} is beyond the {MAX_COLUMNS}-step limit")
            if t == prev:
                return StepProblem(w, i, f"step {int(t)} is also the step of the previous action")
            if t < prev:
                return StepProblem(
                    w, i, f"step {int(t)} comes before step {int(prev)} of the previous action"
                )
            prev = float(t)
    return None


def step_columns(timing: Timing | None) -> tuple[tuple[int, ...], ...] | None:
    """The slot-table column of every action (None when :func:`step_problem` objects
    or the schedule is not step-timed)."""
    if timing is None or timing.unit is not TimingUnit.STEPS or step_problem(timing) is not None:
        return None
    return tuple(tuple(int(t) for t in row) for row in timing.starts)
