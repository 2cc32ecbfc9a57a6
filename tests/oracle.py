"""An independent, deliberately naive reference executor for cross-checking.

It shares nothing with ``verify.sim``/``verify.passes``: dependencies are re-derived here
from the textbook rules, and execution repeatedly scans the workers, running the next op
of any worker whose inputs are ready, until nothing moves (quadratic, small sizes only).
"""

from __future__ import annotations

from verify.core.actions import Op, OpKind, Overlap
from verify.core.schedule import Schedule


def _inputs(op: Op, stages: int, split: set[tuple[str, int, int]]) -> list[tuple[str, int, int, str]]:
    p, s, m, k = op.pipeline, op.stage, op.microbatch, op.kind.value
    if k == "F":
        return [(p, s - 1, m, "F")] if s > 0 else []
    if k == "W":
        return [(p, s, m, "I")]
    deps = [(p, s, m, "F")]
    if s + 1 < stages:
        deps.append((p, s + 1, m, "I" if (p, s + 1, m) in split else "B"))
    return deps


def run(schedule: Schedule, F: float = 1, B: float = 1, I: float | None = None,
        W: float | None = None, latency: float = 0) -> tuple[dict[tuple[int, int], float], bool]:
    """Start time of every compute position ``(worker, index)`` and whether all ran."""
    I_ = B / 2 if I is None else I
    W_ = B - I_ if W is None else W
    dur = {"F": F, "B": B, "I": I_, "W": W_}
    stages = {p.name: p.num_stages for p in schedule.pipelines}
    mbs = {p.name: p.microbatches for p in schedule.pipelines}
    split = {(o.pipeline, o.stage, o.microbatch) for _, _, o in schedule.ops() if o.kind is OpKind.I}
    progs = [[(i, a) for i, a in enumerate(prog) if isinstance(a, (Op, Overlap))]
             for prog in schedule.programs]
    present = set()
    for _, _, o in schedule.ops():
        if o.pipeline in stages and o.stage < stages[o.pipeline] and o.microbatch < mbs[o.pipeline]:
            present.add((o.pipeline, o.stage, o.microbatch, o.kind.value))
    finished: dict[tuple[str, int, int, str], tuple[float, int]] = {}
    ptr = [0] * len(progs)
    clock = [0.0] * len(progs)
    starts: dict[tuple[int, int], float] = {}
    moved = True
    while moved:
        moved = False
        for w, prog in enumerate(progs):
            while ptr[w] < len(prog):
                i, a = prog[ptr[w]]
                ops = a.ops if isinstance(a, Overlap) else (a,)
                mine = {(o.pipeline, o.stage, o.microbatch, o.kind.value) for o in ops}
                needs = [d for o in ops for d in _inputs(o, stages.get(o.pipeline, 0), split)
                         if d in present and d not in mine]
                if not all(d in finished for d in needs):
                    break
                t = clock[w]
                for d in needs:
                    end, dw = finished[d]
                    t = max(t, end + (latency if dw != w else 0))
                length = sum(dur[o.kind.value] for o in ops)
                starts[(w, i)] = t
                clock[w] = t + length
                for key in mine:
                    finished.setdefault(key, (t + length, w))
                ptr[w] += 1
                moved = True
    complete = all(ptr[w] == len(p) for w, p in enumerate(progs))
    return starts, complete
