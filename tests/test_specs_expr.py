"""The safe expression parser of spec formulas: values, precedence, and refusals.

Expected values are computed here by plain integer/fraction arithmetic written in the
test (an independent route), never by the parser itself.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.specs.expr import ExprError, evaluate, names, parse, show_number


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("2*N + D - 2", {"D": 4, "N": 8}, Fraction(18)),
        ("(D-2)/(2*N+D-2)", {"D": 4, "N": 4}, Fraction(1, 5)),
        ("(D-2)/(3*N/2+D-2)", {"D": 4, "N": 4}, Fraction(1, 4)),
        ("2^3^2", {}, Fraction(2**9)),  # right associative
        ("2**-1", {}, Fraction(1, 2)),
        ("-2^2", {}, Fraction(-4)),  # power binds tighter than unary minus
        ("min(D - w, N)", {"D": 8, "w": 3, "N": 2}, Fraction(2)),
        ("max(1, 2, 3.5)", {}, Fraction(7, 2)),
        ("floor(7/2) + ceil(7/2)", {}, Fraction(7)),
        ("floor(-7/2)", {}, Fraction(-4)),
        ("0.1 + 0.2", {}, Fraction(3, 10)),  # exact decimals
        ("D/2 + 1 + min(w, D - 1 - w)", {"D": 8, "w": 5}, Fraction(7)),
        ("  1 +\t2 ", {}, Fraction(3)),
    ],
)
def test_values(text: str, env: dict[str, int], expected: Fraction) -> None:
    assert evaluate(parse(text), env) == expected


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("2*(D-1", 7, "expected ')' to close '(' at column 3"),
        ("(D-2))", 6, "unexpected ')' after a complete formula"),
        ("", 1, "empty formula"),
        ("D +", 4, "expected a number, a name or '('"),
        ("D.__class__", 2, "unexpected character '.'"),
        ("__import__(D)", 1, "unknown function '__import__'"),
        ("open('x')", 6, "unexpected character \"'\""),
        ("min(D)", 1, "min() takes at least 2 argument(s), got 1"),
        ("floor(D, N)", 1, "floor() takes 1 argument(s), got 2"),
        ("D; N", 2, "unexpected character ';'"),
        ("lambda: 1", 7, "unexpected character ':'"),
        ("1" * 31, 1, "number longer than 30 digits"),
    ],
)
def test_syntax_errors_are_located(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ExprError) as info:
        parse(text)
    assert info.value.column == column
    assert fragment in info.value.reason


def test_depth_and_length_are_bounded() -> None:
    with pytest.raises(ExprError, match="nested deeper"):
        parse("(" * 100 + "1" + ")" * 100)
    with pytest.raises(ExprError, match="nested deeper"):
        parse("-" * 100 + "1")
    with pytest.raises(ExprError, match="longer than"):
        parse("1+" * 2000 + "1")


@pytest.mark.parametrize(
    ("text", "env", "fragment"),
    [
        ("1/(D-4)", {"D": 4}, "division by zero"),
        ("2^D", {"D": 100}, "exponent must be an integer in [-64, 64], got 100"),
        ("2^(1/2)", {}, "exponent must be an integer"),
        ("0^-1", {}, "division by zero"),
        ("D + x", {"D": 1}, "unknown symbol 'x'"),
    ],
)
def test_evaluation_errors(text: str, env: dict[str, int], fragment: str) -> None:
    with pytest.raises(ExprError) as info:
        evaluate(parse(text), env)
    assert fragment in str(info.value)


def test_names() -> None:
    assert names(parse("min(D, N)*F + floor(K) - 2")) == {"D", "N", "F", "K"}


def test_show_number() -> None:
    assert show_number(Fraction(18)) == "18"
    assert show_number(Fraction(2, 7)) == "2/7 (0.285714)"
    assert show_number(0.5) == "0.5"


@given(a=st.integers(-50, 50), b=st.integers(1, 50), c=st.integers(-50, 50))
def test_arithmetic_matches_python_fractions(a: int, b: int, c: int) -> None:
    expected = Fraction(a, b) * c - Fraction(c) / b + max(a, c) - min(a, b)
    text = f"({a})/{b}*({c}) - ({c})/{b} + max({a}, {c}) - min({a}, {b})"
    assert evaluate(parse(text), {}) == expected
