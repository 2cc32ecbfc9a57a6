"""Parametric theorems: records, the prover, certificates and a text rendering.

A :class:`Theorem` states a property of a schedule family for *every* value of its
parameters (every even D, every number of units K, ...). Its ``build`` function returns
a Z3 :class:`Query` whose assertions are the parameter domain, sound lemmas, and the
**negation** of the claim, so that

* ``unsat``   -> :attr:`Verdict.PROVED`  (no parameter value violates the claim);
* ``sat``     -> :attr:`Verdict.REFUTED` (the model, confirmed and shrunk, is a
  concrete counterexample, rendered by the theorem in its own terms);
* ``unknown`` -> :attr:`Verdict.UNKNOWN` (budget exhausted, or a model that could not be
  confirmed); UNKNOWN never counts as proved.

Some statements compare the closed forms with generator *code*; those are checked
exhaustively up to a bound stated in their ``scope`` (``Theorem.enumerate``).

Budgets are Z3 ``rlimit`` units, not seconds, so the verdict is the same on every machine;
each theorem runs in a fresh Z3 context. Every theorem has an expected verdict; negative
controls (deliberately broken claims, ``control_of`` names the theorem they break) are
expected REFUTED, which shows the encodings can fail.

The theorems live in the top-level ``proofs`` package (one module per theorem);
:func:`theorems` lists them, :func:`prove` runs them, :func:`export_smt2` writes each
query as an SMT-LIB 2 certificate for a second solver.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import z3

from verify.errors import ModelError, ParameterError
from verify.smt.lemmas import Product, pin
from verify.smt.smtlib import constants, to_smtlib

DEFAULT_RLIMIT = 20_000_000
"""Z3 resource budget per theorem (about a second of solver work; the theorems need a
few hundred thousand units at most)."""

MAX_SHRINK_STEPS = 32
"""Solver calls spent shrinking one variable of a counterexample."""

Scalar = int | bool | str
"""A value in a counterexample."""

Values = Mapping[str, int | bool]
"""The values of a query's constants in a model, by constant name."""


class Verdict(enum.Enum):
    """The answer of the prover. ``UNKNOWN`` is never a success."""

    PROVED = "proved"
    REFUTED = "refuted"
    UNKNOWN = "unknown"


class Method(enum.Enum):
    """How a theorem is decided: a parametric SMT query, or enumeration up to a bound."""

    SMT = "smt"
    EXHAUSTIVE = "exhaustive"


@dataclass(frozen=True, slots=True)
class Finding:
    """A counterexample in the theorem's own terms: named values and one line of text.

    >>> Finding((("D", 3), ("worker", 1)), "D=3: worker 1").as_dict()
    {'D': 3, 'worker': 1}
    """

    values: tuple[tuple[str, Scalar], ...]
    text: str

    def as_dict(self) -> dict[str, Scalar]:
        return dict(self.values)


Describe = Callable[[Values], Finding]
"""Turns the values of a model into a readable counterexample."""


@dataclass(frozen=True, slots=True)
class Query:
    """What a theorem's ``build`` returns.

    ``assertions``: domain, lemmas and, last, the negated claim (unsat = the claim
    holds, provided the assertions before it are satisfiable: a proof over an empty
    domain is reported UNKNOWN as vacuous).
    ``describe``: renders a model. ``products``: fresh variables standing for products
    of symbolic integers (their lemmas are among the assertions); a model is confirmed
    only after re-solving with the products made exact (:func:`verify.smt.lemmas.pin`).
    ``shrink``: integer constants minimised in this order before a counterexample is
    reported, so that it is the smallest instance (e.g. ``D`` first, then the slot).
    ``recheck``: an independent, concrete re-evaluation of a counterexample (solver
    output is untrusted); a model it rejects makes the verdict UNKNOWN.
    """

    assertions: tuple[z3.BoolRef, ...]
    describe: Describe
    products: tuple[Product, ...] = ()
    shrink: tuple[str, ...] = ()
    logic: str = "QF_LIA"
    recheck: Callable[[Values], bool] | None = None


@dataclass(frozen=True, slots=True)
class Enumeration:
    """Outcome of an exhaustive check: cases examined, first failing case (if any)."""

    cases: int
    finding: Finding | None


@dataclass(frozen=True, slots=True)
class Theorem:
    """A claim about a schedule family, with its expected verdict.

    Exactly one of ``build`` (parametric, Z3) and ``enumerate`` (bounded, exhaustive)
    is given. ``scope`` says for which parameters the verdict speaks ("every even D >= 2
    and K >= 1", "even D <= 32 and K <= 4").
    """

    name: str
    claim: str
    formula: str
    expected: Verdict
    scope: str
    build: Callable[[z3.Context], Query] | None = None
    enumerate: Callable[[], Enumeration] | None = None
    control_of: str | None = None
    """For a negative control: the theorem whose encoding it deliberately breaks."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not all(
            c.isalnum() or c == "-" for c in self.name
        ):
            raise ModelError("Theorem", "name", "letters, digits and '-'", self.name)
        if self.expected not in (Verdict.PROVED, Verdict.REFUTED):
            raise ModelError("Theorem", "expected", "PROVED or REFUTED", self.expected)
        if (self.build is None) == (self.enumerate is None):
            raise ModelError("Theorem", "build", "exactly one of build and enumerate", self.name)

    @property
    def method(self) -> Method:
        return Method.SMT if self.build is not None else Method.EXHAUSTIVE


@dataclass(frozen=True, slots=True)
class TheoremResult:
    """The verdict on one theorem, as plain data (see :meth:`to_dict`).

    ``rlimit`` is the Z3 resource count used (0 for exhaustive checks), ``cases`` the
    number of instances an exhaustive check examined, ``instance`` the counterexample's
    values (empty unless REFUTED), ``text`` one line saying what was found.
    """

    name: str
    verdict: Verdict
    expected: Verdict
    seconds: float
    rlimit: int
    method: Method
    claim: str
    scope: str
    text: str
    instance: tuple[tuple[str, Scalar], ...] = ()
    cases: int = 0
    control_of: str | None = None

    @property
    def passed(self) -> bool:
        """The verdict is the expected one (an UNKNOWN never passes)."""
        return self.verdict is self.expected and self.verdict is not Verdict.UNKNOWN

    @property
    def counterexample(self) -> dict[str, Scalar] | None:
        """The counterexample's values by name (None unless REFUTED)."""
        return dict(self.instance) if self.instance else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict.value,
            "expected": self.expected.value,
            "passed": self.passed,
            "method": self.method.value,
            "seconds": round(self.seconds, 6),
            "rlimit": self.rlimit,
            "cases": self.cases,
            "claim": self.claim,
            "scope": self.scope,
            "control_of": self.control_of,
            "counterexample": self.counterexample,
            "text": self.text,
        }


# --------------------------------------------------------------------------- registry
def theorems() -> list[Theorem]:
    """Every registered theorem (main theorems and negative controls), in a fixed order."""
    import proofs  # the theorems live in the top-level package next to ``verify``

    return list(proofs.THEOREMS)


def theorem(name: str) -> Theorem:
    """The theorem called ``name``; a :class:`ParameterError` lists the known names."""
    for th in theorems():
        if th.name == name:
            return th
    known = ", ".join(t.name for t in theorems())
    raise ParameterError(f"unknown theorem {name!r}; known: {known}")


def _select(names: Iterable[str] | None) -> list[Theorem]:
    if names is None:
        return theorems()
    out: list[Theorem] = []
    for n in names:
        th = theorem(n)
        if th not in out:
            out.append(th)
    return out


# ----------------------------------------------------------------------------- solving
class _Budget:
    """One solver and the rlimit left; every check spends from the same budget."""

    def __init__(self, solver: z3.Solver, rlimit: int) -> None:
        self.solver = solver
        self.limit = rlimit
        self.used = 0
        self.reason = ""

    def check(self) -> z3.CheckSatResult:
        left = self.limit - self.used
        if left <= 0:
            self.reason = "resource limit exhausted"
            return z3.unknown
        before = self._count()
        self.solver.set("rlimit", left)
        result = self.solver.check()
        self.used += self._count() - before
        if result == z3.unknown:
            self.reason = str(self.solver.reason_unknown())
        return result

    def _count(self) -> int:
        stats = self.solver.statistics()
        keys = stats.keys()
        return int(stats.get_key_value("rlimit count")) if "rlimit count" in keys else 0


def _values(model: z3.ModelRef, consts: Mapping[str, z3.ExprRef]) -> dict[str, int | bool]:
    out: dict[str, int | bool] = {}
    for name, c in consts.items():
        v = model.eval(c, model_completion=True)
        out[name] = bool(z3.is_true(v)) if z3.is_bool(c) else int(v.as_long())
    return out


def _confirm(budget: _Budget, products: Sequence[Product]) -> z3.ModelRef | None:
    """Re-solve with the products exact at the current model's factor values."""
    model = budget.solver.model()
    if not products:
        return model
    budget.solver.push()
    try:
        budget.solver.add(*pin(model, products))
        return budget.solver.model() if budget.check() == z3.sat else None
    finally:
        budget.solver.pop()


def _shrink(
    budget: _Budget, query: Query, consts: Mapping[str, z3.ExprRef], model: z3.ModelRef
) -> z3.ModelRef:
    """Minimise the ``shrink`` constants one after the other (each candidate confirmed)."""
    solver = budget.solver
    solver.push()
    try:
        for name in query.shrink:
            var = consts[name]
            for _ in range(MAX_SHRINK_STEPS):
                best = model.eval(var, model_completion=True)
                solver.push()
                solver.add(var < best)
                better = None
                if budget.check() == z3.sat:
                    better = _confirm(budget, query.products)
                solver.pop()
                if better is None:
                    break
                model = better
            solver.add(var == model.eval(var, model_completion=True))
    finally:
        solver.pop()
    return model


def _vacuity(budget: _Budget, query: Query, scope: str) -> tuple[Verdict, str]:
    """An unsat answer proves the claim only if the domain itself (everything but the
    negated claim) is satisfiable; otherwise the "proof" would be vacuous."""
    domain = z3.Solver(ctx=budget.solver.ctx)
    domain.add(*query.assertions[:-1])
    check = _Budget(domain, budget.limit - budget.used)
    answer = check.check()
    budget.used += check.used
    if answer == z3.sat:
        return Verdict.PROVED, f"holds for {scope} (negation unsat, domain satisfiable)"
    if answer == z3.unsat:
        return Verdict.UNKNOWN, "vacuous: the domain and lemmas alone are unsatisfiable"
    return Verdict.UNKNOWN, f"could not show the domain satisfiable: {check.reason}"


def _run_smt(th: Theorem, build: Callable[[z3.Context], Query], rlimit: int) -> TheoremResult:
    start = time.perf_counter()
    ctx = z3.Context()
    query = build(ctx)
    solver = z3.Solver(ctx=ctx)
    solver.add(*query.assertions)
    budget = _Budget(solver, rlimit)
    answer = budget.check()
    instance: tuple[tuple[str, Scalar], ...] = ()
    if answer == z3.unsat:
        verdict, text = _vacuity(budget, query, th.scope)
    elif answer == z3.sat:
        model = _confirm(budget, query.products)
        if model is None:
            verdict = Verdict.UNKNOWN
            text = "the linear abstraction has a model that is no counterexample"
        else:
            consts = constants(query.assertions)
            values = _values(_shrink(budget, query, consts, model), consts)
            if query.recheck is not None and not query.recheck(values):
                verdict = Verdict.UNKNOWN
                text = f"the solver's counterexample failed the concrete re-check: {values}"
            else:
                finding = query.describe(values)
                verdict, text, instance = Verdict.REFUTED, finding.text, finding.values
    else:
        verdict, text = Verdict.UNKNOWN, f"solver gave up: {budget.reason} (rlimit {rlimit})"
    return TheoremResult(
        th.name, verdict, th.expected, time.perf_counter() - start, budget.used, th.method,
        th.claim, th.scope, text, instance, 0, th.control_of,
    )


def _run_exhaustive(th: Theorem, check: Callable[[], Enumeration]) -> TheoremResult:
    start = time.perf_counter()
    outcome = check()
    instance: tuple[tuple[str, Scalar], ...] = ()
    if outcome.finding is None:
        verdict, text = Verdict.PROVED, f"holds in all {outcome.cases} cases"
    else:
        verdict, text, instance = Verdict.REFUTED, outcome.finding.text, outcome.finding.values
    return TheoremResult(
        th.name, verdict, th.expected, time.perf_counter() - start, 0, th.method, th.claim,
        th.scope, text, instance, outcome.cases, th.control_of,
    )


def run(th: Theorem, *, rlimit: int = DEFAULT_RLIMIT) -> TheoremResult:
    """Decide one theorem."""
    if th.build is not None:
        return _run_smt(th, th.build, rlimit)
    if th.enumerate is not None:
        return _run_exhaustive(th, th.enumerate)
    raise ModelError("Theorem", "build", "exactly one of build and enumerate", th.name)


def prove(names: Iterable[str] | None = None, *, rlimit: int = DEFAULT_RLIMIT) -> list[TheoremResult]:
    """Decide the named theorems (all of them by default), each within ``rlimit``.

    >>> [r] = prove(["chimera-dependencies-forward"])
    >>> r.verdict, r.passed
    (<Verdict.PROVED: 'proved'>, True)
    """
    if isinstance(rlimit, bool) or not isinstance(rlimit, int) or rlimit < 1:
        raise ParameterError(f"prove: rlimit must be a positive integer, got {rlimit!r}")
    return [run(th, rlimit=rlimit) for th in _select(names)]


# ------------------------------------------------------------------------ certificates
_EXPECTED_ANSWER = {
    Verdict.PROVED: "unsat (PROVED: no parameter value violates the claim)",
    Verdict.REFUTED: "sat (REFUTED: the claim fails; a model is a counterexample)",
}


def smt2_text(th: Theorem) -> str:
    """The SMT-LIB 2 certificate of an SMT theorem: a comment header stating the claim
    and the expected answer, then the query and ``(check-sat)``."""
    if th.build is None:
        raise ParameterError(f"theorem {th.name!r} is checked by enumeration: no SMT query")
    query = th.build(z3.Context())
    header = [
        f"chimera-verify certificate: {th.name}",
        f"claim: {th.claim}",
        f"formula: {th.formula}",
        f"scope: {th.scope}",
        f"expected: {_EXPECTED_ANSWER[th.expected]}",
    ]
    if th.control_of:
        header.append(f"negative control of: {th.control_of}")
    header.append("assertions: parameter domain, sound product lemmas, negated claim")
    return to_smtlib(query.assertions, logic=query.logic, comments=header)


def export_smt2(
    directory: str | Path, *, overwrite: bool = False, names: Iterable[str] | None = None
) -> list[Path]:
    """Write ``<name>.smt2`` for every SMT theorem (or the named ones) into ``directory``.

    Files whose content is already identical are left alone. If any existing file
    differs, nothing is written and :class:`FileExistsError` names the files, unless
    ``overwrite`` is true. Returns the certificate paths in theorem order.
    """
    root = Path(directory)
    texts = [(root / f"{th.name}.smt2", smt2_text(th)) for th in _select(names) if th.build]
    differing = [p for p, text in texts if p.exists() and p.read_text(encoding="utf-8") != text]
    if differing and not overwrite:
        listed = ", ".join(str(p) for p in differing)
        raise FileExistsError(f"certificates differ from the encodings (use overwrite): {listed}")
    root.mkdir(parents=True, exist_ok=True)
    for path, text in texts:
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return [p for p, _ in texts]


# ---------------------------------------------------------------------------- rendering
def render_text(results: Sequence[TheoremResult]) -> str:
    """A plain-text report: one line per theorem, the finding indented below refuted
    and unknown ones, and a summary line."""
    width = max((len(r.name) for r in results), default=0)
    lines: list[str] = []
    for r in results:
        mark = "ok  " if r.passed else "FAIL"
        budget = f"rlimit {r.rlimit}" if r.method is Method.SMT else f"{r.cases} cases"
        lines.append(
            f"{mark} {r.name:<{width}}  {r.verdict.value.upper():<7}  "
            f"(expected {r.expected.value}) {r.seconds:7.3f} s  {budget}"
        )
        if r.verdict is not Verdict.PROVED or not r.passed:
            lines.append(f"     {r.text}")
    good = sum(r.passed for r in results)
    unknown = sum(r.verdict is Verdict.UNKNOWN for r in results)
    total = sum(r.seconds for r in results)
    lines.append(
        f"{len(results)} theorems: {good} as expected, {len(results) - good} not "
        f"({unknown} unknown), {total:.2f} s"
    )
    return "\n".join(lines) + "\n"
