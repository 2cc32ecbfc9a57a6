"""chimera-verify: formal verification of pipeline-parallel training schedules.

Concept map (each sub-package has one job and reads the core model):

- :mod:`verify.core` - the model: ops (F, B, I, W), pipelines and placement, schedules,
  the cost model, and result records (violations, metrics, reports).
- :mod:`verify.io` - schedule files: the native JSON/TOML format and PyTorch's CSV.
- :mod:`verify.generators` - schedule families (GPipe, 1F1B, Chimera, ...), by name.
- :mod:`verify.checks` - the verifier: completeness, placement, deadlock, timing, memory.
- :mod:`verify.sim` - execution semantics: earliest-start simulation and metrics.
- :mod:`verify.comm` - communication: SEND/RECV lowering, deadlock and FIFO checks.
- :mod:`verify.smt` - Z3: parametric theorems and bounded checking of one schedule.
- :mod:`verify.search` - optimal orderings (CP-SAT, Z3) and sweeps.
- :mod:`verify.specs` - claims of schedule families over parameter grids.
- :mod:`verify.traces` - conformance of runtime traces to a schedule.
- :mod:`verify.report` - text, JSON, JUnit, SVG, HTML and Perfetto renderings.
- :mod:`verify.cli` - the ``chimera-verify`` command.

>>> import verify
>>> report = verify.check(verify.generate("chimera", 4, 4), costs=verify.CostModel(F=1, B=2))
>>> report.ok, report.metrics.makespan
(True, 16.0)
"""

from verify import search  # a callable package: verify.search(stages=..., ...)
from verify.checks import check
from verify.core.actions import Op, OpKind, parse_action
from verify.core.costs import CostModel
from verify.core.results import Metrics, Report, Violation, ViolationKind
from verify.core.schedule import Pipeline, Schedule
from verify.errors import ChimeraVerifyError
from verify.generators import families, generate
from verify.search import sweep
from verify.sim import metrics, simulate

__all__ = [
    "ChimeraVerifyError",
    "CostModel",
    "Metrics",
    "Op",
    "OpKind",
    "Pipeline",
    "Report",
    "Schedule",
    "Violation",
    "ViolationKind",
    "check",
    "families",
    "generate",
    "load_schedule",
    "metrics",
    "parse_action",
    "save_schedule",
    "search",
    "simulate",
    "sweep",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # the file readers are imported on first use, keeping ``import verify`` light
    if name in ("load_schedule", "save_schedule"):
        from verify import io

        return getattr(io, name)
    raise AttributeError(f"module 'verify' has no attribute {name!r}")
