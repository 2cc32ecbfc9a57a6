"""Pipelines, placement and schedules: the records every check, proof and search reads.

A *pipeline* is one copy of the model cut into stages, with its own micro-batches and a
placement (stage -> worker). One pipeline gives 1F1B or GPipe; several stages of one
pipeline on a worker give interleaved or V-shaped placements; several pipelines over the
same workers give replicated schedules such as Chimera (``down`` and ``up``).

A *schedule* is the pipelines plus one ordered program of actions per worker, and
optionally the start time of every action (a *timed* schedule, such as the paper's slot
table).

>>> from verify.core.actions import parse_action
>>> p = Pipeline("main", placement=(0, 1), microbatches=1)
>>> s = Schedule(num_workers=2, pipelines=(p,), programs=(
...     tuple(map(parse_action, ["0F0", "0B0"])), tuple(map(parse_action, ["1F0", "1B0"]))))
>>> s.num_ops, s.default_pipeline
(4, 'main')
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from verify.core.actions import (
    DEFAULT_PIPELINE,
    MAX_INDEX,
    Action,
    Comm,
    Op,
    Overlap,
    StageAction,
    _check_name,
)
from verify.errors import ModelError

MAX_WORKERS = 1 << 20


@dataclass(frozen=True, slots=True)
class Pipeline:
    """One model copy: ``placement[s]`` is the worker that holds stage ``s``;
    ``microbatches`` are numbered ``0 .. microbatches-1`` within this pipeline."""

    name: str
    placement: tuple[int, ...]
    microbatches: int

    def __post_init__(self) -> None:
        _check_name("Pipeline", self.name)
        if not isinstance(self.placement, tuple) or not self.placement:
            raise ModelError("Pipeline", "placement", "a non-empty tuple of workers", self.placement)
        for s, w in enumerate(self.placement):
            if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w < MAX_WORKERS:
                raise ModelError(
                    "Pipeline", "placement", f"worker ids in [0, {MAX_WORKERS})", f"{w!r} at stage {s}"
                )
        mb = self.microbatches
        if not isinstance(mb, int) or isinstance(mb, bool) or not 0 <= mb <= MAX_INDEX:
            raise ModelError("Pipeline", "microbatches", f"an integer in [0, {MAX_INDEX}]", mb)

    @property
    def num_stages(self) -> int:
        return len(self.placement)


class TimingUnit(enum.Enum):
    """How the start times of a timed schedule are read.

    ``STEPS``: lock-step slots, every action occupies exactly one step whatever its cost
    (the paper's slot table, PyTorch's CSV columns). ``TIMES``: start times in the cost
    model's unit; an op occupies ``[start, start + duration)``.
    """

    STEPS = "steps"
    TIMES = "times"


@dataclass(frozen=True, slots=True)
class Timing:
    """Start time of every action: ``starts[w][i]`` belongs to ``programs[w][i]``."""

    unit: TimingUnit
    starts: tuple[tuple[float, ...], ...]


@dataclass(frozen=True, slots=True)
class Schedule:
    """Placement plus one ordered program per worker, optionally timed.

    The constructor checks structure only (shapes, names, ranges of worker ids). Whether
    the programs are complete, correctly placed, deadlock-free and conflict-free is what
    the verifier (:func:`verify.check`) decides, so that a bad schedule can be built,
    loaded and diagnosed.
    """

    num_workers: int
    pipelines: tuple[Pipeline, ...]
    programs: tuple[tuple[Action, ...], ...]
    timing: Timing | None = None
    name: str = ""
    params: tuple[tuple[str, int | float | str], ...] = ()
    """Generator family and parameters (``(("family", "chimera"), ("D", 4), ...)``)."""
    source: str | None = field(default=None, compare=False)
    """The file the schedule was read from, for located diagnostics."""

    def __post_init__(self) -> None:
        nw = self.num_workers
        if not isinstance(nw, int) or isinstance(nw, bool) or not 1 <= nw <= MAX_WORKERS:
            raise ModelError("Schedule", "num_workers", f"an integer in [1, {MAX_WORKERS}]", nw)
        if not self.pipelines:
            raise ModelError("Schedule", "pipelines", "at least one pipeline", self.pipelines)
        names = [p.name for p in self.pipelines]
        if len(set(names)) != len(names):
            raise ModelError("Schedule", "pipelines", "unique pipeline names", names)
        for p in self.pipelines:
            bad = [w for w in p.placement if w >= nw]
            if bad:
                raise ModelError(
                    "Schedule", "pipelines", f"workers in [0, {nw}) in pipeline {p.name!r}", bad[0]
                )
        if len(self.programs) != nw:
            raise ModelError("Schedule", "programs", f"{nw} worker programs", len(self.programs))
        for w, prog in enumerate(self.programs):
            for i, a in enumerate(prog):
                if not isinstance(a, (Op, Overlap, Comm, StageAction)):
                    raise ModelError("Schedule", "programs", "actions", f"{a!r} at worker {w}, {i}")
        if self.timing is not None:
            starts = self.timing.starts
            if len(starts) != nw or any(len(s) != len(p) for s, p in zip(starts, self.programs)):
                raise ModelError(
                    "Schedule", "timing", "one start time per action of every program", "a mismatch"
                )
            for w, row in enumerate(starts):
                for i, t in enumerate(row):
                    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (
                        math.isfinite(t) and t >= 0
                    ):
                        raise ModelError(
                            "Schedule", "timing", "finite start times >= 0", f"{t!r} at worker {w}, {i}"
                        )

    # ----------------------------------------------------------------- queries
    @property
    def default_pipeline(self) -> str | None:
        """The pipeline whose actions are written without a prefix (single-pipeline
        schedules only)."""
        if len(self.pipelines) == 1:
            return self.pipelines[0].name
        return None

    @property
    def num_ops(self) -> int:
        """Number of compute ops (members of an overlap counted one by one)."""
        n = 0
        for prog in self.programs:
            for a in prog:
                n += 1 if isinstance(a, Op) else len(a.ops) if isinstance(a, Overlap) else 0
        return n

    @property
    def num_microbatches(self) -> int:
        """Micro-batches over all pipelines (N in the literature)."""
        return sum(p.microbatches for p in self.pipelines)

    def pipeline(self, name: str) -> Pipeline:
        for p in self.pipelines:
            if p.name == name:
                return p
        raise KeyError(name)

    def ops(self) -> Iterator[tuple[int, int, Op]]:
        """Every compute op as ``(worker, position in program, op)``."""
        for w, prog in enumerate(self.programs):
            for i, a in enumerate(prog):
                if isinstance(a, Op):
                    yield w, i, a
                elif isinstance(a, Overlap):
                    for o in a.ops:
                        yield w, i, o

    def stage_replicas(self) -> tuple[int, ...]:
        """Number of (pipeline, stage) replicas placed on each worker."""
        counts = [0] * self.num_workers
        for p in self.pipelines:
            for w in p.placement:
                counts[w] += 1
        return tuple(counts)

    def weights(self) -> tuple[float, ...]:
        """Weights held per worker in units of M_theta = model size / num_workers
        (1F1B: 1 everywhere; Chimera: 2; interleaved: 1)."""
        acc = [0.0] * self.num_workers
        for p in self.pipelines:
            share = self.num_workers / p.num_stages
            for w in p.placement:
                acc[w] += share
        return tuple(acc)

    def without_timing(self) -> Schedule:
        """The same programs with the start times dropped (order semantics only)."""
        return Schedule(
            self.num_workers, self.pipelines, self.programs, None, self.name, self.params, self.source
        )

    def param(self, key: str) -> int | float | str | None:
        for k, v in self.params:
            if k == key:
                return v
        return None


def single_pipeline(
    name: str = DEFAULT_PIPELINE, *, placement: tuple[int, ...], microbatches: int
) -> Pipeline:
    """Shorthand for the one pipeline of GPipe / 1F1B / interleaved schedules."""
    return Pipeline(name, placement, microbatches)
