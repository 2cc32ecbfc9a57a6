"""Where every action of a schedule sits in time: the data behind the pictures.

The SVG, PNG, HTML and Perfetto renderers draw the same :class:`Timeline`, so they agree
with each other and with the text slot table (:mod:`verify.report.timeline`):

* a schedule timed in **steps** is drawn at its own slots, every action one slot wide
  (the paper's figures, PyTorch's CSV columns);
* a schedule timed in **times** is drawn at its own start times, compute units as long
  as the cost model says;
* otherwise (or with ``use_schedule_times=False``) the programs are simulated under the
  cost model (earliest start, :func:`verify.sim.simulate`). Units that never start
  (a deadlock) are drawn after the last unit that ran on their worker, marked
  ``started=False``, so that the cycle can be shown in place.

Communication and stage actions take no compute time in the simulation: they become
zero-width *markers* at the moment their worker reaches them.

*Bubbles* are the idle intervals of each worker between time 0 and the makespan: the
complement of the drawn blocks. On a slot grid they are cut into one-slot cells, so that
the paper's bubble count can be read off the picture.

>>> from verify.generators import generate
>>> t = compute_timeline(generate("chimera", 4, 4))
>>> len([b for b in t.blocks if b.ops]), len(t.bubbles), t.makespan, t.unit
(32, 8, 10.0, 'slot')
>>> sorted((g.worker, g.start) for g in t.bubbles)[:2]
[(0, 1.0), (0, 8.0)]
"""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from dataclasses import dataclass, replace

from verify.core.actions import Action, Comm, CommKind, Op, compute_ops
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import Schedule, TimingUnit
from verify.passes.index import IndexedSchedule, index_schedule
from verify.sim.execute import execute

_EPS = 1e-9


class BlockKind(enum.Enum):
    """What a block stands for: compute (one ``Op`` or an ``Overlap``), a point-to-point
    message action, or a per-stage action (``UNSHARD``, ``REDUCE_GRAD``, ...)."""

    COMPUTE = "compute"
    COMM = "comm"
    STAGE = "stage"


class LinkKind(enum.Enum):
    """``data``: a cross-worker data dependency between compute units; ``message``: a
    ``SEND`` and the ``RECV`` it pairs with."""

    DATA = "data"
    MESSAGE = "message"


@dataclass(frozen=True, slots=True)
class Block:
    """One action of a worker's program placed in time.

    ``position`` is its index in the program (the key violations use). ``lane`` and
    ``lanes`` split the row when blocks overlap (a conflict): the block is drawn in
    sub-row ``lane`` of ``lanes``. A block with ``end == start`` is a marker.
    """

    worker: int
    position: int
    start: float
    end: float
    action: Action
    kind: BlockKind
    started: bool = True
    lane: int = 0
    lanes: int = 1

    @property
    def ops(self) -> tuple[Op, ...]:
        """The compute ops of the block (empty for communication and stage actions)."""
        return compute_ops(self.action)

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Gap:
    """An idle interval ``[start, end)`` of ``worker`` (a bubble)."""

    worker: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Link:
    """An arrow from block ``src`` to block ``dst`` (indices into ``Timeline.blocks``)."""

    src: int
    dst: int
    kind: LinkKind


@dataclass(frozen=True, slots=True)
class Timeline:
    """Every action of a schedule placed in time, the bubbles and the arrows.

    ``makespan`` is the end of the last block that ran; ``horizon`` also covers blocks
    that never started. ``unit`` is ``slot`` (steps timing or unit costs) or ``time``.
    ``source`` says which times were drawn: ``steps``, ``times`` (the schedule's own) or
    ``simulated``.
    """

    num_workers: int
    blocks: tuple[Block, ...]
    bubbles: tuple[Gap, ...]
    links: tuple[Link, ...]
    makespan: float
    horizon: float
    unit: str
    source: str
    costs: str

    def block_at(self, worker: int, position: int) -> int | None:
        """Index of the block of program position ``(worker, position)``, if drawn."""
        for k, b in enumerate(self.blocks):
            if b.worker == worker and b.position == position:
                return k
        return None

    @property
    def stuck(self) -> tuple[Block, ...]:
        """Blocks of units that never started (a deadlock)."""
        return tuple(b for b in self.blocks if not b.started)


def _kind_of(action: Action) -> BlockKind:
    if compute_ops(action):
        return BlockKind.COMPUTE
    if isinstance(action, Comm):
        return BlockKind.COMM
    return BlockKind.STAGE


def chunk_of(schedule: Schedule) -> dict[tuple[str, int], int]:
    """The *chunk* of every ``(pipeline, stage)``: how many earlier stages of the same
    pipeline sit on the same worker (0 for one stage per worker; 0 and 1 on a V or
    interleaved placement). Renderers colour blocks by ``(pipeline, chunk)``.

    >>> from verify.core.schedule import Pipeline
    >>> from verify.core.actions import parse_action
    >>> v = Schedule(2, (Pipeline("main", (0, 1, 1, 0), 1),), ((), ()))
    >>> chunk_of(v)
    {('main', 0): 0, ('main', 1): 0, ('main', 2): 1, ('main', 3): 1}
    """
    out: dict[tuple[str, int], int] = {}
    for p in schedule.pipelines:
        seen: dict[int, int] = defaultdict(int)
        for s, w in enumerate(p.placement):
            out[(p.name, s)] = seen[w]
            seen[w] += 1
    return out


def compute_timeline(
    schedule: Schedule, costs: CostModel = UNIT_COSTS, *, use_schedule_times: bool = True
) -> Timeline:
    """Place every action of ``schedule`` in time (see the module docstring)."""
    index = index_schedule(schedule)
    timing = schedule.timing
    blocks: list[Block]
    if use_schedule_times and timing is not None and timing.unit is TimingUnit.STEPS:
        blocks = [
            Block(w, i, float(timing.starts[w][i]), float(timing.starts[w][i]) + 1.0, a, _kind_of(a))
            for w, prog in enumerate(schedule.programs)
            for i, a in enumerate(prog)
        ]
        unit, source = "slot", "steps"
    elif use_schedule_times and timing is not None:
        duration = _unit_durations(index, costs)
        blocks = []
        for w, prog in enumerate(schedule.programs):
            for i, a in enumerate(prog):
                t = float(timing.starts[w][i])
                blocks.append(Block(w, i, t, t + duration.get((w, i), 0.0), a, _kind_of(a)))
        unit, source = "time", "times"
    else:
        blocks = _simulated_blocks(index, costs)
        unit, source = ("slot" if costs.is_unit else "time"), "simulated"
    blocks = _assign_lanes(blocks, schedule.num_workers)
    ran = [b.end for b in blocks if b.started]
    makespan = max(ran) if ran else 0.0
    horizon = max([makespan, *(b.end for b in blocks)])
    bubbles = _bubbles(blocks, schedule.num_workers, makespan, slots=unit == "slot")
    links = _links(index, blocks)
    return Timeline(
        schedule.num_workers, tuple(blocks), bubbles, links, makespan, horizon, unit, source,
        costs.describe(),
    )


def _unit_durations(index: IndexedSchedule, costs: CostModel) -> dict[tuple[int, int], float]:
    ex_dur = execute(index, costs).duration.tolist() if index.num_units else []
    return {
        (int(w), int(i)): float(d)
        for w, i, d in zip(index.unit_worker.tolist(), index.unit_pos.tolist(), ex_dur)
    }


def _simulated_blocks(index: IndexedSchedule, costs: CostModel) -> list[Block]:
    ex = execute(index, costs)
    start, end, dur = ex.start.tolist(), ex.end.tolist(), ex.duration.tolist()
    unit_at = {
        (int(w), int(i)): u
        for u, (w, i) in enumerate(zip(index.unit_worker.tolist(), index.unit_pos.tolist()))
    }
    blocks: list[Block] = []
    for w, prog in enumerate(index.schedule.programs):
        clock = 0.0  # when the worker reaches its next action
        for i, a in enumerate(prog):
            u = unit_at.get((w, i))
            if u is None:  # communication / stage action: a marker where the worker is
                blocks.append(Block(w, i, clock, clock, a, _kind_of(a)))
                continue
            if math.isnan(start[u]):  # never starts: drawn after what ran
                blocks.append(Block(w, i, clock, clock + dur[u], a, BlockKind.COMPUTE, started=False))
                clock += dur[u]
                continue
            blocks.append(Block(w, i, float(start[u]), float(end[u]), a, BlockKind.COMPUTE))
            clock = float(end[u])
    return blocks


def _assign_lanes(blocks: list[Block], num_workers: int) -> list[Block]:
    """Give overlapping blocks of a worker separate sub-rows (greedy interval colouring
    within each cluster of overlapping blocks; markers stay on lane 0)."""
    by_worker: list[list[int]] = [[] for _ in range(num_workers)]
    for k, b in enumerate(blocks):
        if b.end - b.start > _EPS:
            by_worker[b.worker].append(k)
    out = list(blocks)
    for ks in by_worker:
        ks.sort(key=lambda k: (blocks[k].start, blocks[k].position))
        cluster: list[tuple[int, int]] = []  # (block, lane)
        lane_end: list[float] = []
        reach = -math.inf

        for k in ks:
            b = blocks[k]
            if cluster and b.start >= reach - _EPS:  # no overlap with the cluster: close it
                _close(out, blocks, cluster, len(lane_end))
                cluster, lane_end = [], []
            lane = next((j for j, e in enumerate(lane_end) if e <= b.start + _EPS), len(lane_end))
            if lane == len(lane_end):
                lane_end.append(b.end)
            else:
                lane_end[lane] = b.end
            reach = max(reach, b.end) if cluster else b.end
            cluster.append((k, lane))
        if cluster:
            _close(out, blocks, cluster, len(lane_end))
    return out


def _close(out: list[Block], blocks: list[Block], cluster: list[tuple[int, int]], lanes: int) -> None:
    for k, lane in cluster:
        out[k] = replace(blocks[k], lane=lane, lanes=lanes)


def _bubbles(blocks: list[Block], num_workers: int, makespan: float, *, slots: bool) -> tuple[Gap, ...]:
    busy: list[list[tuple[float, float]]] = [[] for _ in range(num_workers)]
    for b in blocks:
        if b.end - b.start > _EPS:
            busy[b.worker].append((b.start, b.end))
    out: list[Gap] = []
    for w, spans in enumerate(busy):
        spans.sort()
        t = 0.0
        gaps: list[tuple[float, float]] = []
        for s, e in spans:
            if s > t + _EPS:
                gaps.append((t, min(s, makespan)))
            t = max(t, e)
        if makespan > t + _EPS:
            gaps.append((t, makespan))
        for s, e in gaps:
            if e - s <= _EPS:
                continue
            if slots and _integral(s) and _integral(e):
                out.extend(Gap(w, float(c), float(c + 1)) for c in range(round(s), round(e)))
            else:
                out.append(Gap(w, s, e))
    return tuple(out)


def _integral(x: float) -> bool:
    return abs(x - round(x)) < 1e-9


def _links(index: IndexedSchedule, blocks: list[Block]) -> tuple[Link, ...]:
    at = {(b.worker, b.position): k for k, b in enumerate(blocks)}
    out: list[Link] = []
    seen: set[tuple[int, int]] = set()
    src, dst, _ = index.producers()
    uw, up = index.unit_worker.tolist(), index.unit_pos.tolist()
    for a, b in zip(src.tolist(), dst.tolist()):
        if uw[a] == uw[b]:
            continue
        ka, kb = at.get((uw[a], up[a])), at.get((uw[b], up[b]))
        if ka is not None and kb is not None and (ka, kb) not in seen:
            seen.add((ka, kb))
            out.append(Link(ka, kb, LinkKind.DATA))
    # SEND_F of stage s pairs with RECV_F of stage s+1; SEND_B of s with RECV_B of s-1
    recvs: dict[tuple[str, int, int, CommKind], int] = {}
    for k, blk in enumerate(blocks):
        a = blk.action
        if isinstance(a, Comm) and not a.kind.is_send:
            recvs.setdefault((a.pipeline, a.stage, a.microbatch, a.kind), k)
    for k, blk in enumerate(blocks):
        a = blk.action
        if isinstance(a, Comm) and a.kind.is_send:
            forward = a.kind is CommKind.SEND_F
            key = (a.pipeline, a.stage + (1 if forward else -1), a.microbatch,
                   CommKind.RECV_F if forward else CommKind.RECV_B)
            r = recvs.get(key)
            if r is not None:
                out.append(Link(k, r, LinkKind.MESSAGE))
    return tuple(out)
