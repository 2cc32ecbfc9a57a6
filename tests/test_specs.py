"""Spec files: loading (located errors), checking claims (exact diagnoses), and the
project's own ``specs/`` (every claim holds: the dogfood CI runs).

Expected values in the messages come from the published closed forms, written here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import reference as ref
from verify.core.results import Property, Status, ViolationKind
from verify.errors import ScheduleFormatError
from verify.specs import check_spec, collect_specs, instances, is_spec_file, load_spec, loads_spec

DATA = Path(__file__).parent / "data" / "specs"
SPECS = Path(__file__).parent.parent / "specs"
HEAD = 'format = "chimera-verify/spec"\n'


def _spec(body: str, source: str = "t.toml"):  # type: ignore[no-untyped-def]
    return loads_spec(HEAD + body, source)


def _messages(spec) -> list[str]:  # type: ignore[no-untyped-def]
    return [v.message for r, _ in check_spec(spec) for v in r.violations]


# ----------------------------------------------------------------- the wrong claim
def test_a_wrong_claim_fails_with_formula_instance_expected_and_measured() -> None:
    spec = load_spec(DATA / "wrong_claim.toml")
    ((report, schedule),) = check_spec(spec)
    D, N, F, B = 4, 8, 1, 2
    claimed = (2 * N + D - 2) * F
    measured = ref.one_f_one_b_makespan(D, N, F, B)
    assert report.subject == f"{DATA / 'wrong_claim.toml'}[D=4, N=8]"
    assert not report.ok
    (v,) = report.violations
    assert v.kind is ViolationKind.CLAIM
    assert v.message == (
        f'makespan = "(2*N + D - 2)*F" does not hold at D=4, N=8 (costs F=1,B=2): '
        f"expected {claimed}, measured {measured:g}"
    )
    claims = [p for p in report.properties if p.property is Property.CLAIMS]
    assert claims[0].status is Status.VIOLATED
    assert schedule.param("family") == "1f1b"


def test_per_worker_claim_names_the_first_failing_worker() -> None:
    spec = _spec('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\npeak_activations = "D - w + 1"\n')
    # 1F1B holds D - w activations on worker w (chimera.md): every worker is off by one.
    assert _messages(spec) == [
        'peak_activations = "D - w + 1" does not hold at D=4, N=8 (costs F=1,B=1): '
        "on worker 0 expected 5, measured 4 (per worker: 4 3 2 1; 4 of 4 workers fail)"
    ]


def test_interval_claims_compare_the_extremes() -> None:
    spec = _spec('family = "chimera"\ngrid = { D = [4], N = [4] }\n[claims]\n'
                 'peak_activations = { min = "D/2 + 1", max = "D + 1" }\n')
    # chimera.md: D=4, N=4 peaks 3 4 4 3.
    assert _messages(spec) == [
        'peak_activations.max = "D + 1" does not hold at D=4, N=4 (costs F=1,B=1): '
        "expected 5, measured 4 (per worker: 3 4 4 3)"
    ]


def test_bounds() -> None:
    spec = _spec('family = "1f1b"\ngrid = { D = [4], N = [8] }\ncosts = "F=1,B=2"\n[claims]\n'
                 'makespan = { at_most = "32", at_least = "30" }\nidle = { at_most = "D" }\n')
    # 1F1B: makespan (N+D-1)(F+B) = 33, idle (D-1)(F+B) = 9 on every worker.
    assert _messages(spec) == [
        'makespan.at_most = "32" does not hold at D=4, N=8 (costs F=1,B=2): '
        "expected at most 32, measured 33",
        'idle.at_most = "D" does not hold at D=4, N=8 (costs F=1,B=2): '
        "on worker 0 expected at most 4, measured 9 (per worker: 9 9 9 9; 4 of 4 workers fail)",
    ]


def test_rational_expected_values_are_shown_exactly() -> None:
    spec = _spec('family = "chimera"\ngrid = { D = [4], N = [4] }\ncosts = "F=1,B=2"\n[claims]\n'
                 'bubble_ratio = "(D - 2)/(2*N + D - 2)"\n')
    # With B = 2F the table's 1/5 does not hold; the measured ratio is 1/4 (chimera.md).
    assert _messages(spec) == [
        'bubble_ratio = "(D - 2)/(2*N + D - 2)" does not hold at D=4, N=4 (costs F=1,B=2): '
        "expected 1/5 (0.2), measured 0.25"
    ]


# ----------------------------------------------------------------- verdict claims
def test_expected_violation_is_a_pass_and_says_so() -> None:
    results = check_spec(load_spec(DATA / "expected_conflict.toml"))
    assert len(results) == 2
    for report, _ in results:
        assert report.ok
        (cf,) = [p for p in report.properties if p.property is Property.CONFLICT_FREE]
        assert cf.status is Status.VIOLATED
        assert cf.reason.startswith("as the spec claims:")
    # chimera.md: for odd D the first collision is on the middle worker (D-1)/2, where
    # the two pipelines' first forwards land in the same slot.
    for (report, _), D in zip(results, (3, 5)):
        (cf,) = [p for p in report.properties if p.property is Property.CONFLICT_FREE]
        mid = (D - 1) // 2
        assert f"e.g. conflict on worker {mid}, slot {mid}: down:{mid}F0 and up:{mid}F0" in cf.reason


def test_a_false_claim_that_holds_fails() -> None:
    spec = _spec('family = "chimera"\ngrid = { D = [4], N = [4] }\n[claims]\nconflict_free = false\n')
    assert _messages(spec) == [
        "conflict_free = false does not hold at D=4, N=4 (costs F=1,B=1): "
        "the verifier finds the schedule conflict-free"
    ]


def test_conflict_freedom_cannot_be_claimed_for_an_untimed_schedule() -> None:
    spec = _spec('family = "1f1b"\ngrid = { D = [2], N = [2] }\n[claims]\nconflict-free = true\n')
    assert _messages(spec) == [
        "conflict_free = true cannot be checked at D=2, N=2 (costs F=1,B=1): "
        "the schedule has no start times (order only)"
    ]


# ----------------------------------------------------------------- instances
def test_cases_grids_and_costs_expand_in_order() -> None:
    spec = _spec(
        'family = "chimera-2f"\n'
        'grid = [{ D = [4], N = "D", f = [1, 2] }, { D = [8], N = "D", f = "D/4" }]\n'
        '[claims]\nconflict_free = true\n'
        '[[case]]\nname = "B = 2F"\ngrid = { D = 4, N = ["2*D", "2*D"] }\ncosts = ["F=1,B=2", "F=2,B=4"]\n'
        '[case.claims]\ndeadlock_free = true\n',
        "s.toml",
    )
    assert [i.subject for i in instances(spec)] == [
        "s.toml[main: D=4, N=4, f=1]",
        "s.toml[main: D=4, N=4, f=2]",
        "s.toml[main: D=8, N=8, f=2]",
        "s.toml[B = 2F: D=4, N=8 @ F=1,B=2]",
        "s.toml[B = 2F: D=4, N=8 @ F=2,B=4]",
    ]
    assert all(r.ok for r, _ in check_spec(spec))


def test_options_left_out_of_the_grid_take_the_generator_defaults() -> None:
    spec = _spec('family = "interleaved-1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\nstage_replicas = "v"\n')
    assert spec.defaults == (("v", 2),)
    assert all(r.ok for r, _ in check_spec(spec))  # interleaved 1F1B's default: v = 2 chunks


# ----------------------------------------------------------------- located errors
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\nmakespan = "(N + D - 1)*(F + B))"\n',
         "t.toml:line 5, claims.makespan: unexpected ')' after a complete formula "
         "(column 20 of '(N + D - 1)*(F + B))')"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\nmakespan = "N*T"\n',
         "t.toml:line 5, claims.makespan: unknown symbol 'T' at column 3 of 'N*T' "
         "(known here: B, D, F, FB, I, K, N, W)"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\nmakespan = "D - w"\n',
         "t.toml:line 5, claims.makespan: the worker index 'w' (column 5 of 'D - w') is only "
         "defined for per-worker quantities compared per worker"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\nmakespan = "__import__(D)"\n',
         "t.toml:line 5, claims.makespan: unknown function '__import__' (known: ceil, floor, max, min) "
         "(column 1 of '__import__(D)')"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\nspeed = "1"\n',
         "t.toml:line 5, claims.speed: unknown claim 'speed' (known: complete, placed, deadlock_free, "
         "conflict_free, makespan, bubble_ratio, total_activations, p2p_messages, num_ops, idle, busy, "
         "peak_activations, weights, stage_replicas)"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\nmakespan = { max = "1" }\n',
         "t.toml:line 5, claims.makespan.max: makespan is one number, not one per worker: "
         "use equals, at_least or at_most"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\ndeadlock_free = "yes"\n',
         "t.toml:line 5, claims.deadlock_free: expected true or false, got 'yes'"),
        ('family = "1f1b"\ngrid = { D = [], N = [8] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, grid.D: empty list of D values: the grid would be empty"),
        ('family = "1f1b"\ngrid = { D = [4] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, grid: the grid needs N values"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8], v = [2] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, grid.v: 'v' is not an option of family '1f1b' (options: none)"),
        ('family = "1f1b"\ngrid = { D = [4], N = ["K"] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, grid.N[0]: unknown symbol 'K' at column 1 of 'K' (known here: D)"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\n',
         "t.toml:claims: the spec claims nothing: give at least one claim"),
        ('family = "pipedream"\ngrid = { D = [4], N = [8] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 2, family: unknown schedule family 'pipedream'; known: "),
        ('family = "1f1b"\ncosts = "F=x"\ngrid = { D = [4], N = [8] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, costs: CostModel.F: expected a number, got 'x'"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8] }\nspeed = 3\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 4, speed: unknown key 'speed' (allowed: "),
        ('version = 2\nfamily = "1f1b"\ngrid = { D = [4], N = [8] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 2, version: unsupported version 2 (this reader knows 1)"),
        ('family = "1f1b"\ngrid = { D = [4], N = [8 }\n',
         "t.toml:line 3, column 26: invalid TOML: Unclosed array"),
    ],
)
def test_load_errors_are_located(body: str, message: str) -> None:
    with pytest.raises(ScheduleFormatError) as info:
        _spec(body)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('family = "chimera"\ngrid = { D = [5], N = [5] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, grid: D=5, N=5: chimera: D must be even (odd D conflicts; see chimera-naive), "
         "got D=5"),
        ('family = "1f1b"\ngrid = { D = [4], N = ["D/3"] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, grid.N[0]: 'D/3' is 4/3 (1.33333) at D=4, not an integer"),
        ('family = "1f1b"\ngrid = { D = [4], N = ["D - 4"] }\n[claims]\ndeadlock_free = true\n',
         "t.toml:line 3, grid: N=0 at D=4: grid values must be >= 1"),
        ('family = "1f1b"\ngrid = { D = [4], N = [4] }\n[claims]\nmakespan = "1/(N - D)"\n',
         "t.toml:line 5, claims.makespan: division by zero in '1/(N - D)' at D=4, N=4 (costs F=1,B=1)"),
    ],
)
def test_instance_errors_are_located(body: str, message: str) -> None:
    with pytest.raises(ScheduleFormatError) as info:
        check_spec(_spec(body))
    assert str(info.value) == message


def test_case_locations_follow_array_tables() -> None:
    body = ('family = "1f1b"\n\n[[case]]\ngrid = { D = [2], N = [2] }\n'
            '[case.claims]\ndeadlock_free = true\n\n[[case]]\ngrid = { D = [2], N = [2] }\n'
            '[case.claims]\nmakespan = "1 +"\n')
    with pytest.raises(ScheduleFormatError) as info:
        _spec(body)
    assert str(info.value).startswith("t.toml:line 12, case[1].claims.makespan: expected a number")


def test_file_errors() -> None:
    with pytest.raises(ScheduleFormatError, match="no such file"):
        load_spec(DATA / "missing.toml")
    with pytest.raises(ScheduleFormatError) as info:
        load_spec(DATA / "bad_formula.toml")
    assert str(info.value) == (
        f"{DATA / 'bad_formula.toml'}:line 6, claims.makespan: unexpected ')' after a complete "
        "formula (column 20 of '(N + D - 1)*(F + B))')"
    )
    with pytest.raises(ScheduleFormatError, match="the grid would be empty"):
        load_spec(DATA / "empty_grid.toml")
    with pytest.raises(ScheduleFormatError, match="claims nothing"):
        load_spec(DATA / "no_claims.toml")


# ----------------------------------------------------------------- finding specs
def test_is_spec_file(tmp_path: Path) -> None:
    assert is_spec_file(DATA / "good.toml")
    assert is_spec_file(DATA / "bad_formula.toml")  # malformed, but a spec: reported as one
    assert not is_spec_file(DATA / "not_a_spec.toml")  # a native TOML schedule
    assert not is_spec_file(DATA / "missing.toml")
    other = tmp_path / "spec.json"
    other.write_text(HEAD)
    assert not is_spec_file(other)
    late = tmp_path / "late.toml"
    late.write_text('[grid]\nformat = "chimera-verify/spec"\n')  # not top level
    assert not is_spec_file(late)


def test_collect_specs(tmp_path: Path) -> None:
    names = [p.name for p in collect_specs(DATA)]
    assert names == ["bad_formula.toml", "empty_grid.toml", "expected_conflict.toml", "good.toml",
                     "no_claims.toml", "wrong_claim.toml"]
    with pytest.raises(ScheduleFormatError) as info:
        collect_specs(tmp_path)
    assert str(info.value) == f'{tmp_path}: no spec files (*.toml with format = "chimera-verify/spec")'
    with pytest.raises(ScheduleFormatError, match="not a directory"):
        collect_specs(DATA / "good.toml")


# ----------------------------------------------------------------- the project's specs
def test_every_family_has_a_spec() -> None:
    from verify.generators import families

    covered = {load_spec(p).family for p in collect_specs(SPECS)}
    assert covered == {f.name for f in families()}


def test_the_projects_specs_all_hold() -> None:
    failures = []
    total = 0
    for path in collect_specs(SPECS):
        for report, _ in check_spec(load_spec(path)):
            total += 1
            if not report.ok:
                failures.append((report.subject, [v.message for v in report.violations][:2]))
    assert not failures, failures[:5]
    assert total > 1000
