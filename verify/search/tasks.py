"""The task graph: a search problem as integer data every backend encodes the same way.

This is a stateless pass ``SearchProblem -> TaskGraph``. It requires a valid problem
and guarantees:

* one task per op that must run (``F`` and ``B``, or ``F``, ``I`` and ``W`` with a split
  backward), with its worker and an integer duration;
* one edge per data dependency of :mod:`verify.core.deps` with its *lag*: the latency
  between the two workers (0 on one worker);
* one *hold* per (pipeline, stage, micro-batch): the activation allocated at the start
  of the ``F`` and released at the end of the ``B`` (or ``W``), the semantics of
  :func:`verify.sim.metrics.activation_profile`;
* static lower bounds: the critical path, each worker's load between the earliest
  moment it can start and the least work that must follow it, and each worker's least
  possible peak memory (every stage of one micro-batch on a worker is held at once).

Times and memory are scaled to integers (``time_scale``, ``memory_scale``): costs such as
``F=0.5`` or ``latency=0.1`` become exact integers, or the problem is rejected with a
:class:`~verify.errors.ParameterError` (more than six decimal digits).

>>> from verify.search.problem import SearchProblem
>>> g = build_tasks(SearchProblem.build(4, 4, costs="F=1,B=2"))
>>> len(g.ops), g.time_scale, g.lower_bound, g.lower_bound_reason
(32, 1, 15, 'worker_load[worker=1]')
>>> g.memory_need
(1, 1, 1, 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from math import lcm

from verify.core.actions import Op, OpKind
from verify.errors import ParameterError
from verify.search.problem import SearchProblem

MAX_SCALE = 10**6
"""Largest integer scale applied to times or memory (six decimal digits)."""

MAX_HORIZON = 2**52
"""Scaled times must stay exactly representable as floats and far from 64-bit limits."""


@dataclass(frozen=True, slots=True)
class TaskGraph:
    """The integer form of a search problem (see the module docstring).

    Task ``i`` is ``ops[i]`` on ``worker[i]`` for ``duration[i]`` time units (of
    ``1 / time_scale`` cost units). ``edges`` are ``(producer, consumer, lag)``;
    ``holds`` are ``(allocating F, releasing op, activation)``; ``first_forwards[p]`` are
    the stage-0 forwards of pipeline ``p`` by micro-batch, the handle for symmetry
    breaking (micro-batches of one pipeline are interchangeable).
    """

    num_workers: int
    ops: tuple[Op, ...]
    worker: tuple[int, ...]
    duration: tuple[int, ...]
    edges: tuple[tuple[int, int, int], ...]
    holds: tuple[tuple[int, int, int], ...]
    first_forwards: tuple[tuple[int, ...], ...]
    time_scale: int
    memory_scale: int
    head: tuple[int, ...]
    """Earliest possible start of each task (longest path to it, lags included)."""
    tail: tuple[int, ...]
    """Least time that must follow the end of each task (longest path after it)."""
    sinks: tuple[int, ...]
    """Tasks nothing depends on: the makespan is the latest of their ends."""
    lower_bound: int
    lower_bound_reason: str
    """``critical_path`` or ``worker_load[worker=w]``: which bound is the largest."""
    memory_need: tuple[int, ...]
    """Least peak memory of each worker in any schedule (scaled)."""
    memory_need_reason: tuple[str, ...]
    serial_horizon: int
    """A makespan every problem without a makespan bound can meet (ops one at a time)."""

    @property
    def num_tasks(self) -> int:
        return len(self.ops)

    def index(self) -> dict[Op, int]:
        """Task number of every op."""
        return {op: i for i, op in enumerate(self.ops)}

    def worker_tasks(self) -> tuple[tuple[int, ...], ...]:
        """Tasks of every worker."""
        out: list[list[int]] = [[] for _ in range(self.num_workers)]
        for i, w in enumerate(self.worker):
            out[w].append(i)
        return tuple(tuple(t) for t in out)

    def to_time(self, value: int) -> float:
        """A scaled time back in cost-model units."""
        return value / self.time_scale

    def to_memory(self, value: int) -> float:
        return value / self.memory_scale


def common_scale(values: Iterable[float], what: str) -> int:
    """The least integer k such that k * v is an integer for every v.

    >>> common_scale([1, 2.5, 0.1], "durations")
    10
    """
    scale = 1
    for v in values:
        micro = round(v * MAX_SCALE)
        if abs(v * MAX_SCALE - micro) > 1e-6 * max(1.0, abs(v)):
            raise ParameterError(f"search: {what} need at most six decimal digits, got {v!r}")
        frac = Fraction(micro, MAX_SCALE)
        scale = lcm(scale, frac.denominator)
        if scale > MAX_SCALE:
            raise ParameterError(
                f"search: {what} have no common unit of at least 1e-6 (e.g. {v!r}); round them"
            )
    return scale


def _scaled(v: float, scale: int) -> int:
    return round(v * scale)


def build_tasks(problem: SearchProblem) -> TaskGraph:
    """The task graph of ``problem`` (see the module docstring)."""
    costs = problem.costs
    split = problem.split_backward
    back = (OpKind.I, OpKind.W) if split else (OpKind.B,)
    grad = OpKind.I if split else OpKind.B

    # the float values that must become integers
    times: list[float] = []
    acts: list[float] = []
    for p in problem.pipelines:
        if p.microbatches == 0:
            continue
        for s, w in enumerate(p.placement):
            times.append(costs.duration(OpKind.F, s))
            times.extend(costs.duration(k, s) for k in back)
            acts.append(costs.activation_of(s))
            if s + 1 < p.num_stages:
                times.append(costs.latency_between(w, p.placement[s + 1]))
                times.append(costs.latency_between(p.placement[s + 1], w))
    tscale = common_scale(times, "durations and latencies")
    mscale = common_scale(acts, "activation sizes")
    if problem.memory_cap is not None:
        mscale = lcm(mscale, common_scale([problem.memory_cap], "the memory cap"))
    if mscale > MAX_SCALE:
        raise ParameterError("search: activation sizes and the memory cap have no common unit of 1e-6")

    ops: list[Op] = []
    worker: list[int] = []
    dur: list[int] = []
    index: dict[Op, int] = {}

    def add(op: Op, w: int) -> None:
        index[op] = len(ops)
        ops.append(op)
        worker.append(w)
        dur.append(_scaled(costs.duration(op.kind, op.stage), tscale))

    for p in problem.pipelines:
        for m in range(p.microbatches):
            for s, w in enumerate(p.placement):
                add(Op(p.name, s, m, OpKind.F), w)
            for s in range(p.num_stages - 1, -1, -1):
                for k in back:
                    add(Op(p.name, s, m, k), p.placement[s])

    edges: list[tuple[int, int, int]] = []
    holds: list[tuple[int, int, int]] = []
    firsts: list[tuple[int, ...]] = []
    for p in problem.pipelines:
        S = p.num_stages
        firsts.append(tuple(index[Op(p.name, 0, m, OpKind.F)] for m in range(p.microbatches)))
        for m in range(p.microbatches):
            for s in range(S):
                w = p.placement[s]
                f = index[Op(p.name, s, m, OpKind.F)]
                g = index[Op(p.name, s, m, grad)]
                if s > 0:
                    prev = p.placement[s - 1]
                    edges.append((index[Op(p.name, s - 1, m, OpKind.F)], f,
                                  _scaled(costs.latency_between(prev, w), tscale)))
                edges.append((f, g, 0))
                if s + 1 < S:
                    nxt = p.placement[s + 1]
                    edges.append((index[Op(p.name, s + 1, m, grad)], g,
                                  _scaled(costs.latency_between(nxt, w), tscale)))
                release = g
                if split:
                    release = index[Op(p.name, s, m, OpKind.W)]
                    edges.append((g, release, 0))
                holds.append((f, release, _scaled(costs.activation_of(s), mscale)))

    n = len(ops)
    # tasks were added in a topological order (forwards up, backwards down, per micro-batch)
    head = [0] * n
    succ: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    pred: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for a, b, lag in edges:
        succ[a].append((b, lag))
        pred[b].append((a, lag))
    for b in range(n):
        for a, lag in pred[b]:
            t = head[a] + dur[a] + lag
            if t > head[b]:
                head[b] = t
    tail = [0] * n
    for a in range(n - 1, -1, -1):
        for b, lag in succ[a]:
            t = lag + dur[b] + tail[b]
            if t > tail[a]:
                tail[a] = t
    sinks = tuple(i for i in range(n) if not succ[i])

    best = max(head[i] + dur[i] + tail[i] for i in range(n))
    reason = "critical_path"
    D = problem.num_workers
    load = [0] * D
    first = [MAX_HORIZON] * D
    last = [MAX_HORIZON] * D
    for i in range(n):
        w = worker[i]
        load[w] += dur[i]
        first[w] = min(first[w], head[i])
        last[w] = min(last[w], tail[i])
    for w in range(D):
        if load[w] and first[w] + load[w] + last[w] > best:
            best = first[w] + load[w] + last[w]
            reason = f"worker_load[worker={w}]"

    need = [0] * D
    need_reason = [""] * D
    for p in problem.pipelines:
        if p.microbatches == 0:
            continue
        per: dict[int, list[int]] = {}
        for s, w in enumerate(p.placement):
            per.setdefault(w, []).append(s)
        for w, stages in per.items():
            total = sum(_scaled(costs.activation_of(s), mscale) for s in stages)
            if total > need[w]:
                need[w] = total
                listed = ", ".join(map(str, stages))
                need_reason[w] = (
                    f"a micro-batch of pipeline {p.name!r} holds the activations of its "
                    f"stage{'s' if len(stages) > 1 else ''} {listed} on worker {w} at once"
                )
    max_lag = max((lag for _, _, lag in edges), default=0)
    serial = sum(dur) + n * max_lag
    if serial > MAX_HORIZON:
        raise ParameterError("search: the scaled horizon is too large; use coarser costs")
    return TaskGraph(
        num_workers=D,
        ops=tuple(ops),
        worker=tuple(worker),
        duration=tuple(dur),
        edges=tuple(edges),
        holds=tuple(holds),
        first_forwards=tuple(firsts),
        time_scale=tscale,
        memory_scale=mscale,
        head=tuple(head),
        tail=tuple(tail),
        sinks=sinks,
        lower_bound=best,
        lower_bound_reason=reason,
        memory_need=tuple(need),
        memory_need_reason=tuple(need_reason),
        serial_horizon=serial,
    )


def descendants(graph: TaskGraph) -> list[int]:
    """For every task, the set of tasks reachable from it by edges, as a bit mask
    (tasks are numbered in a topological order). Used to skip order decisions that
    the dependencies already make."""
    n = graph.num_tasks
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b, _ in graph.edges:
        succ[a].append(b)
    reach = [0] * n
    for a in range(n - 1, -1, -1):
        r = 0
        for b in succ[a]:
            r |= reach[b] | (1 << b)
        reach[a] = r
    return reach
