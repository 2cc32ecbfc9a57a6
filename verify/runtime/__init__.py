"""Run a schedule on real ``torch.distributed.pipelining`` (optional extra: torch==2.13.0).

- :func:`plan_run` (pure) turns a schedule into per-pipeline torch action lists and the
  joint per-worker order;
- :func:`run_schedule` verifies the schedule, then launches one process per worker on
  127.0.0.1 (CPU, gloo) with the profiler on, under a watchdog, and returns a
  :class:`RunResult` with the traces written (or where each rank was blocked).

torch is imported only inside the worker processes; this package imports without it.
"""

from verify.runtime.launch import (
    RankStatus,
    RunResult,
    RuntimeUnavailableError,
    run_schedule,
    torch_available,
)
from verify.runtime.plan import PipelinePlan, RunPlan, plan_run

__all__ = [
    "PipelinePlan",
    "RankStatus",
    "RunPlan",
    "RunResult",
    "RuntimeUnavailableError",
    "plan_run",
    "run_schedule",
    "torch_available",
]
