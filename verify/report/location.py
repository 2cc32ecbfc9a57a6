"""File locations of program positions, so that diagnostics read ``file:where: message``."""

from __future__ import annotations

from verify.core.schedule import Schedule


def locate(schedule: Schedule, worker: int, position: int) -> str:
    """Where action ``position`` of ``worker``'s program stands in the schedule's file
    (the file format decides: see :func:`verify.io.location_of`).

    >>> from verify.generators import generate
    >>> locate(generate("1f1b", 2, 2), 1, 3)
    'worker 1, position 3'
    """
    from verify.io import location_of

    return location_of(schedule, worker, position)
