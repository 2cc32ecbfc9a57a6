"""Checking a spec: instantiate every grid point, verify it, and compare every claim.

Each instance (grid point x cost model) is generated, run through
:func:`verify.checks.check`, and its claims are compared with the measured quantities
(:mod:`verify.specs.quantities`). A claim that does not hold becomes a
``Violation(ViolationKind.CLAIM, ...)`` whose message gives the formula, the instance,
the expected and the measured value; the report's ``subject`` names the spec file and
the instance (``specs/chimera.toml[D=4, N=8]``).

>>> from verify.specs.loader import loads_spec
>>> spec = loads_spec('''format = "chimera-verify/spec"
... family = "1f1b"
... grid = { D = [4], N = [8] }
... costs = "F=1,B=2"
... [claims]
... makespan = "(N + D - 1)*(F + B) + 1"
... ''', "demo.toml")
>>> [(r.subject, r.ok) for r, _ in check_spec(spec)]
[('demo.toml[D=4, N=8]', False)]
>>> print(check_spec(spec)[0][0].violations[0].message)
makespan = "(N + D - 1)*(F + B) + 1" does not hold at D=4, N=8 (costs F=1,B=2): expected 34, measured 33
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from verify.checks import check
from verify.core.results import (
    PROPERTY_OF,
    Property,
    PropertyResult,
    Report,
    Status,
    Violation,
    ViolationKind,
)
from verify.core.schedule import Schedule
from verify.errors import ParameterError, ScheduleFormatError
from verify.generators import generate
from verify.specs.expr import ExprError, evaluate, show_number
from verify.specs.loader import MAX_GRID_POINTS, WORKER_SYMBOL
from verify.specs.model import Case, Claim, Grid, Instance, Mode, Spec
from verify.specs.quantities import measure

REL_TOL = 1e-9
"""Relative tolerance when comparing a measured float with an exact claimed value."""


def symbols(instance: Instance, defaults: tuple[tuple[str, int], ...] = ()) -> dict[str, Fraction | int]:
    """The values of every formula symbol at ``instance`` (without ``w``); options the
    grid does not set take their ``defaults``."""
    env: dict[str, Fraction | int] = dict(defaults)
    env.update(instance.params)
    D, N = instance.param("D"), instance.param("N")
    env["K"] = Fraction(N, D)
    F, B, I, W = (_exact(x) for x in instance.costs.durations(0))
    env.update(F=F, B=B, I=I, W=W)
    ov = instance.costs.overlap
    env["FB"] = _exact(ov) if ov is not None else F + B
    return env


def _exact(x: float) -> Fraction:
    """The decimal a person wrote (0.1 stays 1/10), not the binary float."""
    return Fraction(repr(float(x)))


def _grid_points(grid: Grid, source: str) -> Iterator[dict[str, int]]:
    def rec(i: int, env: dict[str, int]) -> Iterator[dict[str, int]]:
        if i == len(grid.axes):
            yield dict(env)
            return
        key, values = grid.axes[i]
        for gv in values:
            if isinstance(gv, int):
                value = gv
            else:
                scope: dict[str, Fraction | int] = dict(env)
                if "N" in env:
                    scope["K"] = Fraction(env["N"], env["D"])
                try:
                    exact = evaluate(gv.tree, scope)
                except ExprError as e:
                    raise ScheduleFormatError(source, gv.where, f"{e} in {gv.text!r}") from None
                if exact.denominator != 1:
                    at = ", ".join(f"{k}={v}" for k, v in env.items())
                    raise ScheduleFormatError(
                        source, gv.where, f"{gv.text!r} is {show_number(exact)} at {at}, not an integer",
                    )
                value = int(exact)
            if value < 1:
                at = ", ".join(f"{k}={v}" for k, v in env.items()) or "the start"
                raise ScheduleFormatError(source, grid.where,
                                          f"{key}={value} at {at}: grid values must be >= 1")
            env[key] = value
            yield from rec(i + 1, env)
            del env[key]

    return rec(0, {})


def instances(spec: Spec) -> list[Instance]:
    """Every (grid point, cost model) of every case, in file order, duplicates removed."""
    out: list[Instance] = []
    several_cases = len(spec.cases) > 1
    for case in spec.cases:
        points: list[tuple[tuple[str, int], ...]] = []
        seen: set[tuple[tuple[str, int], ...]] = set()
        for grid in case.grids:
            for env in _grid_points(grid, spec.path):
                key = tuple(env.items())
                if key not in seen:
                    seen.add(key)
                    points.append(key)
                if len(points) > MAX_GRID_POINTS:
                    raise ScheduleFormatError(spec.path, grid.where,
                                              f"the grid has more than {MAX_GRID_POINTS} points")
        if not points:
            raise ScheduleFormatError(spec.path, case.where, "the grid is empty")
        for params in points:
            for costs in case.costs:
                label = ", ".join(f"{k}={v}" for k, v in params)
                prefix = f"{case.name}: " if several_cases and case.name else ""
                suffix = f" @ {costs.describe()}" if len(case.costs) > 1 else ""
                subject = f"{spec.path}[{prefix}{label}{suffix}]"
                out.append(Instance(case, params, costs, subject))
    return out


def _close(measured: float, expected: Fraction) -> bool:
    e = float(expected)
    return abs(measured - e) <= REL_TOL * max(1.0, abs(e))


def _holds(mode: Mode, measured: float, expected: Fraction) -> bool:
    """``measured`` satisfies ``expected`` under ``mode`` (equals, at_least, at_most)."""
    if _close(measured, expected):
        return True
    if mode is Mode.AT_LEAST:
        return measured >= float(expected)
    if mode is Mode.AT_MOST:
        return measured <= float(expected)
    return False


def _fmt_values(values: tuple[float, ...]) -> str:
    return " ".join(show_number(v) for v in values)


def _where(instance: Instance) -> str:
    return f"{instance.label} (costs {instance.costs.describe()})"


def _claim_violation(claim: Claim, instance: Instance, detail: str) -> Violation:
    return Violation(
        ViolationKind.CLAIM,
        f'{claim.label} = "{claim.formula.text}" does not hold at {_where(instance)}: {detail}',
    )


def _check_claim(claim: Claim, instance: Instance, schedule: Schedule, report: Report,
                 env: dict[str, Fraction | int], source: str) -> Violation | None:
    metrics = report.metrics
    if metrics is None:
        return _claim_violation(claim, instance,
                                f"{claim.quantity} cannot be measured: the schedule deadlocks")
    value = measure(claim.quantity, schedule, metrics)

    def expect(extra: dict[str, int]) -> Fraction:
        try:
            return evaluate(claim.formula.tree, {**env, **extra})
        except ExprError as e:
            raise ScheduleFormatError(
                source, claim.formula.where,
                f"{e.reason} in {claim.formula.text!r} at {_where(instance)}",
            ) from None

    bound = {Mode.AT_LEAST: "at least ", Mode.AT_MOST: "at most "}.get(claim.mode, "")
    if isinstance(value, float):
        exp = expect({})
        if _holds(claim.mode, value, exp):
            return None
        return _claim_violation(claim, instance,
                                f"expected {bound}{show_number(exp)}, measured {show_number(value)}")
    if claim.mode in (Mode.MIN, Mode.MAX):
        exp = expect({})
        got = min(value) if claim.mode is Mode.MIN else max(value)
        if _close(got, exp):
            return None
        return _claim_violation(claim, instance, f"expected {show_number(exp)}, measured {show_number(got)} "
                                                 f"(per worker: {_fmt_values(value)})")
    failing: list[tuple[int, Fraction, float]] = []
    for w, got in enumerate(value):
        exp = expect({WORKER_SYMBOL: w})
        if not _holds(claim.mode, got, exp):
            failing.append((w, exp, got))
    if not failing:
        return None
    w, exp, got = failing[0]
    more = f"; {len(failing)} of {len(value)} workers fail" if len(failing) > 1 else ""
    return _claim_violation(
        claim, instance,
        f"on worker {w} expected {bound}{show_number(exp)}, measured {show_number(got)} "
        f"(per worker: {_fmt_values(value)}{more})",
    )


def check_instance(spec: Spec, instance: Instance) -> tuple[Report, Schedule]:
    """Generate, verify and check the claims of one instance."""
    case: Case = instance.case
    options = {k: v for k, v in instance.params if k not in ("D", "N")}
    try:
        schedule = generate(spec.family, instance.param("D"), instance.param("N"), **options)
    except ParameterError as e:
        where = case.grids[0].where if len(case.grids) == 1 else case.where
        raise ScheduleFormatError(spec.path, where, f"{instance.label}: {e}") from None
    report = check(schedule, costs=instance.costs)
    violations = list(report.violations)
    results = list(report.properties)
    claim_violations: list[Violation] = []
    for pc in case.properties:
        k = next(i for i, r in enumerate(results) if r.property is pc.property)
        status = results[k].status
        name = pc.key
        if status is Status.SKIPPED:
            why = results[k].reason
            claim_violations.append(Violation(
                ViolationKind.CLAIM,
                f"{name} = {str(pc.expected).lower()} cannot be checked at {_where(instance)}: {why}"))
        elif not pc.expected:
            if status is Status.HOLDS:
                claim_violations.append(Violation(
                    ViolationKind.CLAIM,
                    f"{name} = false does not hold at {_where(instance)}: "
                    f"the verifier finds the schedule {pc.property.value}"))
            else:
                expected = [v for v in violations if PROPERTY_OF[v.kind] is pc.property]
                violations = [v for v in violations if PROPERTY_OF[v.kind] is not pc.property]
                results[k] = PropertyResult(
                    pc.property, Status.VIOLATED,
                    f"as the spec claims: {len(expected)} violation(s), e.g. {expected[0].message}",
                )
    env = symbols(instance, spec.defaults)
    for claim in case.claims:
        v = _check_claim(claim, instance, schedule, report, env, spec.path)
        if v is not None:
            claim_violations.append(v)
    results.append(PropertyResult(Property.CLAIMS, Status.VIOLATED if claim_violations else Status.HOLDS))
    checked = Report(
        subject=instance.subject,
        violations=tuple(violations + claim_violations),
        properties=tuple(results),
        metrics=report.metrics,
        costs=report.costs,
    )
    return checked, schedule


def check_spec(spec: Spec) -> list[tuple[Report, Schedule]]:
    """One report per instance of ``spec`` (grid point x cost model), in file order."""
    return [check_instance(spec, inst) for inst in instances(spec)]
