"""Parametric theorems about pipeline schedules, one module per theorem.

Each module states its claim in words and as a formula in its docstring and exports
``THEOREMS``: the theorem and its negative control(s). :data:`THEOREMS` lists them all
in a fixed order; :func:`verify.smt.theorem.prove` decides them and
:func:`verify.smt.theorem.export_smt2` writes the certificates in ``proofs/smt2/``.
"""

from __future__ import annotations

from pathlib import Path

from proofs import (
    chimera_2f,
    chimera_conflict,
    chimera_dependencies,
    chimera_generator,
    chimera_idle,
    chimera_makespan,
    chimera_odd,
    chimera_peak,
    chimera_rigid,
    one_f_one_b_earliest,
    one_f_one_b_generator,
    one_f_one_b_makespan,
    one_f_one_b_peak,
    one_f_one_b_timetable,
)
from verify.smt.theorem import Theorem

MODULES = (
    chimera_conflict,
    chimera_dependencies,
    chimera_makespan,
    chimera_idle,
    chimera_peak,
    chimera_odd,
    chimera_rigid,
    chimera_2f,
    chimera_generator,
    one_f_one_b_timetable,
    one_f_one_b_earliest,
    one_f_one_b_makespan,
    one_f_one_b_peak,
    one_f_one_b_generator,
)

THEOREMS: tuple[Theorem, ...] = tuple(t for m in MODULES for t in m.THEOREMS)

SMT2_DIR = Path(__file__).resolve().parent / "smt2"
"""Where the committed certificates live (``export_smt2(SMT2_DIR)`` refreshes them)."""

__all__ = ["MODULES", "SMT2_DIR", "THEOREMS"]
