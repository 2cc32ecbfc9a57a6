"""Builders shared by the communication tests, and tests that they build valid schedules.

* :func:`interleaved` - interleaved 1F1B (Megatron's looped placement, stage ``s`` on
  worker ``s mod D``), written here because the library has no interleaved family yet;
* :func:`compute_schedules` - a hypothesis strategy of small random *valid* compute
  schedules: a random topological order of the textbook dependencies, over several
  placements (one line, interleaved, V, two opposite pipelines), with the backward split
  or not;
* :func:`read_rows` - the cells of a CSV fixture, read with the ``csv`` module only.
"""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from verify import check
from verify.core.actions import DEFAULT_PIPELINE, Action, Op, OpKind
from verify.core.schedule import Pipeline, Schedule

DATA = Path(__file__).parent / "data" / "comm"
F, B, I, W = OpKind.F, OpKind.B, OpKind.I, OpKind.W


def read_rows(name: str) -> list[list[str]]:
    """Non-empty cells of each row of ``tests/data/comm/<name>``."""
    with open(DATA / name, newline="") as f:
        return [[c for c in row if c.strip()] for row in csv.reader(f)]


def interleaved(D: int, N: int, v: int) -> Schedule:
    """Interleaved 1F1B: ``v`` stages per worker (stage ``c*D + w`` on worker ``w``);
    worker ``w`` runs ``2(D-1-w) + (v-1)D`` warm-up forwards (micro-batches in groups of
    D, chunk by chunk), then one forward one backward, then the remaining backwards.
    N must be a multiple of D."""
    p = DEFAULT_PIPELINE
    total = N * v

    def fwd(w: int, k: int) -> Op:
        chunk = (k // D) % v
        return Op(p, chunk * D + w, (k // (D * v)) * D + k % D, F)

    def bwd(w: int, k: int) -> Op:
        chunk = v - 1 - (k // D) % v
        return Op(p, chunk * D + w, (k // (D * v)) * D + k % D, B)

    programs: list[tuple[Action, ...]] = []
    for w in range(D):
        warm = min(2 * (D - 1 - w) + (v - 1) * D, total)
        prog: list[Action] = [fwd(w, k) for k in range(warm)]
        nf, nb = warm, 0
        while nb < total:
            if nf < total:
                prog.append(fwd(w, nf))
                nf += 1
            prog.append(bwd(w, nb))
            nb += 1
        programs.append(tuple(prog))
    placement = tuple(s % D for s in range(D * v))
    return Schedule(D, (Pipeline(p, placement, N),), tuple(programs),
                    name=f"interleaved D={D} N={N} v={v}")


LAYOUTS = ("line", "interleaved", "v", "bidirectional")


def _pipelines(layout: str, D: int, N: int) -> tuple[Pipeline, ...]:
    if layout == "line":
        return (Pipeline("main", tuple(range(D)), N),)
    if layout == "interleaved":
        return (Pipeline("main", tuple(s % D for s in range(2 * D)), N),)
    if layout == "v":
        return (Pipeline("main", (*range(D), *range(D - 1, -1, -1)), N),)
    return (Pipeline("down", tuple(range(D)), N), Pipeline("up", tuple(range(D - 1, -1, -1)), N))


@st.composite
def compute_schedules(draw: st.DrawFn, max_workers: int = 3, max_microbatches: int = 3) -> Schedule:
    """A random complete, deadlock-free compute schedule (small sizes)."""
    layout = draw(st.sampled_from(LAYOUTS))
    D = draw(st.integers(2, max_workers))
    N = draw(st.integers(1, max_microbatches))
    split = draw(st.booleans())
    pipes = _pipelines(layout, D, N)
    stages = {p.name: p.num_stages for p in pipes}
    home = {(p.name, s): w for p in pipes for s, w in enumerate(p.placement)}
    back = (I, W) if split else (B,)
    todo = [Op(p.name, s, m, k) for p in pipes for s in range(p.num_stages)
            for m in range(N) for k in (F, *back)]
    grad = I if split else B

    def needs(op: Op) -> list[Op]:
        p, s, m = op.pipeline, op.stage, op.microbatch
        if op.kind is F:
            return [Op(p, s - 1, m, F)] if s > 0 else []
        if op.kind is W:
            return [Op(p, s, m, I)]
        out = [Op(p, s, m, F)]
        if s + 1 < stages[p]:
            out.append(Op(p, s + 1, m, grad))
        return out

    done: set[Op] = set()
    programs: list[list[Action]] = [[] for _ in range(D)]
    while todo:
        ready = [op for op in todo if all(d in done for d in needs(op))]
        op = draw(st.sampled_from(ready))
        todo.remove(op)
        done.add(op)
        programs[home[(op.pipeline, op.stage)]].append(op)
    return Schedule(D, pipes, tuple(tuple(p) for p in programs), name=f"random {layout} D={D} N={N}")


def test_interleaved_builder_is_a_valid_schedule() -> None:
    for D, N, v in ((2, 4, 2), (4, 8, 2), (3, 6, 3)):
        s = interleaved(D, N, v)
        report = check(s)
        assert report.ok, report.violations[:1]
        assert s.num_ops == 2 * D * v * N


@given(compute_schedules())
def test_random_compute_schedules_are_valid(s: Schedule) -> None:
    assert check(s).ok
