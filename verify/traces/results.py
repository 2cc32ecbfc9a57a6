"""Results of checking a trace: per-step verdicts, measured and predicted metrics.

The core :class:`~verify.core.results.Report` carries the violations (kinds of
:attr:`~verify.core.results.Property.CONFORMANCE`) and the measured metrics; a
:class:`TraceReport` adds what only a trace has: the steps found and which of them
diverged, the cost model fitted to the measured durations, and the makespan that model
predicts beside the measured one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from verify.core.costs import CostModel
from verify.core.results import Metrics, Report, Violation, json_number


@dataclass(frozen=True, slots=True)
class StepResult:
    """One training step of the trace checked on its own."""

    label: str
    """How the trace names it (``ProfilerStep#3``, ``step 2``)."""
    start: float
    end: float
    ops_expected: int
    ops_executed: int
    """Compute ops of the step that match a scheduled op (duplicates counted once)."""
    violations: tuple[Violation, ...]
    metrics: Metrics | None
    """Measured metrics of the step (None when nothing of the schedule ran in it)."""

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def empty(self) -> bool:
        """True when nothing of the schedule ran in this step (e.g. an evaluation step)."""
        return self.metrics is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "ok": self.ok,
            "empty": self.empty,
            "start": json_number(self.start),
            "end": json_number(self.end),
            "ops_expected": self.ops_expected,
            "ops_executed": self.ops_executed,
            "violations": [v.to_dict() for v in self.violations],
            "metrics": self.metrics.to_dict() if self.metrics else None,
        }


@dataclass(frozen=True, slots=True)
class TraceReport:
    """Conformance of a trace to a schedule, with measured and predicted metrics."""

    report: Report
    """Every violation (messages start with the step) and the measured metrics (median
    over the steps)."""
    steps: tuple[StepResult, ...]
    time_unit: str
    events: int
    """Actions read from the trace."""
    ignored: int
    """Actions outside every marked step (warm-up work), not checked."""
    fitted: CostModel | None
    """Median F, B, I, W durations per stage, measured (None without compute ops)."""
    predicted: Metrics | None
    """Metrics of the schedule simulated under :attr:`fitted` (earliest start)."""
    counts: tuple[tuple[str, int], ...] = ()
    """Violations per kind before the per-step limit was applied."""

    @property
    def ok(self) -> bool:
        return self.report.ok and any(s.metrics is not None for s in self.steps)

    @property
    def measured_makespan(self) -> float | None:
        m = self.report.metrics
        return m.makespan if m is not None else None

    @property
    def predicted_makespan(self) -> float | None:
        return self.predicted.makespan if self.predicted is not None else None

    @property
    def diverged(self) -> tuple[str, ...]:
        """Labels of the steps with a violation."""
        return tuple(s.label for s in self.steps if s.violations)

    def to_dict(self) -> dict[str, Any]:
        measured = self.measured_makespan
        predicted = self.predicted_makespan
        ratio = measured / predicted if measured is not None and predicted else None
        return {
            **self.report.to_dict(),
            "ok": self.ok,
            "time_unit": self.time_unit,
            "events": self.events,
            "ignored": self.ignored,
            "steps": [s.to_dict() for s in self.steps],
            "diverged_steps": list(self.diverged),
            "violation_counts": dict(self.counts),
            "fitted_costs": self.fitted.describe() if self.fitted else None,
            "predicted": self.predicted.to_dict() if self.predicted else None,
            "makespan": {
                "measured": json_number(measured) if measured is not None else None,
                "predicted": json_number(predicted) if predicted is not None else None,
                "measured_over_predicted": ratio if ratio is None or math.isfinite(ratio) else None,
            },
        }
