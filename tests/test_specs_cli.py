"""``chimera-verify check`` on spec files and directories (the CI dogfood)."""

from __future__ import annotations

import inspect
import io
from pathlib import Path

import pytest

from verify.cli import core_commands, main

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "specs"

wired = pytest.mark.skipif(
    "verify.specs" not in inspect.getsource(core_commands),
    reason="`check` does not dispatch spec files to verify.specs yet",
)


@wired
def test_check_specs_directory_passes() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(ROOT / "specs")], out, err) == 0, err.getvalue()


@wired
def test_check_a_wrong_claim_fails_with_the_values() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(DATA / "wrong_claim.toml")], out, err) == 1
    assert (
        'claim: makespan = "(2*N + D - 2)*F" does not hold at D=4, N=8 (costs F=1,B=2): '
        "expected 18, measured 33"
    ) in out.getvalue()


@wired
def test_check_a_malformed_spec_is_a_located_error() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(DATA / "bad_formula.toml")], out, err) == 2
    assert "bad_formula.toml:line 6, claims.makespan: unexpected ')'" in err.getvalue()
