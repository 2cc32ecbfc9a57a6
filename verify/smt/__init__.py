"""Z3 encodings: parametric theorems (:mod:`verify.smt.theorem`), their certificates,
and the helpers the encodings share (products, SMT-LIB printing)."""

from verify.smt.theorem import (
    DEFAULT_RLIMIT,
    Enumeration,
    Finding,
    Method,
    Query,
    Theorem,
    TheoremResult,
    Verdict,
    export_smt2,
    prove,
    render_text,
    run,
    smt2_text,
    theorem,
    theorems,
)

__all__ = [
    "DEFAULT_RLIMIT",
    "Enumeration",
    "Finding",
    "Method",
    "Query",
    "Theorem",
    "TheoremResult",
    "Verdict",
    "export_smt2",
    "prove",
    "render_text",
    "run",
    "smt2_text",
    "theorem",
    "theorems",
]
