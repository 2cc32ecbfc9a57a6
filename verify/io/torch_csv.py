"""PyTorch's CSV schedule files (``torch.distributed.pipelining``, ``compute_only``).

One row per rank (row i = rank i), one action per cell, no header; an empty cell is an
idle step and trailing empty cells mean nothing. Cells follow the action grammar of
:mod:`verify.core.actions`, including ``1UNSHARD``, ``1REDUCE_GRAD``,
``(0F3;3B1)OVERLAP_F_B`` and pipeline-prefixed cells (``up:3F0``) for replicated
pipelines. Unlike PyTorch's own reader, parsing is strict (``1F0junk`` and ``3F`` are
errors, located as ``line L, cell C``).

The file carries no placement: stage s of a pipeline lives on the first row holding one
of its F, B, I or W cells (a stage found on another row too is left for the verifier to
report as a wrong-worker op). Micro-batch counts are the largest id + 1 unless given.
Column c becomes step c of :class:`~verify.core.schedule.Timing` (unit ``STEPS``), so
idle cells survive a round trip.

>>> s = loads_torch_csv("0F0,0F1,,0B0,0B1\\n,1F0,1B0,1F1,1B1\\n")
>>> s.pipelines
(Pipeline(name='main', placement=(0, 1), microbatches=2),)
>>> s.timing.starts
((0, 1, 3, 4), (1, 2, 3, 4))
>>> print(dumps_torch_csv(s), end="")
0F0,0F1,,0B0,0B1
,1F0,1B0,1F1,1B1
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from verify.core.actions import (
    DEFAULT_PIPELINE,
    MAX_INDEX,
    Action,
    ActionSyntaxError,
    Overlap,
    compute_ops,
    format_action,
    parse_action,
)
from verify.core.schedule import MAX_WORKERS, Pipeline, Schedule, Timing, TimingUnit
from verify.errors import ModelError, ScheduleFormatError
from verify.io.common import MAX_COLUMNS, OUTPUT, STRING_SOURCE, show, step_problem

Microbatches = int | Mapping[str, int] | None
"""Micro-batch counts for a CSV: a total split over the pipelines, or one per pipeline."""

_OVERLAP_SUFFIX = ")OVERLAP_F_B"


@dataclass(frozen=True, slots=True)
class _Cell:
    """One non-empty cell: row (rank), column (step), its line and text, the action."""

    row: int
    column: int
    line: int
    text: str
    action: Action

    @property
    def where(self) -> str:
        return f"line {self.line}, cell {self.column + 1}"


def _unprefixed(text: str) -> bool:
    """True when the cell (or one member of an overlap) has no pipeline prefix."""
    if text.startswith("(") and text.endswith(_OVERLAP_SUFFIX):
        parts = text[1 : -len(_OVERLAP_SUFFIX)].split(";")
    else:
        parts = [text]
    return any(":" not in p for p in parts)


def _pipelines_of(action: Action) -> list[str]:
    if isinstance(action, Overlap):
        return [o.pipeline for o in action.ops]
    return [action.pipeline]


def _read_rows(text: str, source: str) -> list[tuple[int, list[str]]]:
    """The CSV rows with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for cells in reader:
            rows.append((line, cells))
            line = reader.line_num + 1
            if len(rows) > MAX_WORKERS:
                raise ScheduleFormatError(
                    source, f"line {rows[-1][0]}", f"more than {MAX_WORKERS} rows (ranks)"
                )
    except csv.Error as e:
        raise ScheduleFormatError(source, f"line {reader.line_num}", f"invalid CSV: {e}") from None
    return rows


def _parse_cells(rows: list[tuple[int, list[str]]], source: str) -> list[_Cell]:
    out: list[_Cell] = []
    for r, (line, cells) in enumerate(rows):
        if len(cells) > MAX_COLUMNS:
            raise ScheduleFormatError(
                source, f"line {line}", f"more than {MAX_COLUMNS} cells (steps) in a row"
            )
        for c, raw in enumerate(cells):
            text = raw.strip()
            if not text:
                continue
            try:
                action = parse_action(text, default_pipeline=DEFAULT_PIPELINE)
            except ActionSyntaxError as e:
                raise ScheduleFormatError(source, f"line {line}, cell {c + 1}", str(e)) from None
            except ModelError as e:
                raise ScheduleFormatError(
                    source, f"line {line}, cell {c + 1}", f"invalid action {text!r}: {e}"
                ) from None
            out.append(_Cell(r, c, line, text, action))
    return out


def _counts(
    names: list[str], inferred: dict[str, int], microbatches: Microbatches, source: str
) -> dict[str, int]:
    """Micro-batch count per pipeline: inferred, or from the caller's total or mapping."""

    def valid(key: str, n: object) -> int:
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_INDEX:
            raise ScheduleFormatError(
                source, None, f"{key}: expected an integer in [0, {MAX_INDEX}], got {show(n)}"
            )
        return n

    if microbatches is None:
        return inferred
    if isinstance(microbatches, Mapping):
        counts = dict(inferred)
        for name, n in microbatches.items():
            if name not in inferred:
                known = ", ".join(repr(x) for x in names)
                raise ScheduleFormatError(
                    source,
                    None,
                    f"microbatches names pipeline {name!r}, which no cell uses "
                    f"(pipelines: {known})",
                )
            counts[name] = valid(f"microbatches[{name!r}]", n)
        return counts
    total = valid("microbatches", microbatches)
    base, extra = divmod(total, len(names))
    return {name: base + (1 if j < extra else 0) for j, name in enumerate(names)}


def loads_torch_csv(
    text: str,
    *,
    source: str = STRING_SOURCE,
    microbatches: Microbatches = None,
    workers: int | None = None,
) -> Schedule:
    """Read a PyTorch ``compute_only`` CSV schedule (see the module docstring).

    ``microbatches``: a total (split over the pipelines as evenly as possible, earlier
    pipelines first) or a mapping ``{pipeline: count}``; default: largest id + 1 per
    pipeline. ``workers``: default the number of rows (blank rows are idle ranks).
    Pipelines are ordered by first appearance, except that ``down`` precedes ``up``.

    >>> loads_torch_csv("0F0,1F0junk\\n", source="s.csv")
    Traceback (most recent call last):
    ...
    verify.errors.ScheduleFormatError: s.csv:line 1, cell 2: invalid action '1F0junk': expected ...
    """
    rows = _read_rows(text, source)
    if workers is not None:
        ok = isinstance(workers, int) and not isinstance(workers, bool)
        if not ok or not 1 <= workers <= MAX_WORKERS:
            reason = f"workers: expected an integer in [1, {MAX_WORKERS}], got {show(workers)}"
            raise ScheduleFormatError(source, None, reason)
        for line, texts in rows[workers:]:
            if any(t.strip() for t in texts):
                reason = f"a row for rank {workers} or above, but workers={workers}"
                raise ScheduleFormatError(source, f"line {line}", reason)
        rows = rows[:workers]
    cells = _parse_cells(rows, source)
    if not cells:
        raise ScheduleFormatError(source, "line 1", "no actions: every cell is empty")

    names: list[str] = []
    first_cell: dict[str, _Cell] = {}
    first_unprefixed: _Cell | None = None
    for cell in cells:
        for name in _pipelines_of(cell.action):
            if name not in first_cell:
                names.append(name)
                first_cell[name] = cell
        if first_unprefixed is None and _unprefixed(cell.text):
            first_unprefixed = cell
    if first_unprefixed is not None and len(names) > 1:
        others = ", ".join(repr(n) for n in names if n != DEFAULT_PIPELINE)
        raise ScheduleFormatError(
            source,
            first_unprefixed.where,
            f"action {first_unprefixed.text!r} has no pipeline prefix, but other cells name "
            f"pipelines {others}: with several pipelines every cell needs one",
        )
    if set(names) == {"down", "up"}:
        names = ["down", "up"]

    home: dict[tuple[str, int], int] = {}
    top: dict[str, tuple[int, _Cell]] = {}
    max_mb: dict[str, int] = {}
    for cell in cells:
        for op in compute_ops(cell.action):
            home.setdefault((op.pipeline, op.stage), cell.row)
            if op.pipeline not in top or op.stage > top[op.pipeline][0]:
                top[op.pipeline] = (op.stage, cell)
            max_mb[op.pipeline] = max(max_mb.get(op.pipeline, -1), op.microbatch)

    placements: dict[str, tuple[int, ...]] = {}
    for name in names:
        if name not in top:
            raise ScheduleFormatError(
                source,
                first_cell[name].where,
                f"pipeline {name!r} has no F, B, I or W cell: its stages and their workers "
                "are unknown",
            )
        highest, cell = top[name]
        of = "" if name == DEFAULT_PIPELINE else f" of pipeline {name!r}"
        for s in range(highest):
            if (name, s) not in home:
                raise ScheduleFormatError(
                    source,
                    cell.where,
                    f"stage {s}{of} has no F, B, I or W cell, so its worker is unknown "
                    f"({cell.text!r} implies stages 0..{highest}); add its ops, or give the "
                    "placement in the native format",
                )
        placements[name] = tuple(home[(name, s)] for s in range(highest + 1))

    counts = _counts(names, {n: max_mb[n] + 1 for n in names}, microbatches, source)
    num_workers = workers if workers is not None else len(rows)
    programs: list[list[Action]] = [[] for _ in range(num_workers)]
    starts: list[list[float]] = [[] for _ in range(num_workers)]
    for cell in cells:
        programs[cell.row].append(cell.action)
        starts[cell.row].append(cell.column)
    try:
        return Schedule(
            num_workers,
            tuple(Pipeline(n, placements[n], counts[n]) for n in names),
            tuple(tuple(p) for p in programs),
            Timing(TimingUnit.STEPS, tuple(tuple(s) for s in starts)),
            source=source,
        )
    except ModelError as e:
        raise ScheduleFormatError(source, None, str(e)) from None


def dumps_torch_csv(schedule: Schedule) -> str:
    """Write ``schedule`` as a PyTorch CSV: row w = worker w's program.

    Step-timed schedules keep their columns (empty cell = idle step); order-only and
    time-timed schedules are written by order, one action per column, left-aligned.
    The file holds no name, parameters, placement or micro-batch counts: reading it back
    infers them, so a step-timed schedule round-trips exactly when its placement and
    counts are the inferred ones (true of every generated schedule). A step timing
    with two actions in one step, or fractional steps, cannot be written (an error
    names the action; write ``schedule.without_timing()`` to keep the order only).

    >>> from verify.core.actions import Op, OpKind
    >>> s = Schedule(1, (Pipeline("main", (0,), 1),),
    ...              ((Op("main", 0, 0, OpKind.F), Op("main", 0, 0, OpKind.B)),))
    >>> dumps_torch_csv(s)
    '0F0,0B0\\n'
    """
    timing = schedule.timing
    problem = step_problem(timing)
    if problem is not None:
        bad = schedule.programs[problem.worker][problem.index]
        action = format_action(bad, default_pipeline=None)
        raise ScheduleFormatError(
            OUTPUT,
            f"worker {problem.worker}, position {problem.index}",
            f"cannot write {action!r} as a CSV cell: {problem.reason} (a cell holds one action "
            "per step); write the schedule without timing to keep the order only",
        )
    default = schedule.default_pipeline
    steps = timing is not None and timing.unit is TimingUnit.STEPS
    lines: list[str] = []
    for w, prog in enumerate(schedule.programs):
        if steps and timing is not None:
            row = [""] * (int(timing.starts[w][-1]) + 1 if prog else 0)
            for t, a in zip(timing.starts[w], prog, strict=True):
                row[int(t)] = format_action(a, default_pipeline=default)
        else:
            row = [format_action(a, default_pipeline=default) for a in prog]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"
