"""Commands on runtime traces: ``trace`` (check traces against a schedule) and ``run``
(run a schedule on real PyTorch and check the traces it writes).

SCHEDULE is a schedule file (native JSON/TOML or PyTorch CSV) or a generator with its
parameters, ``FAMILY:D=4,N=8[,KEY=VALUE...]`` (e.g. ``chimera:D=4,N=4``).
"""

from __future__ import annotations

import json
import os
import re

import click

from verify.cli import EXIT_OK, EXIT_VIOLATION, cli, load_with_costs, parse_key_values
from verify.core.schedule import Schedule
from verify.errors import ParameterError

_GENERATOR = re.compile(r"^(?P<family>[a-z0-9][a-z0-9_\-]*):(?P<params>.+)$")


def resolve_schedule(spec: str, microbatches: int | None = None) -> Schedule:
    """The schedule named by ``spec``: an existing file, else ``FAMILY:D=..,N=..``."""
    if os.path.exists(spec):
        return load_with_costs(spec, microbatches)[0]
    m = _GENERATOR.match(spec)
    if m is None:
        return load_with_costs(spec, microbatches)[0]  # reports "file not found"
    from verify.generators import generate

    params = parse_key_values([p for p in m.group("params").split(",") if p])
    D, N = params.pop("D", None), params.pop("N", None)
    if not isinstance(D, int) or not isinstance(N, int):
        raise ParameterError(f"{spec}: a generator needs integer D and N, e.g. chimera:D=4,N=4")
    return generate(m.group("family"), D, N, **params)


@cli.command("trace")
@click.argument("schedule")
@click.argument("traces", nargs=-1, required=True, type=click.Path())
@click.option("--trace-format", type=click.Choice(["kineto", "csv", "jsonl"]),
              help="Format of the trace files (default: recognised from their content).")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000),
              help="Micro-batches of a CSV schedule (default: inferred).")
@click.option("--tolerance", type=click.FloatRange(0, None), default=0.0, show_default=True,
              help="Clock skew allowed between workers, in the trace's time unit.")
@click.option("--limit", type=click.IntRange(1, None), default=20, show_default=True,
              help="Violations of one kind listed per step.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def trace_cmd(schedule: str, traces: tuple[str, ...], trace_format: str | None,
              microbatches: int | None, tolerance: float, limit: int, fmt: str) -> int:
    """Check runtime TRACES (one profiler trace per rank, or event logs) against SCHEDULE.

    Exit 0 when every step conforms, 1 on any non-conformance, 2 when a file cannot be
    read or nothing in the traces matches the schedule.
    """
    from verify.traces import check_trace, read_trace, render_trace_report

    sched = resolve_schedule(schedule, microbatches)
    events = read_trace(list(traces), fmt=trace_format)
    report = check_trace(sched, events, tolerance=tolerance, limit=limit)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(render_trace_report(report))
    return EXIT_OK if report.ok else EXIT_VIOLATION


@cli.command("run")
@click.argument("schedule")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for the traces (rank<R>.json), logs and progress files.")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000))
@click.option("--steps", type=click.IntRange(1, 100), default=2, show_default=True,
              help="Profiled training steps (after one warm-up step).")
@click.option("--timeout", type=click.FloatRange(0.1, None), default=120.0, show_default=True,
              help="Seconds the run may take once every rank has started.")
@click.option("--start-timeout", type=click.FloatRange(1, None), default=240.0, show_default=True,
              help="Seconds for importing torch and the rendezvous.")
@click.option("--inject-stall", metavar="RANK:ACTION", hidden=True,
              help="Testing aid: RANK stops before ACTION (exercises the watchdog).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def run_cmd(schedule: str, out_dir: str, microbatches: int | None, steps: int, timeout: float,
            start_timeout: float, inject_stall: str | None, fmt: str) -> int:
    """Verify SCHEDULE, run it on torch.distributed.pipelining (CPU, gloo, one process per
    worker on 127.0.0.1) with the profiler on, and check the traces it writes.

    Needs torch==2.13.0. A schedule that fails verification is refused before anything
    is launched; a run over its timeout is stopped with where each rank was blocked.
    Exit 0 when the run completed and its traces conform, 1 otherwise, 2 on bad input.
    """
    from verify.runtime import run_schedule
    from verify.traces import check_trace, read_trace, render_trace_report

    sched = resolve_schedule(schedule, microbatches)
    stall: tuple[int, str] | None = None
    if inject_stall is not None:
        rank, sep, action = inject_stall.partition(":")
        if not sep or not rank.isdigit() or not action:
            raise click.BadParameter("expected RANK:ACTION, e.g. 1:1F2", param_hint="--inject-stall")
        stall = (int(rank), action)
    result = run_schedule(sched, out_dir, steps=steps, timeout=timeout, start_timeout=start_timeout,
                          stall=stall)
    trace_report = None
    if result.ok:
        trace_report = check_trace(sched, read_trace(list(result.traces)))
    if fmt == "json":
        click.echo(json.dumps({"run": result.to_dict(),
                               "trace": trace_report.to_dict() if trace_report else None}, indent=2))
    else:
        if result.verification is not None:
            from verify.report import render_reports

            click.echo(render_reports([(result.verification, sched)]))
        click.echo(f"run: {result.status}: {result.message}")
        for note in result.notes:
            click.echo(f"note: {note}")
        if trace_report is not None:
            click.echo(render_trace_report(trace_report))
    if not result.ok:
        return EXIT_VIOLATION
    return EXIT_OK if trace_report is not None and trace_report.ok else EXIT_VIOLATION



