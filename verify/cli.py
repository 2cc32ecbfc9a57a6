"""The command line: ``chimera-verify generate | check | show``.

The CLI only parses arguments, calls the library and renders its results; the exit
code is 0 when every property holds, 1 when a violation was found, 2 when the input
could not be checked (unreadable file, bad parameters), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

import click

from verify.checks import check as run_check
from verify.core.costs import CostModel
from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.errors import ChimeraVerifyError
from verify.generators import families, generate
from verify.report import render_json, render_reports, render_timeline

EXIT_OK, EXIT_VIOLATION, EXIT_UNUSABLE = 0, 1, 2


def _costs(text: str | None, fallback: CostModel | None = None) -> CostModel:
    if text is None:
        return fallback if fallback is not None else CostModel()
    try:
        return CostModel.parse(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--costs") from None


def _load(path: str, microbatches: int | None) -> tuple[Schedule, CostModel | None]:
    from verify.io import load_schedule, read_costs

    schedule = load_schedule(path, microbatches=microbatches)
    return schedule, read_costs(path)


def _parse_options(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--option")
        try:
            out[key] = int(val)
        except ValueError:
            try:
                out[key] = float(val)
            except ValueError:
                out[key] = val
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chimera-verify")
def cli() -> None:
    """Verify pipeline-parallel training schedules: completeness, placement,
    deadlock-freedom, conflict-freedom, memory, and their makespan and bubbles."""


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

    schedule = generate(family, stages, microbatches, **_parse_options(options))
    if output is None:
        click.echo(dumps_schedule(schedule, fmt or "json"), nl=False)
    else:
        save_schedule(schedule, output, fmt=fmt, overwrite=force)
        click.echo(f"wrote {output} ({schedule.name}, {schedule.num_ops} ops)", err=True)
    return EXIT_OK


@cli.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--costs", help="Cost model, e.g. F=1,B=2,latency=0.1 (default: the file's, else unit).")
@click.option("--memory-cap", type=click.FloatRange(0, None), help="Activation memory cap per worker.")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000),
              help="Micro-batches of a CSV schedule (default: inferred).")
@click.option("--order-only", is_flag=True, help="Ignore the schedule's start times.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def check_cmd(files: tuple[str, ...], costs: str | None, memory_cap: float | None,
              microbatches: int | None, order_only: bool, fmt: str) -> int:
    """Check schedule FILES (native JSON/TOML or PyTorch CSV)."""
    items: list[tuple[Report, Schedule | None]] = []
    errors: list[str] = []
    for path in files:
        try:
            schedule, file_costs = _load(path, microbatches)
        except ChimeraVerifyError as e:
            errors.append(str(e))
            continue
        model = _costs(costs, file_costs)
        report = run_check(schedule, costs=model, memory_cap=memory_cap, timed=not order_only)
        items.append((report, schedule))
    for e in errors:
        click.echo(f"chimera-verify: error: {e}", err=True)
    if items:
        click.echo(render_json(items) if fmt == "json" else render_reports(items))
    if errors:
        return EXIT_UNUSABLE
    return EXIT_OK if all(r.ok for r, _ in items) else EXIT_VIOLATION


@cli.command("show")
@click.argument("file", type=click.Path())
@click.option("--costs", help="Cost model for the simulated timeline (default: the file's, else unit).")
@click.option("--microbatches", type=click.IntRange(1, 1_000_000))
@click.option("--order-only", is_flag=True,
              help="Simulate the programs instead of drawing the schedule's own slots.")
def show_cmd(file: str, costs: str | None, microbatches: int | None, order_only: bool) -> int:
    """Print FILE as a slot table: one row per worker, time to the right."""
    schedule, file_costs = _load(file, microbatches)
    model = _costs(costs, file_costs)
    click.echo(render_timeline(schedule, model, use_schedule_times=not order_only))
    report = run_check(schedule, costs=model, timed=not order_only)
    verdict = "OK" if report.ok else f"{len(report.violations)} violation(s); run 'check' for details"
    m = report.metrics
    tail = f", makespan {m.makespan:g}, bubble ratio {m.bubble_ratio:.4f}" if m else ""
    click.echo(f"{file}: {verdict}{tail}")
    return EXIT_OK if report.ok else EXIT_VIOLATION


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None,
         stderr: IO[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (never raises)."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rv = cli.main(args=args, prog_name="chimera-verify", standalone_mode=False)
        except click.exceptions.Exit as e:
            return int(e.exit_code)
        except click.ClickException as e:
            e.show(file=err)
            return EXIT_UNUSABLE
        except click.exceptions.Abort:
            click.echo("chimera-verify: aborted", err=True)
            return EXIT_UNUSABLE
        except ChimeraVerifyError as e:
            click.echo(f"chimera-verify: error: {e}", err=True)
            return EXIT_UNUSABLE
        except Exception as e:  # an internal error still ends in one line and exit 2
            if os.environ.get("CHIMERA_VERIFY_DEBUG"):
                raise
            click.echo(f"chimera-verify: internal error: {type(e).__name__}: {e} "
                       "(set CHIMERA_VERIFY_DEBUG=1 for a traceback)", err=True)
            return EXIT_UNUSABLE
    return int(rv) if isinstance(rv, int) else EXIT_OK


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
