"""SMT-LIB certificates: committed files are up to date, and a second solver agrees.

Every SMT theorem's query is committed as ``proofs/smt2/<name>.smt2``. These tests
re-derive the text from the encodings, check it is what is committed, and re-check
each file with cvc5 (an independent solver) and with Z3 parsing the text: unsat for a
theorem expected PROVED, sat for one expected REFUTED (the verdicts come from the table
in ``tests/test_proofs.py``, written from chimera.md; controls are expected refuted).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import z3

from tests.test_proofs import EXPECTED
from verify.smt import Method, Theorem, Verdict, export_smt2, smt2_text, theorem, theorems
from verify.smt.smtlib import to_smtlib

ROOT = Path(__file__).resolve().parent.parent
CERTS = ROOT / "proofs" / "smt2"
SMT_THEOREMS = [t for t in theorems() if t.method is Method.SMT]


def _answer(name: str) -> str:
    th = next(t for t in SMT_THEOREMS if t.name == name)
    verdict = Verdict.REFUTED if th.control_of else EXPECTED[name]
    return "unsat" if verdict is Verdict.PROVED else "sat"


def test_every_smt_theorem_has_a_committed_certificate() -> None:
    committed = {p.stem for p in CERTS.glob("*.smt2")}
    assert committed == {t.name for t in SMT_THEOREMS}


@pytest.mark.parametrize("th", SMT_THEOREMS, ids=lambda t: t.name)
def test_committed_certificate_is_up_to_date(th: Theorem) -> None:
    path = CERTS / f"{th.name}.smt2"
    assert path.read_text(encoding="utf-8") == smt2_text(th), (
        "stale certificate: run export_smt2('proofs/smt2', overwrite=True)"
    )


def _cvc5_answers(text: str, name: str) -> list[str]:
    cvc5 = pytest.importorskip("cvc5", reason="cvc5 (PyPI 'cvc5') is the second solver")
    tm = cvc5.TermManager()
    solver = cvc5.Solver(tm)
    solver.setOption("rlimit", "50000000")
    parser = cvc5.InputParser(solver)
    parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, name)
    symbols = parser.getSymbolManager()
    out = []
    while True:
        cmd = parser.nextCommand()
        if cmd.isNull():
            break
        answer = cmd.invoke(solver, symbols).strip()
        if answer:
            out.append(answer)
    return out


@pytest.mark.parametrize("path", sorted(CERTS.glob("*.smt2")), ids=lambda p: p.stem)
def test_cvc5_agrees(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert _cvc5_answers(text, path.name) == [_answer(path.stem)]


@pytest.mark.parametrize("path", sorted(CERTS.glob("*.smt2")), ids=lambda p: p.stem)
def test_z3_agrees_on_the_text(path: Path) -> None:
    solver = z3.Solver(ctx=z3.Context())
    solver.from_string(path.read_text(encoding="utf-8"))
    assert str(solver.check()) == _answer(path.stem)


def test_certificates_state_claim_and_expected_answer() -> None:
    for th in SMT_THEOREMS:
        text = (CERTS / f"{th.name}.smt2").read_text(encoding="utf-8")
        head = [ln for ln in text.splitlines() if ln.startswith(";")]
        assert any(ln.startswith(f"; claim: {th.claim}") for ln in head)
        assert any(ln.startswith(f"; expected: {_answer(th.name)} ") for ln in head)
        assert "(set-logic QF_LIA)" in text and text.endswith("(check-sat)\n(exit)\n")
        assert text.count("(check-sat)") == 1


def test_export_writes_then_refuses_to_clobber(tmp_path: Path) -> None:
    names = ["1f1b-makespan", "chimera-odd-naive-conflict-free"]
    paths = export_smt2(tmp_path, names=names)
    assert [p.name for p in paths] == [f"{n}.smt2" for n in names]
    stamp = [p.stat().st_mtime_ns for p in paths]
    assert export_smt2(tmp_path, names=names) == paths  # identical: nothing rewritten
    assert [p.stat().st_mtime_ns for p in paths] == stamp
    paths[0].write_text("; edited\n", encoding="utf-8")
    with pytest.raises(FileExistsError, match="1f1b-makespan"):
        export_smt2(tmp_path, names=names)
    assert paths[0].read_text(encoding="utf-8") == "; edited\n"
    export_smt2(tmp_path, names=names, overwrite=True)
    assert paths[0].read_text(encoding="utf-8") == smt2_text(theorem(names[0]))


def test_export_skips_exhaustive_theorems(tmp_path: Path) -> None:
    assert export_smt2(tmp_path, names=["1f1b-generator-order"]) == []


def test_printer_rejects_non_linear_terms() -> None:
    from verify.errors import SolverError

    x, y = z3.Ints("x y")
    with pytest.raises(SolverError, match="non-linear"):
        to_smtlib([x * y == 1], logic="QF_LIA")
    assert "(* x y)" in to_smtlib([x * y == 1], logic="QF_NIA")


def test_printer_round_trips_through_z3() -> None:
    x, y = z3.Ints("x y")
    b = z3.Bool("b")
    original = [z3.If(b, x - 3 * y, -x) >= -7, z3.Distinct(x, y, 4), z3.Implies(b, x > y)]
    s = z3.Solver()
    s.from_string(to_smtlib(original, logic="QF_LIA"))
    reparsed = s.assertions()
    check = z3.Solver()
    check.add(z3.Not(z3.And(*original) == z3.And(*reparsed)))
    assert check.check() == z3.unsat
