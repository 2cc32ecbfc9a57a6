"""Products of two symbolic integers, replaced by fresh variables and sound lemmas.

A closed form such as "unit k starts at slot 2D*k" multiplies two symbolic integers,
which takes a query out of linear arithmetic (Z3 then answers slowly or "unknown").
The standard remedy: name each product ``c*x`` (``c`` the common *factor*, ``x`` the
*multiplier*) by a fresh integer and assert only facts about it that hold for every
``c >= 0``. For any two multipliers ``x`` and ``y`` of the same factor (and for ``y = 0``,
whose product is 0):

* ``x - y = d``  implies  ``c*x - c*y = d*c``  for ``d`` in {-1, 0, 1};
* ``x - y >= 1`` implies  ``c*x - c*y >= c``,  and ``x - y >= 2`` implies ``>= 2c``
  (and symmetrically for ``<= -1``, ``<= -2``);
* if ``c >= 1``: ``x - y >= 0`` implies ``c*x - c*y >= x - y`` (symmetrically for ``<= 0``).

Every model of the original query extends to a model of the linear one (set each fresh
variable to its product), so **unsat of the linear query proves the original**. The
converse does not hold: a model of the linear query may give a product variable a value
other than its product. :func:`pin` restores exactness for a counterexample: with the
factor fixed to its value in the model, each product becomes linear again
(``p = 6*x``), and the query is solved once more. A counterexample is reported only if
that second query is satisfiable.

>>> import z3
>>> h, k = z3.Int("h"), z3.Int("k")
>>> fam = products(h, [("hk", k)], ctx=h.ctx)
>>> s = z3.Solver(ctx=h.ctx)
>>> s.add(*fam.lemmas, h >= 1, k >= 1, fam["hk"] < h)
>>> s.check()
unsat
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import z3

from verify.errors import ModelError


@dataclass(frozen=True, slots=True)
class Product:
    """The fresh variable ``var`` (named ``name``) standing for ``factor * multiplier``."""

    name: str
    var: z3.ArithRef
    factor: z3.ArithRef
    multiplier: z3.ArithRef


def _pair_lemmas(
    c: z3.ArithRef, x: z3.ArithRef, px: z3.ArithRef, y: z3.ArithRef, py: z3.ArithRef
) -> Iterator[z3.BoolRef]:
    """The lemmas relating ``px = c*x`` and ``py = c*y`` (valid whenever ``c >= 0``)."""
    d, dp = x - y, px - py
    yield z3.Implies(d == 0, dp == 0)
    yield z3.Implies(z3.And(c >= 0, d == 1), dp == c)
    yield z3.Implies(z3.And(c >= 0, d == -1), dp == -c)
    yield z3.Implies(z3.And(c >= 0, d >= 1), dp >= c)
    yield z3.Implies(z3.And(c >= 0, d <= -1), dp <= -c)
    yield z3.Implies(z3.And(c >= 0, d >= 2), dp >= 2 * c)
    yield z3.Implies(z3.And(c >= 0, d <= -2), dp <= -2 * c)
    yield z3.Implies(z3.And(c >= 1, d >= 0), dp >= d)
    yield z3.Implies(z3.And(c >= 1, d <= 0), dp <= d)


@dataclass(frozen=True, slots=True)
class Products:
    """A family of products sharing one factor, with the lemmas relating every pair of
    them and each of them to 0. ``family["hk"]`` is the variable named ``hk``."""

    factor: z3.ArithRef
    items: tuple[Product, ...]
    lemmas: tuple[z3.BoolRef, ...]

    def __getitem__(self, name: str) -> z3.ArithRef:
        for p in self.items:
            if p.name == name:
                return p.var
        raise KeyError(name)


def products(
    factor: z3.ArithRef, multipliers: Sequence[tuple[str, z3.ArithRef]], *, ctx: z3.Context
) -> Products:
    """Fresh variables ``name`` for ``factor * multiplier`` and their lemmas.

    The variables are named by the caller (``hk``, ``h_k_a``, ...) so that certificates
    read naturally.
    """
    names = [n for n, _ in multipliers]
    if len(set(names)) != len(names) or not names:
        raise ModelError("Products", "multipliers", "distinct, non-empty names", names)
    items = tuple(Product(n, z3.Int(n, ctx), factor, m) for n, m in multipliers)
    zero = z3.IntVal(0, ctx)
    lemmas: list[z3.BoolRef] = []
    for a, pa in enumerate(items):
        lemmas.extend(_pair_lemmas(factor, pa.multiplier, pa.var, zero, zero))
        for pb in items[a + 1 :]:
            lemmas.extend(_pair_lemmas(factor, pa.multiplier, pa.var, pb.multiplier, pb.var))
    return Products(factor, items, tuple(lemmas))


def pin(model: z3.ModelRef, products: Sequence[Product]) -> list[z3.BoolRef]:
    """Constraints that make every product exact at the factor values of ``model``:
    ``factor == v`` and ``var == v * multiplier`` (linear, since ``v`` is a numeral)."""
    out: list[z3.BoolRef] = []
    for p in products:
        v = model.eval(p.factor, model_completion=True)
        out.append(p.factor == v)
        out.append(p.var == v * p.multiplier)
    return out
