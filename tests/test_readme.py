"""The README's commands and examples run and print what the README says."""

from __future__ import annotations

import doctest
import io
import re
from pathlib import Path

from verify.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_python_examples() -> None:
    for block in _blocks("python"):
        test = doctest.DocTestParser().get_doctest(block, {}, "README", "README.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out, io.StringIO())
    return code, out.getvalue()


def test_quick_start_output_is_what_the_readme_shows(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out = _run(["check", "examples/chimera-d4-n4.json", "--costs", "F=1,B=2"])
    assert code == 0
    shown = _blocks("text")[0]
    assert out.strip() == shown.strip()


def test_show_output_is_what_the_readme_shows(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out = _run(["show", "examples/chimera-d4-n4.json"])
    assert code == 0
    block = next(b for b in _blocks("text") if b.startswith("$ chimera-verify show"))
    assert out.strip() == block.split("\n", 1)[1].strip()


def test_deadlock_example_is_caught(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    code, out = _run(["check", "examples/deadlock-2ranks.csv"])
    assert code == 1
    assert "deadlock: cycle of 4 ops (6 ops can never start): 0B0 (worker 0) waits for 1B0" in out
