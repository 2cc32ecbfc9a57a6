"""The backend protocol, the limits every backend honours, and the registry.

A backend turns a :class:`SolveRequest` (a :class:`~verify.search.tasks.TaskGraph`,
what to minimise, a horizon, an optional memory cap, an optional hint) into a
:class:`BackendResult` (a verdict, start times, value and bound, counters). Everything
is in the task graph's integer units; the caller (:func:`verify.search.search`) turns
the start times into a schedule, re-checks it and never trusts the backend's word.

Adding a backend is one module with a class satisfying :class:`Backend` and one
:func:`register_backend` line (the registry imports backends lazily, so a backend's
solver package is imported only when it is used).

>>> sorted(b for b in backend_names())
['cpsat', 'z3']
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from verify.errors import ParameterError
from verify.search.outcome import SearchStatus
from verify.search.tasks import TaskGraph

BoundReport = Callable[[int | None, int | None], None]
"""``report(incumbent, bound)``: a backend's progress, in scaled integer units."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How long a backend may run, and how.

    With ``deterministic=True`` (the default) the budget is the solver's own
    deterministic measure derived from ``time_limit``: CP-SAT's deterministic time
    (``max_deterministic_time``, single worker, fixed seed) and Z3's resource limit
    (``rlimit``). The verdict and schedule are then the same on every run and machine
    for a given solver version; the budget corresponds to roughly ``time_limit`` seconds
    on a 2-core machine. A wall-clock safety net of ``safety_factor * time_limit`` still
    applies; if it fires, the result says ``stopped_by='time-limit'`` and is not
    deterministic. With ``deterministic=False``, ``time_limit`` is wall-clock seconds
    and CP-SAT may use ``workers`` parallel search workers (faster, not reproducible).
    ``time_limit=None`` means no limit.
    """

    time_limit: float | None = 60.0
    deterministic: bool = True
    workers: int = 1
    seed: int = 0
    safety_factor: float = 4.0

    def __post_init__(self) -> None:
        t = self.time_limit
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0):
            raise ParameterError(f"search: time_limit must be > 0 seconds or None, got {t!r}")
        w = self.workers
        if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= 256:
            raise ParameterError(f"search: workers must be an integer in [1, 256], got {w!r}")
        if self.deterministic and w != 1:
            raise ParameterError("search: deterministic limits need workers=1 (pass deterministic=False)")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ParameterError(f"search: seed must be an integer >= 0, got {self.seed!r}")
        if not self.safety_factor >= 1:
            raise ParameterError(f"search: safety_factor must be >= 1, got {self.safety_factor!r}")

    @property
    def wall_limit(self) -> float | None:
        """The wall-clock limit in seconds (the safety net when deterministic)."""
        if self.time_limit is None:
            return None
        return self.time_limit * self.safety_factor + 5.0 if self.deterministic else self.time_limit

    def describe(self) -> str:
        if self.time_limit is None:
            return "no limit"
        if self.deterministic:
            return f"deterministic budget ~{self.time_limit:g}s (seed {self.seed})"
        return f"{self.time_limit:g}s wall clock, {self.workers} worker(s)"


@dataclass(frozen=True, slots=True)
class SolveRequest:
    """One solve: minimise ``makespan`` or ``peak_memory`` over the task graph.

    Constraints: dependencies with their lags, one task at a time per worker, every
    task ends by ``horizon``, and (with ``memory_cap``) every worker's activation
    memory stays within the cap. ``hint`` is a feasible set of start times (from the
    warm start) with objective ``hint_value``; ``lower_bound`` a proven bound on the
    objective that backends may use.
    """

    graph: TaskGraph
    minimise: str
    """``makespan`` or ``peak_memory``."""
    horizon: int
    memory_cap: int | None
    limits: Limits
    lower_bound: int
    hint: tuple[int, ...] | None = None
    hint_value: int | None = None
    symmetry_breaking: bool = True


@dataclass(frozen=True, slots=True)
class BackendResult:
    """A backend's answer in the task graph's integer units.

    ``starts`` is set for OPTIMAL and FEASIBLE; ``value`` is the objective of those
    start times as the backend computed it; ``bound`` a lower bound it proved.
    """

    status: SearchStatus
    starts: tuple[int, ...] | None
    value: int | None
    bound: int | None
    stopped_by: str
    wall_time: float
    counters: tuple[tuple[str, int | float | str], ...] = ()
    message: str = ""


def horizon_too_short(request: SolveRequest, began: float) -> BackendResult | None:
    """INFEASIBLE at once when some task's longest path (head + duration + tail) exceeds
    the horizon: no backend needs to be asked."""
    g, H = request.graph, request.horizon
    for i in range(g.num_tasks):
        if g.head[i] + g.duration[i] + g.tail[i] > H:
            return BackendResult(
                SearchStatus.INFEASIBLE, None, None, None, "proof", time.perf_counter() - began,
                message=f"the horizon {H} is below the longest path through {g.ops[i]}",
            )
    return None


class Backend(Protocol):
    """A solver backend: a name, a version (raising :class:`~verify.errors.SolverError`
    with install advice when its solver is missing) and ``solve``."""

    name: str

    def version(self) -> str:
        """The solver's version; raises SolverError when it is not installed."""
        ...

    def solve(self, request: SolveRequest, report: BoundReport | None = None) -> BackendResult:
        """Solve ``request``; call ``report(incumbent, bound)`` as they improve."""
        ...


_REGISTRY: dict[str, tuple[str, str]] = {}


def register_backend(name: str, module: str, attribute: str) -> None:
    """Register the backend class ``module.attribute`` under ``name`` (imported on first
    use, so that the solver package stays unimported until then)."""
    if name in _REGISTRY:
        raise ValueError(f"search backend {name!r} registered twice")
    _REGISTRY[name] = (module, attribute)


def backend_names() -> list[str]:
    """Names of the registered backends."""
    return sorted(_REGISTRY)


def get_backend(name: str) -> Backend:
    """A fresh instance of the backend registered as ``name``."""
    try:
        module, attribute = _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ParameterError(f"search: unknown solver {name!r}; known: {known}") from None
    cls = getattr(importlib.import_module(module), attribute)
    backend: Backend = cls()
    return backend


register_backend("cpsat", "verify.search.backends.cpsat", "CpSatBackend")
register_backend("z3", "verify.search.backends.z3", "Z3Backend")
