"""Commands on communication: ``comm check``, ``comm lower`` and ``comm timing``.

``comm check`` checks the programs of schedule files as they would run: files with
SEND/RECV cells (PyTorch ``compute_comms`` CSVs, native files with comm actions) are
checked as written; compute-only files are lowered first (``--lower``). The report lists
the model-independent violations, the deadlocks under each model, and a verdict line
saying under which models the programs are safe.
"""

from __future__ import annotations

from typing import Literal, cast

import click

from verify.checks import check as run_check
from verify.cli import EXIT_OK, EXIT_UNUSABLE, EXIT_VIOLATION, cli, load_with_costs, parse_costs_option
from verify.comm import (
    DEFAULT_MODELS,
    CommModel,
    Policy,
    add_reduce_grad,
    add_unshard_reshard,
    analyze_comms,
    lower,
    merge_report,
)
from verify.comm.analysis import CommAnalysis, has_comms
from verify.core.costs import CostModel
from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.errors import ChimeraVerifyError, ParameterError
from verify.report import render_json, render_reports

POLICIES = [p.value for p in Policy]
FileFormat = Literal["json", "toml", "csv"]


def parse_models(texts: tuple[str, ...]) -> tuple[CommModel, ...]:
    if not texts:
        return DEFAULT_MODELS
    try:
        return tuple(CommModel.parse(t) for t in texts)
    except ParameterError as e:
        raise click.BadParameter(str(e), param_hint="--model") from None


def _groups(text: str) -> Literal["shared", "per-pipeline"]:
    return "shared" if text == "shared" else "per-pipeline"


def comm_check_report(
    schedule: Schedule,
    *,
    costs: CostModel,
    models: tuple[CommModel, ...] = DEFAULT_MODELS,
    groups: Literal["shared", "per-pipeline"] = "shared",
    policy: Policy = Policy.TORCH,
    base: Report | None = None,
) -> tuple[Report, CommAnalysis]:
    """The report ``check --comms`` and ``comm check`` print: the compute verifier's
    ``base`` report (when given) with the communication property merged in. Compute-only
    schedules are lowered with ``policy`` first."""
    analysis = analyze_comms(schedule, models=models, groups=groups, costs=costs,
                             lowering=None if has_comms(schedule) else policy)
    return merge_report(analysis, base), analysis


@cli.group("comm")
def comm_group() -> None:
    """Communication: lower schedules to SEND/RECV programs, check them for deadlocks and
    FIFO mismatches under rendezvous, buffered and batched models, and time them."""


@comm_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--model", "models", multiple=True, metavar="MODEL",
              help="rendezvous, buffered, buffered:K or batched (repeatable; default: "
                   "rendezvous, buffered:1, buffered, batched).")
@click.option("--groups", type=click.Choice(["shared", "per-pipeline"]), default="shared",
              show_default=True, help="Process groups of the pipelines' messages.")
@click.option("--lower", "policy", type=click.Choice(POLICIES), default="torch", show_default=True,
              help="Lowering policy for compute-only files.")
@click.option("--costs", help="Cost model, e.g. F=1,B=2,latency=0.1 (default: the file's, else unit).")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000),
              help="Micro-batches of a CSV schedule (default: inferred).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def comm_check_cmd(files: tuple[str, ...], models: tuple[str, ...], groups: str, policy: str,
                   costs: str | None, microbatches: int | None, fmt: str) -> int:
    """Check the communication of schedule FILES under each model."""
    chosen = parse_models(models)
    items: list[tuple[Report, Schedule | None]] = []
    errors: list[str] = []
    for path in files:
        try:
            schedule, file_costs = load_with_costs(path, microbatches)
            model = parse_costs_option(costs, file_costs)
            lowered = has_comms(schedule)
            base = run_check(schedule, costs=model, timed=False)
            report, analysis = comm_check_report(
                schedule, costs=model, models=chosen, groups=_groups(groups),
                policy=Policy.parse(policy), base=base)
        except ChimeraVerifyError as e:
            errors.append(str(e))
            continue
        shown = schedule if lowered else analysis.schedule
        items.append((report, shown))
    for message in errors:
        click.echo(f"chimera-verify: error: {message}", err=True)
    if items:
        click.echo(render_json(items) if fmt == "json" else render_reports(items))
    if errors:
        return EXIT_UNUSABLE
    return EXIT_OK if all(r.ok for r, _ in items) else EXIT_VIOLATION


@comm_group.command("lower")
@click.argument("file", type=click.Path())
@click.option("--policy", type=click.Choice(POLICIES), default="torch", show_default=True)
@click.option("--fsdp", is_flag=True, help="Insert UNSHARD/RESHARD first (PyTorch's FSDP pass).")
@click.option("--reduce-grad", "reduce_grad", type=click.Choice(["none", "all", "replicated"]),
              default="none", show_default=True,
              help="Insert REDUCE_GRAD after each stage's last backward (all stages, or only "
                   "replicated ones: the cross-pipeline allreduce).")
@click.option("--costs", help="Cost model for --policy eager (default: the file's, else unit).")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE.")
@click.option("--format", "fmt", type=click.Choice(["json", "toml", "csv"]),
              help="Output format (default: from the file extension, else csv).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def comm_lower_cmd(file: str, policy: str, fsdp: bool, reduce_grad: str, costs: str | None,
                   microbatches: int | None, output: str | None, fmt: str | None,
                   force: bool) -> int:
    """Lower the compute schedule FILE to per-worker programs with SEND/RECV actions."""
    from verify.io import dumps_schedule, save_schedule

    schedule, file_costs = load_with_costs(file, microbatches)
    model = parse_costs_option(costs, file_costs)
    prepared = schedule.without_timing()
    if fsdp:
        prepared = add_unshard_reshard(prepared)
    if reduce_grad != "none":
        prepared = add_reduce_grad(prepared, stages=cast(Literal["all", "replicated"], reduce_grad))
    lowered = lower(prepared, Policy.parse(policy), costs=model)
    if output is None:
        click.echo(dumps_schedule(lowered, cast(FileFormat, fmt or "csv")), nl=False)
    else:
        save_schedule(lowered, output, fmt=cast("FileFormat | None", fmt), overwrite=force)
        n = sum(len(p) for p in lowered.programs)
        click.echo(f"wrote {output} ({n} actions, policy {policy})", err=True)
    return EXIT_OK


def _row(values: list[str], widths: list[int]) -> str:
    return "  ".join(v.rjust(w) for v, w in zip(values, widths)).rstrip()


def _num(x: float) -> str:
    return f"{x:g}"


@comm_group.command("timing")
@click.argument("file", type=click.Path())
@click.option("--model", "models", multiple=True, metavar="MODEL",
              help="Model(s) to time under (default: all four).")
@click.option("--groups", type=click.Choice(["shared", "per-pipeline"]), default="shared")
@click.option("--lower", "policy", type=click.Choice(POLICIES), default="torch", show_default=True,
              help="Lowering policy for compute-only files.")
@click.option("--costs", help="Cost model, e.g. F=1,B=2,latency=0.5 (default: the file's, else unit).")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000))
def comm_timing_cmd(file: str, models: tuple[str, ...], groups: str, policy: str,
                    costs: str | None, microbatches: int | None) -> int:
    """Makespan and per-worker time split (busy, waiting for data, waiting for a peer,
    idle after finishing) of FILE's programs under each model."""
    schedule, file_costs = load_with_costs(file, microbatches)
    model = parse_costs_option(costs, file_costs)
    _, analysis = comm_check_report(schedule, costs=model, models=parse_models(models),
                                    groups=_groups(groups), policy=Policy.parse(policy))
    status = EXIT_OK if analysis.ok else EXIT_VIOLATION
    click.echo(f"{file}: {analysis.summary()}  [costs {model.describe()}]")
    for verdict in analysis.verdicts:
        t = verdict.timing
        if t is None:
            click.echo(f"  {verdict.model.name}: {verdict.outcome}, no timing")
            continue
        click.echo(f"  {verdict.model.name}: makespan {_num(t.makespan)}, bubble ratio "
                   f"{t.bubble_ratio:.4f}")
        head = ["worker", "busy", "wait-data", "wait-peer", "idle-after"]
        rows = [[str(w), _num(b), _num(d), _num(p), _num(a)] for w, (b, d, p, a) in
                enumerate(zip(t.busy, t.wait_data, t.wait_peer, t.idle_after))]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        click.echo("    " + _row(head, widths))
        for r in rows:
            click.echo("    " + _row(r, widths))
    return status


__all__ = ["comm_check_report", "comm_group", "has_comms"]
