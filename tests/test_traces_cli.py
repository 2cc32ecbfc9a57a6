"""``chimera-verify trace``: exit codes, text and JSON output."""

from __future__ import annotations

import io
import json
from pathlib import Path

from verify.cli import (
    main,
    trace_commands,  # noqa: F401  (registers 'trace' and 'run')
)

DATA = Path(__file__).parent / "data" / "traces"
LOG = str(DATA / "chimera_d4_n4.csv")


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


def test_conforming_trace_exits_0() -> None:
    code, out, _ = run("trace", "chimera:D=4,N=4", LOG)
    assert code == 0
    assert "step 1: conforms (32/32 ops, makespan 16 us)" in out
    assert "verdict: the trace conforms to the schedule" in out


def test_schedule_file_and_json_output(tmp_path: Path) -> None:
    sched = tmp_path / "c.json"
    assert run("generate", "chimera", "-D", "4", "-N", "4", "-o", str(sched))[0] == 0
    code, out, _ = run("trace", str(sched), LOG, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] and doc["makespan"]["measured"] == 16
    assert doc["properties"] == {"conformance": {"status": "holds"}}
    assert doc["fitted_costs"].startswith("F=1,B=2")


def test_nonconforming_trace_exits_1_and_names_the_step() -> None:
    code, out, _ = run("trace", "chimera:D=4,N=8", LOG)
    assert code == 1
    assert "verdict: DOES NOT CONFORM" in out and "not-executed" in out


def test_unreadable_inputs_exit_2_with_one_line() -> None:
    code, _out, err = run("trace", "chimera:D=4,N=4", "missing.json")
    assert code == 2 and err.strip() == "chimera-verify: error: missing.json: file not found"
    code, _, err = run("trace", "gpipe:D=2,N=2", LOG)
    assert code == 2 and "nothing in the trace matches the schedule" in err
    code, _, err = run("trace", "chimera:D=5,N=4", LOG)
    assert code == 2 and "D must be even" in err
