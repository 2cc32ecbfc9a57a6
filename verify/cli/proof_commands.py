"""``chimera-verify prove``: the parametric theorems and their SMT-LIB certificates."""

from __future__ import annotations

import json

import click

from verify.cli import EXIT_OK, EXIT_UNUSABLE, EXIT_VIOLATION, cli


@cli.command("prove")
@click.argument("names", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--export", "export_dir", type=click.Path(file_okay=False),
              help="Also write each SMT theorem's query as SMT-LIB 2 into DIR.")
@click.option("--overwrite", is_flag=True, help="With --export: replace differing files.")
@click.option("--rlimit", type=click.IntRange(1, None), help="Z3 resource budget per theorem.")
@click.option("--list", "list_", is_flag=True, help="List the theorems and their claims.")
def prove_cmd(names: tuple[str, ...], fmt: str, export_dir: str | None, overwrite: bool,
              rlimit: int | None, list_: bool) -> int:
    """Decide the theorems NAMES (all by default): PROVED, REFUTED or UNKNOWN.

    Exit 0 when every theorem gets its expected verdict (the broken controls and the
    odd-D merge must be REFUTED), 1 otherwise. UNKNOWN never passes.
    """
    from verify.smt import DEFAULT_RLIMIT, export_smt2, prove, render_text, theorems

    if list_:
        for t in theorems():
            click.echo(f"{t.name:<40} [{t.expected.value}] {t.claim}")
        return EXIT_OK
    results = prove(names or None, rlimit=rlimit or DEFAULT_RLIMIT)
    if export_dir is not None:
        try:
            written = export_smt2(export_dir, overwrite=overwrite, names=names or None)
        except FileExistsError as e:
            click.echo(f"chimera-verify: error: {e}", err=True)
            return EXIT_UNUSABLE
        click.echo(f"wrote {len(written)} SMT-LIB files to {export_dir}", err=True)
    if fmt == "json":
        doc = {
            "format": "chimera-verify/proofs",
            "version": 1,
            "ok": all(r.passed for r in results),
            "theorems": [r.to_dict() for r in results],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(render_text(results))
    return EXIT_OK if all(r.passed for r in results) else EXIT_VIOLATION
