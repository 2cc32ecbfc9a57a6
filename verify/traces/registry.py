"""The registry of trace formats: one reader module per format, chosen by content.

A format is a name, a sniffing test on the first bytes of the (decompressed) file and a
streaming reader ``(text stream, source, builder) -> None``. :func:`read_trace` opens
each file (gzip is detected from its magic bytes, not its name), picks the format and
streams every file into one :class:`~verify.traces.events.TraceEvents`.

>>> [f.name for f in trace_formats()]
['csv', 'jsonl', 'kineto']
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, cast

import numpy as np

from verify.errors import ScheduleFormatError
from verify.traces.eventlog import FORMAT_TAG, read_csv_log, read_jsonl_log
from verify.traces.events import EventBuilder, TraceEvents
from verify.traces.kineto import read_kineto

Reader = Callable[[IO[str], str, EventBuilder], None]


@dataclass(frozen=True, slots=True)
class TraceFormat:
    """A trace file format: ``sniff(head)`` says whether a file starting with ``head``
    (up to 4 KiB of decompressed text) is in this format."""

    name: str
    summary: str
    sniff: Callable[[str], bool]
    read: Reader


_FORMATS: dict[str, TraceFormat] = {}


def register_format(fmt: TraceFormat) -> None:
    """Add a format (one module per format, one call per module)."""
    if fmt.name in _FORMATS:
        raise ValueError(f"trace format {fmt.name!r} registered twice")
    _FORMATS[fmt.name] = fmt


def trace_formats() -> list[TraceFormat]:
    """The registered formats, by name."""
    return [_FORMATS[k] for k in sorted(_FORMATS)]


def _sniff_kineto(head: str) -> bool:
    return head.lstrip().startswith("{") and ('"traceEvents"' in head or '"schemaVersion"' in head
                                              or '"distributedInfo"' in head)


def _sniff_jsonl(head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("{") and ('"worker"' in first or FORMAT_TAG in first)


def _sniff_csv(head: str) -> bool:
    for line in head.splitlines():
        if line.strip() and not line.startswith("#"):
            return "worker" in line.split(",")[0:12] or "worker" in [p.strip() for p in line.split(",")]
    return False


register_format(TraceFormat("kineto", "PyTorch profiler Chrome-trace JSON, one file per rank",
                            _sniff_kineto, read_kineto))
register_format(TraceFormat("jsonl", "generic event log, JSON Lines", _sniff_jsonl, read_jsonl_log))
register_format(TraceFormat("csv", "generic event log, CSV with a header", _sniff_csv, read_csv_log))


@contextmanager
def open_trace(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Open a trace file as UTF-8 text, decompressing gzip (by its magic bytes)."""
    source = os.fspath(path)
    try:
        raw = open(source, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise ScheduleFormatError(source, None, "file not found") from None
    except IsADirectoryError:
        raise ScheduleFormatError(source, None, "is a directory, not a trace file") from None
    except OSError as e:
        raise ScheduleFormatError(source, None, f"cannot read: {e.strerror or e}") from None
    with raw:
        magic = raw.read(2)
        raw.seek(0)
        binary = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw)
        text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
        try:
            yield text
        except UnicodeDecodeError:
            raise ScheduleFormatError(source, None, "not UTF-8 text") from None
        finally:
            text.detach()


def _head(path: str) -> str:
    with open_trace(path) as f:
        try:
            return f.read(4096)
        except EOFError:
            raise ScheduleFormatError(path, None, "truncated gzip stream") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ScheduleFormatError(path, None, f"cannot read: {e}") from None


def format_of_trace(path: str | os.PathLike[str], fmt: str | None = None) -> TraceFormat:
    """The format of trace ``path``: ``fmt`` if given, else sniffed from its content."""
    source = os.fspath(path)
    if fmt is not None:
        if fmt not in _FORMATS:
            known = ", ".join(sorted(_FORMATS))
            raise ScheduleFormatError(source, None, f"unknown trace format {fmt!r}: expected one of {known}")
        return _FORMATS[fmt]
    head = _head(source)
    if not head.strip():
        raise ScheduleFormatError(source, "line 1", "empty file")
    for f in (_FORMATS["kineto"], _FORMATS["jsonl"], _FORMATS["csv"], *trace_formats()):
        if f.sniff(head):
            return f
    raise ScheduleFormatError(
        source, "line 1",
        "unknown trace format: expected a PyTorch profiler trace or a generic event log "
        "(CSV with a 'worker,...' header, or JSON Lines)",
    )


def read_trace(paths: Sequence[str | os.PathLike[str]], *, fmt: str | None = None) -> TraceEvents:
    """Read the trace files ``paths`` (one per rank, or event logs) into one trace.

    Raises a located :class:`~verify.errors.ScheduleFormatError` for a missing, empty,
    truncated or malformed file, two files of one rank, or a mix of files with and
    without step markers.
    """
    if not paths:
        raise ScheduleFormatError("<trace>", None, "no trace files given")
    builder = EventBuilder()
    marked: dict[str, bool] = {}
    for path in paths:
        source = os.fspath(path)
        reader = format_of_trace(source, fmt)
        before = builder.count()
        src = len(builder.sources)
        with open_trace(source) as stream:
            try:
                reader.read(stream, source, builder)
            except EOFError:
                raise ScheduleFormatError(source, None, "truncated gzip stream") from None
            except UnicodeDecodeError:
                raise ScheduleFormatError(source, None, "not UTF-8 text") from None
            except gzip.BadGzipFile as e:
                raise ScheduleFormatError(source, None, f"bad gzip data: {e}") from None
        if builder.count() > before:
            marked[source] = src in builder.marked_sources
    if len(set(marked.values())) > 1:
        with_ = next(k for k, v in marked.items() if v)
        without = next(k for k, v in marked.items() if not v)
        raise ScheduleFormatError(
            without, None,
            f"no step markers, but {with_} has them: the files come from different kinds of runs",
        )
    events = builder.build()
    if not len(events):
        raise ScheduleFormatError(
            os.fspath(paths[0]), None, "the trace holds no pipeline actions (no PP: annotations, "
            "Forward/Backward labels or event log rows)")
    if events.marked and not np.any(events.step != -2):
        raise ScheduleFormatError(os.fspath(paths[0]), None, "every action lies outside the marked steps")
    return events
