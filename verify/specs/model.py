"""The records of a loaded spec: cases, grids, cost models and claims.

A spec names one schedule family and one or more *cases*. A case is a grid of
parameters (a union of cartesian products over ``D``, ``N`` and the family's options),
one or more cost models, and the claims that must hold at every grid point under every
cost model. Formulas are parsed once, at load time; every record remembers where in the
file it came from (``where``), so that an error found later is still located.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

from verify.core.costs import CostModel
from verify.core.results import Property
from verify.specs.expr import Expr


class Mode(enum.Enum):
    """How a claimed value is compared with the measured one.

    ``equals``: every worker (or the scalar) equals the formula; ``min``/``max``: the
    smallest/largest per-worker value equals it (the paper's intervals); ``at_least``/
    ``at_most``: every worker (or the scalar) is bounded by it.
    """

    EQUALS = "equals"
    MIN = "min"
    MAX = "max"
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


@dataclass(frozen=True, slots=True)
class Formula:
    """A parsed closed form and where it was written."""

    text: str
    tree: Expr
    where: str


@dataclass(frozen=True, slots=True)
class Claim:
    """A numeric claim: ``quantity`` compared with ``formula`` in ``mode``."""

    quantity: str
    mode: Mode
    formula: Formula

    @property
    def label(self) -> str:
        """``makespan`` or ``peak_activations.max``: how messages name the claim."""
        return self.quantity if self.mode is Mode.EQUALS else f"{self.quantity}.{self.mode.value}"


@dataclass(frozen=True, slots=True)
class PropertyClaim:
    """A verdict claim (``deadlock_free = true``); ``expected=False`` claims that the
    verifier finds the property violated (e.g. the naive odd-D merge conflicts)."""

    property: Property
    key: str
    expected: bool
    where: str


GridValue: TypeAlias = int | Formula
"""One value of a grid axis: a literal integer or a formula over earlier axes."""


@dataclass(frozen=True, slots=True)
class Grid:
    """One cartesian product: ``axes`` in evaluation order (D, N, then options)."""

    axes: tuple[tuple[str, tuple[GridValue, ...]], ...]
    where: str


@dataclass(frozen=True, slots=True)
class Case:
    """Claims that hold over ``grids`` under every cost model in ``costs``."""

    name: str
    grids: tuple[Grid, ...]
    costs: tuple[CostModel, ...]
    properties: tuple[PropertyClaim, ...]
    claims: tuple[Claim, ...]
    where: str


@dataclass(frozen=True, slots=True)
class Spec:
    """A loaded spec file."""

    path: str
    family: str
    title: str
    cases: tuple[Case, ...]
    defaults: tuple[tuple[str, int], ...] = ()
    """Default values of the family's options (bound in formulas when a grid omits them)."""


@dataclass(frozen=True, slots=True)
class Instance:
    """One grid point of one case under one cost model."""

    case: Case
    params: tuple[tuple[str, int], ...]
    costs: CostModel
    subject: str

    def param(self, key: str) -> int:
        for k, v in self.params:
            if k == key:
                return v
        raise KeyError(key)

    @property
    def label(self) -> str:
        """``D=4, N=8`` (and the options): how messages name the grid point."""
        return ", ".join(f"{k}={v}" for k, v in self.params)
