"""Text timelines: one row per worker, one column per time step, like the paper's slot
table (``Fd0`` = forward of micro-batch 0 of the *down* pipeline, ``.`` = idle).

>>> from verify.generators import generate
>>> print(render_timeline(generate("chimera", 4, 4)))
slot   0   1   2   3   4   5   6   7   8   9
P0   Fd0   . Fd1 Fu0 Bu0 Fu1 Bu1 Bd0   . Bd1
P1     . Fd0 Fu0 Fd1 Fu1 Bu0 Bd0 Bu1 Bd1   .
P2     . Fu0 Fd0 Fu1 Fd1 Bd0 Bu0 Bd1 Bu1   .
P3   Fu0   . Fu1 Fd0 Bd0 Fd1 Bd1 Bu0   . Bu1
"""

from __future__ import annotations

import math

from verify.core.actions import Op, Overlap
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import Schedule, TimingUnit
from verify.passes.index import index_schedule
from verify.sim.execute import execute

MAX_COLUMNS = 400


def pipeline_tags(schedule: Schedule) -> dict[str, str]:
    """Short pipeline tags for labels: initials when they are unique (``d``/``u`` for
    Chimera), nothing for a single pipeline, else the full name and a colon."""
    names = [p.name for p in schedule.pipelines]
    if len(names) == 1:
        return {names[0]: ""}
    initials = [n[0] for n in names]
    if len(set(initials)) == len(names):
        return dict(zip(names, initials))
    return {n: f"{n}:" for n in names}


def _multi_stage(schedule: Schedule) -> bool:
    return any(len(set(p.placement)) != len(p.placement) for p in schedule.pipelines)


def op_label(op: Op, tags: dict[str, str], with_stage: bool) -> str:
    """Compact label of an op for the slot table."""
    stage = str(op.stage) if with_stage else ""
    return f"{stage}{op.kind.value}{tags.get(op.pipeline, op.pipeline + ':')}{op.microbatch}"


def _scale(values: list[float]) -> int | None:
    for k in range(1, 13):
        if all(abs(v * k - round(v * k)) < 1e-9 for v in values):
            return k
    return None


def render_timeline(
    schedule: Schedule, costs: CostModel = UNIT_COSTS, *, use_schedule_times: bool = True
) -> str:
    """The schedule as a slot table.

    A steps-timed schedule is drawn at its own slots (each action one slot). Otherwise
    the programs are simulated under ``costs`` (earliest start) and an op of duration d
    fills d columns (its label, then ``-``). Ops that never start (deadlock) are listed
    below the table.
    """
    tags = pipeline_tags(schedule)
    with_stage = _multi_stage(schedule)
    index = index_schedule(schedule)
    timing = schedule.timing
    cells: list[tuple[int, float, float, str]] = []
    stuck_lines: list[str] = []
    if use_schedule_times and timing is not None and timing.unit is TimingUnit.STEPS:
        word = "slot"
        for w, prog in enumerate(schedule.programs):
            for i, a in enumerate(prog):
                t = float(timing.starts[w][i])
                cells.append((w, t, t + 1, _label(a, tags, with_stage)))
    else:
        word = "time"
        if use_schedule_times and timing is not None:
            ex_start = [float(timing.starts[int(w)][int(i)])
                        for w, i in zip(index.unit_worker, index.unit_pos)]
            ex = execute(index, costs)
            starts = ex_start
            ends = [s + d for s, d in zip(starts, ex.duration.tolist())]
        else:
            ex = execute(index, costs)
            starts = ex.start.tolist()
            ends = ex.end.tolist()
            word = "slot" if costs.is_unit else "time"
        for u in range(index.num_units):
            w, i = int(index.unit_worker[u]), int(index.unit_pos[u])
            a = schedule.programs[w][i]
            if math.isnan(starts[u]):
                stuck_lines.append(f"P{w}: {a} never starts")
                continue
            cells.append((w, starts[u], ends[u], _label(a, tags, with_stage)))
    if not cells:
        return "(no ops)" + ("\n" + "\n".join(stuck_lines) if stuck_lines else "")
    k = _scale([c[1] for c in cells] + [c[2] for c in cells])
    horizon = max(c[2] for c in cells)
    if k is None or horizon * k > MAX_COLUMNS:
        return _listing(schedule, cells, word) + _tail(stuck_lines)
    ncol = round(horizon * k)
    width = max(3, len(str(ncol - 1)), *(len(c[3]) for c in cells))
    grid = [["." for _ in range(ncol)] for _ in range(schedule.num_workers)]
    for w, t0, t1, label in cells:
        c0, c1 = round(t0 * k), max(round(t1 * k), round(t0 * k) + 1)
        if grid[w][c0] != "." and grid[w][c0] != "-":
            grid[w][c0] = grid[w][c0] + "|" + label  # a conflict: both shown
        else:
            grid[w][c0] = label
        for c in range(c0 + 1, min(c1, ncol)):
            if grid[w][c] == ".":
                grid[w][c] = "-"
    width = max(width, *(len(x) for row in grid for x in row))
    head_word = word if k == 1 else f"{word}/{k}"
    lw = max(len(head_word), len(f"P{schedule.num_workers - 1}"))
    lines = [head_word.ljust(lw) + " " + " ".join(str(c).rjust(width) for c in range(ncol))]
    for w, row in enumerate(grid):
        lines.append(f"P{w}".ljust(lw) + " " + " ".join(x.rjust(width) for x in row))
    return "\n".join(lines) + _tail(stuck_lines)


def _label(a: object, tags: dict[str, str], with_stage: bool) -> str:
    if isinstance(a, Op):
        return op_label(a, tags, with_stage)
    if isinstance(a, Overlap):
        return "+".join(op_label(o, tags, with_stage) for o in a.ops)
    return str(a)


def _tail(lines: list[str]) -> str:
    return ("\n" + "\n".join(lines)) if lines else ""


def _listing(schedule: Schedule, cells: list[tuple[int, float, float, str]], word: str) -> str:
    rows: list[list[str]] = [[] for _ in range(schedule.num_workers)]
    for w, t0, _t1, label in sorted(cells, key=lambda c: (c[0], c[1])):
        rows[w].append(f"{label}@{t0:g}")
    return "\n".join(f"P{w}: " + " ".join(r) for w, r in enumerate(rows))
