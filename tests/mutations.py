"""Mutations of valid schedules, each with the violation kind it must cause.

Shared by the verifier's mutation tests and by cross-checks of other routes (SMT).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator

from verify.core.actions import Action, Op, OpKind, Overlap
from verify.core.results import ViolationKind
from verify.core.schedule import Schedule, Timing

Mutation = Callable[[Schedule, random.Random], Schedule]


def _replace(schedule: Schedule, programs: list[list[Action]], starts: list[list[float]] | None) -> Schedule:
    timing = None
    if schedule.timing is not None and starts is not None:
        timing = Timing(schedule.timing.unit, tuple(tuple(r) for r in starts))
    return dataclasses.replace(schedule, programs=tuple(tuple(p) for p in programs), timing=timing)


def _lists(schedule: Schedule) -> tuple[list[list[Action]], list[list[float]] | None]:
    progs = [list(p) for p in schedule.programs]
    starts = [list(r) for r in schedule.timing.starts] if schedule.timing else None
    return progs, starts


def _positions(schedule: Schedule) -> list[tuple[int, int]]:
    return [(w, i) for w, p in enumerate(schedule.programs) for i, a in enumerate(p) if isinstance(a, Op)]


def swap_across_dependency(schedule: Schedule, rng: random.Random) -> Schedule:
    """Swap an F with the backward of the same micro-batch and stage (its consumer)."""
    progs, starts = _lists(schedule)
    pairs = []
    for w, prog in enumerate(progs):
        where = {
            (a.pipeline, a.stage, a.microbatch, a.kind): i
            for i, a in enumerate(prog)
            if isinstance(a, Op)
        }
        for (p, s, m, k), i in where.items():
            if k is OpKind.F:
                for bk in (OpKind.B, OpKind.I):
                    j = where.get((p, s, m, bk))
                    if j is not None:
                        pairs.append((w, i, j))
    w, i, j = rng.choice(sorted(pairs))
    progs[w][i], progs[w][j] = progs[w][j], progs[w][i]
    return _replace(schedule, progs, starts)


def drop_op(schedule: Schedule, rng: random.Random) -> Schedule:
    progs, starts = _lists(schedule)
    w, i = rng.choice(_positions(schedule))
    del progs[w][i]
    if starts is not None:
        del starts[w][i]
    return _replace(schedule, progs, starts)


def duplicate_op(schedule: Schedule, rng: random.Random) -> Schedule:
    progs, starts = _lists(schedule)
    w, i = rng.choice(_positions(schedule))
    progs[w].insert(i + 1, progs[w][i])
    if starts is not None:
        starts[w].insert(i + 1, starts[w][i])
    return _replace(schedule, progs, starts)


def move_to_other_worker(schedule: Schedule, rng: random.Random) -> Schedule:
    progs, starts = _lists(schedule)
    w, i = rng.choice(_positions(schedule))
    other = rng.choice([x for x in range(schedule.num_workers) if x != w])
    op = progs[w].pop(i)
    progs[other].append(op)
    if starts is not None:
        t = starts[w].pop(i)
        starts[other].append(max([t, *starts[other]]) + 1)
    return _replace(schedule, progs, starts)


def microbatch_out_of_range(schedule: Schedule, rng: random.Random) -> Schedule:
    progs, starts = _lists(schedule)
    w, i = rng.choice(_positions(schedule))
    op = progs[w][i]
    assert isinstance(op, Op)
    count = schedule.pipeline(op.pipeline).microbatches
    progs[w][i] = dataclasses.replace(op, microbatch=count)
    return _replace(schedule, progs, starts)


MUTATIONS: dict[str, tuple[Mutation, ViolationKind]] = {
    "swap-across-dependency": (swap_across_dependency, ViolationKind.DEADLOCK),
    "drop": (drop_op, ViolationKind.MISSING_OP),
    "duplicate": (duplicate_op, ViolationKind.DUPLICATE_OP),
    "move-to-other-worker": (move_to_other_worker, ViolationKind.WRONG_WORKER),
    "microbatch-out-of-range": (microbatch_out_of_range, ViolationKind.MICROBATCH_OUT_OF_RANGE),
}


def has_overlaps(schedule: Schedule) -> bool:
    return any(isinstance(a, Overlap) for p in schedule.programs for a in p)


def mutants(schedule: Schedule, seed: int = 0) -> Iterator[tuple[str, Schedule, ViolationKind]]:
    """Every mutation applied once to ``schedule`` (skipping ones that do not apply)."""
    for name, (fn, kind) in MUTATIONS.items():
        if name == "move-to-other-worker" and schedule.num_workers < 2:
            continue
        yield name, fn(schedule, random.Random(f"{seed}-{name}")), kind
