"""File locations of program positions, so that diagnostics read ``file:where: message``."""

from __future__ import annotations

from verify.core.schedule import Schedule, TimingUnit


def locate(schedule: Schedule, worker: int, position: int) -> str:
    """Where action ``position`` of ``worker``'s program stands in the schedule's file.

    CSV files: ``line L, cell C`` (row = worker; the cell is the step for timed rows).
    Native files: the JSON path of the cell (``$.programs[w][i]``). Without a file:
    ``worker w, position i``.

    >>> from verify.generators import generate
    >>> locate(generate("1f1b", 2, 2), 1, 3)
    'worker 1, position 3'
    """
    src = schedule.source
    col = position
    timing = schedule.timing
    if timing is not None and timing.unit is TimingUnit.STEPS:
        col = int(timing.starts[worker][position])
    if src is None:
        return f"worker {worker}, position {position}"
    if src.lower().endswith(".csv"):
        return f"line {worker + 1}, cell {col + 1}"
    return f"$.programs[{worker}][{col}]"
