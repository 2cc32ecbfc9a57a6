"""Runtime traces in columnar form: what ran on which worker, and when.

A trace is a set of *events*, one per executed action: a compute op (``F``, ``B``,
``I``, ``W``), a message (``SEND_F``, ``RECV_F``, ``SEND_B``, ``RECV_B``) or a stage
action (``UNSHARD``, ``RESHARD``, ``REDUCE_GRAD``). Readers stream their files into an
:class:`EventBuilder`, which keeps only these compact NumPy columns (about 100 bytes per
event), so the size of a trace file does not matter, only the number of actions in it.

Columns (one entry per event):

``worker``
    The rank that ran it.
``pipeline``
    Index into :attr:`TraceEvents.pipelines`, or -1 when the trace does not name the
    pipeline (PyTorch's ``PP:3F0``); the checker then infers it from the placement.
``stage``, ``microbatch``
    -1 when unknown (``Forward 3`` labels name no stage) or absent (stage actions).
``kind``
    Code of :data:`KINDS` (0-3 are the compute kinds, in :mod:`verify.passes.index` order).
``start``, ``end``
    Span of the event, in :attr:`TraceEvents.time_unit`.
``ready``
    When the op's input was available, if the trace shows it (NaN otherwise). Runtimes
    such as PyTorch's wait for the input *inside* the op's span; the op computes from
    ``min(max(start, ready), end)`` on.
``peer``, ``seq``
    Messages only: the other worker and the message id, -1 when not recorded.
``step``
    The training step the event belongs to according to the trace's own markers
    (``ProfilerStep#2``, a ``step`` column): -1 when the trace has no markers, -2 for an
    event outside every marked step (warm-up work).
``unit``
    Events on one worker sharing a unit id >= 0 ran together as one overlapped unit
    (``OVERLAP_F_B``).
``source``, ``location``
    The file (index into :attr:`TraceEvents.sources`) and the line or event index in it.

>>> b = EventBuilder()
>>> src = b.add_source("t.csv", "line")
>>> b.append(0, "", 0, 0, "F", 0.0, 1.0, source=src, location=2)
>>> b.append(1, "", 1, 0, "F", 1.0, 2.0, source=src, location=3)
>>> ev = b.build()
>>> len(ev), ev.where(1), ev.label(1)
(2, 't.csv:line 3', '1F0')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from verify.core.actions import DEFAULT_PIPELINE
from verify.errors import ScheduleFormatError

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

KINDS: tuple[str, ...] = (
    "F", "B", "I", "W", "SEND_F", "RECV_F", "SEND_B", "RECV_B", "UNSHARD", "RESHARD", "REDUCE_GRAD",
)
"""Event kinds by code; codes 0-3 are the compute kinds F, B, I, W."""

KIND_CODE: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
NUM_COMPUTE = 4
SEND_F, RECV_F, SEND_B, RECV_B = 4, 5, 6, 7
FIRST_STAGE_ACTION = 8

NO_STEP = -1
"""Step column value when the trace carries no step markers."""
OUTSIDE_STEP = -2
"""Step column value of an event outside every marked step (warm-up work)."""

_CHUNK = 1 << 16
_COLUMNS = (
    ("worker", np.int64), ("pipeline", np.int64), ("stage", np.int64), ("microbatch", np.int64),
    ("kind", np.int64), ("start", np.float64), ("end", np.float64), ("ready", np.float64),
    ("peer", np.int64), ("seq", np.int64), ("step", np.int64), ("unit", np.int64),
    ("source", np.int64), ("location", np.int64),
)


def _compact(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """An integer column in the narrowest type that holds its values, so that chunks
    wait for :meth:`EventBuilder.build` in a fraction of the memory (a one-value view
    stays as it is)."""
    if a.dtype != np.int64 or not len(a) or a.strides[0] == 0:
        return a
    lo, hi = int(a.min()), int(a.max())
    for t in (np.int8, np.int16, np.int32):
        info = np.iinfo(t)
        if info.min <= lo and hi <= info.max:
            return a.astype(t)
    return a


@dataclass(frozen=True, slots=True, eq=False)
class TraceEvents:
    """The events of one trace (all ranks), as columns (see the module docstring)."""

    worker: IntArray
    pipeline: IntArray
    stage: IntArray
    microbatch: IntArray
    kind: IntArray
    start: FloatArray
    end: FloatArray
    ready: FloatArray
    peer: IntArray
    seq: IntArray
    step: IntArray
    unit: IntArray
    source: IntArray
    location: IntArray
    pipelines: tuple[str, ...]
    """Pipeline names referred to by the ``pipeline`` column."""
    sources: tuple[str, ...]
    """The files read, referred to by the ``source`` column."""
    location_styles: tuple[str, ...]
    """Per source: ``line`` (``file:line 12``) or ``event`` (``file:$.traceEvents[12]``)."""
    time_unit: str = ""
    """Unit of the time columns (``us`` for profiler traces; empty when unknown)."""
    step_label: str = "step {}"
    """How a marked step number is shown (``ProfilerStep#{}`` for profiler traces)."""
    workers_seen: tuple[int, ...] = ()
    """Every worker a file was read for (also those whose file holds no action)."""

    def __len__(self) -> int:
        return len(self.kind)

    @property
    def marked(self) -> bool:
        """True when the trace marks its training steps."""
        return bool(len(self.step)) and bool(np.any(self.step != NO_STEP))

    def where(self, i: int) -> str:
        """The location of event ``i`` in its file (``file:line 12``)."""
        src = int(self.source[i])
        loc = int(self.location[i])
        if self.location_styles[src] == "event":
            return f"{self.sources[src]}:$.traceEvents[{loc}]"
        return f"{self.sources[src]}:line {loc}"

    def label(self, i: int) -> str:
        """Event ``i`` in the action grammar (``up:3F0``, ``1SEND_B2``, ``Forward 3``)."""
        k = int(self.kind[i])
        p = int(self.pipeline[i])
        name = self.pipelines[p] if p >= 0 else ""
        prefix = f"{name}:" if name and name != DEFAULT_PIPELINE else ""
        s, m = int(self.stage[i]), int(self.microbatch[i])
        if s < 0:
            return f"{'Forward' if KINDS[k] == 'F' else 'Backward'} {m}"
        if k >= FIRST_STAGE_ACTION:
            return f"{prefix}{s}{KINDS[k]}"
        return f"{prefix}{s}{KINDS[k]}{m}"


@dataclass(slots=True)
class EventBuilder:
    """Accumulates events from streaming readers in bounded chunks.

    Per-event :meth:`append` calls are buffered in lists and flushed into NumPy chunks
    every 65,536 events; vectorised readers hand over whole columns with
    :meth:`extend`. Chunks keep integer columns in the narrowest type that holds them;
    :meth:`build` concatenates them into the ``int64`` / ``float64`` columns of
    :class:`TraceEvents`.
    """

    _rows: list[tuple[int, int, int, int, int, float, float, float, int, int, int, int, int, int]] = field(
        default_factory=list
    )
    _chunks: list[dict[str, npt.NDArray[Any]]] = field(default_factory=list)
    _pipes: dict[str, int] = field(default_factory=dict)
    _sources: list[str] = field(default_factory=list)
    _styles: list[str] = field(default_factory=list)
    _next_unit: int = 0
    _workers: dict[int, str] = field(default_factory=dict)
    marked_sources: set[int] = field(default_factory=set)
    """Sources that hold at least one event with a step marker."""
    time_unit: str | None = None
    step_label: str = "step {}"
    time_ref_ns: int | None = None
    """Reference of absolute times (profiler traces: the first file's base time)."""

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def count(self) -> int:
        """Events added so far."""
        return len(self._rows) + sum(len(c["kind"]) for c in self._chunks)

    def add_source(self, path: str, style: str) -> int:
        """Register a file; returns its index for the ``source`` column."""
        self._sources.append(path)
        self._styles.append(style)
        return len(self._sources) - 1

    def claim_worker(self, worker: int, source: str) -> None:
        """Record that ``source`` holds ``worker``'s events; a second file claiming the
        same rank is an error (the trace would mix two runs)."""
        other = self._workers.get(worker)
        if other is not None and other != source:
            raise ScheduleFormatError(source, None, f"rank {worker} is also the rank of {other}")
        self._workers[worker] = source

    def pipeline_code(self, name: str) -> int:
        """Code of pipeline ``name`` (-1 for the empty name: not given)."""
        if not name:
            return -1
        code = self._pipes.get(name)
        if code is None:
            code = self._pipes[name] = len(self._pipes)
        return code

    def new_unit(self) -> int:
        """A fresh id for an overlapped unit."""
        self._next_unit += 1
        return self._next_unit - 1

    def append(
        self, worker: int, pipeline: str, stage: int, microbatch: int, kind: str,
        start: float, end: float, *, ready: float = float("nan"), peer: int = -1, seq: int = -1,
        step: int = NO_STEP, unit: int = -1, source: int = 0, location: int = 0,
    ) -> None:
        """Add one event (``kind`` by name, see :data:`KINDS`)."""
        if step != NO_STEP:
            self.marked_sources.add(source)
        self._rows.append((worker, self.pipeline_code(pipeline), stage, microbatch, KIND_CODE[kind],
                           start, end, ready, peer, seq, step, unit, source, location))
        if len(self._rows) >= _CHUNK:
            self._flush()

    def extend(self, columns: dict[str, npt.NDArray[Any]]) -> None:
        """Add many events at once; ``columns`` holds every column of :data:`_COLUMNS`
        (pipeline as codes from :meth:`pipeline_code`)."""
        self._flush()
        n = len(columns["kind"])
        chunk: dict[str, npt.NDArray[Any]] = {
            name: np.asarray(columns[name], dtype=dt) for name, dt in _COLUMNS}
        if any(len(c) != n for c in chunk.values()):
            raise ValueError("columns of unequal length")
        marked = chunk["step"] != NO_STEP
        if np.any(marked):
            self.marked_sources.update(np.unique(chunk["source"][marked]).tolist())
        self._chunks.append({name: _compact(c) for name, c in chunk.items()})

    def _flush(self) -> None:
        if not self._rows:
            return
        cols = list(zip(*self._rows))
        self._chunks.append({name: _compact(np.array(cols[j], dtype=dt))
                             for j, (name, dt) in enumerate(_COLUMNS)})
        self._rows = []

    def build(self) -> TraceEvents:
        """The events read so far, with times shifted to start at 0."""
        self._flush()
        cols: dict[str, npt.NDArray[Any]] = {}
        for name, dt in _COLUMNS:
            parts = [c[name] for c in self._chunks]
            # a fresh array (concatenate copies), so the shift below may work in place
            cols[name] = np.concatenate(parts, dtype=dt) if parts else np.zeros(0, dt)
        start = cols["start"]
        if len(start):
            t0 = float(start.min())
            start -= t0
            cols["end"] -= t0
            cols["ready"] -= t0
        names = [""] * len(self._pipes)
        for name, code in self._pipes.items():
            names[code] = name
        return TraceEvents(
            worker=cols["worker"], pipeline=cols["pipeline"], stage=cols["stage"],
            microbatch=cols["microbatch"], kind=cols["kind"], start=start,
            end=cols["end"], ready=cols["ready"], peer=cols["peer"],
            seq=cols["seq"], step=cols["step"], unit=cols["unit"],
            source=cols["source"], location=cols["location"],
            pipelines=tuple(names), sources=tuple(self._sources), location_styles=tuple(self._styles),
            time_unit=self.time_unit or "", step_label=self.step_label,
            workers_seen=tuple(sorted(self._workers)),
        )
