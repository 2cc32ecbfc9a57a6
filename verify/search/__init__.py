"""Optimal orderings with proofs of optimality.

Given D workers, a placement, N micro-batches, costs and an optional memory cap,
:func:`search` finds the per-worker order of ops that minimises the makespan (or the
total bubble, or the peak memory under a makespan bound), proves it optimal or reports
the proven gap, re-checks it with :func:`verify.check`, and compares it with every
library family on the same instance. :func:`sweep` runs many instances through any
``concurrent.futures.Executor`` (local processes, or a Dask cluster), writing each result
as it arrives so that an interrupted sweep resumes where it stopped.

Modules: :mod:`~verify.search.problem` (the problem), :mod:`~verify.search.tasks` (its
integer form), :mod:`~verify.search.backend` (protocol, limits, registry),
:mod:`~verify.search.backends` (CP-SAT, Z3), :mod:`~verify.search.engine` (``search``),
:mod:`~verify.search.compare` (families), :mod:`~verify.search.outcome` (results),
:mod:`~verify.search.sweep` (many instances).

The package itself is callable as :func:`search`:

>>> import verify.search
>>> verify.search(stages=2, microbatches=2, costs="F=1,B=2").value
6.0
"""

import sys
import types
from typing import Any

from verify.search.backend import (
    Backend,
    BackendResult,
    Limits,
    SolveRequest,
    backend_names,
    register_backend,
)
from verify.search.engine import ProgressCallback, search
from verify.search.outcome import FamilyResult, Progress, SearchOutcome, SearchStatus, SolverStats
from verify.search.problem import PLACEMENTS, Objective, SearchProblem, placement_pipelines
from verify.search.sweep import SweepRecord, grid, sweep

__all__ = [
    "PLACEMENTS",
    "Backend",
    "BackendResult",
    "FamilyResult",
    "Limits",
    "Objective",
    "Progress",
    "ProgressCallback",
    "SearchOutcome",
    "SearchProblem",
    "SearchStatus",
    "SolveRequest",
    "SolverStats",
    "SweepRecord",
    "backend_names",
    "grid",
    "placement_pipelines",
    "register_backend",
    "search",
    "sweep",
]


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`search`: ``verify.search(stages=4, ...)`` runs a
    search while ``import verify.search`` and ``verify.search.Limits`` keep working
    (binding a function named ``search`` on :mod:`verify` would hide the package)."""

    def __call__(self, problem: SearchProblem | None = None, **options: Any) -> SearchOutcome:
        return search(problem, **options)


sys.modules[__name__].__class__ = _CallableModule
