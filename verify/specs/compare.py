"""Every family side by side at one (D, N) and one cost model: the comparison table.

Costs are given per ``1/D`` of the model and per micro-batch (a worker's share under
1F1B); each family's ops get them rescaled by :func:`~verify.specs.quantities.
normalized_costs` (chunks of interleaved and V placements, half micro-batches of
``chimera-bh``), so every row does the same total work and activation memory is in the
same unit ``M_a``. Weights are in ``M_theta`` (model size / D). Every schedule is also
run through the verifier; a row says whether it passed.

>>> rows = compare(4, 8, families=("1f1b", "chimera", "dualpipe"))
>>> [(r.family, r.makespan, r.peak_activations, r.weights) for r in rows]
[('1f1b', 22.0, 4.0, (1.0, 1.0)), ('chimera', 18.0, 4.0, (2.0, 2.0)), ('dualpipe', 18.0, 5.0, (2.0, 2.0))]
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verify.checks import check
from verify.core.costs import UNIT_COSTS, CostModel, normalized_costs
from verify.errors import ParameterError
from verify.generators import families as all_families
from verify.generators import generate
from verify.specs.quantities import p2p_messages

ORDER = (
    "gpipe", "1f1b", "interleaved-1f1b", "looped-bfs", "zb-h1", "zb-h2", "zb-v",
    "chimera", "chimera-fd", "chimera-bh", "chimera-2f", "dualpipe", "dualpipev", "hanayo",
)
"""Row order of the table; other registered families follow alphabetically."""

EXCLUDED = ("chimera-naive",)
"""Families left out unless asked for by name (negative examples)."""


@dataclass(frozen=True, slots=True)
class Row:
    """One family's line of the table (``verdict`` is ``ok``, ``violations`` or
    ``n/a`` when the parameters do not fit the family; ``note`` says why)."""

    family: str
    options: tuple[tuple[str, int | float | str], ...]
    verdict: str
    note: str
    makespan: float | None = None
    bubble_ratio: float | None = None
    peak_activations: float | None = None
    total_activations: float | None = None
    weights: tuple[float, float] | None = None
    p2p_messages: int | None = None
    costs: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "options": dict(self.options),
            "verdict": self.verdict,
            "note": self.note,
            "makespan": self.makespan,
            "bubble_ratio": self.bubble_ratio,
            "peak_activations": self.peak_activations,
            "total_activations": self.total_activations,
            "weights": list(self.weights) if self.weights else None,
            "p2p_messages": self.p2p_messages,
            "costs": self.costs,
        }


def _ordered(names: Iterable[str]) -> list[str]:
    rank = {n: i for i, n in enumerate(ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(ORDER)), n))


def compare(
    D: int,
    N: int,
    costs: CostModel = UNIT_COSTS,
    *,
    families: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    normalize: bool = True,
) -> list[Row]:
    """One :class:`Row` per family (all registered but :data:`EXCLUDED` by default).

    ``options`` maps a family name (or ``"*"`` for every family that has the option) to
    generator options, e.g. ``{"*": {"v": 4}, "chimera-2f": {"f": 2}}``.
    ``normalize=False`` uses ``costs`` as the cost of every op, unscaled.
    """
    registry = {f.name: f for f in all_families()}
    names = _ordered(families) if families is not None else _ordered(
        n for n in registry if n not in EXCLUDED)
    given = options or {}
    rows: list[Row] = []
    for name in names:
        if name not in registry:
            known = ", ".join(_ordered(registry))
            raise ParameterError(f"compare: unknown schedule family {name!r}; known: {known}")
        fam = registry[name]
        opts: dict[str, Any] = {k: v for k, v in given.get("*", {}).items() if k in fam.options}
        opts.update(given.get(name, {}))
        try:
            schedule = generate(name, D, N, **opts)
        except ParameterError as e:
            rows.append(Row(name, tuple(sorted(opts.items())), "n/a", str(e)))
            continue
        model = normalized_costs(schedule, costs) if normalize else costs
        report = check(schedule, costs=model)
        m = report.metrics
        verdict = "ok" if report.ok else "violations"
        note = "" if report.ok else f"{len(report.violations)} violation(s): {report.violations[0].message}"
        if m is None:
            rows.append(Row(name, tuple(sorted(opts.items())), verdict, note, costs=model.describe()))
            continue
        rows.append(Row(
            name, tuple(sorted(opts.items())), verdict, note,
            makespan=m.makespan,
            bubble_ratio=m.bubble_ratio,
            peak_activations=max(m.peak_activations),
            total_activations=float(sum(m.peak_activations)),
            weights=(min(m.weights), max(m.weights)),
            p2p_messages=p2p_messages(schedule),
            costs=model.describe(),
        ))
    return rows


HEADERS = ("family", "makespan", "bubble", "peak act.", "total act.", "weights",
           "p2p msgs", "check")


def _num(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "-"
    if abs(x - round(x)) < 1e-9:
        return str(round(x))
    return f"{x:.{digits}g}"


def _cells(row: Row) -> list[str]:
    name = row.family + "".join(f" {k}={v}" for k, v in row.options)
    if row.verdict == "n/a":
        return [name, "-", "-", "-", "-", "-", "-", "n/a"]
    w = row.weights
    weights = "-" if w is None else _num(w[0]) if w[0] == w[1] else f"{_num(w[0])}-{_num(w[1])}"
    return [
        name, _num(row.makespan), "-" if row.bubble_ratio is None else f"{row.bubble_ratio:.4f}",
        _num(row.peak_activations), _num(row.total_activations), weights,
        "-" if row.p2p_messages is None else str(row.p2p_messages),
        "ok" if row.verdict == "ok" else "FAIL",
    ]


def render(rows: list[Row], D: int, N: int, costs: CostModel, fmt: str = "text",
           normalize: bool = True) -> str:
    """The table as ``text`` (aligned columns and notes), ``markdown``, ``csv`` or ``json``."""
    if fmt == "json":
        return json.dumps({"D": D, "N": N, "costs": costs.describe(), "normalized": normalize,
                           "rows": [r.to_dict() for r in rows]}, indent=2)
    table = [list(HEADERS)] + [_cells(r) for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(table)
        return buf.getvalue().rstrip("\n")
    unit = ("costs per 1/D of the model and per micro-batch, rescaled per family; "
            "activations in M_a, weights in M_theta") if normalize else "costs used as given for every op"
    title = f"D={D}, N={N}, {costs.describe()} ({unit})"
    notes = [f"{r.family}: {r.note}" for r in rows if r.note]
    if fmt == "markdown":
        lines = [f"**{title}**", "", "| " + " | ".join(HEADERS) + " |",
                 "|" + "|".join("---" for _ in HEADERS) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in table[1:]]
        if notes:
            lines += [""] + [f"- {n}" for n in notes]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADERS))]
    lines = [title]
    for j, r in enumerate(table):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    if notes:
        lines.append("")
        lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)
