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
import operator
from collections.abc import Iterable, Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from verify.core.actions import _NAME_RE
from verify.errors import ScheduleFormatError
from verify.traces.events import (
    FIRST_STAGE_ACTION,
    KIND_CODE,
    KINDS,
    NO_STEP,
    EventBuilder,
    TraceEvents,
)

FORMAT_TAG = "chimera-verify-events"
VERSION = 1
COLUMNS = ("worker", "pipeline", "stage", "microbatch", "kind", "start", "end",
           "peer", "seq", "ready", "step", "unit")
REQUIRED = ("worker", "stage", "kind", "start", "end")
_CHUNK_BYTES = 1 << 23
_INT_COLUMNS = ("worker", "stage", "microbatch", "peer", "seq", "step", "unit")
_MAX_INT = 1 << 40
_COUNT_COMMAS = operator.methodcaller("count", ",")


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


def _convert(
    values: list[Any], name: str, lines: npt.NDArray[np.int64], source: str, *, text: bool
) -> npt.NDArray[Any]:
    """One column to an array; a bad value is reported at its line. Empty (CSV) or
    null (JSON) optional values become -1 (NaN for ``ready``)."""
    is_int = name in _INT_COLUMNS
    required = name in REQUIRED
    missing_value: float = -1 if is_int else math.nan
    kind = "an integer" if is_int else "a number"

    def one(v: Any) -> float:
        if text:
            if v == "":
                if required:
                    raise ValueError("empty")
                return missing_value
            return int(v) if is_int else float(v)
        if v is None:
            if required:
                raise ValueError("empty")
            return missing_value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (is_int and not isinstance(v, int)):
            raise ValueError("type")
        return v

    if text and values:
        # fast paths: builtin converters in C loops (a bad value falls through to the
        # per-value path below, which locates it)
        n_empty = values.count("")
        if n_empty == len(values) and not required:
            return np.full(len(values), missing_value, dtype=np.int64 if is_int else np.float64)
        if n_empty == 0:
            try:
                return np.fromiter(map(int if is_int else float, values),
                                   np.int64 if is_int else np.float64, len(values))
            except (ValueError, OverflowError):
                pass
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
    builder: EventBuilder, *, text: bool, steps_given: list[bool],
) -> None:
    n = len(lines)
    out: dict[str, npt.NDArray[Any]] = {}
    for name in ("worker", "stage", "microbatch", "peer", "seq", "step", "unit", "start", "end", "ready"):
        if name in cols:
            out[name] = _convert(cols[name], name, lines, source, text=text)
        else:
            out[name] = np.full(n, -1 if name in _INT_COLUMNS else math.nan)
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
        pcode = np.full(n, -1, np.int64)
    else:
        vals = np.empty(n, np.int64)
        for j, name in enumerate(pipes):
            c = cache.get(name)
            if c is None:
                if name in ("", None):
                    c = -1
                elif not isinstance(name, str) or not _NAME_RE.match(name):
                    raise _bad(source, int(lines[j]),
                               f"column 'pipeline': expected a name like 'up', got {name!r}")
                else:
                    c = builder.pipeline_code(name)
                cache[name] = c
            vals[j] = c
        pcode = vals
    worker, stage, mb = out["worker"], out["stage"], out["microbatch"]
    start, end = out["start"], out["end"]
    stage_action = code >= FIRST_STAGE_ACTION
    checks: list[tuple[npt.NDArray[np.bool_], str]] = [
        ((worker < 0) | (worker > _MAX_INT), "column 'worker': expected an integer >= 0"),
        ((stage < 0) | (stage > _MAX_INT), "column 'stage': expected an integer >= 0"),
        (~stage_action & ((mb < 0) | (mb > _MAX_INT)), "column 'microbatch': expected an integer >= 0"),
        (stage_action & (mb != -1), "column 'microbatch': a stage action takes none"),
        (~np.isfinite(start) | ~np.isfinite(end), "columns 'start', 'end': expected finite numbers"),
        (end < start, "column 'end': the action ends before it starts"),
    ]
    step = out["step"]
    for mask, reason in checks:
        hit = np.nonzero(mask)[0]
        if len(hit):
            raise _bad(source, int(lines[int(hit[0])]), reason)
    has_step = step != -1
    if len(has_step):
        if not steps_given:
            steps_given.append(bool(has_step[0]))
        mixed = np.nonzero(has_step != steps_given[0])[0]
        if len(mixed):
            raise _bad(source, int(lines[int(mixed[0])]), "column 'step': give it on every row or on none")
    if len(step) and np.any(step < -1):
        j = int(np.nonzero(step < -1)[0][0])
        raise _bad(source, int(lines[j]), "column 'step': expected an integer >= 0")
    for w in np.unique(worker).tolist():
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
        "step": np.where(step >= 0, step, NO_STEP), "unit": unit,
        "source": np.full(n, src, np.int64), "location": lines,
    })


def read_csv_log(stream: IO[str], source: str, builder: EventBuilder) -> None:
    """Stream a CSV event log into ``builder`` (chunks of 8 MiB; fields split without
    per-row lists, so a million rows take about a second)."""
    src = builder.add_source(source, "line")
    line_no = 0
    names: list[str] | None = None
    steps_given: list[bool] = []
    rows = 0
    pending = ""
    while True:
        chunk = stream.read(_CHUNK_BYTES)
        text = pending + chunk
        if not chunk:
            pending = ""
        else:
            cut = text.rfind("\n")
            if cut < 0:
                pending = text
                continue
            pending = text[cut + 1 :]
            text = text[: cut + 1]
        if not text:
            break
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        first_line = line_no + 1
        line_no += len(lines)
        # comments, blank lines and the header are rare: handle them one by one
        keep: list[int] | None = None
        if names is None or any((not s or s[0] == "#" or s == "\r") for s in lines):
            keep = []
            for j, raw in enumerate(lines):
                s = raw.rstrip("\r")
                lines[j] = s
                if not s.strip():
                    continue
                if s.startswith("#"):
                    key, _, val = s[1:].partition(":")
                    if key.strip() == "time_unit" and val.strip():
                        builder.time_unit = val.strip()
                    continue
                if names is None:
                    names = _header([p.strip() for p in s.split(",")], source, first_line + j)
                    continue
                keep.append(j)
        if names is None:
            continue
        if keep is None:
            body = lines
            numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
        else:
            body = [lines[j] for j in keep]
            numbers = np.array(keep, dtype=np.int64) + first_line
        if not body:
            continue
        ncol = len(names)
        if "\r" in text:
            body = [s.rstrip("\r") for s in body]
        counts = np.fromiter(map(_COUNT_COMMAS, body), np.int64, len(body))
        wrong = np.nonzero(counts != ncol - 1)[0]
        if len(wrong):
            j = int(wrong[0])
            raise _bad(source, int(numbers[j]),
                       f"expected {ncol} fields as in the header, got {int(counts[j]) + 1}")
        flat = ",".join(body).split(",")
        cols = {name: flat[k::ncol] for k, name in enumerate(names)}
        for k, name in enumerate(names):
            if name in ("kind", "pipeline"):
                cols[name] = [v.strip() for v in flat[k::ncol]]
        _columns_to_builder(cols, numbers, source, src, builder, text=True, steps_given=steps_given)
        rows += len(body)
        if not chunk:
            break
    if names is None:
        raise ScheduleFormatError(source, "line 1", "empty event log: no header line")
    if rows == 0:
        raise ScheduleFormatError(source, f"line {line_no + 1}", "empty event log: a header but no events")


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
            _columns_to_builder(full, np.array(numbers, np.int64), source, src, builder,
                                text=False, steps_given=steps_given)
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
        raise ValueError(f"unknown event log format {fmt!r}: expected 'csv' or 'jsonl'")
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
