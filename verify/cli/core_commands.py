"""Commands on schedules: ``generate``, ``check`` and ``show``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import click

from verify.checks import check as run_check
from verify.cli import (
    EXIT_OK,
    EXIT_UNUSABLE,
    EXIT_VIOLATION,
    cli,
    load_with_costs,
    parse_costs_option,
    parse_key_values,
)
from verify.cli.comm_commands import comm_check_report, has_comms, parse_models
from verify.cli.report_commands import (
    check_output_options,
    emit_check_output,
    guard_outputs,
    visual_output_options,
    write_visual_outputs,
)
from verify.core.costs import CostModel
from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.errors import ChimeraVerifyError
from verify.generators import families, generate
from verify.report import render_timeline
from verify.specs import check_spec, collect_specs, is_spec_file, load_spec

FileFormat = Literal["json", "toml", "csv"]


def timing_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--timing`` and its shorthand ``--order-only`` (shared by ``check`` and ``show``)."""
    fn = click.option("--order-only", is_flag=True, help="Same as --timing order.")(fn)
    return click.option(
        "--timing", type=click.Choice(["auto", "schedule", "order"]), default="auto",
        show_default=True,
        help="schedule: also check the schedule's own start times (slot tables); order: "
             "ignore them; auto: 'schedule' for native files, 'order' for PyTorch CSV "
             "(torch writes some schedules, e.g. GPipe and DualPipeV, without idle cells, so "
             "its columns are not lock-step slots) and for programs with SEND/RECV.")(fn)


@cli.command("generate")
@click.argument("family", required=False)
@click.option("-D", "--stages", type=click.IntRange(1, 1_000_000), help="Pipeline depth D.")
@click.option("-N", "--microbatches", type=click.IntRange(1, 1_000_000), help="Micro-batches N.")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Family-specific option (repeatable).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
@click.option("--format", "fmt", type=click.Choice(["json", "toml", "csv"]),
              help="Output format (default: from the file extension, else json).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--list", "list_", is_flag=True, help="List the schedule families.")
def generate_cmd(family: str | None, stages: int | None, microbatches: int | None,
                 options: tuple[str, ...], output: str | None, fmt: str | None,
                 force: bool, list_: bool) -> int:
    """Generate the schedule of FAMILY for D stages and N micro-batches."""
    if list_:
        for fam in families():
            opts = f"  [options: {', '.join(fam.options)}]" if fam.options else ""
            click.echo(f"{fam.name:<16} {fam.summary}{opts}")
        return EXIT_OK
    if family is None or stages is None or microbatches is None:
        raise click.UsageError("generate needs FAMILY, --stages and --microbatches (or --list)")
    from verify.io import dumps_schedule, save_schedule

    schedule = generate(family, stages, microbatches, **parse_key_values(options))
    if output is None:
        click.echo(dumps_schedule(schedule, cast(FileFormat, fmt or "json")), nl=False)
    else:
        save_schedule(schedule, output, fmt=cast("FileFormat | None", fmt), overwrite=force)
        click.echo(f"wrote {output} ({schedule.name}, {schedule.num_ops} ops)", err=True)
    return EXIT_OK


@cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--costs", help="Cost model, e.g. F=1,B=2,latency=0.1 (default: the file's, else unit).")
@click.option("--memory-cap", type=click.FloatRange(0, None), help="Activation memory cap per worker.")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000),
              help="Micro-batches of a CSV schedule (default: inferred).")
@timing_options
@check_output_options
@click.option("--comms", is_flag=True,
              help="Also check communication: lower compute-only schedules to SEND/RECV, then "
                   "deadlock and FIFO matching under each --model.")
@click.option("--model", "models", multiple=True, metavar="MODEL",
              help="With --comms: rendezvous, buffered, buffered:K or batched (repeatable; "
                   "default: all).")
@click.option("--engine", type=click.Choice(["dag", "smt", "both"]), default="dag", show_default=True,
              help="dag: the linear-time verifier; smt: bounded Z3 encoding (unsat cores, "
                   "makespan bound); both: run both and fail loudly if they disagree.")
@click.option("--makespan-bound", type=click.FloatRange(0, None),
              help="With --engine smt|both: claim that an execution within this makespan exists.")
@click.option("--rlimit", type=click.IntRange(1, None),
              help="With --engine smt|both: Z3 resource budget (deterministic).")
@click.option("--core", "want_core", is_flag=True,
              help="With --engine smt|both: print the unsat cores over named constraints.")
@click.option("-v", "--verbose", is_flag=True,
              help="Show passing reports in full (default when checking at most 3 schedules).")
def check_cmd(files: tuple[str, ...], costs: str | None, memory_cap: float | None,
              microbatches: int | None, timing: str, order_only: bool, fmt: str,
              output: str | None,
              html_out: str | None, comms: bool, models: tuple[str, ...], engine: str,
              makespan_bound: float | None, rlimit: int | None, want_core: bool,
              verbose: bool) -> int:
    """Check schedule FILES (native JSON/TOML or PyTorch CSV) and spec files or
    directories of specs (each spec is instantiated over its grid and every claim is
    checked under the spec's own cost model)."""
    guard_outputs(files, output=output, html=html_out)
    items: list[tuple[Report, Schedule | None]] = []
    errors: list[tuple[str, str]] = []
    for path in files:
        try:
            p = Path(path)
            specs = collect_specs(p) if p.is_dir() else [p] if is_spec_file(p) else None
            if specs is not None:
                for spec_path in specs:
                    items.extend(check_spec(load_spec(spec_path)))
                continue
            schedule, file_costs = load_with_costs(path, microbatches)
        except ChimeraVerifyError as e:
            errors.append((path, str(e)))
            continue
        model = parse_costs_option(costs, file_costs)
        # the columns of a CSV with SEND/RECV cells are positions, not lock-step slots
        timed = uses_own_times(schedule, "order" if order_only else timing)
        if engine == "dag":
            report = run_check(schedule, costs=model, memory_cap=memory_cap, timed=timed)
        else:
            report = _smt_report(path, schedule, model, memory_cap, timed, engine, makespan_bound,
                                 rlimit, want_core)
        if comms:
            report, _ = comm_check_report(schedule, costs=model, models=parse_models(models),
                                          base=report)
        items.append((report, schedule))
    for _, message in errors:
        click.echo(f"chimera-verify: error: {message}", err=True)
    emit_check_output(fmt, items, errors, inputs=files, output=output, html_out=html_out,
                      use_schedule_times=timing != "order" and not order_only,
                      brief=len(items) > 3 and not verbose)
    if errors:
        return EXIT_UNUSABLE
    if any(r.violations for r, _ in items):
        return EXIT_VIOLATION
    return EXIT_OK if all(r.ok for r, _ in items) else EXIT_UNUSABLE


def uses_own_times(schedule: Schedule, timing: str) -> bool:
    """Whether the schedule's own start times are checked and drawn (see ``--timing``)."""
    if timing != "auto":
        return timing == "schedule"
    from_csv = (schedule.source or "").lower().endswith(".csv")
    return not from_csv and not has_comms(schedule)


def _smt_report(path: str, schedule: Schedule, costs: CostModel, memory_cap: float | None,
                timed: bool, engine: str, makespan_bound: float | None, rlimit: int | None,
                want_core: bool) -> Report:
    """The bounded SMT check (and, for ``both``, the DAG verifier beside it)."""
    from verify.smt.bounded import DEFAULT_RLIMIT, disagreements, smt_check

    res = smt_check(schedule, costs=costs, memory_cap=memory_cap, timed=timed,
                    makespan_bound=makespan_bound, rlimit=rlimit or DEFAULT_RLIMIT,
                    want_core=want_core)
    if engine == "both":
        dag = run_check(schedule, costs=costs, memory_cap=memory_cap, timed=timed)
        found = disagreements(dag, res)
        if found:
            raise ChimeraVerifyError(
                f"{path}: the DAG verifier and the SMT encoding disagree: " + "; ".join(found))
    if want_core:
        for core in res.cores:
            click.echo(f"{path}: core ({core.query}): " + "; ".join(core.names), err=True)
    return res.report


@cli.command("show")
@click.argument("file", type=click.Path())
@click.option("--costs", help="Cost model for the simulated timeline (default: the file's, else unit).")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000))
@timing_options
@visual_output_options
def show_cmd(file: str, costs: str | None, microbatches: int | None, timing: str, order_only: bool,
             svg_out: str | None, png_out: str | None, html_out: str | None,
             perfetto_out: str | None, arrows: bool, trace_paths: tuple[str, ...],
             trace_step: int | None) -> int:
    """Print FILE as a slot table: one row per worker, time to the right."""
    guard_outputs((file,), svg=svg_out, png=png_out, html=html_out, perfetto=perfetto_out)
    schedule, file_costs = load_with_costs(file, microbatches)
    model = parse_costs_option(costs, file_costs)
    own = uses_own_times(schedule, "order" if order_only else timing)
    click.echo(render_timeline(schedule, model, use_schedule_times=own))
    report = run_check(schedule, costs=model, timed=own)
    write_visual_outputs(schedule, report, model, inputs=(file,), svg_out=svg_out, png_out=png_out,
                         html_out=html_out, perfetto_out=perfetto_out,
                         use_schedule_times=own, arrows=arrows,
                         trace_paths=trace_paths, trace_step=trace_step)
    verdict = "OK" if report.ok else f"{len(report.violations)} violation(s); run 'check' for details"
    m = report.metrics
    tail = f", makespan {m.makespan:g}, bubble ratio {m.bubble_ratio:.4f}" if m else ""
    click.echo(f"{file}: {verdict}{tail}")
    return EXIT_OK if report.ok else EXIT_VIOLATION
