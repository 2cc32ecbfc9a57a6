"""The ``search`` command: the best order for D, N, placement, costs and memory cap.

Exit codes: 0 when a schedule was found (OPTIMAL, or FEASIBLE unless
``--require-optimal``), 1 when no schedule exists (INFEASIBLE) or a required proof of
optimality is missing, 2 when the search could not decide (UNKNOWN) or could not run.
The progress display (incumbent, bound, gap) appears only when stderr is a terminal.
"""

from __future__ import annotations

import io
import json
import os

import click

from verify.cli import EXIT_OK, EXIT_UNUSABLE, EXIT_VIOLATION, cli, load_with_costs, parse_costs_option
from verify.core.schedule import Schedule
from verify.search import (
    PLACEMENTS,
    Limits,
    Objective,
    Progress,
    SearchOutcome,
    SearchProblem,
    SearchStatus,
    backend_names,
    search,
)


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}g}" if abs(x - round(x)) > 1e-9 else str(round(x))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}%"


def render_outcome(outcome: SearchOutcome, *, width: int = 100) -> str:
    """The outcome as text: verdict, value, bound and gap, statistics, explanation, and
    the comparison with the library families as a table."""
    from rich.console import Console
    from rich.table import Table

    p = outcome.problem
    st = outcome.stats
    lines = [f"search {p.describe()}: {outcome.status.value}"]
    if outcome.status.found:
        lines.append(f"  {p.objective.value:<17} {_fmt(outcome.value)}")
        lines.append(f"  lower bound       {_fmt(outcome.bound)}"
                     + (f" (gap {100 * (outcome.gap or 0):.2f}%)" if outcome.gap else ""))
        m = outcome.metrics
        if m is not None and p.objective is not Objective.MAKESPAN:
            lines.append(f"  makespan          {_fmt(m.makespan)}")
            lines.append(f"  peak activations  {' '.join(_fmt(x) for x in m.peak_activations)}")
            lines.append(f"  bubble ratio      {m.bubble_ratio:.4f}")
        lines.append(f"  re-check          {'OK' if outcome.report and outcome.report.ok else 'FAILED'}"
                     " (verify.check: complete, placed, deadlock-free, timing, memory)")
    elif outcome.bound is not None:
        lines.append(f"  lower bound       {_fmt(outcome.bound)}")
    for line in outcome.explanation:
        lines.append(f"  why: {line}")
    counters = ", ".join(f"{k} {v}" for k, v in st.counters)
    lines.append(f"  solver            {st.backend} ({st.version}), {st.wall_time:.2f}s, "
                 f"stopped by {st.stopped_by}; {st.limit}")
    if st.warm_start:
        lines.append(f"  warm start        {st.warm_start}")
    if st.incumbent_source and st.incumbent_source != "solver":
        lines.append(f"  schedule from     {st.incumbent_source}")
    if counters:
        lines.append(f"  counters          {counters}")
    text = "\n".join(lines) + "\n"
    if not outcome.comparison:
        return text
    table = Table(title="comparison on the same instance (earliest-start simulation)")
    for col in ("schedule", "placement", "makespan", "vs best", "peak", "bubble", "cap"):
        table.add_column(col, justify="left" if col in ("schedule", "placement") else "right")
    if outcome.status.found and outcome.metrics is not None:
        m = outcome.metrics
        table.add_row(f"search ({outcome.status.value.lower()})", p.placement, _fmt(m.makespan), "",
                      _fmt(max(m.peak_activations, default=0.0)), f"{m.bubble_ratio:.3f}",
                      "ok" if p.memory_cap is not None else "")
    for f in outcome.comparison:
        name = f.family + ("*" if f.variant else "")
        cap = "" if f.meets_cap is None else ("ok" if f.meets_cap else "over")
        placement = f.placement if f.comparable else f"({f.placement})"
        table.add_row(name, placement, _fmt(f.makespan), _pct(f.excess), _fmt(f.peak),
                      f"{f.bubble_ratio:.3f}", cap)
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=False, color_system=None).print(table)
    notes = [f.variant for f in outcome.comparison if f.variant]
    tail = "(placement): not comparable (another placement or other ops)\n"
    if notes:
        tail += f"* {notes[0]}\n"
    return text + buf.getvalue() + tail


def _problem_from_options(
    placement: str, stages: int | None, microbatches: int | None, chunks: int | None,
    costs: str | None, memory_cap: float | None, objective: str, makespan_bound: float | None,
) -> tuple[SearchProblem, Schedule | None]:
    if placement in PLACEMENTS:
        if stages is None or microbatches is None:
            raise click.UsageError(f"--placement {placement} needs --stages and --microbatches")
        model = parse_costs_option(costs)
        return SearchProblem.build(stages, microbatches, placement=placement, chunks=chunks,
                                   costs=model, memory_cap=memory_cap, objective=objective,
                                   makespan_bound=makespan_bound), None
    if not os.path.exists(placement):
        raise click.BadParameter(
            f"{placement!r} is neither a placement ({', '.join(PLACEMENTS)}) nor a schedule file",
            param_hint="--placement")
    schedule, file_costs = load_with_costs(placement, microbatches)
    if stages is not None and stages != schedule.num_workers:
        raise click.BadParameter(f"the schedule file has {schedule.num_workers} workers, not {stages}",
                                 param_hint="--stages")
    model = parse_costs_option(costs, file_costs)
    problem = SearchProblem.from_schedule(schedule, costs=model, memory_cap=memory_cap,
                                          objective=objective, makespan_bound=makespan_bound)
    return problem, schedule


@cli.command("search")
@click.option("-D", "--stages", type=click.IntRange(1, 100_000), help="Workers D (pipeline depth).")
@click.option("-N", "--microbatches", type=click.IntRange(1, 1_000_000), help="Micro-batches N.")
@click.option("--placement", default="bidirectional", show_default=True, metavar="NAME|FILE",
              help=f"One of {', '.join(PLACEMENTS)}, or a schedule file whose placement to use.")
@click.option("--chunks", type=click.IntRange(1, 1000), help="Chunks v per worker (interleaved, v-shape).")
@click.option("--costs", help="Cost model, e.g. F=1,B=2 or F=1,I=1,W=1,latency=0.1 (default: unit).")
@click.option("--memory-cap", type=click.FloatRange(0, None, min_open=True),
              help="Activation memory cap per worker.")
@click.option("--objective", type=click.Choice([o.value for o in Objective]), default="makespan",
              show_default=True)
@click.option("--makespan-bound", type=click.FloatRange(0, None, min_open=True),
              help="Hard bound on the makespan (for --objective peak-memory).")
@click.option("--solver", type=click.Choice(backend_names()), default="cpsat", show_default=True)
@click.option("--time-limit", type=click.FloatRange(0, None, min_open=True), default=60.0,
              show_default=True, help="Budget in seconds (deterministic unless --wall-clock).")
@click.option("--wall-clock", is_flag=True,
              help="Wall-clock limit and parallel workers instead of a deterministic budget.")
@click.option("--workers", type=click.IntRange(1, 256), help="Parallel solver workers (--wall-clock).")
@click.option("--seed", type=click.IntRange(0, None), default=0, show_default=True)
@click.option("--no-warm-start", is_flag=True, help="Do not seed the solver with the best family.")
@click.option("--require-optimal", is_flag=True, help="Exit 1 unless optimality was proved.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the schedule to FILE.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def search_cmd(stages: int | None, microbatches: int | None, placement: str, chunks: int | None,
               costs: str | None, memory_cap: float | None, objective: str,
               makespan_bound: float | None, solver: str, time_limit: float, wall_clock: bool,
               workers: int | None, seed: int, no_warm_start: bool, require_optimal: bool,
               output: str | None, force: bool, fmt: str) -> int:
    """Find the best per-worker order for D workers and N micro-batches, proved optimal
    or with a proven gap, re-checked by the verifier, and compared with the families."""
    problem, given = _problem_from_options(placement, stages, microbatches, chunks, costs,
                                           memory_cap, objective, makespan_bound)
    if wall_clock:
        limits = Limits(time_limit=time_limit, deterministic=False, workers=workers or 2, seed=seed)
    else:
        if workers not in (None, 1):
            raise click.BadParameter("parallel workers need --wall-clock", param_hint="--workers")
        limits = Limits(time_limit=time_limit, seed=seed)
    warm: bool | Schedule = not no_warm_start
    if given is not None and warm:
        warm = given
    outcome = _run_with_progress(problem, solver, limits, warm)
    if output is not None and outcome.schedule is not None:
        from verify.io import format_of, save_schedule

        keep_costs = format_of(output) != "csv"
        save_schedule(outcome.schedule, output, overwrite=force,
                      costs=problem.costs if keep_costs else None)
        click.echo(f"wrote {output} ({outcome.schedule.num_ops} ops, {outcome.status.value})", err=True)
    elif output is not None:
        click.echo(f"no schedule to write ({outcome.status.value})", err=True)
    if fmt == "json":
        click.echo(json.dumps(outcome.to_dict(), indent=2))
    else:
        click.echo(render_outcome(outcome), nl=False)
    if outcome.status is SearchStatus.OPTIMAL:
        return EXIT_OK
    if outcome.status is SearchStatus.FEASIBLE:
        return EXIT_VIOLATION if require_optimal else EXIT_OK
    if outcome.status is SearchStatus.INFEASIBLE:
        return EXIT_VIOLATION
    return EXIT_UNUSABLE


def _run_with_progress(problem: SearchProblem, solver: str, limits: Limits,
                       warm: bool | Schedule) -> SearchOutcome:
    """Run the search, with a live status line on a terminal (silent otherwise)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return search(problem, solver=solver, limits=limits, warm_start=warm)
    label = f"searching {problem.describe()} with {solver}"
    with console.status(label) as status:
        def show(p: Progress) -> None:
            gap = "" if p.gap is None else f", gap {100 * p.gap:.2f}%"
            status.update(f"{label}: {p.elapsed:.1f}s, incumbent {_fmt(p.incumbent)}, "
                          f"bound {_fmt(p.bound)}{gap}")

        return search(problem, solver=solver, limits=limits, warm_start=warm, progress=show)
