"""``chimera-verify compare``: every schedule family side by side at one (D, N).

The command parses its options, calls :func:`verify.specs.compare.compare` and prints
:func:`verify.specs.compare.render`; exit 0 when every generated schedule verifies, 1
when one of them has violations, 2 for unusable input.
"""

from __future__ import annotations

from typing import Any

import click

from verify.cli import EXIT_OK, EXIT_VIOLATION, cli, parse_costs_option, parse_key_values


def _options(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``-O v=4`` (every family with option v) or ``-O chimera-2f.f=2`` (one family)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        fam, dot, opt = key.rpartition(".")
        if not sep or not opt:
            raise click.BadParameter(f"expected KEY=VALUE or FAMILY.KEY=VALUE, got {item!r}",
                                     param_hint="--option")
        out.setdefault(fam if dot else "*", {}).update(parse_key_values([f"{opt}={value}"]))
    return out


@cli.command("compare")
@click.option("-D", "--stages", type=click.IntRange(1, 4096), required=True, help="Pipeline depth D.")
@click.option("-N", "--microbatches", type=click.IntRange(1, 100_000), required=True,
              help="Micro-batches N per iteration.")
@click.option("--costs", help="Costs per 1/D of the model and per micro-batch, e.g. "
                              "F=1,B=2,W=1,overlap=2.5 (default: unit).")
@click.option("-f", "--family", "family_names", multiple=True,
              help="Only this family (repeatable; default: every family).")
@click.option("-O", "--option", "options", multiple=True, metavar="[FAMILY.]KEY=VALUE",
              help="Generator option for every family that has it, or for one (repeatable).")
@click.option("--raw-costs", is_flag=True,
              help="Use the costs as given for every op (no rescaling to chunks or half micro-batches).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "csv", "json"]), default="text")
def compare_cmd(stages: int, microbatches: int, costs: str | None, family_names: tuple[str, ...],
                options: tuple[str, ...], raw_costs: bool, fmt: str) -> int:
    """Compare all schedule families at D stages and N micro-batches: makespan, bubble
    ratio, peak and total activation memory, weights per worker, p2p messages."""
    from verify.specs.compare import compare, render

    model = parse_costs_option(costs)
    rows = compare(stages, microbatches, model, families=family_names or None,
                   options=_options(options), normalize=not raw_costs)
    click.echo(render(rows, stages, microbatches, model, fmt, normalize=not raw_costs))
    return EXIT_VIOLATION if any(r.verdict == "violations" for r in rows) else EXIT_OK
