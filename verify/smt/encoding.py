"""A small accumulator for building one theorem query, and generic term helpers.

Theorem modules declare their variables with ranges, name the quantities they reason
about (``slot_a``, ``stage_b``) so the certificate stays readable and linear in size,
introduce products through :mod:`verify.smt.lemmas`, and finish with the negated claim.
A :class:`Builder` lives only inside one ``build`` function; what leaves it is the
immutable :class:`~verify.smt.theorem.Query`.

>>> import z3
>>> b = Builder(z3.Context())
>>> x = b.integer("x", lo=0, below=4)
>>> q = b.query(x * 2 == 7, lambda v: Finding((("x", v["x"]),), "x"))
>>> len(q.assertions)
3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import z3

from verify.smt.lemmas import Product, products
from verify.smt.theorem import Describe, Finding, Query, Values

__all__ = ["Builder", "Finding", "select"]

Term = Any
"""A Python int/bool or a Z3 term: closed forms are written once for both."""


def select(condition: Term, then: Term, otherwise: Term) -> Term:
    """``then if condition else otherwise`` for Python values, ``If`` for Z3 terms.

    >>> select(3 < 4, "yes", "no")
    'yes'
    """
    if isinstance(condition, bool):
        return then if condition else otherwise
    return z3.If(condition, then, otherwise)


class Builder:
    """Variables, definitions and lemmas of one query, in the order they are added."""

    def __init__(self, ctx: z3.Context) -> None:
        self.ctx = ctx
        self.assertions: list[z3.BoolRef] = []
        self.products: list[Product] = []

    def integer(self, name: str, *, lo: Term = None, below: Term = None) -> z3.ArithRef:
        """An integer constant with ``lo <= name < below`` (either bound optional)."""
        v = z3.Int(name, self.ctx)
        if lo is not None:
            self.assertions.append(v >= lo)
        if below is not None:
            self.assertions.append(v < below)
        return v

    def boolean(self, name: str) -> z3.BoolRef:
        return z3.Bool(name, self.ctx)

    def define(self, name: str, value: Term) -> z3.ArithRef:
        """A named integer equal to ``value`` (keeps shared sub-terms out of the text)."""
        v = z3.Int(name, self.ctx)
        self.assertions.append(v == value)
        return v

    def require(self, *constraints: Term) -> None:
        self.assertions.extend(constraints)

    def multiply(self, factor: Term, multipliers: Sequence[tuple[str, Term]]) -> dict[str, z3.ArithRef]:
        """Fresh variables for ``factor * multiplier`` with their sound lemmas."""
        family = products(factor, multipliers, ctx=self.ctx)
        self.assertions.extend(family.lemmas)
        self.products.extend(family.items)
        return {p.name: p.var for p in family.items}

    def query(
        self,
        negated_claim: Term,
        describe: Describe,
        *,
        shrink: Sequence[str] = (),
        recheck: Callable[[Values], bool] | None = None,
    ) -> Query:
        """The finished query: everything added so far, then ``negated_claim``."""
        return Query(
            tuple([*self.assertions, negated_claim]),
            describe,
            tuple(self.products),
            tuple(shrink),
            recheck=recheck,
        )
