"""The exception tree: exceptions mean "could not check", never "found a problem".

Problems found in a schedule are :class:`verify.core.results.Violation` records.
Exceptions are raised only when the input cannot be checked at all (a malformed
file, invalid generator parameters, a model built with inconsistent fields).
Every input error subclasses :class:`ValueError` and names where it happened.
"""

from __future__ import annotations


class ChimeraVerifyError(Exception):
    """Root of every exception chimera-verify raises on purpose."""


class ModelError(ChimeraVerifyError, ValueError):
    """A core record was built with an invalid field.

    The message names the record, the field, what was expected and the value given,
    e.g. ``Pipeline.placement: expected workers in [0, 4), got 7 at stage 2``.
    """

    def __init__(self, record: str, field: str, expected: str, got: object) -> None:
        self.record = record
        self.field = field
        self.expected = expected
        self.got = got
        super().__init__(f"{record}.{field}: expected {expected}, got {got!r}")


class ParameterError(ChimeraVerifyError, ValueError):
    """Generator or search parameters violate a constraint of the family.

    The message says which constraint failed, e.g. ``chimera: D must be even, got D=5``.
    """


class ScheduleFormatError(ChimeraVerifyError, ValueError):
    """A schedule, spec or trace file could not be read.

    ``source`` is the file (or ``<string>``), ``location`` the place inside it
    (``line 3, cell 5`` or a JSON path such as ``$.program[1][3]``), ``reason`` what was
    expected. ``str()`` gives the one-line ``file:location: reason`` diagnostic.
    """

    def __init__(self, source: str, location: str | None, reason: str) -> None:
        self.source = source
        self.location = location
        self.reason = reason
        where = f"{source}:{location}" if location else source
        super().__init__(f"{where}: {reason}")


class SolverError(ChimeraVerifyError):
    """A solver backend failed or is not installed (not the same as UNKNOWN)."""
