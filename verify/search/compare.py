"""The library families on a search instance: the comparison table and the warm starts.

Every registered family that can be generated for the instance's D and N is simulated
under the problem's costs (earliest start, :func:`verify.sim.metrics`). Families that
schedule exactly the problem's pipelines and ops are *comparable*: the search must beat
or match them, and the best one that meets the problem's constraints seeds the solver
(a warm start). Others (another placement, or another op set such as a split backward
on a fused-backward problem) are listed for reference. On a split-backward problem a
family with a fused backward is evaluated (and used as a warm start) with each ``B``
run as ``I`` then ``W`` on the spot (same worker time, earlier gradient), see
:func:`split_backward`; overlapped units are run in sequence (:func:`sequential`).
"""

from __future__ import annotations

from dataclasses import dataclass

from verify.core.actions import Action, Op, OpKind, Overlap
from verify.core.costs import scaled_costs, work_scale
from verify.core.results import Metrics
from verify.core.schedule import Pipeline, Schedule
from verify.generators import families, generate
from verify.search.outcome import FamilyResult
from verify.search.problem import PLACEMENTS, SearchProblem, placement_pipelines
from verify.sim import metrics as simulate_metrics

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Candidate:
    """A family schedule over the problem's pipelines, with its metrics."""

    family: str
    schedule: Schedule
    metrics: Metrics


def split_backward(schedule: Schedule) -> Schedule:
    """``schedule`` with every ``B`` replaced in place by ``I`` followed by ``W`` (order
    semantics; start times are dropped).

    >>> from verify.generators import generate
    >>> [str(a) for a in split_backward(generate("1f1b", 2, 1)).programs[0]]
    ['0F0', '0I0', '0W0']
    """
    programs: list[tuple[Action, ...]] = []
    for prog in schedule.programs:
        out: list[Action] = []
        for a in prog:
            if isinstance(a, Op) and a.kind is OpKind.B:
                out.append(Op(a.pipeline, a.stage, a.microbatch, OpKind.I))
                out.append(Op(a.pipeline, a.stage, a.microbatch, OpKind.W))
            else:
                out.append(a)
        programs.append(tuple(out))
    return Schedule(schedule.num_workers, schedule.pipelines, tuple(programs), None,
                    schedule.name, schedule.params, schedule.source)


def placement_label(pipelines: tuple[Pipeline, ...], workers: int) -> str:
    """The name of a placement if it is one of the named ones, else ``custom``.

    >>> from verify.generators import generate
    >>> placement_label(generate("chimera", 4, 4).pipelines, 4)
    'bidirectional'
    """
    n = sum(p.microbatches for p in pipelines)
    if n < 1:
        return "custom"
    for name in PLACEMENTS:
        chunk_options: tuple[int | None, ...] = (None,)
        if name in ("interleaved", "v-shape"):
            stages = pipelines[0].num_stages
            if len(pipelines) != 1 or stages % workers or stages // workers < 2:
                continue
            chunk_options = (stages // workers,)
        for v in chunk_options:
            if placement_pipelines(name, workers, n, v) == pipelines:
                return name if v is None else f"{name}(v={v})"
    return "custom"


def sequential(schedule: Schedule) -> Schedule:
    """``schedule`` with every ``Overlap`` unit run as its ops in sequence and
    communication and stage actions dropped (order semantics; start times dropped). With
    overlap costing the sum of its ops this is never slower: each op may end earlier.

    >>> from verify.core.actions import parse_action
    >>> from verify.core.schedule import Pipeline
    >>> s = Schedule(1, (Pipeline("main", (0,), 2),), ((parse_action("0F0"),
    ...     parse_action("(0F1;0B0)OVERLAP_F_B"), parse_action("0B1")),))
    >>> [str(a) for a in sequential(s).programs[0]]
    ['0F0', '0F1', '0B0', '0B1']
    """
    programs: list[tuple[Action, ...]] = []
    for prog in schedule.programs:
        out: list[Action] = []
        for a in prog:
            if isinstance(a, Op):
                out.append(a)
            elif isinstance(a, Overlap):
                out.extend(a.ops)
        programs.append(tuple(out))
    return Schedule(schedule.num_workers, schedule.pipelines, tuple(programs), None,
                    schedule.name, schedule.params, schedule.source)


def adapt(problem: SearchProblem, schedule: Schedule) -> tuple[Schedule, str]:
    """A family schedule adapted to the problem's backward form, and how."""
    if problem.split_backward and any(op.kind is OpKind.B for _, _, op in schedule.ops()):
        return split_backward(schedule), "B run as I then W"
    return schedule, ""


def evaluate_families(
    problem: SearchProblem, ops: frozenset[Op] | None = None,
) -> tuple[tuple[FamilyResult, ...], tuple[Candidate, ...]]:
    """Every applicable family's result on the instance, and the candidates: families
    with the problem's pipelines and exactly its ops (``ops``, the task graph's), whose
    overlapped units (if any) cost what their ops cost in sequence."""
    D, N = problem.num_workers, problem.num_microbatches
    results: list[FamilyResult] = []
    candidates: list[Candidate] = []
    stages = max(p.num_stages for p in problem.pipelines)
    own_scale = D * N / (stages * sum(p.microbatches for p in problem.pipelines))
    for fam in families():
        try:
            generated = generate(fam.name, D, N)
        except ValueError:  # ParameterError: the family does not exist for this D, N
            continue
        if generated.num_workers != D:
            continue
        schedule, variant = adapt(problem, generated)
        costs = problem.costs
        k = work_scale(schedule) / own_scale
        if k != 1 and not costs.per_stage:
            # other chunking or half micro-batches: the same work for the whole model and batch
            costs = scaled_costs(costs, k)
            variant = ", ".join(x for x in (variant, "costs rescaled per chunk") if x)
        m = simulate_metrics(schedule, costs)
        if m is None:  # a family that deadlocks here is not a comparison point
            continue
        listed = [op for _, _, op in schedule.ops()]
        has_overlap = any(isinstance(a, Overlap) for prog in schedule.programs for a in prog)
        comparable = (
            schedule.pipelines == problem.pipelines
            and ops is not None
            and len(listed) == len(ops)
            and set(listed) == ops
            and (not has_overlap or problem.costs.overlap is None)
        )
        cap = problem.memory_cap
        meets = None if cap is None else max(m.peak_activations, default=0.0) <= cap + EPS
        label = placement_label(schedule.pipelines, D)
        if schedule.pipelines == problem.pipelines and not comparable:
            label += ", other ops"
        results.append(FamilyResult(
            family=fam.name,
            placement=label,
            comparable=comparable,
            makespan=m.makespan,
            peak_activations=m.peak_activations,
            bubble_ratio=m.bubble_ratio,
            meets_cap=meets,
            excess=None,
            variant=variant,
        ))
        if comparable:
            candidates.append(Candidate(fam.name, schedule, m))
    return tuple(results), tuple(candidates)


def with_excess(results: tuple[FamilyResult, ...], best: float | None) -> tuple[FamilyResult, ...]:
    """The results with ``excess = makespan / best - 1`` filled in, sorted by makespan."""
    out = []
    for r in results:
        excess = None if not best else r.makespan / best - 1.0
        out.append(FamilyResult(r.family, r.placement, r.comparable, r.makespan,
                                r.peak_activations, r.bubble_ratio, r.meets_cap, excess, r.variant))
    out.sort(key=lambda r: (r.makespan, r.family))
    return tuple(out)
