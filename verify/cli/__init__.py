"""The command line: ``chimera-verify generate | check | show | ...``.

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

from verify.core.costs import CostModel
from verify.core.schedule import Schedule
from verify.errors import ChimeraVerifyError

EXIT_OK, EXIT_VIOLATION, EXIT_UNUSABLE = 0, 1, 2


def parse_costs_option(text: str | None, fallback: CostModel | None = None) -> CostModel:
    if text is None:
        return fallback if fallback is not None else CostModel()
    try:
        return CostModel.parse(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--costs") from None


def load_with_costs(path: str, microbatches: int | None) -> tuple[Schedule, CostModel | None]:
    from verify.io import load_schedule_with_costs

    return load_schedule_with_costs(path, microbatches=microbatches)


def parse_key_values(items: Sequence[str]) -> dict[str, Any]:
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


# Each command module registers itself on ``cli``; keep these imports last.
from verify.cli import (  # noqa: E402, F401
    comm_commands,
    core_commands,
    library_commands,
    proof_commands,
    search_commands,
    trace_commands,
)
