"""Progress bars for long work (search, sweeps, big traces, proof sets).

One helper for the whole toolkit, built on `rich <https://rich.readthedocs.io>`_'s
progress display, drawn on standard error and **silent when standard error is not a
terminal** (CI logs, pipes, redirected output, tests), so that machine-read output never
contains progress noise. Callers never test whether it is shown::

    with progress("sweeping D", total=len(grid)) as bar:
        for D in grid:
            ...
            bar.advance()

    for item in track(items, "checking traces"):
        ...

Nested uses share one display (one line per task). ``CHIMERA_VERIFY_PROGRESS=0`` turns
progress off everywhere, ``=1`` forces it on (even when not a terminal).

>>> with progress("quiet in doctests", total=3) as bar:
...     bar.advance(3)
...     bar.shown
False
>>> list(track(range(3), "also quiet"))
[0, 1, 2]
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from rich.progress import Progress, TaskID

T = TypeVar("T")

ENV = "CHIMERA_VERIFY_PROGRESS"

_lock = threading.Lock()
_active: list[Progress] = []  # the one live display shared by nested bars


def progress_enabled(stream: IO[str] | None = None) -> bool:
    """Whether progress is shown on ``stream`` (default standard error): the
    ``CHIMERA_VERIFY_PROGRESS`` setting if given, else whether ``stream`` is a terminal
    (a dumb terminal does not count)."""
    env = os.environ.get(ENV, "").strip().lower()
    if env in ("0", "false", "no", "off"):
        return False
    if env in ("1", "true", "yes", "on"):
        return True
    s = stream if stream is not None else sys.stderr
    try:
        tty = bool(s.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


class ProgressBar:
    """Handle of one task: :meth:`advance` and :meth:`update`; does nothing when the
    display is off (``shown`` is False)."""

    __slots__ = ("_progress", "_task")

    def __init__(self, prog: Progress | None, task: TaskID | None) -> None:
        self._progress = prog
        self._task = task

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def advance(self, amount: float = 1.0) -> None:
        """Count ``amount`` more units of work done."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def update(self, *, completed: float | None = None, total: float | None = None,
               description: str | None = None) -> None:
        """Set the work done, the total (once known) or the description."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, total=total,
                                  description=description)


@contextmanager
def progress(
    description: str,
    total: float | None = None,
    *,
    stream: IO[str] | None = None,
    enabled: bool | None = None,
    transient: bool = True,
) -> Iterator[ProgressBar]:
    """Show a progress bar for the duration of the ``with`` block.

    ``total`` may be None (unknown: a spinner and a count). ``stream`` defaults to
    standard error; ``enabled`` overrides :func:`progress_enabled`. The bar disappears
    when done (``transient``) so that only results remain on screen.
    """
    show = progress_enabled(stream) if enabled is None else enabled
    if not show:
        yield ProgressBar(None, None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with _lock:
        if _active:
            prog = _active[0]
            owner = False
        else:
            console = Console(file=stream if stream is not None else sys.stderr,
                              force_terminal=True if enabled else None)
            prog = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=console, transient=transient)
            _active.append(prog)
            owner = True
            prog.start()
        task = prog.add_task(description, total=total)
    try:
        yield ProgressBar(prog, task)
    finally:
        with _lock:
            prog.remove_task(task)
            if owner:
                prog.stop()
                _active.clear()


def track(
    items: Iterable[T],
    description: str,
    total: float | None = None,
    *,
    stream: IO[str] | None = None,
    enabled: bool | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar (``total`` defaults to ``len(items)``
    when it has one)."""
    if total is None:
        try:
            total = float(len(items))  # type: ignore[arg-type]
        except TypeError:
            total = None
    with progress(description, total, stream=stream, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.advance()
