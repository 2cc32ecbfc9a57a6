"""The vectorised paths of trace reading and checking against plain Python references.

The CSV reader parses whole chunks with NumPy (``verify/traces/scan.py``); the checks
sort and pair with packed keys (``verify/traces/kernels.py``, ``_messages``). Each is
compared here, on hypothesis-drawn inputs, with a value-by-value or loop-based
reference: same values, same located errors.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.errors import ScheduleFormatError
from verify.generators import generate
from verify.traces import check_trace, eventlog, synthetic_trace
from verify.traces import conformance as conf
from verify.traces.events import KIND_CODE, KINDS, EventBuilder, TraceEvents
from verify.traces.kernels import group_rank, lex_order, stable_order
from verify.traces.scan import Scan, categories, numbers

# ------------------------------------------------------------------ field parsing

_DIGITS = st.text("0123456789", min_size=1, max_size=18)
_PLAIN = st.builds(lambda sign, a, dot, b: sign + a + dot + b, st.sampled_from(["", "-"]), _DIGITS,
                   st.sampled_from(["", ".", ""]), st.text("0123456789", max_size=8))
_ODD = st.text("0123456789-.+e _x\r\t\u0663", max_size=20)
_FIELD = st.one_of(_PLAIN, _ODD, st.floats(allow_nan=False).map(repr),
                   st.integers(-(10**20), 10**20).map(str))


def _python(text: str, integer: bool) -> float | None:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        return None


@given(st.lists(_FIELD, min_size=1, max_size=30), st.booleans())
@settings(max_examples=300, deadline=None)
def test_numbers_agree_with_int_and_float(fields: list[str], integer: bool) -> None:
    block = "".join(f"{v},x\n" for v in fields).encode()
    scan = Scan.of(block)
    delims = scan.delimiters()
    assert scan.well_formed(2, len(fields), delims)
    start, end = scan.column(delims, 2, 0)
    values, fast = numbers(scan.words, start, end, integer=integer)
    for v, got, ok in zip(fields, values.tolist(), fast.tolist()):
        want = _python(v, integer)
        if ok:  # parsed here: exactly what Python gives, sign of zero included
            assert want is not None and got == want and math.copysign(1, got) == math.copysign(1, want), v
        digits = sum(ch.isdigit() for ch in v)
        plain = re.fullmatch(r"-?[0-9]+" if integer else r"-?[0-9]*\.?[0-9]*", v) and digits
        if plain and len(v) <= 16 and (integer or digits <= 15):
            assert ok, v  # the usual spellings never fall back to Python


@given(st.lists(st.sampled_from(["F", "B", "SEND_F", "RECV_B", "REDUCE_GRAD", " F", "", "up", "a" * 16,
                                 "abcdefgh", "abcdefgi"]), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_categories_group_by_content_in_order_of_appearance(fields: list[str]) -> None:
    block = "".join(f"{v},\n" for v in fields).encode()
    scan = Scan.of(block)
    start, end = scan.column(scan.delimiters(), 2, 0)
    groups = categories(scan, start, end)
    assert groups is not None
    first, inverse = groups
    distinct = list(dict.fromkeys(fields))
    assert [fields[r] for r in first.tolist()] == distinct
    assert [distinct[g] for g in inverse.tolist()] == fields


# ------------------------------------------------------------------ the CSV reader

def _reference_csv(stream: io.StringIO, source: str, builder: EventBuilder) -> None:
    """The event log read line by line and value by value, in the blocks the reader
    sees when the whole file fits one chunk: the lines up to the last newline, then the
    last line if it has no newline. Comments and blank lines are skipped when the header
    is not known yet or the block holds an empty or comment line."""
    src = builder.add_source(source, "line")
    text = stream.read()
    cut = text.rfind("\n") + 1
    names: list[str] | None = None
    steps_given: list[bool] = []
    rows_read = 0
    line_no = 0
    for block in (text[:cut], text[cut:]):
        lines = block.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        first = line_no + 1
        line_no += len(lines)
        careful = names is None or any(not x or x[0] == "#" or x == "\r" for x in lines)
        rows: list[list[str]] = []
        at: list[int] = []
        for j, raw in enumerate(lines, first):
            s = raw.rstrip("\r")
            if careful and not s.strip():
                continue
            if careful and s.startswith("#"):
                key, _, val = s[1:].partition(":")
                if key.strip() == "time_unit" and val.strip():
                    builder.time_unit = val.strip()
                continue
            if names is None:
                names = eventlog._header([p.strip() for p in s.split(",")], source, j)
                continue
            fields = s.split(",")
            if len(fields) != len(names):
                raise ScheduleFormatError(source, f"line {j}",
                                          f"expected {len(names)} fields as in the header, got {len(fields)}")
            rows.append(fields)
            at.append(j)
        if names is not None and rows:
            _reference_rows(names, rows, at, source, src, builder, steps_given)
            rows_read += len(rows)
    if names is None:
        raise ScheduleFormatError(source, "line 1", "empty event log: no header line")
    if not rows_read:
        raise ScheduleFormatError(source, f"line {line_no + 1}", "empty event log: a header but no events")


def _reference_rows(names: list[str], rows: list[list[str]], at: list[int], source: str, src: int,
                    builder: EventBuilder, steps_given: list[bool]) -> None:
    col = {name: [r[k] for r in rows] for k, name in enumerate(names)}
    out: dict[str, Any] = {}
    for name in eventlog._NUMERIC:
        if name not in col:
            out[name] = eventlog._missing(name, len(rows))
            continue
        is_int = name in eventlog._INT_COLUMNS
        vals: list[float] = []
        for j, v in enumerate(col[name]):
            if v == "" and name not in eventlog.REQUIRED:
                vals.append(-1 if is_int else math.nan)
                continue
            try:
                vals.append(int(v) if is_int else float(v))
            except ValueError:
                shown = "nothing" if v == "" else repr(v)
                expected = "an integer" if is_int else "a number"
                raise ScheduleFormatError(source, f"line {at[j]}",
                                          f"column {name!r}: expected {expected}, got {shown}") from None
        out[name] = np.array(vals, dtype=np.int64 if is_int else np.float64)
    kinds = [v.strip() for v in col["kind"]]
    for j, k in enumerate(kinds):
        if k not in KIND_CODE:
            raise ScheduleFormatError(source, f"line {at[j]}",
                                      f"column 'kind': expected one of {', '.join(KINDS)}, got {k!r}")
    code = np.array([KIND_CODE[k] for k in kinds], dtype=np.int64)
    pipes = col.get("pipeline")
    pcode = np.full(len(rows), -1, dtype=np.int64)
    if pipes is not None:
        for j, v in enumerate(pipes):
            pcode[j] = eventlog._pipeline_code(v.strip(), builder, source, at[j])
    eventlog._emit(out, code, pcode, np.array(at, dtype=np.int64), source, src, builder, steps_given)


_COLUMNS = ["worker", "pipeline", "stage", "microbatch", "kind", "start", "end", "peer", "seq", "ready",
            "step", "unit"]
_VALUES: dict[str, st.SearchStrategy[str]] = {
    "worker": st.sampled_from(["0", "1", "3", "12", "-1", " 2", "x", "", "99999999999999999999"]),
    "stage": st.sampled_from(["0", "1", "2", "007", "+1", "1.0"]),
    "microbatch": st.sampled_from(["0", "1", "5", "", "1_0"]),
    "kind": st.sampled_from(["F", "B", "I", "W", "SEND_F", "RECV_B", "REDUCE_GRAD", " F", "X", ""]),
    "pipeline": st.sampled_from(["main", "up", "", " up", "1bad", "a_long_pipeline_name"]),
    "start": st.sampled_from(["0", "1.5", "2.25", "1e-05", "-0.5", ".5", "inf", "nan", "x", "3."]),
    "end": st.sampled_from(["4", "4.75", "1e3", "9007199254740993", "12345678.125", ""]),
    "peer": st.sampled_from(["", "0", "1"]),
    "seq": st.sampled_from(["", "0", "7"]),
    "ready": st.sampled_from(["", "2.5", "nan"]),
    "step": st.sampled_from(["1"]),
    "unit": st.sampled_from(["", "1", "2"]),
}


@st.composite
def _event_logs(draw: Callable[..., Any], *, blank_lines: bool) -> str:
    optional = draw(st.lists(st.sampled_from(["pipeline", "microbatch", "peer", "seq", "ready", "step",
                                              "unit"]), unique=True))
    names = draw(st.permutations(["worker", "stage", "kind", "start", "end", *optional]))
    lines = [*draw(st.sampled_from([[], ["# time_unit: us"]])), ",".join(names)]
    for _ in range(draw(st.integers(0, 12))):
        fields = [draw(_VALUES[n]) for n in names]
        if draw(st.integers(0, 30)) == 0:
            fields = fields[:-1]
        lines.append(",".join(fields))
        extras = ["", "", "", "# note", "# time_unit: ms", *(["", "  "] if blank_lines else [])]
        extra = draw(st.sampled_from(extras))
        if extra or (blank_lines and draw(st.booleans())):
            lines.append(extra)
    eol: str = draw(st.sampled_from(["\n", "\r\n"]))
    end: str = draw(st.sampled_from([eol, ""]))
    return eol.join(lines) + end


def _read(reader: Callable[[io.StringIO, str, EventBuilder], None], text: str) -> Any:
    b = EventBuilder()
    try:
        reader(io.StringIO(text), "log.csv", b)
        ev = b.build()
    except (ScheduleFormatError, OverflowError) as e:
        return type(e).__name__, str(e)
    cols = {f: getattr(ev, f) for f in ("worker", "pipeline", "stage", "microbatch", "kind", "start", "end",
                                         "ready", "peer", "seq", "step", "unit", "source", "location")}
    return ({k: (v.dtype.str, np.where(np.isnan(v), 0.5, v).tolist() if v.dtype.kind == "f" else v.tolist(),
                 np.isnan(v).tolist() if v.dtype.kind == "f" else None) for k, v in cols.items()},
            ev.pipelines, ev.time_unit, ev.workers_seen)


@given(_event_logs(blank_lines=True))
@settings(max_examples=300, deadline=None)
def test_csv_reader_matches_a_value_by_value_read(text: str) -> None:
    assert _read(eventlog.read_csv_log, text) == _read(_reference_csv, text)


@given(_event_logs(blank_lines=False), st.sampled_from([7, 64, 1000]))
@settings(max_examples=200, deadline=None)
def test_csv_reader_is_the_same_in_small_chunks(text: str, size: int) -> None:
    """Chunk boundaries change nothing in a log that reads (errors are located chunk by
    chunk, so which of several bad lines is reported may depend on them)."""
    whole = _read(eventlog.read_csv_log, text)
    old = eventlog._CHUNK_BYTES
    eventlog._CHUNK_BYTES = size
    try:
        chunked = _read(eventlog.read_csv_log, text)
    finally:
        eventlog._CHUNK_BYTES = old
    if isinstance(whole[0], str):
        assert isinstance(chunked[0], str)
    else:
        assert chunked == whole


# ------------------------------------------------------------------ sorting kernels

_KEY = st.lists(st.integers(-3, 3), min_size=0, max_size=40)


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_lex_order_is_lexsort(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 40))
    keys: list[np.ndarray] = []
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            keys.append(np.array(data.draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)),
                                 dtype=np.int64))
        else:
            keys.append(np.array(data.draw(st.lists(st.sampled_from([0.0, -0.0, 1.5, 2.0, math.nan]),
                                                    min_size=n, max_size=n))))
    if data.draw(st.booleans()):  # presorted input takes the one-pass path
        order = np.lexsort(keys)
        keys = [k[order] for k in keys]
    assert lex_order(keys).tolist() == np.lexsort(keys).tolist()


@given(_KEY, st.integers(0, 1 << 40))
def test_stable_order_and_group_rank(key: list[int], scale: int) -> None:
    a = np.array(key, dtype=np.int64) * (scale + 1)
    assert stable_order(a).tolist() == np.argsort(a, kind="stable").tolist()
    s = np.sort(a)
    want = [sum(1 for y in s[:i] if y == x) for i, x in enumerate(s.tolist())]
    assert group_rank(s).tolist() == want


# ------------------------------------------------------------------ message pairing

def _first_send(chan: list[int], key: list[int], send: list[bool]) -> list[int]:
    out = []
    for j in range(len(chan)):
        if send[j]:
            out.append(-1)
            continue
        mate = [i for i in range(len(chan)) if send[i] and chan[i] == chan[j] and key[i] == key[j]]
        out.append(mate[0] if mate else -1)
    return out


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.booleans()), min_size=1, max_size=40))
def test_pairing_tables_and_sorts_agree_with_a_scan(msgs: list[tuple[int, int, bool]]) -> None:
    chan = np.array([m[0] for m in msgs], dtype=np.int64)
    key = np.array([m[1] for m in msgs], dtype=np.int64)
    send = np.array([m[2] for m in msgs])
    if not send.any():
        return  # a trace with receives only is another path (see _partners)
    want = _first_send(chan.tolist(), key.tolist(), send.tolist())
    sends, recvs = np.flatnonzero(send), np.flatnonzero(~send)
    assert conf._partners(chan, key, sends, recvs).tolist() == [want[j] for j in recvs.tolist()]
    assert conf._id_partners(chan, key, sends, recvs).tolist() == [want[j] for j in recvs.tolist()]
    # by rank: the k-th receive of a channel pairs with its k-th send
    lane = chan * 2 + ~send
    o = np.argsort(lane, kind="stable")
    rank = np.empty(len(o), dtype=np.int64)
    rank[o] = group_rank(lane[o])
    assert conf._rank_partners(o, lane[o], group_rank(lane[o])).tolist() == _first_send(
        chan.tolist(), rank.tolist(), send.tolist())


# ------------------------------------------------------------------ whole checks

def _shuffled(ev: TraceEvents, seed: int) -> TraceEvents:
    import dataclasses

    perm = np.random.default_rng(seed).permutation(len(ev))
    return dataclasses.replace(ev, **{f.name: getattr(ev, f.name)[perm] for f in dataclasses.fields(ev)
                                      if isinstance(getattr(ev, f.name), np.ndarray)})


@pytest.mark.parametrize("family,D,N", [("1f1b", 4, 8), ("chimera", 4, 4), ("zb-v", 2, 4),
                                        ("interleaved-1f1b", 2, 4)])
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 3), marked=st.booleans())
@settings(max_examples=15, deadline=None)
def test_event_order_does_not_change_a_conforming_check(family: str, D: int, N: int, seed: int, steps: int,
                                                        marked: bool) -> None:
    """Shuffled events take the sorting paths instead of the already-ordered ones. (In
    these schedules no two events of a worker start together, so no tie is broken by
    position.)"""
    s = generate(family, D, N)
    ev = synthetic_trace(s, steps=steps, messages=True, marked=marked)
    a, b = check_trace(s, ev), check_trace(s, _shuffled(ev, seed))
    assert a.ok and b.ok
    assert [x.metrics for x in a.steps] == [x.metrics for x in b.steps] and a.fitted == b.fitted
