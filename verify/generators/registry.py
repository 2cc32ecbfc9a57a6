"""The registry of schedule families: every generator is reachable by name.

>>> from verify.generators import generate
>>> generate("1f1b", stages=4, microbatches=8).num_ops
64
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verify.core.schedule import Schedule
from verify.errors import ParameterError

Builder = Callable[..., Schedule]


@dataclass(frozen=True, slots=True)
class Family:
    """A named schedule family: ``build(stages, microbatches, **options) -> Schedule``."""

    name: str
    build: Builder
    summary: str
    options: tuple[str, ...] = ()
    """Names of the keyword options beyond ``stages`` and ``microbatches``."""
    examples: tuple[tuple[int, int, tuple[tuple[str, Any], ...]], ...] = ()
    """Valid small instances ``(D, N, options)``, used by docs and by the test suite."""


_REGISTRY: dict[str, Family] = {}


def register(
    name: str,
    summary: str,
    options: tuple[str, ...] = (),
    examples: tuple[tuple[int, int, tuple[tuple[str, Any], ...]], ...] = (),
) -> Callable[[Builder], Builder]:
    """Decorator adding a generator to the registry under ``name``; ``examples`` are
    small valid instances ``(D, N, options)``."""

    def deco(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"family {name!r} registered twice")
        _REGISTRY[name] = Family(name, fn, summary, options, examples)
        return fn

    return deco


def families() -> list[Family]:
    """All registered families, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def family(name: str) -> Family:
    """The family registered under ``name``; a ParameterError lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ParameterError(f"unknown schedule family {name!r}; known: {known}") from None


def generate(name: str, stages: int, microbatches: int, **options: Any) -> Schedule:
    """Build the schedule of family ``name`` for D = ``stages``, N = ``microbatches``."""
    fam = family(name)
    unknown = set(options) - set(fam.options)
    if unknown:
        allowed = ", ".join(fam.options) or "none"
        raise ParameterError(f"{name}: unknown option(s) {sorted(unknown)}; allowed: {allowed}")
    return fam.build(stages, microbatches, **options)


def require(condition: bool, family_name: str, message: str) -> None:
    """Raise ParameterError(``family: message``) unless ``condition`` holds."""
    if not condition:
        raise ParameterError(f"{family_name}: {message}")


def require_positive(family_name: str, **values: int) -> None:
    """Every value must be an integer >= 1 (and not absurdly large)."""
    for key, v in values.items():
        ok = isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1_000_000
        require(ok, family_name, f"{key} must be an integer in [1, 1000000], got {v!r}")
