"""Published figures and closed forms from ``chimera.md`` (the ground truth of tests).

Nothing here is computed by the code under test.
"""

from __future__ import annotations

# chimera.md, "D = 4, N = 4, slot by slot" (Fd0 = forward, down pipeline, micro-batch 0)
CHIMERA_D4_N4_SLOTS = [
    "Fd0 . Fd1 Fu0 Bu0 Fu1 Bu1 Bd0 . Bd1",
    ". Fd0 Fu0 Fd1 Fu1 Bu0 Bd0 Bu1 Bd1 .",
    ". Fu0 Fd0 Fu1 Fd1 Bd0 Bu0 Bd1 Bu1 .",
    "Fu0 . Fu1 Fd0 Bd0 Fd1 Bd1 Bu0 . Bu1",
]

# chimera.md, "Published / derived figures for tests": (D, N) -> (makespan, peaks)
CHIMERA_UNIT_FIGURES = {
    (4, 4): (10, [3, 4, 4, 3]),
    (4, 8): (18, [3, 4, 4, 3]),
    (6, 6): (16, [4, 5, 6, 6, 5, 4]),
    (8, 8): (22, [5, 6, 7, 8, 8, 7, 6, 5]),
}


def chimera_unit_makespan(D: int, N: int) -> int:
    return 2 * N + D - 2


def chimera_concat_makespan(D: int, K: int, F: float, B: float) -> float:
    """Direct concatenation, order executed with earliest start (chimera.md)."""
    return (D + 2 * K - 2) * F + K * (2 * D - 2) * B


def chimera_concat_idle(D: int, K: int, F: float, B: float) -> float:
    return (D - 2) * (F + K * (B - F))


def one_f_one_b_makespan(D: int, N: int, F: float, B: float) -> float:
    return (N + D - 1) * (F + B)


def one_f_one_b_bubble_ratio(D: int, N: int) -> float:
    return (D - 1) / (N + D - 1)
