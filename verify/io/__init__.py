"""Schedule files: the native JSON/TOML format and PyTorch's CSV.

``load_schedule`` picks the reader from the file extension (``.json``, ``.toml``,
``.csv``) or ``fmt``; every problem with a file is a one-line
:class:`~verify.errors.ScheduleFormatError` (``file:location: reason``).
``location_of`` maps a program position back to the same kind of location, so that the
verifier's findings can be printed against the file.

>>> from verify.generators import generate
>>> s = generate("1f1b", 2, 2)
>>> loads_schedule(dumps_schedule(s, "toml"), fmt="toml") == s
True
>>> t = loads_schedule(dumps_schedule(s, "csv"), fmt="csv", source="s.csv")
>>> location_of(t, 1, 2)
'line 2, cell 3'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import Literal

from verify.core.costs import CostModel
from verify.core.schedule import Schedule
from verify.errors import ScheduleFormatError
from verify.io.common import OUTPUT, STRING_SOURCE, read_text, step_columns
from verify.io.native import (
    FORMAT,
    VERSION,
    document,
    dumps_native,
    loads_native,
    loads_native_with_costs,
    schedule_schema,
)
from verify.io.torch_csv import Microbatches, dumps_torch_csv, loads_torch_csv

__all__ = [
    "FORMAT",
    "FORMATS",
    "VERSION",
    "FileFormat",
    "document",
    "dumps_native",
    "dumps_schedule",
    "dumps_torch_csv",
    "format_of",
    "load_schedule",
    "load_schedule_with_costs",
    "loads_native",
    "loads_schedule",
    "loads_torch_csv",
    "location_of",
    "locator",
    "read_costs",
    "save_schedule",
    "schedule_schema",
]

FileFormat = Literal["json", "toml", "csv"]

FORMATS: tuple[FileFormat, ...] = ("json", "toml", "csv")
"""The file formats, named like their extensions."""


def format_of(path: str | os.PathLike[str], fmt: str | None = None) -> FileFormat:
    """The format of ``path``: ``fmt`` if given, else from the extension.

    >>> format_of("runs/chimera.TOML"), format_of("x.txt", "csv")
    ('toml', 'csv')
    """
    source = os.fspath(path)
    if fmt is not None:
        for known in FORMATS:
            if fmt == known:
                return known
        raise ScheduleFormatError(
            source, None, f"unknown format {fmt!r}: expected one of 'json', 'toml', 'csv'"
        )
    ext = os.path.splitext(source)[1].lower().lstrip(".")
    for known in FORMATS:
        if ext == known:
            return known
    shown = f"'.{ext}'" if ext else "no extension"
    raise ScheduleFormatError(
        source, None, f"unknown file type ({shown}): expected .json, .toml or .csv, or a format"
    )


def loads_schedule(
    text: str,
    *,
    fmt: str,
    source: str = STRING_SOURCE,
    microbatches: Microbatches = None,
) -> Schedule:
    """Read a schedule from ``text`` in format ``fmt``; ``source`` names it in
    diagnostics and becomes ``Schedule.source``. ``microbatches`` applies to CSV only
    (a native document states its micro-batch counts)."""
    return _loads_with_costs(text, format_of(source, fmt), source, microbatches)[0]


def _loads_with_costs(
    text: str, fmt: FileFormat, source: str, microbatches: Microbatches
) -> tuple[Schedule, CostModel | None]:
    if fmt == "csv":
        return loads_torch_csv(text, source=source, microbatches=microbatches), None
    if microbatches is not None:
        raise ScheduleFormatError(
            source, None, "microbatches applies to CSV files only: a native file states its counts"
        )
    return loads_native_with_costs(text, fmt=fmt, source=source)


def load_schedule(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    microbatches: Microbatches = None,
) -> Schedule:
    """Read the schedule file ``path`` (format from the extension unless ``fmt``);
    ``Schedule.source`` is the path as given.

    Missing, unreadable, non-UTF-8 or empty files, and every syntax or structure problem,
    raise a located :class:`~verify.errors.ScheduleFormatError`.
    """
    return load_schedule_with_costs(path, fmt=fmt, microbatches=microbatches)[0]


def load_schedule_with_costs(
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    microbatches: Microbatches = None,
) -> tuple[Schedule, CostModel | None]:
    """The schedule of ``path`` and the default cost model stored in it (``"costs"`` of a
    native file; None for CSV, which holds none), from one read and one parse."""
    kind = format_of(path, fmt)
    source, text = read_text(path)
    return _loads_with_costs(text, kind, source, microbatches)


def read_costs(path: str | os.PathLike[str], *, fmt: str | None = None) -> CostModel | None:
    """The default cost model stored in a native schedule file (``"costs"``), or None
    (also for CSV files, which hold none). The whole file is checked as by
    :func:`load_schedule`."""
    return load_schedule_with_costs(path, fmt=fmt)[1]


def dumps_schedule(
    schedule: Schedule, fmt: str, *, costs: CostModel | str | None = None
) -> str:
    """Write ``schedule`` in format ``fmt``; ``costs`` is stored in native documents
    (a CSV cannot hold it)."""
    kind = format_of(OUTPUT, fmt)
    if kind == "csv":
        if costs is not None:
            raise ScheduleFormatError(
                OUTPUT, None, "a CSV file cannot hold a cost model: use json or toml"
            )
        return dumps_torch_csv(schedule)
    return dumps_native(schedule, kind, costs=costs)


def save_schedule(
    schedule: Schedule,
    path: str | os.PathLike[str],
    *,
    fmt: str | None = None,
    overwrite: bool = False,
    costs: CostModel | str | None = None,
) -> None:
    """Write ``schedule`` to ``path`` (format from the extension unless ``fmt``).

    An existing file is never replaced unless ``overwrite=True`` (then the new file is
    written beside it and moved into place, so a failure leaves the old one intact).
    """
    target = os.fspath(path)
    kind = format_of(target, fmt)
    try:
        text = dumps_schedule(schedule, kind, costs=costs)
    except ScheduleFormatError as e:
        raise ScheduleFormatError(target, e.location, e.reason) from None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as e:
        reason = f"cannot write: the text holds an unencodable character ({e.reason})"
        raise ScheduleFormatError(target, None, reason) from None
    try:
        if not (overwrite and os.path.lexists(target)):
            with open(target, "xb") as f:
                f.write(data)
            return
        mode = os.stat(target).st_mode & 0o777
        folder = os.path.dirname(os.path.abspath(target))
        fd, tmp = tempfile.mkstemp(prefix=".schedule-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except FileExistsError:
        raise ScheduleFormatError(
            target, None, "file exists: pass overwrite=True to replace it"
        ) from None
    except OSError as e:
        raise ScheduleFormatError(target, None, f"cannot write: {e.strerror or e}") from None


def locator(schedule: Schedule, *, fmt: str | None = None) -> Callable[[int, int], str]:
    """A function ``(worker, index) -> location`` for ``schedule``'s file (the steps are
    examined once; use it to locate many positions of a large schedule).

    The format is ``fmt`` or the extension of ``schedule.source``: native documents give
    ``$.programs[w][i]`` (``i`` is the slot-table column for step timing), CSV files
    ``line w+1, cell c+1`` (``c`` the step, or the position for untimed rows). Without a
    known file: ``worker w, position i``.
    """
    kind: FileFormat | None = None
    if fmt is not None:
        kind = format_of(schedule.source or STRING_SOURCE, fmt)
    elif schedule.source is not None:
        with contextlib.suppress(ScheduleFormatError):
            kind = format_of(schedule.source)
    columns = step_columns(schedule.timing)

    def column(worker: int, index: int) -> int:
        if columns is not None and 0 <= worker < len(columns) and 0 <= index < len(columns[worker]):
            return columns[worker][index]
        return index

    if kind == "csv":
        return lambda w, i: f"line {w + 1}, cell {column(w, i) + 1}"
    if kind in ("json", "toml"):
        return lambda w, i: f"$.programs[{w}][{column(w, i)}]"
    return lambda w, i: f"worker {w}, position {i}"


def location_of(
    schedule: Schedule, worker: int, index: int, *, fmt: str | None = None
) -> str:
    """Where action ``index`` of ``worker``'s program stands in the schedule's file, for
    ``file:location: message`` diagnostics (see :func:`locator`).

    >>> from verify.generators import generate
    >>> s = generate("chimera", 4, 4)
    >>> location_of(s, 0, 1, fmt="json"), location_of(s, 0, 1, fmt="csv")
    ('$.programs[0][2]', 'line 1, cell 3')
    >>> location_of(s, 0, 1)
    'worker 0, position 1'
    """
    return locator(schedule, fmt=fmt)(worker, index)
