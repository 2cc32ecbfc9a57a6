"""Hanayo (Liu et al., SC'23): wave-like placement of one model copy.

**Placement.** With ``waves`` waves the model is cut into ``S = 2*waves*D`` stages that
zig-zag over the workers: stage ``s`` with ``(c, j) = divmod(s, D)`` runs on worker ``j``
when ``c`` is even and on worker ``D-1-j`` when ``c`` is odd. A micro-batch goes down the
workers, back up, down again, ...; every worker holds ``2*waves`` chunks of ``1/(2*waves)``
of its share of the model (no model copy: one ``M_theta`` of weights per worker).
``waves = 1`` is the V placement of ZB-V and DualPipeV.

**Order** (our definition; the paper gives figures, not a rule for every D and N). The
per-worker programs are read off a unit-time list schedule: every op takes one step;
at every step each idle worker starts, among its ops whose inputs are ready, a backward
if any (oldest micro-batch first, then the deepest stage), otherwise the forward of the
oldest micro-batch (then the deepest stage), provided the worker then holds at most
``D`` micro-batches in flight (a micro-batch is in flight on a worker from its first
forward there to its last backward there). Micro-batches enter stage 0 in id order, so
the cap never blocks the oldest unfinished micro-batch: the construction cannot
deadlock, and the order is deadlock-free under any costs.

Measured (``specs/hanayo.toml``): with ``F = B`` per chunk every worker idles
``(D-1)(F + B)`` chunk-times, a bubble ratio ``(D-1)/(2*waves*N + D-1)`` (interleaved
1F1B's with ``v = 2*waves``), and peak activations ``D`` stage-activations (``2*waves*D``
chunk activations). The order is derived at ``F = B``; with ``B = 2F`` its bubble is
larger (``docs/library.md``).

>>> s = hanayo(2, 2)
>>> s.pipelines[0].placement
(0, 1, 1, 0)
>>> [str(a) for a in s.programs[0]]
['0F0', '0F1', '3F0', '3B0', '3F1', '3B1', '0B0', '0B1']
"""

from __future__ import annotations

import heapq

from verify.core.actions import DEFAULT_PIPELINE, Action, Op, OpKind
from verify.core.schedule import Pipeline, Schedule
from verify.generators.registry import register, require, require_positive

F, B = OpKind.F, OpKind.B


def wave_placement(D: int, waves: int) -> tuple[int, ...]:
    """The zig-zag: ``2*waves*D`` stages over ``D`` workers.

    >>> wave_placement(3, 1)
    (0, 1, 2, 2, 1, 0)
    """
    out: list[int] = []
    for c in range(2 * waves):
        out.extend(range(D) if c % 2 == 0 else range(D - 1, -1, -1))
    return tuple(out)


def list_schedule(placement: tuple[int, ...], D: int, N: int, cap: int) -> list[list[Op]]:
    """Per-worker programs of the unit-time list schedule described in the module
    docstring (backward first; forwards of the oldest micro-batch under an in-flight
    cap of ``cap`` micro-batches per worker)."""
    p = DEFAULT_PIPELINE
    S = len(placement)
    held = [0] * D
    for w in placement:
        held[w] += 1
    programs: list[list[Op]] = [[] for _ in range(D)]
    fwd: list[list[tuple[int, int]]] = [[] for _ in range(D)]  # (microbatch, -stage)
    bwd: list[list[tuple[int, int]]] = [[] for _ in range(D)]
    in_flight: list[set[int]] = [set() for _ in range(D)]
    back_done: list[dict[int, int]] = [{} for _ in range(D)]
    for m in range(N):
        fwd[placement[0]].append((m, 0))
    remaining = 2 * S * N
    while remaining:
        started: list[tuple[int, Op]] = []
        for w in range(D):
            if bwd[w]:
                m, neg = heapq.heappop(bwd[w])
                started.append((w, Op(p, -neg, m, B)))
            elif fwd[w] and (fwd[w][0][0] in in_flight[w] or len(in_flight[w]) < cap):
                m, neg = heapq.heappop(fwd[w])
                in_flight[w].add(m)
                started.append((w, Op(p, -neg, m, F)))
        if not started:  # cannot happen: the oldest micro-batch can always move
            raise RuntimeError("list schedule stalled")
        for w, op in started:
            programs[w].append(op)
            remaining -= 1
            s, m = op.stage, op.microbatch
            if op.kind is F:
                if s + 1 < S:
                    heapq.heappush(fwd[placement[s + 1]], (m, -(s + 1)))
                else:
                    heapq.heappush(bwd[w], (m, -s))
            else:
                count = back_done[w].get(m, 0) + 1
                back_done[w][m] = count
                if count == held[w]:
                    in_flight[w].discard(m)
                    del back_done[w][m]
                if s > 0:
                    heapq.heappush(bwd[placement[s - 1]], (m, -(s - 1)))
    return programs


@register(
    "hanayo",
    "Hanayo: wave-like zig-zag placement (2*waves chunks per worker, one model copy)",
    options=("waves",),
    examples=((4, 4, (("waves", 1),)), (2, 3, (("waves", 2),)), (3, 6, ())),
)
def hanayo(stages: int, microbatches: int, waves: int = 1) -> Schedule:
    """Hanayo with ``waves`` waves (see the module docstring); any D and N."""
    name = "hanayo"
    D, N = stages, microbatches
    require_positive(name, D=D, N=N, waves=waves)
    require(2 * waves * D <= 1_000_000, name,
            f"2*waves*D must be at most 1000000, got {2 * waves * D}")
    placement = wave_placement(D, waves)
    programs: tuple[tuple[Action, ...], ...] = tuple(
        tuple(prog) for prog in list_schedule(placement, D, N, D)
    )
    p = DEFAULT_PIPELINE
    return Schedule(
        D, (Pipeline(p, placement, N),), programs, name=f"{name} D={D} N={N} waves={waves}",
        params=(("family", name), ("D", D), ("N", N), ("waves", waves)),
    )
