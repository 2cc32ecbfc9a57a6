"""SMT-LIB 2 text of a Z3 query, written by our own deterministic printer.

Certificates are committed to the repository and re-checked by a second solver, so
their text must not depend on the Z3 version or on hash order: this printer walks the
Z3 terms itself, declares constants sorted by name, writes one ``(assert ...)`` per
assertion in the order they were built, and accepts only the fragment the theorems use
(Booleans, integer constants and numerals, ``and or not => = distinct ite + - * <= <
>= >``). In a linear logic it refuses a product of two non-numeral terms, so a query
declared ``QF_LIA`` really is linear.

>>> import z3
>>> x, b = z3.Int("x"), z3.Bool("b")
>>> print(to_smtlib([x >= 0, z3.Implies(b, 2 * x - 1 < -3)], logic="QF_LIA",
...                 comments=["toy query"]))
; toy query
(set-info :smt-lib-version 2.6)
(set-logic QF_LIA)
(declare-fun b () Bool)
(declare-fun x () Int)
(assert (>= x 0))
(assert (=> b (< (- (* 2 x) 1) (- 3))))
(check-sat)
(exit)
<BLANKLINE>
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import z3

from verify.errors import SolverError

_SYMBOL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

_NAMES: dict[int, str] = {
    z3.Z3_OP_AND: "and",
    z3.Z3_OP_OR: "or",
    z3.Z3_OP_NOT: "not",
    z3.Z3_OP_IMPLIES: "=>",
    z3.Z3_OP_EQ: "=",
    z3.Z3_OP_XOR: "xor",
    z3.Z3_OP_DISTINCT: "distinct",
    z3.Z3_OP_ITE: "ite",
    z3.Z3_OP_ADD: "+",
    z3.Z3_OP_SUB: "-",
    z3.Z3_OP_UMINUS: "-",
    z3.Z3_OP_MUL: "*",
    z3.Z3_OP_LE: "<=",
    z3.Z3_OP_LT: "<",
    z3.Z3_OP_GE: ">=",
    z3.Z3_OP_GT: ">",
}

if hasattr(z3, "Z3_OP_IFF"):  # older Z3 releases build Boolean equality as IFF
    _NAMES[z3.Z3_OP_IFF] = "="

LINEAR_LOGICS = frozenset({"QF_LIA", "QF_IDL"})


def _symbol(name: str) -> str:
    if _SYMBOL_RE.match(name):
        return name
    if "|" in name or "\\" in name:
        raise SolverError(f"cannot write constant {name!r} as an SMT-LIB symbol")
    return f"|{name}|"


def _numeral(e: z3.ExprRef) -> str:
    value = int(e.as_long())
    return str(value) if value >= 0 else f"(- {-value})"


def _is_numeral(e: z3.ExprRef) -> bool:
    return bool(z3.is_int_value(e))


class _Printer:
    """Prints terms as trees (the theorems name shared sub-terms themselves)."""

    def __init__(self, linear: bool) -> None:
        self.linear = linear
        self.constants: dict[str, str] = {}

    def term(self, e: z3.ExprRef) -> str:
        if z3.is_true(e):
            return "true"
        if z3.is_false(e):
            return "false"
        if _is_numeral(e):
            return _numeral(e)
        if not z3.is_app(e):
            raise SolverError(f"cannot write {e.sexpr()} in SMT-LIB: not an application")
        decl = e.decl()
        kind = decl.kind()
        if kind == z3.Z3_OP_UNINTERPRETED and e.num_args() == 0:
            return self._constant(e)
        op = _NAMES.get(kind)
        if op is None:
            raise SolverError(f"cannot write {e.sexpr()} in SMT-LIB: operator {decl.name()}")
        args = [e.arg(i) for i in range(e.num_args())]
        if kind == z3.Z3_OP_MUL and self.linear and sum(not _is_numeral(a) for a in args) > 1:
            raise SolverError(f"non-linear product {e.sexpr()} in a linear logic")
        return f"({op} {' '.join(self.term(a) for a in args)})"

    def _constant(self, e: z3.ExprRef) -> str:
        name = e.decl().name()
        sort = e.sort()
        if sort == z3.IntSort(e.ctx):
            sort_name = "Int"
        elif sort == z3.BoolSort(e.ctx):
            sort_name = "Bool"
        else:
            raise SolverError(f"constant {name!r} has sort {sort}: only Int and Bool are written")
        previous = self.constants.setdefault(name, sort_name)
        if previous != sort_name:
            raise SolverError(f"constant {name!r} used with sorts {previous} and {sort_name}")
        return _symbol(name)


def to_smtlib(
    assertions: Iterable[z3.BoolRef], *, logic: str, comments: Sequence[str] = ()
) -> str:
    """The SMT-LIB 2.6 script ``comments; set-logic; declarations; asserts; check-sat``.

    Raises :class:`~verify.errors.SolverError` for a term outside the supported fragment
    (it cannot be certified, which is a "could not check", not a finding).
    """
    printer = _Printer(linear=logic in LINEAR_LOGICS)
    body = [f"(assert {printer.term(a)})" for a in assertions]
    lines = [f"; {line}".rstrip() for text in comments for line in text.splitlines() or [""]]
    lines += ["(set-info :smt-lib-version 2.6)", f"(set-logic {logic})"]
    lines += [
        f"(declare-fun {_symbol(n)} () {printer.constants[n]})" for n in sorted(printer.constants)
    ]
    lines += body
    lines += ["(check-sat)", "(exit)"]
    return "\n".join(lines) + "\n"


def constants(assertions: Iterable[z3.BoolRef]) -> dict[str, z3.ExprRef]:
    """Every uninterpreted constant of the assertions, by name (sorted)."""
    found: dict[str, z3.ExprRef] = {}
    seen: set[int] = set()
    stack = list(assertions)
    while stack:
        e = stack.pop()
        key = e.get_id()
        if key in seen:
            continue
        seen.add(key)
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            found[e.decl().name()] = e
        elif z3.is_app(e):
            stack.extend(e.arg(i) for i in range(e.num_args()))
    return {k: found[k] for k in sorted(found)}
