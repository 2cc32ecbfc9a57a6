"""How a schedule is run on ``torch.distributed.pipelining`` (pure; no torch needed).

Every pipeline of the schedule becomes one ``_PipelineScheduleRuntime`` fed with that
pipeline's per-rank compute actions (torch inserts the sends and receives itself). A
schedule with several pipelines (Chimera, DualPipe) runs one runtime per pipeline, each
on its own process group, and the worker enforces the schedule's *joint* per-worker
order across them: before its k-th compute action, a runtime waits until the schedule
says it is that action's turn on the worker. Stages placed on several workers (the
replicas of a replicated schedule) have their gradients summed after every step.

>>> from verify.generators import generate
>>> p = plan_run(generate("chimera", 2, 2))
>>> [q.name for q in p.pipelines], p.pipelines[1].actions[0]
(['down', 'up'], ('1F0', '1B0'))
>>> p.joint[0], p.replicas
(((0, 0), (1, 0), (1, 1), (0, 1)), ((0, (0, 1)), (1, (0, 1))))
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from verify.core.actions import Comm, Op, Overlap, StageAction, format_action
from verify.core.schedule import Schedule
from verify.errors import ParameterError


@dataclass(frozen=True, slots=True)
class PipelinePlan:
    """One runtime: its stages, micro-batches, placement and per-rank torch actions."""

    name: str
    num_stages: int
    microbatches: int
    placement: tuple[int, ...]
    actions: tuple[tuple[str, ...], ...]
    """Per rank, the compute actions in torch's grammar (``2F0``, ``(0F3;3B1)OVERLAP_F_B``)."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    """Everything a worker process needs to run its part of the schedule."""

    num_workers: int
    pipelines: tuple[PipelinePlan, ...]
    joint: tuple[tuple[tuple[int, int], ...], ...]
    """Per worker, its compute actions in the schedule's order as (pipeline index, index
    among that pipeline's actions on the worker)."""
    replicas: tuple[tuple[int, tuple[int, ...]], ...]
    """(stage, workers) for every stage held by more than one worker: their gradients
    are summed after each step."""
    labels: tuple[tuple[str, ...], ...]
    """Per worker, the joint order as action strings (progress reports, stall hooks)."""
    notes: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> RunPlan:
        d: dict[str, Any] = json.loads(text)
        pipes = tuple(
            PipelinePlan(p["name"], p["num_stages"], p["microbatches"], tuple(p["placement"]),
                         tuple(tuple(a) for a in p["actions"]))
            for p in d["pipelines"]
        )
        return RunPlan(
            d["num_workers"], pipes,
            tuple(tuple((int(a), int(b)) for a, b in row) for row in d["joint"]),
            tuple((int(s), tuple(ws)) for s, ws in d["replicas"]),
            tuple(tuple(r) for r in d["labels"]), tuple(d["notes"]),
        )


def plan_run(schedule: Schedule) -> RunPlan:
    """The run plan of ``schedule`` (see the module docstring).

    Communication and stage actions in the programs are left to torch, which inserts
    its own; an overlapped unit whose ops belong to different pipelines runs as its ops
    one after the other (noted). A pipeline without micro-batches cannot run
    (:class:`~verify.errors.ParameterError`).
    """
    D = schedule.num_workers
    pipes = schedule.pipelines
    for p in pipes:
        if p.microbatches < 1:
            raise ParameterError(f"run: pipeline {p.name!r} has no micro-batches")
    pidx = {p.name: k for k, p in enumerate(pipes)}
    actions: list[list[list[str]]] = [[[] for _ in range(D)] for _ in pipes]
    joint: list[list[tuple[int, int]]] = [[] for _ in range(D)]
    labels: list[list[str]] = [[] for _ in range(D)]
    notes: list[str] = []
    dropped = 0
    multi = len(pipes) > 1

    def emit(w: int, k: int, text: str, shown: str) -> None:
        joint[w].append((k, len(actions[k][w])))
        actions[k][w].append(text)
        labels[w].append(shown)

    for w, prog in enumerate(schedule.programs):
        for a in prog:
            if isinstance(a, (Comm, StageAction)):
                dropped += 1
            elif isinstance(a, Op):
                emit(w, pidx[a.pipeline], format_action(a, default_pipeline=a.pipeline),
                     format_action(a, default_pipeline=None if multi else a.pipeline))
            elif isinstance(a, Overlap):
                names = {o.pipeline for o in a.ops}
                if len(names) == 1:
                    name = a.ops[0].pipeline
                    emit(w, pidx[name], format_action(a, default_pipeline=name),
                         format_action(a, default_pipeline=None if multi else name))
                else:
                    notes.append(f"worker {w}: {format_action(a, default_pipeline=None)} spans pipelines; "
                                 "its ops run one after the other")
                    for o in a.ops:
                        emit(w, pidx[o.pipeline], format_action(o, default_pipeline=o.pipeline),
                             format_action(o, default_pipeline=None))
    if dropped:
        notes.append(f"{dropped} communication or stage actions left to torch, which inserts its own")
    holders: dict[int, set[int]] = {}
    same_depth = len({p.num_stages for p in pipes}) == 1
    if same_depth:
        for p in pipes:
            for s, w in enumerate(p.placement):
                holders.setdefault(s, set()).add(w)
    elif multi:
        notes.append("pipelines of different depths: replicas' gradients are not reduced")
    replicas = tuple((s, tuple(sorted(ws))) for s, ws in sorted(holders.items()) if len(ws) > 1)
    return RunPlan(
        num_workers=D,
        pipelines=tuple(
            PipelinePlan(p.name, p.num_stages, p.microbatches, p.placement,
                         tuple(tuple(row) for row in actions[k]))
            for k, p in enumerate(pipes)
        ),
        joint=tuple(tuple(row) for row in joint),
        replicas=replicas,
        labels=tuple(tuple(row) for row in labels),
        notes=tuple(notes),
    )
