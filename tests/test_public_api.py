"""The public surface is small and pinned: changing it is a deliberate act."""

from __future__ import annotations

import verify

PUBLIC = {
    "ChimeraVerifyError",
    "CostModel",
    "Metrics",
    "Op",
    "OpKind",
    "Pipeline",
    "Report",
    "Schedule",
    "Violation",
    "ViolationKind",
    "check",
    "families",
    "generate",
    "load_schedule",
    "metrics",
    "parse_action",
    "save_schedule",
    "search",
    "simulate",
    "sweep",
}


def test_all_is_pinned() -> None:
    assert set(verify.__all__) == PUBLIC


def test_every_public_name_resolves() -> None:
    for name in verify.__all__:
        assert getattr(verify, name) is not None
