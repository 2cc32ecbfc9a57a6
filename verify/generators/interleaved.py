"""Several stages per worker, one model copy: interleaved 1F1B and looped BFS.

Both cut the model into ``v*D`` stages and place them round-robin (PyTorch's "loop"
style): stage ``s`` runs on worker ``s % D``, so worker ``r`` holds the *chunks*
``c = 0 .. v-1`` with stages ``c*D + r``. Every op works on one chunk, i.e. on ``1/v`` of
a worker's share of the model: with costs given per ``1/D`` of the model, a chunk's
forward takes ``F/v`` (``verify.specs.normalized_costs`` does this scaling).

**Interleaved 1F1B** (Narayanan et al., SC'21; Megatron-LM's virtual pipeline stages).
Micro-batches go in rounds of ``D``. Worker ``r``'s k-th forward is, with
``(g, x) = divmod(k, v*D)`` and ``(c, i) = divmod(x, D)``, the forward of chunk ``c`` for
micro-batch ``g*D + i``; its k-th backward is the same with chunk ``v-1-c``. The worker
runs ``min(v*N, 2*(D-1-r) + (v-1)*D)`` warm-up forwards, then alternates one forward and
one backward, then drains the remaining backwards. Measured (``specs/interleaved.toml``):
every worker idles ``(D-1)*(F_c + B_c)`` for chunk costs ``F_c, B_c`` and any ratio, i.e.
a bubble ratio ``(D-1)/(v*N + D-1)``; worker 0 holds up to ``2*(D-1) + (v-1)*D + 1``
chunk activations when ``N >= 2D``.

**Looped BFS** (PyTorch's ``ScheduleLoopedBFS``): breadth first, worker ``r`` runs the
forwards of chunk 0 for every micro-batch, then of chunk 1, ..., then the backwards of
chunk ``v-1`` for every micro-batch in reverse id order, ..., down to chunk 0 (the order
PyTorch generates, op for op).
Same bubble as interleaved 1F1B, but every activation stays until the backward phase
(``v*N`` chunk activations on every worker, GPipe's memory).

>>> s = interleaved_1f1b(2, 2, v=2)
>>> [str(a) for a in s.programs[1]]
['1F0', '1F1', '3F0', '3B0', '3F1', '3B1', '1B0', '1B1']
>>> s.pipelines[0].placement
(0, 1, 0, 1)
>>> [str(a) for a in looped_bfs(2, 2, v=2).programs[0]]
['0F0', '0F1', '2F0', '2F1', '2B1', '2B0', '0B1', '0B0']
"""

from __future__ import annotations

from verify.core.actions import DEFAULT_PIPELINE, Action, Op, OpKind
from verify.core.schedule import Pipeline, Schedule
from verify.generators.registry import register, require, require_positive

F, B = OpKind.F, OpKind.B


def looped_placement(D: int, v: int) -> tuple[int, ...]:
    """Stage ``s`` of ``v*D`` on worker ``s % D``.

    >>> looped_placement(3, 2)
    (0, 1, 2, 0, 1, 2)
    """
    return tuple(s % D for s in range(v * D))


def _check(family: str, D: int, N: int, v: int) -> None:
    require_positive(family, D=D, N=N, v=v)
    require(D * v <= 1_000_000, family, f"v*D must be at most 1000000, got v*D={v * D}")


@register(
    "interleaved-1f1b",
    "Interleaved 1F1B (Megatron virtual stages): v chunks per worker, rounds of D",
    options=("v",),
    examples=((4, 8, (("v", 2),)), (2, 4, (("v", 3),)), (3, 3, ())),
)
def interleaved_1f1b(stages: int, microbatches: int, v: int = 2) -> Schedule:
    """Interleaved 1F1B with ``v`` chunks per worker (see the module docstring).

    N must be a multiple of D (micro-batches go in rounds of D) and ``v >= 2``
    (``v = 1`` is plain ``1f1b``).

    >>> interleaved_1f1b(4, 6)
    Traceback (most recent call last):
    ...
    verify.errors.ParameterError: interleaved-1f1b: N must be a multiple of D ... got D=4 N=6
    """
    name = "interleaved-1f1b"
    D, N = stages, microbatches
    _check(name, D, N, v)
    require(v >= 2, name, f"v must be at least 2 (v = 1 is the 1f1b family), got v={v}")
    require(N % D == 0, name, f"N must be a multiple of D (rounds of D micro-batches), got D={D} N={N}")
    p = DEFAULT_PIPELINE
    total = v * N
    programs: list[tuple[Action, ...]] = []
    for r in range(D):

        def op(k: int, kind: OpKind, r: int = r) -> Op:
            g, x = divmod(k, v * D)
            c, i = divmod(x, D)
            chunk = c if kind is F else v - 1 - c
            return Op(p, chunk * D + r, g * D + i, kind)

        warm = min(total, 2 * (D - 1 - r) + (v - 1) * D)
        prog: list[Action] = [op(k, F) for k in range(warm)]
        for k in range(total - warm):
            prog.append(op(warm + k, F))
            prog.append(op(k, B))
        prog.extend(op(k, B) for k in range(total - warm, total))
        programs.append(tuple(prog))
    return Schedule(
        D, (Pipeline(p, looped_placement(D, v), N),), tuple(programs),
        name=f"{name} D={D} N={N} v={v}",
        params=(("family", name), ("D", D), ("N", N), ("v", v)),
    )


@register(
    "looped-bfs",
    "Looped BFS: v chunks per worker, all micro-batches chunk by chunk (breadth first)",
    options=("v",),
    examples=((4, 4, (("v", 2),)), (3, 5, (("v", 1),)), (2, 3, ())),
)
def looped_bfs(stages: int, microbatches: int, v: int = 2) -> Schedule:
    """Looped BFS with ``v`` chunks per worker (any D, N; ``v = 1`` is GPipe)."""
    name = "looped-bfs"
    D, N = stages, microbatches
    _check(name, D, N, v)
    p = DEFAULT_PIPELINE
    programs: list[tuple[Action, ...]] = []
    for r in range(D):
        prog: list[Action] = [Op(p, c * D + r, m, F) for c in range(v) for m in range(N)]
        prog.extend(Op(p, c * D + r, m, B) for c in reversed(range(v)) for m in reversed(range(N)))
        programs.append(tuple(prog))
    return Schedule(
        D, (Pipeline(p, looped_placement(D, v), N),), tuple(programs),
        name=f"{name} D={D} N={N} v={v}",
        params=(("family", name), ("D", D), ("N", N), ("v", v)),
    )
