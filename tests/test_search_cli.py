"""The ``search`` command: schedule files that ``check`` accepts, text and JSON output,
exit codes, placement from a file."""

from __future__ import annotations

import io
import json
from pathlib import Path

import verify.cli.search_commands  # noqa: F401  (registers the command)
from verify.cli import main
from verify.generators import generate
from verify.io import load_schedule, save_schedule


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_search_writes_a_schedule_that_check_accepts(tmp_path: Path) -> None:
    path = tmp_path / "best.json"
    code, out, err = run("search", "--stages", "4", "--microbatches", "8", "--placement",
                         "bidirectional", "--costs", "F=1,B=2", "--memory-cap", "4", "-o", str(path))
    assert code == 0, err
    assert "OPTIMAL" in out and "makespan          28" in out
    assert "chimera" in out and "+7.1%" in out  # Chimera's 30 against 28
    assert "wrote" in err
    code, out, _ = run("check", str(path), "--memory-cap", "4")
    assert code == 0 and "makespan          28" in out
    assert load_schedule(path).param("family") == "search"


def test_json_output(tmp_path: Path) -> None:
    code, out, _ = run("search", "-D", "4", "-N", "4", "--costs", "F=1,B=2", "--solver", "z3",
                       "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "OPTIMAL" and data["value"] == 16
    assert data["stats"]["backend"] == "z3"
    assert data["schedule"]["format"] == "chimera-verify/schedule"
    assert any(f["family"] == "chimera" and f["comparable"] for f in data["comparison"])


def test_infeasible_exit_code_and_explanation() -> None:
    code, out, _ = run("search", "-D", "4", "-N", "4", "--placement", "v-shape", "--memory-cap", "1")
    assert code == 1
    assert "INFEASIBLE" in out and "why: mem_cap[worker=0]" in out


def test_placement_from_a_schedule_file(tmp_path: Path) -> None:
    path = tmp_path / "chimera.json"
    save_schedule(generate("chimera", 4, 8), path)
    code, out, err = run("search", "--placement", str(path), "--costs", "F=1,I=1,W=1")
    assert code == 0, err
    assert "OPTIMAL" in out and " 25" in out


def test_usage_errors_exit_2() -> None:
    assert run("search", "--placement", "bidirectional")[0] == 2
    assert run("search", "--placement", "no-such-file.json", "-D", "2", "-N", "2")[0] == 2
    assert run("search", "-D", "2", "-N", "2", "--workers", "2")[0] == 2


def test_require_optimal_and_unknown_exit_codes() -> None:
    # a tiny budget: the warm start stands (FEASIBLE unless the bound proves it)
    code, out, _ = run("search", "-D", "8", "-N", "16", "--costs", "F=1,B=2", "--solver", "z3",
                       "--time-limit", "0.001", "--require-optimal")
    assert ("FEASIBLE" in out and code == 1) or ("OPTIMAL" in out and code == 0)
    code, out, _ = run("search", "-D", "8", "-N", "16", "--costs", "F=1,B=2", "--solver", "z3",
                       "--time-limit", "0.001", "--no-warm-start")
    assert ("UNKNOWN" in out and code == 2) or code == 0
