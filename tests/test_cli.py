"""The command line: exit codes, outputs, and one-line errors on bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from verify.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_generate_list_names_the_families() -> None:
    code, out, _ = run("generate", "--list")
    assert code == 0
    names = {line.split()[0] for line in out.splitlines()}
    assert {"gpipe", "1f1b", "chimera", "chimera-naive"} <= names


@pytest.mark.parametrize("ext", ["json", "toml", "csv"])
def test_generate_then_check_passes(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"chimera.{ext}"
    code, _, err = run("generate", "chimera", "-D", "4", "-N", "4", "-o", str(path))
    assert code == 0, err
    code, out, err = run("check", str(path))
    assert code == 0, out + err
    assert "OK" in out.splitlines()[0]
    assert "makespan          10" in out


def test_check_json_report_has_ok_violations_metrics(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    run("generate", "chimera", "-D", "4", "-N", "4", "-o", str(path))
    code, out, _ = run("check", str(path), "--costs", "F=1,B=2", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] is True
    rep = doc["reports"][0]
    assert rep["violations"] == []
    assert rep["metrics"]["makespan"] == 16
    assert rep["metrics"]["peak_activations"] == [3, 4, 4, 3]
    assert rep["metrics"]["bubble_ratio"] == pytest.approx(0.25)


def test_odd_d_naive_merge_fails_with_exit_1(tmp_path: Path) -> None:
    path = tmp_path / "naive.json"
    run("generate", "chimera-naive", "-D", "5", "-N", "5", "-o", str(path))
    code, out, _ = run("check", str(path), "--format", "json")
    assert code == 1
    first = json.loads(out)["reports"][0]["violations"][0]
    assert first["kind"] == "conflict"
    assert first["workers"] == [2]


def test_text_violation_lines_are_located(tmp_path: Path) -> None:
    path = tmp_path / "naive.json"
    run("generate", "chimera-naive", "-D", "3", "-N", "3", "-o", str(path))
    code, out, _ = run("check", str(path))
    assert code == 1
    assert (f"{path}:$.programs[1][1]: conflict: conflict on worker 1, slot 1: down:1F0 and up:1F0"
            in out)


def test_csv_cannot_hold_two_actions_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "naive.csv"
    code, _, err = run("generate", "chimera-naive", "-D", "3", "-N", "3", "-o", str(path))
    assert code == 2
    assert "a cell holds one action per step" in err
    assert not path.exists()


def test_show_prints_the_slot_table(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    run("generate", "chimera", "-D", "4", "-N", "4", "-o", str(path))
    code, out, _ = run("show", str(path))
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["P0", "Fd0", ".", "Fd1", "Fu0", "Bu0", "Fu1", "Bu1", "Bd0", ".", "Bd1"]


def test_output_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text("precious")
    code, _, err = run("generate", "1f1b", "-D", "2", "-N", "2", "-o", str(path))
    assert code == 2
    assert path.read_text() == "precious"
    assert len(err.strip().splitlines()) == 1


BAD_FILES = {
    "bad.json": "{not json",
    "schema.json": json.dumps({"format": "chimera-verify/schedule", "version": 1, "workers": "x"}),
    "junk.csv": "0F0,1F0junk\n",
    "nomb.csv": "0F0,3F\n",
    "empty.csv": "\n\n",
    "missing.json": None,
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_malformed_files_exit_2_with_one_located_line(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if BAD_FILES[name] is not None:
        path.write_text(BAD_FILES[name])  # type: ignore[arg-type]
    code, out, err = run("check", str(path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert "Traceback" not in err + out


def test_junk_token_names_the_cell(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_text("0F0,0B0\n1F0junk,1B0\n")
    code, _, err = run("check", str(path))
    assert code == 2
    assert f"{path}:line 2, cell 1:" in err
    assert "1F0junk" in err


def test_bad_costs_and_unknown_family_are_usage_errors() -> None:
    code, _, err = run("generate", "nope", "-D", "4", "-N", "4")
    assert code == 2 and "unknown schedule family 'nope'" in err
    code, _, err = run("generate", "chimera", "-D", "5", "-N", "5")
    assert code == 2 and "D must be even" in err


def test_python_dash_m_entry_point() -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "verify", "generate", "--list"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "chimera" in r.stdout


def test_show_draws_a_measured_trace_above_the_schedule(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "t.svg"
    code, _, err = run("show", str(root / "examples" / "chimera-d4-n4.json"), "--order-only",
                       "--costs", "F=1,B=2", "--trace",
                       str(root / "tests" / "data" / "traces" / "chimera_d4_n4.csv"),
                       "--svg", str(out))
    assert code == 0, err
    groups = [g for g in ET.parse(out).iter() if g.get("class") == "trace-row"]
    assert len(groups) == 4  # one lane per worker of the measured trace


def test_torch_compact_csv_dumps_are_checked_by_order(tmp_path: Path) -> None:
    # torch's own GPipe dump has no idle cells: its columns are an order, not lock-step slots
    root = Path(__file__).resolve().parent.parent
    gpipe = root / "tests" / "data" / "comm" / "torch_GPipe_r4_n4.compute.csv"
    assert run("check", str(gpipe))[0] == 0
    code, out, _ = run("check", "--timing", "schedule", str(gpipe))
    assert code == 1 and "early-start: 1F0 (worker 1) starts at slot 0" in out
