"""Placement: every op runs on the worker that holds its (pipeline, stage) replica."""

from __future__ import annotations

import numpy as np

from verify.core.results import Violation, ViolationKind
from verify.passes.index import IndexedSchedule


def check_placement(index: IndexedSchedule) -> list[Violation]:
    """One WRONG_WORKER violation per misplaced op (ops of unknown pipelines or stages
    are left to the completeness check)."""
    pipes = index.schedule.pipelines
    if not len(index.ops):
        return []
    nstages = np.array([p.num_stages for p in pipes], dtype=np.int64)
    flat = np.array([w for p in pipes for w in p.placement], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(nstages)[:-1]]).astype(np.int64)
    pipe = index.op_pipe
    safe = np.where(pipe >= 0, pipe, 0)
    known = (pipe >= 0) & (index.op_stage < nstages[safe])
    home = np.where(known, flat[np.where(known, offset[safe] + index.op_stage, 0)], -1)
    out: list[Violation] = []
    for r in np.nonzero(known & (home != index.op_worker))[0].tolist():
        op = index.ops[r]
        w, i, h = int(index.op_worker[r]), int(index.op_pos[r]), int(home[r])
        out.append(Violation(
            ViolationKind.WRONG_WORKER,
            f"{op} runs on worker {w} (position {i}), but stage {op.stage} of pipeline "
            f"{op.pipeline!r} is placed on worker {h}",
            (op,), (w, h), positions=((w, i),)))
    return out
