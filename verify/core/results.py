"""Diagnostics as data: violations, metrics, per-property verdicts and the report.

The library returns these records; the CLI only renders them (text, JSON, JUnit) and
chooses the exit code, so both always say the same thing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from verify.core.actions import Action, format_action


class ViolationKind(enum.Enum):
    """Every kind of problem a check can report. The value is the stable JSON name."""

    # completeness
    MISSING_OP = "missing-op"
    DUPLICATE_OP = "duplicate-op"
    UNKNOWN_PIPELINE = "unknown-pipeline"
    UNKNOWN_STAGE = "unknown-stage"
    MICROBATCH_OUT_OF_RANGE = "microbatch-out-of-range"
    MIXED_BACKWARD = "mixed-backward"
    # placement
    WRONG_WORKER = "wrong-worker"
    # dependencies
    DEADLOCK = "deadlock"
    # timed schedules
    CONFLICT = "conflict"
    EARLY_START = "early-start"
    TIMING_ORDER = "timing-order"
    # resources
    MEMORY_CAP = "memory-cap"
    # claims of a spec
    CLAIM = "claim"
    # communication (lowered programs with SEND/RECV and collectives)
    COMM_DEADLOCK = "comm-deadlock"
    FIFO_MISMATCH = "fifo-mismatch"
    UNMATCHED_SEND = "unmatched-send"
    UNMATCHED_RECV = "unmatched-recv"
    RECV_WITHOUT_PRODUCER = "recv-without-producer"
    COMPUTE_BEFORE_INPUT = "compute-before-input"
    COLLECTIVE_MISMATCH = "collective-mismatch"
    # conformance of a runtime trace to a schedule
    NOT_EXECUTED = "not-executed"
    UNSCHEDULED = "unscheduled"
    ORDER_DIVERGENCE = "order-divergence"
    DEPENDENCY_VIOLATED = "dependency-violated"
    COMPUTE_OVERLAP = "compute-overlap"
    MESSAGE_ORDER = "message-order"


class Property(enum.Enum):
    """The properties a check decides; each violation kind belongs to exactly one."""

    COMPLETE = "complete"
    PLACED = "placed"
    DEADLOCK_FREE = "deadlock-free"
    CONFLICT_FREE = "conflict-free"
    MEMORY = "memory"
    CLAIMS = "claims"
    COMMUNICATION = "communication"
    CONFORMANCE = "conformance"


PROPERTY_OF: dict[ViolationKind, Property] = {
    ViolationKind.MISSING_OP: Property.COMPLETE,
    ViolationKind.DUPLICATE_OP: Property.COMPLETE,
    ViolationKind.UNKNOWN_PIPELINE: Property.COMPLETE,
    ViolationKind.UNKNOWN_STAGE: Property.COMPLETE,
    ViolationKind.MICROBATCH_OUT_OF_RANGE: Property.COMPLETE,
    ViolationKind.MIXED_BACKWARD: Property.COMPLETE,
    ViolationKind.WRONG_WORKER: Property.PLACED,
    ViolationKind.DEADLOCK: Property.DEADLOCK_FREE,
    ViolationKind.CONFLICT: Property.CONFLICT_FREE,
    ViolationKind.EARLY_START: Property.CONFLICT_FREE,
    ViolationKind.TIMING_ORDER: Property.CONFLICT_FREE,
    ViolationKind.MEMORY_CAP: Property.MEMORY,
    ViolationKind.CLAIM: Property.CLAIMS,
    ViolationKind.COMM_DEADLOCK: Property.COMMUNICATION,
    ViolationKind.FIFO_MISMATCH: Property.COMMUNICATION,
    ViolationKind.UNMATCHED_SEND: Property.COMMUNICATION,
    ViolationKind.UNMATCHED_RECV: Property.COMMUNICATION,
    ViolationKind.RECV_WITHOUT_PRODUCER: Property.COMMUNICATION,
    ViolationKind.COMPUTE_BEFORE_INPUT: Property.COMMUNICATION,
    ViolationKind.COLLECTIVE_MISMATCH: Property.COMMUNICATION,
    ViolationKind.NOT_EXECUTED: Property.CONFORMANCE,
    ViolationKind.UNSCHEDULED: Property.CONFORMANCE,
    ViolationKind.ORDER_DIVERGENCE: Property.CONFORMANCE,
    ViolationKind.DEPENDENCY_VIOLATED: Property.CONFORMANCE,
    ViolationKind.COMPUTE_OVERLAP: Property.CONFORMANCE,
    ViolationKind.MESSAGE_ORDER: Property.CONFORMANCE,
}


class Status(enum.Enum):
    """Verdict on one property."""

    HOLDS = "holds"
    VIOLATED = "violated"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"
    """A solver ran out of budget or could not decide: never success."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One problem, with what a person needs to find and fix it.

    ``ops`` are the actions involved (for a deadlock: the cycle, in order), ``workers``
    the workers involved, ``times`` the start times or slots involved, ``positions``
    the ``(worker, index in program)`` of each op when it is in a program (renderers turn
    them into file locations).
    """

    kind: ViolationKind
    message: str
    ops: tuple[Action, ...] = ()
    workers: tuple[int, ...] = ()
    times: tuple[float, ...] = ()
    positions: tuple[tuple[int, int], ...] = ()

    @property
    def property(self) -> Property:
        return PROPERTY_OF[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "property": self.property.value,
            "message": self.message,
            "ops": [format_action(a, default_pipeline=None) for a in self.ops],
            "workers": list(self.workers),
            "times": [json_number(t) for t in self.times],
            "positions": [list(p) for p in self.positions],
        }


def json_number(x: float) -> float | int:
    """Integral numbers as ints, so that JSON shows ``16`` rather than ``16.0`` (NumPy
    scalars included)."""
    return int(x) if float(x).is_integer() and abs(x) < 2**53 else x


@dataclass(frozen=True, slots=True)
class Metrics:
    """Execution metrics of a schedule under a cost model (earliest-start semantics).

    ``bubble_ratio`` is total idle time over ``num_workers * makespan``.
    ``peak_activations`` is in units of one micro-batch's activations on one stage
    (M_a); ``weights`` in units of M_theta (model size / number of workers).
    """

    makespan: float
    busy: tuple[float, ...]
    idle: tuple[float, ...]
    bubble_ratio: float
    peak_activations: tuple[float, ...]
    stage_replicas: tuple[int, ...]
    weights: tuple[float, ...]
    num_ops: int
    timing: str = "order"
    """``order`` (earliest start from the per-worker order) or ``steps``/``times``
    (the schedule's own start times)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "makespan": json_number(self.makespan),
            "bubble_ratio": self.bubble_ratio,
            "busy": [json_number(x) for x in self.busy],
            "idle": [json_number(x) for x in self.idle],
            "peak_activations": [json_number(x) for x in self.peak_activations],
            "stage_replicas": list(self.stage_replicas),
            "weights": [json_number(x) for x in self.weights],
            "num_ops": self.num_ops,
            "timing": self.timing,
        }


@dataclass(frozen=True, slots=True)
class PropertyResult:
    """The verdict on one property, with the reason when it was skipped."""

    property: Property
    status: Status
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a check found about one schedule."""

    subject: str
    violations: tuple[Violation, ...]
    properties: tuple[PropertyResult, ...]
    metrics: Metrics | None
    costs: str = ""
    """The cost model the metrics and timed checks used (``CostModel.describe()``)."""

    @property
    def ok(self) -> bool:
        """True when no property is violated or undecided (skipped properties do not
        fail; UNKNOWN ones do)."""
        return not self.violations and not any(r.status is Status.UNKNOWN for r in self.properties)

    def of_kind(self, kind: ViolationKind) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.kind is kind)

    def kinds(self) -> set[ViolationKind]:
        return {v.kind for v in self.violations}

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "costs": self.costs,
            "properties": {
                r.property.value: {"status": r.status.value, **({"reason": r.reason} if r.reason else {})}
                for r in self.properties
            },
            "violations": [v.to_dict() for v in self.violations],
            "metrics": self.metrics.to_dict() if self.metrics else None,
        }
