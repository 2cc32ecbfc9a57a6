"""The generic event log: one line per executed action, as CSV or JSON Lines.

Any runtime (Megatron, DeepSpeed, a home-grown one) can write it; ``docs/traces.md``
is the reference. Columns (CSV header names, JSON keys):

=============  ========  ================================================================
column         required  meaning
=============  ========  ================================================================
worker         yes       rank that ran the action (integer >= 0)
pipeline       no        pipeline name (empty: the schedule's only one, or inferred)
stage          yes       stage index within the pipeline (integer >= 0)
microbatch     yes*      micro-batch id within the pipeline (*empty for UNSHARD, RESHARD,
                         REDUCE_GRAD)
kind           yes       F, B, I, W, SEND_F, RECV_F, SEND_B, RECV_B, UNSHARD, RESHARD,
                         REDUCE_GRAD
start, end     yes       span of the action (one time unit for the whole log)
peer           no        messages: the other worker
seq            no        messages: message id, the same on the send and its receive
ready          no        compute: when the input arrived, if inside the span
step           no        training step number (marks steps; every row or none)
unit           no        rows of one worker with the same unit ran as one overlapped unit
=============  ========  ================================================================

CSV: a header line naming the columns (any order), then plain comma-separated values
(no quoting; pipeline names never need it); lines starting with ``#`` are comments, and
``# time_unit: us`` names the time unit. JSON Lines: one object per line; an optional
first line ``{"format": "chimera-verify-events", "version": 1, "time_unit": "us"}``.
Either may be gzipped (``.gz``). Readers stream the file in chunks.

>>> import io
>>> from verify.traces.events import EventBuilder
>>> b = EventBuilder()
>>> read_csv_log(io.StringIO("worker,stage,microbatch,kind,start,end\\n0,0,0,F,0,1\\n"), "x.csv", b)
>>> ev = b.build()
>>> ev.label(0), float(ev.end[0])
('0F0', 1.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from verify.core.actions import _NAME_RE
from verify.errors import ParameterError, ScheduleFormatError
from verify.traces.events import (
    FIRST_STAGE_ACTION,
    KIND_CODE,
    KINDS,
    EventBuilder,
    TraceEvents,
)
from verify.traces.scan import PAD, Scan, categories, numbers

FORMAT_TAG = "chimera-verify-events"
VERSION = 1
COLUMNS = ("worker", "pipeline", "stage", "microbatch", "kind", "start", "end",
           "peer", "seq", "ready", "step", "unit")
REQUIRED = ("worker", "stage", "kind", "start", "end")
_CHUNK_BYTES = 1 << 23
_INT_COLUMNS = ("worker", "stage", "microbatch", "peer", "seq", "step", "unit")
_NUMERIC = (*_INT_COLUMNS, "start", "end", "ready")  # conversion order (first error wins)
_MAX_INT = 1 << 40


def _bad(source: str, line: int, reason: str) -> ScheduleFormatError:
    return ScheduleFormatError(source, f"line {line}", reason)


def _header(names: list[str], source: str, line: int) -> list[str]:
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise _bad(source, line, f"unknown column {unknown[0]!r}: expected names among {', '.join(COLUMNS)}")
    dup = [n for n in names if names.count(n) > 1]
    if dup:
        raise _bad(source, line, f"column {dup[0]!r} appears twice")
    missing = [n for n in REQUIRED if n not in names]
    if missing:
        raise _bad(source, line, f"missing column {missing[0]!r} (required: {', '.join(REQUIRED)})")
    return names


def _convert(values: list[Any], name: str, lines: npt.NDArray[np.int64], source: str) -> npt.NDArray[Any]:
    """One column of JSON values to an array; a bad value is reported at its line. Null
    optional values become -1 (NaN for ``ready``)."""
    is_int = name in _INT_COLUMNS
    required = name in REQUIRED
    missing_value: float = -1 if is_int else math.nan
    kind = "an integer" if is_int else "a number"

    def one(v: Any) -> float:
        if v is None:
            if required:
                raise ValueError("empty")
            return missing_value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (is_int and not isinstance(v, int)):
            raise ValueError("type")
        return v

    try:
        if is_int:
            arr: npt.NDArray[Any] = np.fromiter(map(one, values), np.int64, len(values))
        else:
            arr = np.fromiter(map(one, values), np.float64, len(values))
    except (ValueError, OverflowError):
        for j, v in enumerate(values):
            try:
                one(v)
            except (ValueError, OverflowError):
                shown = "nothing" if v in ("", None) else repr(v)
                raise _bad(source, int(lines[j]), f"column {name!r}: expected {kind}, got {shown}") from None
        raise
    return arr


def _columns_to_builder(
    cols: dict[str, list[Any]], lines: npt.NDArray[np.int64], source: str, src: int,
    builder: EventBuilder, steps_given: list[bool],
) -> None:
    """Convert a block of JSON Lines rows (as columns of values) and hand it to ``builder``."""
    n = len(lines)
    out: dict[str, npt.NDArray[Any]] = {}
    for name in _NUMERIC:
        if name in cols:
            out[name] = _convert(cols[name], name, lines, source)
        else:
            out[name] = _missing(name, n)
    kinds = cols["kind"]
    code = np.fromiter((KIND_CODE.get(k, -1) if isinstance(k, str) else -1 for k in kinds), np.int64, n)
    bad = np.nonzero(code < 0)[0]
    if len(bad):
        j = int(bad[0])
        raise _bad(source, int(lines[j]),
                   f"column 'kind': expected one of {', '.join(KINDS)}, got {kinds[j]!r}")
    cache: dict[Any, int] = {}
    pipes = cols.get("pipeline")
    if pipes is None:
        pcode = np.broadcast_to(np.int64(-1), (n,))
    else:
        vals = np.empty(n, np.int64)
        for j, name in enumerate(pipes):
            c = cache.get(name)
            if c is None:
                c = cache[name] = _pipeline_code(name, builder, source, int(lines[j]))
            vals[j] = c
        pcode = vals
    _emit(out, code, pcode, lines, source, src, builder, steps_given)


def _missing(name: str, n: int) -> npt.NDArray[Any]:
    """An absent optional column: -1 (integers) or NaN (a read-only view of one value)."""
    return np.broadcast_to(np.int64(-1) if name in _INT_COLUMNS else np.float64(math.nan), (n,))


def _pipeline_code(name: Any, builder: EventBuilder, source: str, line: int) -> int:
    """Code of a pipeline column value (-1 for empty); a located error for a bad name."""
    if name in ("", None):
        return -1
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _bad(source, line, f"column 'pipeline': expected a name like 'up', got {name!r}")
    return builder.pipeline_code(name)


def _emit(
    out: dict[str, npt.NDArray[Any]], code: npt.NDArray[np.int64], pcode: npt.NDArray[np.int64],
    lines: npt.NDArray[np.int64], source: str, src: int, builder: EventBuilder, steps_given: list[bool],
) -> None:
    """Check the converted columns of a block of rows and hand them to ``builder``."""
    n = len(lines)
    worker, stage, mb = out["worker"], out["stage"], out["microbatch"]
    start, end = out["start"], out["end"]
    stage_action = code >= FIRST_STAGE_ACTION
    checks: list[tuple[Callable[[], npt.NDArray[np.bool_]], str]] = [
        (lambda: (worker < 0) | (worker > _MAX_INT), "column 'worker': expected an integer >= 0"),
        (lambda: (stage < 0) | (stage > _MAX_INT), "column 'stage': expected an integer >= 0"),
        (lambda: ~stage_action & ((mb < 0) | (mb > _MAX_INT)),
         "column 'microbatch': expected an integer >= 0"),
        (lambda: stage_action & (mb != -1), "column 'microbatch': a stage action takes none"),
        (lambda: ~(np.isfinite(start) & np.isfinite(end)), "columns 'start', 'end': expected finite numbers"),
        (lambda: end < start, "column 'end': the action ends before it starts"),
    ]
    step = out["step"]
    for mask, reason in checks:
        m = mask()
        if m.any():
            raise _bad(source, int(lines[int(np.argmax(m))]), reason)
    has_step = step != -1
    if len(has_step):
        if not steps_given:
            steps_given.append(bool(has_step[0]))
        mixed = has_step != steps_given[0]
        if mixed.any():
            raise _bad(source, int(lines[int(np.argmax(mixed))]),
                       "column 'step': give it on every row or on none")
    if len(step) and np.any(step < -1):
        j = int(np.nonzero(step < -1)[0][0])
        raise _bad(source, int(lines[j]), "column 'step': expected an integer >= 0")
    if n:
        top = int(worker.max())
        present = np.flatnonzero(np.bincount(worker)) if top < (1 << 20) else np.unique(worker)
        for w in present.tolist():
            builder.claim_worker(int(w), source)
    unit = out["unit"]
    if np.any(unit >= 0):  # unit ids are local to a worker of this file: make them global
        sel = unit >= 0
        base = builder.new_unit()
        keys = worker[sel] * (_MAX_INT + 1) + unit[sel]
        _, inv = np.unique(keys, return_inverse=True)
        unit = unit.copy()
        unit[sel] = base + 1 + inv
        for _ in range(int(inv.max()) + 1):
            builder.new_unit()
    builder.extend({
        "worker": worker, "pipeline": pcode, "stage": stage, "microbatch": mb, "kind": code,
        "start": start, "end": end, "ready": out["ready"], "peer": out["peer"], "seq": out["seq"],
        "step": step,  # a step number or NO_STEP (-1): checked above
        "unit": unit, "source": np.broadcast_to(np.int64(src), (n,)), "location": lines,
    })


_NL, _CR, _HASH = 10, 13, 35
# first bytes of a line that may make it blank (whitespace, possibly not ASCII) or a comment
_MAYBE_SKIPPED = np.zeros(256, dtype=bool)
_MAYBE_SKIPPED[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, ord("#")]] = True
_MAYBE_SKIPPED[0x80:] = True


def _line_skipped(s: str, builder: EventBuilder) -> bool:
    """True for a blank or comment line (``s`` without its trailing ``\r``); a
    ``# time_unit:`` comment sets the builder's time unit."""
    if not s.strip():
        return True
    if s.startswith("#"):
        key, _, val = s[1:].partition(":")
        if key.strip() == "time_unit" and val.strip():
            builder.time_unit = val.strip()
        return True
    return False


def read_csv_log(stream: IO[str], source: str, builder: EventBuilder) -> None:
    """Stream a CSV event log into ``builder``, 8 MiB of whole lines at a time: each
    chunk's fields are located and converted column by column with NumPy (:mod:`.scan`);
    values in another spelling, and malformed ones, go through Python's ``int`` /
    ``float`` one by one, so the accepted syntax and every located error are those of a
    value-by-value read."""
    src = builder.add_source(source, "line")
    line_no = 0
    names: list[str] | None = None
    steps_given: list[bool] = []
    rows = 0
    pending = b""  # the last, unfinished line read so far
    while True:
        chunk = stream.read(_CHUNK_BYTES)
        last = not chunk
        if not last:
            data = chunk.encode("utf-8", "surrogatepass")
            del chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                pending += data
                continue
            # the whole lines, in one copy followed by the unfinished line and the padding
            scan = Scan.over(b"".join((pending, data, PAD)), len(pending) + cut + 1)
            pending = data[cut + 1 :]
            del data
        elif pending:
            scan = Scan.over(b"".join((pending, b"\n", PAD)), len(pending) + 1)
            pending = b""
        else:
            break
        first_line = line_no + 1
        names, body, nlines = _csv_body(scan, first_line, names, source, builder)
        line_no += nlines
        if body is not None and names is not None:
            scan, delims, numbers = body
            ncol = len(names)
            if not scan.well_formed(ncol, len(numbers), delims):
                counts = scan.field_counts()
                j = int(np.argmax(counts != ncol))
                raise _bad(source, int(numbers[j]),
                           f"expected {ncol} fields as in the header, got {int(counts[j])}")
            _scan_to_builder(scan, delims, names, numbers, source, src, builder, steps_given)
            rows += len(numbers)
        if last:
            break
    if names is None:
        raise ScheduleFormatError(source, "line 1", "empty event log: no header line")
    if rows == 0:
        raise ScheduleFormatError(source, f"line {line_no + 1}", "empty event log: a header but no events")


def _csv_body(
    scan: Scan, first_line: int, names: list[str] | None, source: str, builder: EventBuilder,
) -> tuple[list[str] | None, tuple[Scan, npt.NDArray[np.int64], npt.NDArray[np.int64]] | None, int]:
    """The header (once known), the data lines of a scanned chunk of whole lines (their
    scan, delimiters and line numbers; None when the chunk holds no data line) and the
    chunk's number of lines."""
    block = scan.data
    delims = scan.delimiters()
    nl = delims[scan.bytes_[delims] == _NL]
    nlines = len(nl)
    starts = np.empty(nlines, np.int64)
    starts[:1] = 0
    starts[1:] = nl[:-1] + 1
    lens = nl - starts
    lead = scan.bytes_[starts]
    skipped: list[int] = []

    def line(j: int) -> str:
        return block[int(starts[j]) : int(nl[j])].decode("utf-8", "surrogatepass").rstrip("\r")

    # comments, blank lines and the header are rare: handle them one by one
    if names is None or np.any((lens == 0) | (lead == _HASH) | ((lens == 1) & (lead == _CR))):
        j = 0
        while names is None and j < nlines:
            s = line(j)
            if not _line_skipped(s, builder):
                names = _header([p.strip() for p in s.split(",")], source, first_line + j)
            skipped.append(j)
            j += 1
        if names is None:
            return None, None, nlines
        for c in (np.flatnonzero(_MAYBE_SKIPPED[lead[j:]]) + j).tolist():
            if _line_skipped(line(c), builder):
                skipped.append(c)
    if not skipped:
        return names, (scan, delims, np.arange(first_line, first_line + nlines, dtype=np.int64)), nlines
    kept = np.ones(nlines, dtype=bool)
    kept[skipped] = False
    if not kept.any():
        return names, None, nlines
    # the kept lines, in runs between skipped ones
    edges = np.flatnonzero(np.diff(np.concatenate([[False], kept, [False]]).astype(np.int8)))
    body = b"".join(block[int(starts[a]) : int(nl[b - 1]) + 1]
                    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist()))
    scan = Scan.of(body)
    return names, (scan, scan.delimiters(), np.flatnonzero(kept) + first_line), nlines


def _scan_to_builder(
    scan: Scan, delims: npt.NDArray[np.int64], names: list[str], lines: npt.NDArray[np.int64],
    source: str, src: int, builder: EventBuilder, steps_given: list[bool],
) -> None:
    """Convert the fields of a block of well-formed CSV rows and hand them to ``builder``."""
    n = len(lines)
    ncol = len(names)
    col = {name: k for k, name in enumerate(names)}
    cr = b"\r" in scan.data

    def column(k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        return scan.column(delims, ncol, k, strip_cr=cr and k == ncol - 1)

    out: dict[str, npt.NDArray[Any]] = {}
    for name in _NUMERIC:
        k = col.get(name)
        out[name] = _missing(name, n) if k is None else _scan_numbers(scan, name, *column(k), lines, source)
    s, e = column(col["kind"])
    code = _scan_categories(scan, s, e, lambda v, _row: KIND_CODE.get(v.strip(), -1))
    bad = code < 0
    if bad.any():
        j = int(np.argmax(bad))
        raise _bad(source, int(lines[j]),
                   f"column 'kind': expected one of {', '.join(KINDS)}, got {scan.text(j, s, e).strip()!r}")
    k_p = col.get("pipeline")
    if k_p is None:
        pcode = np.broadcast_to(np.int64(-1), (n,))
    else:
        s, e = column(k_p)
        pcode = _scan_categories(
            scan, s, e, lambda v, row: _pipeline_code(v.strip(), builder, source, int(lines[row])))
    _emit(out, code, pcode, lines, source, src, builder, steps_given)


def _scan_categories(
    scan: Scan, s: npt.NDArray[np.int64], e: npt.NDArray[np.int64], decode: Callable[[str, int], int],
) -> npt.NDArray[np.int64]:
    """Codes of a column of names: ``decode(text, row)`` is called once per distinct
    value, in order of first appearance, with the row where it first appears."""
    groups = categories(scan, s, e)
    if groups is not None:
        first, inverse = groups
        codes = np.array([decode(scan.text(r, s, e), r) for r in first.tolist()], dtype=np.int64)
        return codes[inverse] if len(first) else np.zeros(0, np.int64)
    cache: dict[str, int] = {}
    out = np.empty(len(s), np.int64)
    for j in range(len(s)):
        v = scan.text(j, s, e)
        c = cache.get(v)
        if c is None:
            c = cache[v] = decode(v, j)
        out[j] = c
    return out


def _scan_numbers(
    scan: Scan, name: str, s: npt.NDArray[np.int64], e: npt.NDArray[np.int64],
    lines: npt.NDArray[np.int64], source: str,
) -> npt.NDArray[Any]:
    """One numeric column of scanned fields; a bad value is reported at its line.
    Empty optional values become -1 (NaN for ``ready``)."""
    is_int = name in _INT_COLUMNS
    required = name in REQUIRED
    empty = s == e
    if not required and empty.all():
        return _missing(name, len(s))
    values, fast = numbers(scan.words, s, e, integer=is_int)
    bad = len(s)
    if required and empty.any():
        bad = int(np.argmax(empty))
    slow = np.flatnonzero(~fast & ~empty)
    slow = slow[slow < bad]
    if len(slow):
        convert = int if is_int else float
        got: list[float] = []
        for j in slow.tolist():
            try:
                got.append(convert(scan.text(j, s, e)))
            except ValueError:
                bad = j
                slow = slow[: len(got)]
                break
        if bad == len(s):
            values[slow] = np.array(got, dtype=values.dtype)
    if bad < len(s):
        v = scan.text(bad, s, e)
        shown = "nothing" if v == "" else repr(v)
        raise _bad(source, int(lines[bad]),
                   f"column {name!r}: expected {'an integer' if is_int else 'a number'}, got {shown}")
    if not required and empty.any():
        values[empty] = -1 if is_int else math.nan
    return values


def read_jsonl_log(stream: IO[str], source: str, builder: EventBuilder) -> None:
    """Stream a JSON Lines event log into ``builder``."""
    src = builder.add_source(source, "line")
    steps_given: list[bool] = []
    rows = 0
    line_no = 0
    cols: dict[str, list[Any]] = {}
    numbers: list[int] = []

    def flush() -> None:
        nonlocal cols, numbers, rows
        if numbers:
            for name in REQUIRED:
                if name not in cols:
                    raise _bad(source, numbers[0], f"missing key {name!r}")
            full = {k: v for k, v in cols.items()}
            for name in ("microbatch", "pipeline", "peer", "seq", "ready", "step", "unit"):
                full.setdefault(name, [None] * len(numbers))
            _columns_to_builder(full, np.array(numbers, np.int64), source, src, builder, steps_given)
            rows += len(numbers)
        cols, numbers = {}, []

    for line in stream:
        line_no += 1
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise _bad(source, line_no, f"invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(obj, dict):
            raise _bad(source, line_no, "expected a JSON object per line")
        if "format" in obj and rows == 0 and not numbers:
            if obj.get("format") != FORMAT_TAG:
                raise _bad(source, line_no, f"unknown format {obj.get('format')!r}: expected {FORMAT_TAG!r}")
            unit = obj.get("time_unit")
            if isinstance(unit, str) and unit:
                builder.time_unit = unit
            continue
        unknown = [k for k in obj if k not in COLUMNS]
        if unknown:
            raise _bad(source, line_no,
                       f"unknown key {unknown[0]!r}: expected keys among {', '.join(COLUMNS)}")
        for name in REQUIRED:
            if name not in obj:
                raise _bad(source, line_no, f"missing key {name!r}")
        k = len(numbers)
        for name, value in obj.items():
            col = cols.get(name)
            if col is None:
                col = cols[name] = [None] * k
            col.append(value)
        for col in cols.values():
            if len(col) == k:
                col.append(None)
        numbers.append(line_no)
        if len(numbers) >= 65536:
            flush()
    flush()
    if rows == 0:
        raise ScheduleFormatError(source, f"line {max(line_no, 1)}", "empty event log: no events")


def _fmt(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


def event_log_lines(events: TraceEvents, fmt: str) -> Iterator[str]:
    """The lines of ``events`` as a generic event log (``csv`` or ``jsonl``)."""
    if fmt not in ("csv", "jsonl"):
        raise ParameterError(f"unknown event log format {fmt!r}: expected 'csv' or 'jsonl'")
    marked = events.marked
    names = ["worker", "pipeline", "stage", "microbatch", "kind", "start", "end", "peer", "seq", "ready"]
    if marked:
        names.append("step")
    if np.any(events.unit >= 0):
        names.append("unit")
    if fmt == "csv":
        if events.time_unit:
            yield f"# time_unit: {events.time_unit}\n"
        yield ",".join(names) + "\n"
    else:
        yield json.dumps({"format": FORMAT_TAG, "version": VERSION, "time_unit": events.time_unit}) + "\n"
    keep = np.nonzero(events.step != -2)[0] if marked else np.arange(len(events))
    for i in keep.tolist():
        p = int(events.pipeline[i])
        k = int(events.kind[i])
        row: dict[str, Any] = {
            "worker": int(events.worker[i]),
            "pipeline": events.pipelines[p] if p >= 0 else None,
            "stage": int(events.stage[i]),
            "microbatch": int(events.microbatch[i]) if k < FIRST_STAGE_ACTION else None,
            "kind": KINDS[k],
            "start": float(events.start[i]),
            "end": float(events.end[i]),
            "peer": int(events.peer[i]) if events.peer[i] >= 0 else None,
            "seq": int(events.seq[i]) if events.seq[i] >= 0 else None,
            "ready": float(events.ready[i]) if not math.isnan(events.ready[i]) else None,
            "step": int(events.step[i]),
            "unit": int(events.unit[i]) if events.unit[i] >= 0 else None,
        }
        if fmt == "jsonl":
            yield json.dumps({n: row[n] for n in names if row[n] is not None}) + "\n"
        else:
            yield ",".join(
                "" if row[n] is None else _fmt(row[n]) if isinstance(row[n], float) else str(row[n])
                for n in names
            ) + "\n"


def write_event_log(events: TraceEvents, stream: IO[str], fmt: str = "csv") -> None:
    """Write ``events`` as a generic event log (converts a profiler trace, for instance).
    Events outside every marked step (warm-up) are left out."""
    stream.writelines(event_log_lines(events, fmt))


def csv_lines(rows: Iterable[Iterable[object]]) -> str:
    """Plain comma-separated text of ``rows`` (helper for writers and tests)."""
    return "".join(",".join(str(v) for v in r) + "\n" for r in rows)
