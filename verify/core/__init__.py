"""The core model: actions, pipelines, schedules, costs and results.

Every other sub-package reads these records; none of them is mutable.
"""

from verify.core.actions import (
    DEFAULT_PIPELINE,
    Action,
    ActionSyntaxError,
    Comm,
    CommKind,
    Compute,
    Op,
    OpKind,
    Overlap,
    StageAction,
    StageActionKind,
    compute_ops,
    format_action,
    parse_action,
)
from verify.core.costs import UNIT_COSTS, CostModel, StageCosts
from verify.core.results import (
    Metrics,
    Property,
    PropertyResult,
    Report,
    Status,
    Violation,
    ViolationKind,
)
from verify.core.schedule import Pipeline, Schedule, Timing, TimingUnit

__all__ = [
    "DEFAULT_PIPELINE",
    "UNIT_COSTS",
    "Action",
    "ActionSyntaxError",
    "Comm",
    "CommKind",
    "Compute",
    "CostModel",
    "Metrics",
    "Op",
    "OpKind",
    "Overlap",
    "Pipeline",
    "Property",
    "PropertyResult",
    "Report",
    "Schedule",
    "StageAction",
    "StageActionKind",
    "StageCosts",
    "Status",
    "Timing",
    "TimingUnit",
    "Violation",
    "ViolationKind",
    "compute_ops",
    "format_action",
    "parse_action",
]
