"""CI outputs: JUnit XML read by standard parsers, the documented JSON schema, GitHub
annotations, exit codes, the pre-commit hook and progress bars."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_report_snapshots import known_bad_items
from verify import check, generate
from verify.core.results import Property, Status, ViolationKind
from verify.generators import families
from verify.report import render_json

ROOT = Path(__file__).parent.parent
SCHEMA = ROOT / "verify" / "report" / "schema" / "report.schema.json"


def _items() -> list[tuple[object, object]]:
    good = generate("chimera", 4, 4)
    return [(check(good), good), *known_bad_items()]


# ----------------------------------------------------------------------- JUnit
def test_junit_one_testcase_per_property_per_schedule() -> None:
    from verify.report.junit import render_junit

    items = _items()
    root = ET.fromstring(render_junit(items).encode("utf-8"))  # type: ignore[arg-type]
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [r.subject for r, _ in items]  # type: ignore[attr-defined]
    for suite, (report, _) in zip(suites, items):
        cases = suite.findall("testcase")
        assert [c.get("name") for c in cases] == [p.property.value for p in report.properties]  # type: ignore[attr-defined]
        violated = {p.property.value for p in report.properties if p.status is Status.VIOLATED}  # type: ignore[attr-defined]
        skipped = {p.property.value for p in report.properties if p.status is Status.SKIPPED}  # type: ignore[attr-defined]
        assert {c.get("name") for c in cases if c.find("failure") is not None} == violated
        assert {c.get("name") for c in cases if c.find("skipped") is not None} == skipped
        assert int(suite.get("failures", -1)) == len(violated)
        assert int(suite.get("tests", -1)) == len(cases)
    total = sum(len(r.properties) for r, _ in items)  # type: ignore[attr-defined]
    assert int(root.get("tests", -1)) == total


def test_junit_failure_text_lists_every_violation_and_errors_are_errors() -> None:
    from verify.report.junit import render_junit

    items = known_bad_items()
    root = ET.fromstring(render_junit(items, [("x.csv", "x.csv: file not found")]).encode("utf-8"))
    failures = root.findall(".//failure")
    lines = [ln for f in failures for ln in (f.text or "").splitlines()]
    assert len(lines) == sum(len(r.violations) for r, _ in items)
    errors = root.findall(".//error")
    assert len(errors) == 1 and errors[0].get("message") == "x.csv: file not found"
    assert int(root.get("errors", -1)) == 1


def test_junit_is_read_back_by_junitparser() -> None:
    junitparser = pytest.importorskip("junitparser")
    from verify.report.junit import render_junit

    items = known_bad_items()
    xml = junitparser.JUnitXml.fromstring(render_junit(items))
    cases = [c for suite in xml for c in suite]
    assert len(cases) == sum(len(r.properties) for r, _ in items)
    failed = [c for c in cases if any(isinstance(r, junitparser.Failure) for r in c.result)]
    assert {c.name for c in failed} == {"conflict-free", "complete", "deadlock-free"}


# ------------------------------------------------------------------------ JSON
def _validator() -> object:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_json_report_follows_the_documented_schema() -> None:
    validator = _validator()
    doc = json.loads(render_json(_items()))  # type: ignore[arg-type]
    validator.validate(doc)  # type: ignore[attr-defined]


def test_schema_names_every_kind_property_and_status() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert set(defs["violation"]["properties"]["kind"]["enum"]) == {k.value for k in ViolationKind}
    assert set(defs["violation"]["properties"]["property"]["enum"]) == {p.value for p in Property}
    assert set(defs["verdict"]["properties"]["status"]["enum"]) == {s.value for s in Status}
    doc = (ROOT / "docs" / "report-schema.md").read_text(encoding="utf-8")
    for k in ViolationKind:  # the prose documents every kind too
        assert f"`{k.value}`" in doc


def test_schema_rejects_what_it_must() -> None:
    validator = _validator()
    doc = json.loads(render_json(known_bad_items()))
    doc["reports"][0]["violations"][0]["kind"] = "no-such-kind"
    assert not validator.is_valid(doc)  # type: ignore[attr-defined]


EXAMPLES = [(f.name, D, N, dict(opts)) for f in families() for D, N, opts in f.examples]


@settings(max_examples=20, deadline=None)
@given(case=st.sampled_from(EXAMPLES), seed=st.integers(0, 1000))
def test_json_of_mutated_schedules_follows_the_schema(case: tuple[str, int, int, dict[str, object]],
                                                       seed: int) -> None:
    from tests.mutations import mutants

    validator = _validator()
    name, D, N, opts = case
    base = generate(name, D, N, **opts)
    items = [(check(m), m) for _, m, _ in list(mutants(base, seed))[:4]]
    validator.validate(json.loads(render_json(items)))  # type: ignore[attr-defined, arg-type]


# ---------------------------------------------------------------------- GitHub
ANNOTATION = re.compile(r"^::(error|warning|notice)( [a-z]+=[^,:]*(,[a-z]+=[^,:]*)*)?::[^\r\n]*$")


def test_github_annotations_are_well_formed_commands() -> None:
    from verify.report.github import render_github

    items = known_bad_items()
    lines = render_github(items, [("a b.csv", "a b.csv: line 3: bad,\ncell")]).splitlines()
    assert all(ANNOTATION.match(ln) for ln in lines), lines
    errors = [ln for ln in lines if ln.startswith("::error")]
    assert len(errors) == sum(len(r.violations) for r, _ in items) + 1
    assert "%0A" in errors[-1]  # the newline in the message is escaped
    located = [ln for ln in errors if ",line=" in ln]
    assert located and all(",col=" in ln for ln in located)


# ------------------------------------------------------------------ CLI wiring
def run(*argv: str) -> tuple[int, str, str]:
    from verify.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    from verify.io import save_schedule

    good = tmp_path / "chimera.json"
    save_schedule(generate("chimera", 4, 4), good)
    bad = tmp_path / "naive.json"
    save_schedule(generate("chimera-naive", 3, 3), bad)
    return {"good": good, "bad": bad, "missing": tmp_path / "missing.json"}


@pytest.mark.parametrize("fmt", ["text", "json", "junit", "github"])
def test_exit_codes(files: dict[str, Path], fmt: str) -> None:
    assert run("check", str(files["good"]), "--format", fmt)[0] == 0
    assert run("check", str(files["good"]), str(files["bad"]), "--format", fmt)[0] == 1
    code, out, err = run("check", str(files["good"]), str(files["missing"]), "--format", fmt)
    assert code == 2 and "missing.json" in err
    if fmt == "junit":
        root = ET.fromstring(out.encode("utf-8"))
        assert len(root.findall(".//error")) == 1


def test_show_writes_pictures_and_never_overwrites_its_input(files: dict[str, Path], tmp_path: Path) -> None:
    out = {k: tmp_path / f"out.{k}" for k in ("svg", "html", "json")}
    code, _, err = run("show", str(files["good"]), "--svg", str(out["svg"]), "--html", str(out["html"]),
                       "--perfetto", str(out["json"]))
    assert code == 0, err
    assert ET.parse(out["svg"]).getroot().tag.endswith("svg")
    assert out["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sum(1 for e in json.loads(out["json"].read_text())["traceEvents"] if e["ph"] == "X") == 32
    before = files["good"].read_bytes()
    code, _, err = run("show", str(files["good"]), "--svg", str(files["good"]))
    assert code == 2 and "input file" in err
    assert files["good"].read_bytes() == before


def test_guard_refuses_an_input_path(tmp_path: Path) -> None:
    from verify.cli.report_commands import guard_outputs

    src = tmp_path / "s.json"
    src.write_text("{}")
    with pytest.raises(click.UsageError, match="input file"):
        guard_outputs([str(src)], svg=str(tmp_path / "." / "s.json"))
    guard_outputs([str(src)], svg=str(tmp_path / "t.svg"), png=None)


def test_emit_check_output_writes_the_chosen_format(tmp_path: Path) -> None:
    from verify.cli.report_commands import emit_check_output

    target = tmp_path / "report.xml"
    page = tmp_path / "report.html"
    emit_check_output("junit", known_bad_items(), [], inputs=[], output=str(target), html_out=str(page))
    assert ET.parse(target).getroot().tag == "testsuites"
    assert page.read_text(encoding="utf-8").count('<section class="schedule"') == 2


# ------------------------------------------------------------------ pre-commit
def test_pre_commit_hook_runs_the_check_command() -> None:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {h["id"]: h for h in hooks}
    hook = by_id["chimera-verify"]
    assert hook["entry"].split()[:2] == ["chimera-verify", "check"]
    assert hook["language"] == "python"
    pattern = re.compile(hook["files"])
    for name in ("schedules/chimera.schedule.json", "pp/1f1b.schedule.toml", "x/interleaved.schedule.csv"):
        assert pattern.search(name), name
    for name in ("package.json", "pyproject.toml", "data/table.csv"):
        assert not pattern.search(name), name
    from verify.cli import cli

    assert "check" in cli.commands
    assert by_id["chimera-verify-github"]["entry"] == "chimera-verify check --format github"


# -------------------------------------------------------------------- progress
def test_progress_is_silent_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from verify.report.progress import progress, track

    monkeypatch.delenv("CHIMERA_VERIFY_PROGRESS", raising=False)
    stream = io.StringIO()  # not a terminal
    with progress("work", total=3, stream=stream) as bar:
        bar.advance(3)
        assert not bar.shown
    assert list(track(range(4), "more", stream=stream)) == [0, 1, 2, 3]
    assert stream.getvalue() == ""


def test_progress_draws_when_enabled_and_nests(monkeypatch: pytest.MonkeyPatch) -> None:
    from verify.report.progress import progress, track

    monkeypatch.delenv("CHIMERA_VERIFY_PROGRESS", raising=False)
    stream = io.StringIO()
    with progress("outer work", total=2, stream=stream, enabled=True) as bar:
        assert bar.shown
        assert sum(track([1, 2, 3], "inner work", stream=stream, enabled=True)) == 6
        bar.advance(2)
    text = stream.getvalue()
    assert "outer work" in text and "inner work" in text


def test_progress_environment_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from verify.report.progress import progress_enabled

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CHIMERA_VERIFY_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert progress_enabled(Tty()) is True
    assert progress_enabled(io.StringIO()) is False
    monkeypatch.setenv("CHIMERA_VERIFY_PROGRESS", "0")
    assert progress_enabled(Tty()) is False
    monkeypatch.setenv("CHIMERA_VERIFY_PROGRESS", "1")
    assert progress_enabled(io.StringIO()) is True
