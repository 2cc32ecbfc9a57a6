"""A safe expression language for the closed forms of spec files.

Spec files are untrusted input, so their formulas are never given to ``eval``: this
module tokenizes and parses them itself into a small tree of frozen records and evaluates
that tree with exact rational arithmetic (:class:`fractions.Fraction`).

Grammar (usual precedence, ``^`` and ``**`` bind tightest and to the right)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("+" | "-") unary | power
    power  := atom (("^" | "**") unary)?
    atom   := number | name | name "(" expr ("," expr)* ")" | "(" expr ")"

Numbers are decimals (``2``, ``0.5``); names are symbols given by the caller (``D``,
``N``, ``K``, ``F``, ...); the functions are ``min``, ``max`` (two or more arguments),
``floor`` and ``ceil`` (one). Exponents must be integers between -64 and 64. Every error
is an :class:`ExprError` with the 1-based column where it was found.

>>> e = parse("(D-2)/(2*N+D-2)")
>>> evaluate(e, {"D": 4, "N": 4})
Fraction(1, 5)
>>> evaluate(parse("max(D/2 + 1, floor(N/3)) ^ 2"), {"D": 4, "N": 10})
Fraction(9, 1)
>>> sorted(names(parse("min(D, N) - w")))
['D', 'N', 'w']
>>> parse("2*(D-1")
Traceback (most recent call last):
...
verify.specs.expr.ExprError: column 7: expected ')' to close '(' at column 3, got the end of the formula
>>> parse("__import__(D)")
Traceback (most recent call last):
...
verify.specs.expr.ExprError: column 1: unknown function '__import__' (known: ceil, floor, max, min)
>>> parse("D.__class__")
Traceback (most recent call last):
...
verify.specs.expr.ExprError: column 2: unexpected character '.'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeAlias

MAX_LENGTH = 2000
"""Longest formula accepted (characters)."""

MAX_DEPTH = 60
"""Deepest nesting accepted (parentheses, unary signs, calls)."""

MAX_EXPONENT = 64
MAX_DIGITS = 30

FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "floor": (1, 1),
    "ceil": (1, 1),
}
"""Function name -> (fewest, most) arguments (None: no upper bound)."""


class ExprError(ValueError):
    """A formula that cannot be parsed or evaluated; ``column`` is 1-based (0: no
    particular place, e.g. a division by zero found while evaluating)."""

    def __init__(self, column: int, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"column {column}: {reason}" if column else reason)


@dataclass(frozen=True, slots=True)
class Num:
    value: Fraction
    column: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    column: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Expr
    column: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    column: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Expr, ...]
    column: int


Expr: TypeAlias = Num | Name | Unary | Binary | Call
"""A parsed formula."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "num", "name", "op", "end"
    text: str
    column: int


_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|[-+*/^(),]))"
)


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            bad = text[pos:].lstrip()
            col = n - len(bad) + 1
            raise ExprError(col, f"unexpected character {bad[0]!r}")
        kind = m.lastgroup or "op"
        tok = m.group(kind)
        column = m.start(kind) + 1
        if kind == "num" and len(tok) > MAX_DIGITS:
            raise ExprError(column, f"number longer than {MAX_DIGITS} digits")
        out.append(_Token(kind, tok, column))
        pos = m.end()
    out.append(_Token("end", "", n + 1))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.toks[self.i]

    def take(self) -> _Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def nest(self, column: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(column, f"formula nested deeper than {MAX_DEPTH} levels")

    def expr(self) -> Expr:
        left = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            t = self.take()
            left = Binary(t.text, left, self.term(), t.column)
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in ("*", "/"):
            t = self.take()
            left = Binary(t.text, left, self.unary(), t.column)
        return left

    def unary(self) -> Expr:
        if self.tok.kind == "op" and self.tok.text in "+-":
            t = self.take()
            self.nest(t.column)
            operand = self.unary()
            self.depth -= 1
            return Unary(t.text, operand, t.column)
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.tok.kind == "op" and self.tok.text in ("^", "**"):
            t = self.take()
            self.nest(t.column)
            exponent = self.unary()
            self.depth -= 1
            return Binary("^", base, exponent, t.column)
        return base

    def atom(self) -> Expr:
        t = self.tok
        if t.kind == "num":
            self.take()
            return Num(Fraction(t.text), t.column)
        if t.kind == "name":
            self.take()
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(t)
            return Name(t.text, t.column)
        if t.kind == "op" and t.text == "(":
            self.take()
            self.nest(t.column)
            inner = self.expr()
            self.depth -= 1
            self.close(t)
            return inner
        raise ExprError(t.column, f"expected a number, a name or '(', got {_describe(t)}")

    def call(self, name: _Token) -> Expr:
        if name.text not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise ExprError(name.column, f"unknown function {name.text!r} (known: {known})")
        open_ = self.take()
        self.nest(open_.column)
        args = [self.expr()]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.take()
            args.append(self.expr())
        self.depth -= 1
        self.close(open_)
        lo, hi = FUNCTIONS[name.text]
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = f"{lo}" if lo == hi else f"at least {lo}"
            raise ExprError(name.column, f"{name.text}() takes {want} argument(s), got {len(args)}")
        return Call(name.text, tuple(args), name.column)

    def close(self, opening: _Token) -> None:
        if self.tok.kind == "op" and self.tok.text == ")":
            self.take()
            return
        raise ExprError(
            self.tok.column,
            f"expected ')' to close '(' at column {opening.column}, got {_describe(self.tok)}",
        )


def _describe(t: _Token) -> str:
    return "the end of the formula" if t.kind == "end" else repr(t.text)


def parse(text: str) -> Expr:
    """Parse ``text`` into an expression tree; raises :class:`ExprError`."""
    if not isinstance(text, str):
        raise ExprError(0, f"a formula must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExprError(0, f"formula longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExprError(1, "empty formula")
    p = _Parser(text)
    tree = p.expr()
    if p.tok.kind != "end":
        raise ExprError(p.tok.column, f"unexpected {_describe(p.tok)} after a complete formula")
    return tree


def names(tree: Expr) -> set[str]:
    """The symbols a formula uses."""
    if isinstance(tree, Name):
        return {tree.name}
    if isinstance(tree, Num):
        return set()
    if isinstance(tree, Unary):
        return names(tree.operand)
    if isinstance(tree, Binary):
        return names(tree.left) | names(tree.right)
    out: set[str] = set()
    for a in tree.args:
        out |= names(a)
    return out


def first_column(tree: Expr, name: str) -> int:
    """Column of the first use of symbol ``name`` (0 when unused)."""
    if isinstance(tree, Name):
        return tree.column if tree.name == name else 0
    if isinstance(tree, Num):
        return 0
    parts = (
        (tree.operand,) if isinstance(tree, Unary)
        else (tree.left, tree.right) if isinstance(tree, Binary)
        else tree.args
    )
    cols = [c for c in (first_column(p, name) for p in parts) if c]
    return min(cols) if cols else 0


Value: TypeAlias = Fraction | int


def evaluate(tree: Expr, env: Mapping[str, Value]) -> Fraction:
    """The exact value of ``tree`` with the symbols bound by ``env``; raises
    :class:`ExprError` for an unbound symbol, a division by zero or a bad exponent."""
    if isinstance(tree, Num):
        return tree.value
    if isinstance(tree, Name):
        if tree.name not in env:
            known = ", ".join(sorted(env))
            raise ExprError(tree.column, f"unknown symbol {tree.name!r} (known: {known})")
        return Fraction(env[tree.name])
    if isinstance(tree, Unary):
        v = evaluate(tree.operand, env)
        return -v if tree.op == "-" else v
    if isinstance(tree, Binary):
        a = evaluate(tree.left, env)
        b = evaluate(tree.right, env)
        if tree.op == "+":
            return a + b
        if tree.op == "-":
            return a - b
        if tree.op == "*":
            return a * b
        if tree.op == "/":
            if b == 0:
                raise ExprError(tree.column, "division by zero")
            return a / b
        if b.denominator != 1 or abs(b) > MAX_EXPONENT:
            raise ExprError(tree.column, f"exponent must be an integer in [-{MAX_EXPONENT}, "
                                         f"{MAX_EXPONENT}], got {_show(b)}")
        if a == 0 and b < 0:
            raise ExprError(tree.column, "division by zero (0 to a negative power)")
        return a ** int(b)
    args = [evaluate(a, env) for a in tree.args]
    if tree.function == "min":
        return min(args)
    if tree.function == "max":
        return max(args)
    if tree.function == "floor":
        return Fraction(math.floor(args[0]))
    return Fraction(math.ceil(args[0]))


def _show(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def show_number(x: Fraction | float) -> str:
    """A number for messages: integers plainly, other rationals as ``p/q (decimal)``.

    >>> show_number(Fraction(1, 5)), show_number(Fraction(4)), show_number(0.25)
    ('1/5 (0.2)', '4', '0.25')
    """
    if isinstance(x, Fraction):
        if x.denominator == 1:
            return str(x.numerator)
        return f"{_show(x)} ({float(x):.6g})"
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.6g}"
