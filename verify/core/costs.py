"""The cost model: op durations, communication latency and activation memory.

>>> c = CostModel.parse("F=1,B=2")
>>> c.duration(OpKind.B, stage=0), c.duration(OpKind.I, stage=0), c.duration(OpKind.W, stage=0)
(2.0, 1.0, 1.0)
>>> CostModel.parse("F=1,I=1,W=1").duration(OpKind.B, stage=3)
2.0
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from verify.core.actions import OpKind
from verify.errors import ModelError, ParameterError

if TYPE_CHECKING:
    from verify.core.schedule import Schedule

MAX_COST = 1e12


def _check_cost(record: str, name: str, value: float | None, *, positive: bool = False) -> None:
    if value is None:
        return
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= MAX_COST
    )
    if not ok or (positive and value == 0):
        lo = "> 0" if positive else ">= 0"
        raise ModelError(record, name, f"a finite number {lo} and <= {MAX_COST:g}", value)


@dataclass(frozen=True, slots=True)
class StageCosts:
    """Per-stage overrides of the op durations and activation memory (None = default)."""

    F: float | None = None
    B: float | None = None
    I: float | None = None
    W: float | None = None
    activation: float | None = None

    def __post_init__(self) -> None:
        for name in ("F", "B", "I", "W", "activation"):
            _check_cost("StageCosts", name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class CostModel:
    """Durations per op kind (optionally per stage), latency, activation memory.

    Split-backward defaults: ``I`` is ``B/2`` and ``W`` is ``B - I`` unless given; if
    ``I`` and ``W`` are given and ``B`` is not, ``B = I + W``. ``overlap`` is the
    duration of an ``OVERLAP_F_B`` unit (default: the sum of its members). ``latency``
    is added to every cross-worker dependency; ``links`` overrides it per ordered pair
    of workers. ``activation`` is the memory one micro-batch holds on one stage from the
    start of its F to the end of its B (or of its W when the backward is split).
    """

    F: float = 1.0
    B: float | None = None
    I: float | None = None
    W: float | None = None
    overlap: float | None = None
    latency: float = 0.0
    activation: float = 1.0
    per_stage: tuple[tuple[int, StageCosts], ...] = ()
    links: tuple[tuple[int, int, float], ...] = ()
    _table: dict[int, tuple[float, float, float, float, float]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for name in ("F", "B", "I", "W", "overlap", "latency", "activation"):
            _check_cost("CostModel", name, getattr(self, name))
        for item in self.per_stage:
            if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], StageCosts)):
                raise ModelError("CostModel", "per_stage", "(stage, StageCosts) pairs", item)
        for link in self.links:
            if not (isinstance(link, tuple) and len(link) == 3):
                raise ModelError("CostModel", "links", "(src, dst, latency) triples", link)
            _check_cost("CostModel", "links", link[2])

    # ------------------------------------------------------------ resolution
    def _resolve(self, F: float, B: float | None, I: float | None, W: float | None) -> tuple[
        float, float, float, float
    ]:
        if B is None:
            B = (I + W) if (I is not None and W is not None) else F
        if I is None:
            I = B - W if W is not None else B / 2
        if W is None:
            W = B - I
        return float(F), float(B), float(I), float(W)

    def _row(self, stage: int) -> tuple[float, float, float, float, float]:
        row = self._table.get(stage)
        if row is None:
            over = None
            for s, sc in self.per_stage:
                if s == stage:
                    over = sc
            if over is None:
                F, B, I, W = self._resolve(self.F, self.B, self.I, self.W)
                act = self.activation
            else:
                F, B, I, W = self._resolve(
                    over.F if over.F is not None else self.F,
                    over.B if over.B is not None else self.B,
                    over.I if over.I is not None else self.I,
                    over.W if over.W is not None else self.W,
                )
                act = over.activation if over.activation is not None else self.activation
            row = (F, B, I, W, float(act))
            self._table[stage] = row
        return row

    def duration(self, kind: OpKind, stage: int) -> float:
        """Duration of an op of ``kind`` on ``stage``."""
        F, B, I, W, _ = self._row(stage)
        return {OpKind.F: F, OpKind.B: B, OpKind.I: I, OpKind.W: W}[kind]

    def durations(self, stage: int) -> tuple[float, float, float, float]:
        """``(F, B, I, W)`` durations on ``stage`` (fast path for simulators)."""
        F, B, I, W, _ = self._row(stage)
        return F, B, I, W

    def activation_of(self, stage: int) -> float:
        return self._row(stage)[4]

    def latency_between(self, src: int, dst: int) -> float:
        """Latency of a message from worker ``src`` to ``dst`` (0 on the same worker)."""
        if src == dst:
            return 0.0
        for a, b, lat in self.links:
            if a == src and b == dst:
                return float(lat)
        return float(self.latency)

    @property
    def is_unit(self) -> bool:
        """True when every op takes one slot and messages are free (the paper's slots)."""
        F, B, _, _, _ = self._row(-1)
        return F == B == 1.0 and self.latency == 0 and not self.per_stage and not self.links

    # --------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, text: str) -> CostModel:
        """Parse ``F=1,B=2,latency=0.1,activation=1,overlap=2.5`` and per-stage
        overrides ``F@3=1.5`` (stage 3). Raises :class:`ModelError` naming the item."""
        kwargs: dict[str, float] = {}
        stages: dict[int, dict[str, float]] = {}
        allowed = {"F", "B", "I", "W", "overlap", "latency", "activation"}
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, val = item.partition("=")
            key = key.strip()
            if not sep:
                raise ModelError("CostModel", "costs", "items like F=1", item)
            try:
                number = float(val)
            except ValueError:
                raise ModelError("CostModel", key, "a number", val.strip()) from None
            name, at, stage_text = key.partition("@")
            if name not in allowed:
                raise ModelError("CostModel", "costs", f"a key among {sorted(allowed)}", name)
            if at:
                if not stage_text.isdigit() or name in ("overlap", "latency"):
                    raise ModelError("CostModel", key, "a per-stage key like F@3", key)
                stages.setdefault(int(stage_text), {})[name] = number
            else:
                kwargs[name] = number
        per_stage = tuple(sorted((s, StageCosts(**v)) for s, v in stages.items()))
        return cls(**kwargs, per_stage=per_stage)  # type: ignore[arg-type]

    def describe(self) -> str:
        """Compact text form, the inverse of :meth:`parse`."""
        F, B, I, W, _ = self._row(-1)
        parts = [f"F={F:g}", f"B={B:g}"]
        if self.I is not None or self.W is not None:
            parts += [f"I={I:g}", f"W={W:g}"]
        if self.overlap is not None:
            parts.append(f"overlap={self.overlap:g}")
        if self.latency:
            parts.append(f"latency={self.latency:g}")
        if self.activation != 1:
            parts.append(f"activation={self.activation:g}")
        for s, sc in self.per_stage:
            for name in ("F", "B", "I", "W", "activation"):
                v = getattr(sc, name)
                if v is not None:
                    parts.append(f"{name}@{s}={v:g}")
        return ",".join(parts)


UNIT_COSTS = CostModel()


def work_scale(schedule: Schedule) -> float:
    """Factor that turns costs given per ``1/D`` of the model and per micro-batch into
    costs per op of ``schedule``: ``D * N / (S * M)`` with ``S`` the stages of a pipeline
    and ``M`` the micro-batches the pipelines count (``2N`` when ops are on half
    micro-batches). 1 for one-stage-per-worker families; ``1/v`` for ``v`` chunks per
    worker; ``1/2`` for ``chimera-bh``.

    >>> from verify.generators import generate
    >>> work_scale(generate("interleaved-1f1b", 4, 8, v=2)), work_scale(generate("chimera-bh", 4, 4))
    (0.5, 0.5)
    """
    D = schedule.num_workers
    N = schedule.param("N")
    M = schedule.num_microbatches
    n = N if isinstance(N, int) and N > 0 else M
    stages = max(p.num_stages for p in schedule.pipelines)
    return (D * n) / (stages * M) if M else 1.0


def normalized_costs(schedule: Schedule, costs: CostModel) -> CostModel:
    """``costs`` (per ``1/D`` of the model, per micro-batch) rescaled to the ops of
    ``schedule`` by :func:`work_scale`: durations, overlap and activation memory scale,
    latency does not. Makes families with chunks or half micro-batches comparable: the
    whole model on the whole batch always costs the same work.

    >>> from verify.generators import generate
    >>> normalized_costs(generate("zb-v", 4, 8), CostModel(F=1, B=2)).describe()
    'F=0.5,B=1,activation=0.5'
    """
    k = work_scale(schedule)
    if k == 1:
        return costs
    if costs.per_stage:
        raise ParameterError(
            f"{schedule.name}: per-stage costs cannot be rescaled to its "
            f"{max(p.num_stages for p in schedule.pipelines)} stages"
        )
    return scaled_costs(costs, k)


def scaled_costs(costs: CostModel, k: float) -> CostModel:
    """Every duration and the activation memory multiplied by ``k`` (latency unchanged)."""

    def sc(x: float | None) -> float | None:
        return None if x is None else x * k

    return dataclasses.replace(
        costs, F=costs.F * k, B=sc(costs.B), I=sc(costs.I), W=sc(costs.W),
        overlap=sc(costs.overlap), activation=costs.activation * k, _table={},
    )


"""Unit slots: F = B = 1, no latency (the paper's slot tables)."""
