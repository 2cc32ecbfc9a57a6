"""PyTorch profiler (Kineto) Chrome-trace JSON, one file per rank, plain or gzipped.

What is read (facts from ``docs/traces.md``):

* the rank from ``distributedInfo.rank``; absolute time = ``baseTimeNanoseconds`` +
  ``ts`` * 1000 (``ts`` and ``dur`` are microseconds), so files of different ranks share
  one clock;
* every complete event (``"ph": "X"``) named ``PP:<action>``: the actions
  ``_PipelineScheduleRuntime`` wraps in ``record_function`` (``PP:2F0``, ``PP:0SEND_F3``,
  ``PP:1REDUCE_GRAD``, ``PP:(0F3;3B1)OVERLAP_F_B`` whose members share its span and form
  one unit); a pipeline prefix (``PP:up:3F0``) is accepted;
* ``Forward <mb>`` / ``Backward <mb>`` labels of ``ScheduleGPipe`` (the stage is the one
  the schedule places on the rank);
* ``ProfilerStep#<n>`` spans, which mark the training steps (events outside them are
  warm-up work and are not checked);
* ``gloo:recv`` / ``nccl:recv`` spans, which end when a message has arrived: a ``RECV``
  action completes when the receives it posted complete, and a compute op whose span
  includes the wait for its input (PyTorch waits inside the op's span) is *ready* when
  the receive of its input completed.

Everything else (operators, kernels, other annotations) is skipped. The file is parsed
as a stream (one event at a time), so its size does not matter. A truncated or invalid
file is a located :class:`~verify.errors.ScheduleFormatError`.
"""

from __future__ import annotations

import json
import math
import re
from typing import IO, Any

import numpy as np

from verify.core.actions import ActionSyntaxError, Comm, Op, Overlap, StageAction, parse_action
from verify.errors import ScheduleFormatError
from verify.traces.events import NO_STEP, OUTSIDE_STEP, EventBuilder

_CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_LABEL = re.compile(r"^(Forward|Backward) (0|[1-9][0-9]{0,8})$")
_STEP = re.compile(r"^ProfilerStep#([0-9]{1,9})$")
_UNNAMED = "__trace_unnamed__"
_RECV_NAMES = ("gloo:recv", "nccl:recv")

Parsed = tuple[tuple[str, int, int, str], ...]
"""An action label as events: ``(pipeline or "", stage, micro-batch or -1, kind)``."""


class _Stream:
    """Incremental JSON reader over a text stream: values are decoded one at a time
    with the C decoder, refilling the buffer when a value crosses its end."""

    def __init__(self, stream: IO[str], source: str) -> None:
        self.stream = stream
        self.source = source
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    def fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.stream.read(_CHUNK)
        except (OSError, EOFError, UnicodeDecodeError) as e:  # gzip.BadGzipFile is an OSError
            reason = "truncated gzip stream" if isinstance(e, EOFError) else f"cannot read: {e}"
            raise ScheduleFormatError(self.source, None, reason) from None
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def peek(self, where: str) -> str:
        while True:
            m = _WS.match(self.buf, self.pos)
            self.pos = m.end() if m else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def expect(self, chars: str, where: str, what: str) -> str:
        c = self.peek(where)
        if not c:
            raise ScheduleFormatError(self.source, where,
                                      f"truncated: the file ends where {what} was expected")
        if c not in chars:
            raise ScheduleFormatError(self.source, where, f"invalid JSON: expected {what}, got {c!r}")
        self.pos += 1
        return c

    def value(self, where: str) -> Any:
        if not self.peek(where):
            raise ScheduleFormatError(self.source, where,
                                      "truncated: the file ends where a value was expected")
        while True:
            try:
                obj, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if self.fill():
                    continue
                if e.pos >= len(self.buf) - 1 or "Unterminated" in e.msg:
                    raise ScheduleFormatError(
                        self.source, where, "truncated: the file ends inside this value") from None
                raise ScheduleFormatError(self.source, where, f"invalid JSON: {e.msg}") from None
            if end >= len(self.buf) and not self.eof and self.fill():
                continue  # a number may go on in the next chunk
            self.pos = end
            return obj


def _number(v: Any, source: str, where: str, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ScheduleFormatError(source, where, f"{key!r}: expected a finite number, got {v!r}")
    return float(v)


def _parse_pp(text: str) -> Parsed:
    action = parse_action(text, default_pipeline=_UNNAMED)
    out: list[tuple[str, int, int, str]] = []
    members = action.ops if isinstance(action, Overlap) else (action,)
    for a in members:
        name = "" if a.pipeline == _UNNAMED else a.pipeline
        if isinstance(a, StageAction):
            out.append((name, a.stage, -1, a.kind.value))
        elif isinstance(a, (Op, Comm)):
            out.append((name, a.stage, a.microbatch, a.kind.value))
    return tuple(out)


def read_kineto(stream: IO[str], source: str, builder: EventBuilder) -> None:
    """Stream one rank's profiler trace into ``builder``."""
    src = builder.add_source(source, "event")
    js = _Stream(stream, source)
    meta: dict[str, Any] = {}
    # PP: actions and labels as (start, end, thread, event index, parsed label)
    spans: list[tuple[float, float, int, int, Parsed]] = []
    recvs: list[tuple[float, float, int]] = []
    steps: list[tuple[float, float, int]] = []
    tids: dict[Any, int] = {}
    cache: dict[str, Parsed] = {}
    saw_events = False

    def on_event(k: int, e: Any) -> None:
        if not isinstance(e, dict) or e.get("ph") != "X":
            return
        name = e.get("name")
        if not isinstance(name, str):
            return
        where = f"$.traceEvents[{k}]"
        if name.startswith("PP:"):
            parsed = cache.get(name)
            if parsed is None:
                try:
                    parsed = cache[name] = _parse_pp(name[3:])
                except (ActionSyntaxError, ValueError) as err:
                    raise ScheduleFormatError(source, where, f"bad PP: annotation {name!r}: {err}") from None
        elif name.startswith(_RECV_NAMES):
            parsed = ()
        else:
            m = _LABEL.match(name)
            if m is not None:
                parsed = (("", -1, int(m.group(2)), "F" if m.group(1) == "Forward" else "B"),)
            else:
                s = _STEP.match(name)
                if s is None:
                    return
                t = _number(e.get("ts"), source, where, "ts")
                steps.append((t, t + _number(e.get("dur", 0), source, where, "dur"), int(s.group(1))))
                return
        ts = _number(e.get("ts"), source, where, "ts")
        dur = _number(e.get("dur", 0), source, where, "dur")
        if dur < 0:
            raise ScheduleFormatError(source, where, f"'dur': expected a duration >= 0, got {dur!r}")
        tid_key = e.get("tid")
        tid = tids.setdefault(tid_key if isinstance(tid_key, (int, str)) else repr(tid_key), len(tids))
        if parsed:
            spans.append((ts, ts + dur, tid, k, parsed))
        else:
            recvs.append((ts, ts + dur, tid))

    js.expect("{", "$", "a JSON object")
    first = True
    while True:
        c = js.peek("$")
        if c == "}":
            js.pos += 1
            break
        if not first:
            js.expect(",", "$", "',' or '}'")
        first = False
        key = js.value("$")
        if not isinstance(key, str):
            raise ScheduleFormatError(source, "$", "invalid JSON: expected a key")
        js.expect(":", f"$.{key}", "':'")
        if key == "traceEvents":
            saw_events = True
            js.expect("[", "$.traceEvents", "an array")
            k = 0
            if js.peek("$.traceEvents") == "]":
                js.pos += 1
            else:
                while True:
                    on_event(k, js.value(f"$.traceEvents[{k}]"))
                    k += 1
                    if js.expect(",]", f"$.traceEvents[{k}]", "',' or ']'") == "]":
                        break
        else:
            meta[key] = js.value(f"$.{key}")
    if js.peek("$"):
        raise ScheduleFormatError(source, "$", "invalid JSON: text after the top-level object")
    if not saw_events:
        raise ScheduleFormatError(source, "$", "not a profiler trace: no 'traceEvents'")
    info = meta.get("distributedInfo")
    rank = info.get("rank") if isinstance(info, dict) else None
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
        raise ScheduleFormatError(
            source, "$.distributedInfo.rank",
            "no rank: a per-rank profiler trace of a distributed run is needed "
            "(or write the generic event log, which names the worker of every action)",
        )
    base = meta.get("baseTimeNanoseconds", 0)
    if isinstance(base, bool) or not isinstance(base, int):
        raise ScheduleFormatError(source, "$.baseTimeNanoseconds", f"expected an integer, got {base!r}")
    builder.claim_worker(rank, source)
    if builder.time_ref_ns is None:
        builder.time_ref_ns = base
    if builder.time_unit not in (None, "us"):
        raise ScheduleFormatError(source, None, "cannot mix profiler traces with event logs in one check")
    builder.time_unit = "us"
    builder.step_label = "ProfilerStep#{}"
    offset = (base - builder.time_ref_ns) / 1000.0
    _emit(spans, recvs, steps, rank, offset, src, builder)


def _emit(
    spans: list[tuple[float, float, int, int, Parsed]],
    recvs: list[tuple[float, float, int]],
    steps: list[tuple[float, float, int]],
    rank: int, offset: float, src: int, builder: EventBuilder,
) -> None:
    """Derive receive completions and readiness, assign steps, append the events."""
    # one sweep per thread over spans and p2p receives in start order (parents first)
    items: list[tuple[float, int, float, int]] = []  # (start, order, -end, index)
    for i, (s, e, _, _, _) in enumerate(spans):
        items.append((s, 0, -e, i))
    for j, (s, e, _) in enumerate(recvs):
        items.append((s, 1, -e, j))
    items.sort()
    done = [math.nan] * len(spans)  # completion of RECV actions / readiness of compute
    open_span: dict[int, int] = {}  # tid -> latest span started on it
    for _start, order, _neg_end, idx in items:
        if order == 1:
            s, e, tid = recvs[idx]
            i = open_span.get(tid, -1)
            if i >= 0 and spans[i][0] <= s <= spans[i][1]:
                prev = done[i]
                done[i] = e if math.isnan(prev) else max(prev, e)
        else:
            open_span[spans[idx][2]] = idx
    _resolve(spans, done)
    starts = np.array([sp[0] for sp in spans], dtype=np.float64)
    if steps:
        steps.sort()
        w_start = np.array([t[0] for t in steps])
        w_end = np.array([t[1] for t in steps])
        w_num = np.array([t[2] for t in steps], dtype=np.int64)
        pos = np.searchsorted(w_start, starts, side="right") - 1
        inside = (pos >= 0) & (starts <= w_end[np.maximum(pos, 0)])
        step_of = np.where(inside, w_num[np.maximum(pos, 0)], OUTSIDE_STEP)
    else:
        step_of = np.full(len(spans), NO_STEP, dtype=np.int64)
    for i, (s, e, _tid, loc, parsed) in enumerate(spans):
        unit = builder.new_unit() if len(parsed) > 1 else -1
        ready = done[i]
        for pipe, stage, mb, kind in parsed:
            if kind in ("RECV_F", "RECV_B"):
                end = e if math.isnan(ready) else max(e, ready)
                builder.append(rank, pipe, stage, mb, kind, s + offset, end + offset,
                               step=int(step_of[i]), source=src, location=loc)
            else:
                r = ready + offset if kind in ("F", "B", "I") and not math.isnan(ready) else math.nan
                builder.append(rank, pipe, stage, mb, kind, s + offset, e + offset, ready=r,
                               step=int(step_of[i]), unit=unit, source=src, location=loc)


def _resolve(
    spans: list[tuple[float, float, int, int, Parsed]],
    done: list[float],
) -> None:
    """Readiness of compute ops fed by a RECV action: in start order per thread, an
    ``F`` takes the latest ``RECV_F`` of its stage and micro-batch, a ``B``/``I`` the
    latest ``RECV_B``."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    latest: dict[tuple[int, str, int, int, str], float] = {}
    for i in order:
        _s, e, tid, _, parsed = spans[i]
        if len(parsed) != 1:
            continue
        pipe, stage, mb, kind = parsed[0]
        if kind in ("RECV_F", "RECV_B"):
            latest[(tid, pipe, stage, mb, kind[-1])] = done[i] if not math.isnan(done[i]) else e
        elif kind in ("F", "B", "I"):
            key = (tid, pipe, stage, mb, "F" if kind == "F" else "B")
            got = latest.pop(key, math.nan)
            if not math.isnan(got):
                done[i] = got if math.isnan(done[i]) else max(done[i], got)

