"""The search problem: placement, micro-batches, costs, memory cap and objective.

A :class:`SearchProblem` is pure data. It fixes *what* may be scheduled (the pipelines:
their stages, the worker of every stage, their micro-batches), *what it costs* (a
:class:`~verify.core.costs.CostModel`: F, B or I + W per stage, latency across workers,
activation memory) and *what is wanted* (an :class:`Objective`, an optional activation
memory cap per worker and an optional makespan bound). The search then chooses the
order of the ops on every worker.

Placements by name (D workers, N micro-batches, v chunks):

* ``single``: one pipeline, stage s on worker s (1F1B, GPipe);
* ``interleaved``: one pipeline of D*v stages, stage s on worker s mod D;
* ``v-shape``: one pipeline of D*v stages zig-zagging over the workers (v = 2 is the
  V of ZB-V and DualPipeV: worker w holds stages w and 2D-1-w);
* ``bidirectional``: Chimera's two replicated pipelines ``down`` (stage s on worker s)
  and ``up`` (stage s on worker D-1-s), N split between them as evenly as possible;
* any placement read from a schedule (:meth:`SearchProblem.from_schedule`).

>>> p = SearchProblem.build(4, 8, placement="bidirectional", costs="F=1,B=2", memory_cap=4)
>>> [(q.name, q.placement, q.microbatches) for q in p.pipelines]
[('down', (0, 1, 2, 3), 4), ('up', (3, 2, 1, 0), 4)]
>>> p.split_backward, p.objective.value, p.memory_cap
(False, 'makespan', 4.0)
>>> SearchProblem.build(2, 2, placement="v-shape").pipelines[0].placement
(0, 1, 1, 0)
>>> SearchProblem.build(4, 2, costs="F=1,I=1,W=1").split_backward
True
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from verify.core.actions import DEFAULT_PIPELINE, OpKind
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import Pipeline, Schedule
from verify.errors import ParameterError

PLACEMENTS = ("single", "interleaved", "v-shape", "bidirectional")
"""Placements that can be built by name (``custom`` ones come from a schedule)."""

MAX_OPS = 2_000_000
"""Largest number of ops a search problem may have (a guard against absurd input)."""


class Objective(enum.Enum):
    """What the search minimises.

    ``MAKESPAN``: the end of the last op. ``BUBBLE``: total idle time, counted as
    :class:`~verify.core.results.Metrics` does (every worker idles from the end of its
    work to the makespan), i.e. ``D * makespan - total work``; since the total work is
    fixed, its optimum is the makespan optimum, reported in idle-time units.
    ``PEAK_MEMORY``: the largest peak of activation memory over the workers, subject to
    the makespan bound of the problem (if any).
    """

    MAKESPAN = "makespan"
    BUBBLE = "bubble"
    PEAK_MEMORY = "peak-memory"

    @classmethod
    def parse(cls, value: Objective | str) -> Objective:
        if isinstance(value, Objective):
            return value
        for o in cls:
            if o.value == value:
                return o
        known = ", ".join(o.value for o in cls)
        raise ParameterError(f"search: unknown objective {value!r}; known: {known}")


def _positive_int(name: str, value: object, high: int = 1_000_000) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise ParameterError(f"search: {name} must be an integer in [1, {high}], got {value!r}")
    return value


def _positive_number(name: str, value: object) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) <= 0:  # type: ignore[arg-type]
        raise ParameterError(f"search: {name} must be a finite number > 0, got {value!r}")
    return float(value)  # type: ignore[arg-type]


def placement_pipelines(
    placement: str, stages: int, microbatches: int, chunks: int | None = None
) -> tuple[Pipeline, ...]:
    """The pipelines of a named placement for D = ``stages`` workers and N =
    ``microbatches`` micro-batches (``chunks`` = v for ``interleaved`` and ``v-shape``,
    default 2).

    >>> [p.placement for p in placement_pipelines("interleaved", 2, 3, chunks=3)]
    [(0, 1, 0, 1, 0, 1)]
    >>> [p.placement for p in placement_pipelines("v-shape", 3, 1, chunks=3)]
    [(0, 1, 2, 2, 1, 0, 0, 1, 2)]
    """
    D = _positive_int("stages (D)", stages, 100_000)
    N = _positive_int("microbatches (N)", microbatches)
    if placement in ("single", "bidirectional") and chunks not in (None, 1):
        raise ParameterError(f"search: placement {placement!r} takes no chunks, got {chunks}")
    v = _positive_int("chunks (v)", 2 if chunks is None else chunks, 1000)
    if placement == "single":
        return (Pipeline(DEFAULT_PIPELINE, tuple(range(D)), N),)
    if placement == "interleaved":
        return (Pipeline(DEFAULT_PIPELINE, tuple(s % D for s in range(D * v)), N),)
    if placement == "v-shape":
        zigzag = tuple(s % D if (s // D) % 2 == 0 else D - 1 - s % D for s in range(D * v))
        return (Pipeline(DEFAULT_PIPELINE, zigzag, N),)
    if placement == "bidirectional":
        # the same split as the Chimera generator, so that the two compare op for op
        from verify.generators.chimera import chimera_pipelines

        return chimera_pipelines(D, N)
    known = ", ".join(PLACEMENTS)
    raise ParameterError(f"search: unknown placement {placement!r}; known: {known} (or a schedule file)")


@dataclass(frozen=True, slots=True)
class SearchProblem:
    """One instance: which ops exist and where they run, what they cost, what is wanted.

    ``memory_cap`` bounds every worker's peak activation memory (in the cost model's
    activation units; one micro-batch on one stage holds ``costs.activation_of(stage)``
    from the start of its F to the end of its B, or of its W when ``split_backward``).
    ``makespan_bound`` is a hard upper bound on the makespan (required in spirit for the
    ``PEAK_MEMORY`` objective, optional for the others). ``placement`` is a label only.
    """

    num_workers: int
    pipelines: tuple[Pipeline, ...]
    costs: CostModel = UNIT_COSTS
    memory_cap: float | None = None
    objective: Objective = Objective.MAKESPAN
    makespan_bound: float | None = None
    split_backward: bool = False
    """Schedule every backward as ``I`` then ``W`` (zero-bubble split) instead of ``B``."""
    placement: str = "custom"

    def __post_init__(self) -> None:
        _positive_int("num_workers", self.num_workers, 100_000)
        if not isinstance(self.pipelines, tuple) or not self.pipelines:
            raise ParameterError("search: at least one pipeline is needed")
        names = [p.name for p in self.pipelines]
        if len(set(names)) != len(names):
            raise ParameterError(f"search: pipeline names must be unique, got {names}")
        ops = 0
        for p in self.pipelines:
            if not isinstance(p, Pipeline):
                raise ParameterError(f"search: pipelines must be Pipeline records, got {p!r}")
            bad = [w for w in p.placement if w >= self.num_workers]
            if bad:
                raise ParameterError(
                    f"search: pipeline {p.name!r} places a stage on worker {bad[0]}, "
                    f"but there are {self.num_workers} workers"
                )
            ops += p.num_stages * p.microbatches * (3 if self.split_backward else 2)
        if ops == 0:
            raise ParameterError("search: the pipelines have no micro-batches, nothing to schedule")
        if ops > MAX_OPS:
            raise ParameterError(f"search: {ops} ops is more than the limit of {MAX_OPS}")
        if not isinstance(self.costs, CostModel):
            raise ParameterError(f"search: costs must be a CostModel, got {self.costs!r}")
        if not isinstance(self.objective, Objective):
            raise ParameterError(f"search: objective must be an Objective, got {self.objective!r}")
        if self.memory_cap is not None:
            _positive_number("memory_cap", self.memory_cap)
        if self.makespan_bound is not None:
            _positive_number("makespan_bound", self.makespan_bound)
        kinds = (OpKind.F, OpKind.I, OpKind.W) if self.split_backward else (OpKind.F, OpKind.B)
        for p in self.pipelines:
            for s in range(p.num_stages):
                for k in kinds:
                    if self.costs.duration(k, s) <= 0:
                        raise ParameterError(
                            f"search: every op needs a duration > 0; {k.value} on stage {s} "
                            f"costs {self.costs.duration(k, s):g}"
                        )

    # ------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        stages: int,
        microbatches: int,
        *,
        placement: str = "bidirectional",
        chunks: int | None = None,
        costs: CostModel | str | None = None,
        memory_cap: float | None = None,
        objective: Objective | str = Objective.MAKESPAN,
        makespan_bound: float | None = None,
        split_backward: bool | None = None,
    ) -> SearchProblem:
        """The problem for a named placement (see :func:`placement_pipelines`).

        ``costs`` may be a :class:`CostModel` or its text form (``"F=1,B=2"``).
        ``split_backward`` defaults to whether the costs name ``I`` or ``W``.
        """
        model = _costs(costs)
        pipes = placement_pipelines(placement, stages, microbatches, chunks)
        label = placement
        if placement in ("interleaved", "v-shape"):
            label = f"{placement}(v={2 if chunks is None else chunks})"
        split = (model.I is not None or model.W is not None) if split_backward is None else split_backward
        return cls(
            num_workers=stages,
            pipelines=pipes,
            costs=model,
            memory_cap=None if memory_cap is None else _positive_number("memory_cap", memory_cap),
            objective=Objective.parse(objective),
            makespan_bound=makespan_bound,
            split_backward=bool(split),
            placement=label,
        )

    @classmethod
    def from_schedule(
        cls,
        schedule: Schedule,
        *,
        costs: CostModel | str | None = None,
        memory_cap: float | None = None,
        objective: Objective | str = Objective.MAKESPAN,
        makespan_bound: float | None = None,
        split_backward: bool | None = None,
    ) -> SearchProblem:
        """The problem with ``schedule``'s workers and pipelines (placement and
        micro-batch counts); its order is not part of the problem (pass the schedule
        as a warm start to keep it as a starting point). ``split_backward`` defaults to
        whether the schedule has ``I`` ops or the costs name ``I`` or ``W``."""
        model = _costs(costs)
        if split_backward is None:
            has_i = any(op.kind is OpKind.I for _, _, op in schedule.ops())
            split_backward = has_i or model.I is not None or model.W is not None
        family = schedule.param("family")
        return cls(
            num_workers=schedule.num_workers,
            pipelines=schedule.pipelines,
            costs=model,
            memory_cap=None if memory_cap is None else _positive_number("memory_cap", memory_cap),
            objective=Objective.parse(objective),
            makespan_bound=makespan_bound,
            split_backward=split_backward,
            placement=f"custom (from {family})" if isinstance(family, str) else "custom",
        )

    # ----------------------------------------------------------------- queries
    @property
    def num_microbatches(self) -> int:
        """N: micro-batches over all pipelines."""
        return sum(p.microbatches for p in self.pipelines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-renderable); :meth:`key` hashes it."""
        return {
            "workers": self.num_workers,
            "microbatches": self.num_microbatches,
            "placement": self.placement,
            "pipelines": [
                {"name": p.name, "placement": list(p.placement), "microbatches": p.microbatches}
                for p in self.pipelines
            ],
            "costs": self.costs.describe(),
            "links": [list(link) for link in self.costs.links],
            "memory_cap": self.memory_cap,
            "objective": self.objective.value,
            "makespan_bound": self.makespan_bound,
            "split_backward": self.split_backward,
        }

    def key(self) -> str:
        """A stable identifier of the instance (the same problem gives the same key in
        every process and session), used by sweeps to resume.

        >>> SearchProblem.build(4, 4).key() == SearchProblem.build(4, 4).key()
        True
        """
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def describe(self) -> str:
        """One line for humans, e.g. ``bidirectional D=4 N=8 F=1,B=2 cap=4``."""
        parts = [self.placement, f"D={self.num_workers}", f"N={self.num_microbatches}",
                 self.costs.describe()]
        if self.split_backward and self.costs.I is None and self.costs.W is None:
            parts.append("split")
        if self.memory_cap is not None:
            parts.append(f"cap={self.memory_cap:g}")
        if self.makespan_bound is not None:
            parts.append(f"makespan<={self.makespan_bound:g}")
        if self.objective is not Objective.MAKESPAN:
            parts.append(f"objective={self.objective.value}")
        return " ".join(parts)


def _costs(costs: CostModel | str | None) -> CostModel:
    if costs is None:
        return CostModel()
    if isinstance(costs, CostModel):
        return costs
    if isinstance(costs, str):
        return CostModel.parse(costs)
    raise ParameterError(f"search: costs must be a CostModel or text like 'F=1,B=2', got {costs!r}")
