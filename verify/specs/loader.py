"""Reading spec files: strict TOML, every formula parsed, every error located.

A spec file (``docs/library.md`` describes it in full)::

    format = "chimera-verify/spec"
    family = "chimera"
    title = "Chimera, direct concatenation"

    grid = { D = [4, 6, 8], N = ["D", "2*D"] }
    costs = "F=1,B=1"

    [claims]
    deadlock_free = true
    conflict_free = true
    makespan = "2*N + D - 2"
    peak_activations = { min = "D/2 + 1", max = "D" }

The top-level ``grid``, ``costs`` and ``claims`` form the spec's main case; more cases
go in ``[[case]]`` tables, each with its own ``grid`` and ``claims`` (and ``costs``,
default: the top-level ones, else ``F=1,B=1``). Errors are :class:`~verify.errors.ScheduleFormatError`
with ``file:line L, key.path: reason``.

>>> spec = loads_spec('''format = "chimera-verify/spec"
... family = "1f1b"
... grid = { D = [2, 4], N = ["2*D"] }
... [claims]
... makespan = "(N + D - 1)*(F + B)"
... ''', "demo.toml")
>>> spec.family, [c.label for c in spec.cases[0].claims]
('1f1b', ['makespan'])
>>> loads_spec('format = "chimera-verify/spec"\\nfamily = "1f1b"\\ngrid = {D = [2], N = [2]}\\n'
...            '[claims]\\nmakespan = "(N + D - 1)*(F + B"\\n', "bad.toml")
Traceback (most recent call last):
...
verify.errors.ScheduleFormatError: bad.toml:line 5, claims.makespan: expected ')' to close '(' ...
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verify.core.costs import CostModel
from verify.core.results import Property
from verify.errors import ParameterError, ScheduleFormatError
from verify.generators import family as lookup_family
from verify.specs.expr import ExprError, first_column, names, parse
from verify.specs.model import Case, Claim, Formula, Grid, GridValue, Mode, PropertyClaim, Spec
from verify.specs.quantities import PER_WORKER, QUANTITIES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

FORMAT = "chimera-verify/spec"
"""Value of the top-level ``format`` key of every spec file."""

VERSION = 1

MAX_BYTES = 1 << 20
"""Largest spec file read (1 MiB)."""

MAX_GRID_POINTS = 10_000
"""Most grid points one case may expand to."""

BASE_SYMBOLS = ("D", "N", "K", "F", "B", "I", "W", "FB")
"""Symbols of every formula: depth, micro-batches, K = N/D, the op durations, and FB, the
duration of an overlapped F&B unit (the cost model's ``overlap``, default F + B)."""

WORKER_SYMBOL = "w"
"""The worker index, bound in formulas of per-worker quantities."""

PROPERTY_KEYS: dict[str, Property] = {
    "complete": Property.COMPLETE,
    "placed": Property.PLACED,
    "deadlock_free": Property.DEADLOCK_FREE,
    "conflict_free": Property.CONFLICT_FREE,
}

_TOP_KEYS = {"format", "version", "family", "title", "reference", "grid", "costs", "claims", "case"}
_CASE_KEYS = {"name", "reference", "grid", "costs", "claims"}
_COST_KEYS = ("F", "B", "I", "W", "overlap", "latency", "activation")

_Path = tuple[str | int, ...]


# --------------------------------------------------------------------------- locations
_HEADER_RE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_RE = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")
_INLINE_KEY_RE = re.compile(r"""[{,]\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


def _unquote(key: str) -> str:
    key = key.strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "\"'":
        return key[1:-1]
    return key


def key_lines(text: str) -> dict[_Path, int]:
    """Best-effort map from key paths (``("case", 1, "claims", "makespan")``) to the
    1-based line that defines them, for locating errors; TOML itself keeps no lines."""
    out: dict[_Path, int] = {}
    arrays: dict[_Path, int] = {}
    current: _Path = ()
    for n, line in enumerate(text.splitlines(), start=1):
        h = _HEADER_RE.match(line)
        if h is not None and not _KEY_RE.match(line):
            parts = [_unquote(p) for p in h.group(2).split(".")]
            resolved: list[str | int] = []
            for j, part in enumerate(parts):
                resolved.append(part)
                key = tuple(resolved)
                is_last = j == len(parts) - 1
                if is_last and h.group(1) == "[[":
                    arrays[key] = arrays.get(key, -1) + 1
                    resolved.append(arrays[key])
                elif key in arrays:
                    resolved.append(arrays[key])
            current = tuple(resolved)
            out.setdefault(current, n)
            continue
        k = _KEY_RE.match(line)
        if k is None:
            continue
        path = (*current, _unquote(k.group(1)))
        out.setdefault(path, n)
        rest = line[k.end():]
        if rest.lstrip().startswith("{"):
            for ik in _INLINE_KEY_RE.finditer(rest):
                out.setdefault((*path, _unquote(ik.group(1))), n)
    return out


def _dotted(path: _Path) -> str:
    s = ""
    for p in path:
        s += f"[{p}]" if isinstance(p, int) else (f".{p}" if s else p)
    return s or "(top level)"


class _Ctx:
    """Where we are in the file: turns key paths into located errors."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = key_lines(text)

    def where(self, path: _Path) -> str:
        probe = path
        while probe:
            line = self.lines.get(probe)
            if line is not None:
                return f"line {line}, {_dotted(path)}"
            probe = probe[:-1]
        return _dotted(path)

    def error(self, path: _Path, reason: str) -> ScheduleFormatError:
        return ScheduleFormatError(self.source, self.where(path), reason)


# --------------------------------------------------------------------------- reading
def is_spec_file(path: str | Path) -> bool:
    """True for a ``.toml`` file whose top level has ``format = "chimera-verify/spec"``.

    Decided from the text before the first table header, without parsing the TOML, so a
    malformed spec is still recognised as a spec (and reported as one), while native
    TOML schedule files (``format = "chimera-verify/schedule"``) never are.
    """
    p = Path(path)
    if p.suffix.lower() != ".toml" or not p.is_file():
        return False
    try:
        with p.open("r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    for line in head.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            return False
        m = re.match(r"""^format\s*=\s*(["'])(.*?)\1\s*(#.*)?$""", stripped)
        if m is not None:
            return m.group(2) == FORMAT
    return False


def collect_specs(directory: str | Path) -> list[Path]:
    """The spec files under ``directory`` (recursively, sorted). A directory without any
    is an error: checking nothing is not a pass."""
    d = Path(directory)
    if not d.is_dir():
        raise ScheduleFormatError(str(directory), None, "not a directory")
    found = sorted(p for p in d.rglob("*.toml") if is_spec_file(p))
    if not found:
        raise ScheduleFormatError(
            str(directory), None, f'no spec files (*.toml with format = "{FORMAT}")'
        )
    return found


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at ``path``."""
    source = str(path)
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise ScheduleFormatError(source, None, f"file larger than {MAX_BYTES} bytes")
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ScheduleFormatError(source, None, "no such file") from None
    except IsADirectoryError:
        raise ScheduleFormatError(source, None, "is a directory (use collect_specs)") from None
    except OSError as e:
        raise ScheduleFormatError(source, None, f"cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScheduleFormatError(source, f"byte {e.start}", "not UTF-8 text") from None
    return loads_spec(text, source)


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def loads_spec(text: str, source: str = "<string>") -> Spec:
    """Parse and validate spec ``text`` (``source`` names it in errors)."""
    if len(text) > MAX_BYTES:
        raise ScheduleFormatError(source, None, f"spec larger than {MAX_BYTES} characters")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        m = _TOML_WHERE.search(message)
        if m is not None:
            where = f"line {m.group(1)}, column {m.group(2)}"
            raise ScheduleFormatError(source, where, f"invalid TOML: {message[: m.start()]}") from None
        raise ScheduleFormatError(source, None, f"invalid TOML: {message}") from None
    except (ValueError, RecursionError):
        raise ScheduleFormatError(
            source, None, "invalid TOML: a value is too large or nested too deeply") from None
    ctx = _Ctx(source, text)
    return _spec(doc, ctx)


# --------------------------------------------------------------------------- validation
def _spec(doc: dict[str, Any], ctx: _Ctx) -> Spec:
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise ctx.error(("format",), f'expected format = "{FORMAT}", got {fmt!r}')
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        allowed_keys = ", ".join(sorted(_TOP_KEYS))
        raise ctx.error((unknown[0],), f"unknown key {unknown[0]!r} (allowed: {allowed_keys})")
    version = doc.get("version", VERSION)
    if version != VERSION or isinstance(version, bool):
        raise ctx.error(("version",), f"unsupported version {version!r} (this reader knows {VERSION})")
    fam_name = doc.get("family")
    if not isinstance(fam_name, str):
        raise ctx.error(("family",), f"expected the name of a schedule family, got {fam_name!r}")
    try:
        fam = lookup_family(fam_name)
    except ParameterError as e:
        raise ctx.error(("family",), str(e)) from None
    title = doc.get("title", "")
    if not isinstance(title, str):
        raise ctx.error(("title",), f"expected a string, got {title!r}")
    for key in ("reference",):
        if key in doc and not isinstance(doc[key], str):
            raise ctx.error((key,), f"expected a string, got {doc[key]!r}")
    options = _option_defaults(fam.build, fam.options)

    raw_cases = doc.get("case")
    parts: list[tuple[_Path, dict[str, Any]]] = []
    if "grid" in doc or raw_cases is None:
        top: dict[str, Any] = {k: doc[k] for k in ("grid", "costs", "claims") if k in doc}
        parts.append(((), top))
    elif "claims" in doc:
        raise ctx.error(("claims",), "top-level claims need a top-level grid (or move them into a [[case]])")
    if raw_cases is not None:
        if not (isinstance(raw_cases, list) and raw_cases and all(isinstance(c, dict) for c in raw_cases)):
            raise ctx.error(("case",), "expected one or more [[case]] tables")
        parts.extend((("case", i), c) for i, c in enumerate(raw_cases))

    cases: list[Case] = []
    for path, raw in parts:
        unknown = sorted(set(raw) - _CASE_KEYS)
        if unknown:
            raise ctx.error((*path, unknown[0]),
                            f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_CASE_KEYS))})")
        name = raw.get("name", f"case {len(cases) + (0 if 'grid' in doc else 1)}" if path else "main")
        if not isinstance(name, str):
            raise ctx.error((*path, "name"), f"expected a string, got {name!r}")
        if "grid" not in raw:
            raise ctx.error((*path, "grid") if path else ("grid",),
                            "no grid: give D and N values (grid = { D = [...], N = [...] })")
        grids = _grids(raw["grid"], (*path, "grid"), fam.name, options, ctx)
        costs_path = (*path, "costs") if "costs" in raw else ("costs",)
        costs = _costs(raw.get("costs", doc.get("costs", "F=1,B=1")), costs_path, ctx)
        claims_path = (*path, "claims")
        table = _table(raw.get("claims", {}), claims_path, ctx)
        merged = {key.replace("-", "_"): ((*claims_path, key), value) for key, value in table.items()}
        in_grid = {k for g in grids for k, _ in g.axes if k not in ("D", "N")}
        known_options = in_grid | {k for k, v in options.items() if v is not None}
        props, claims = _claims(merged, known_options, ctx)
        if not props and not claims:
            raise ctx.error(claims_path, "the spec claims nothing: give at least one claim")
        cases.append(Case(name, grids, costs, props, claims, ctx.where(path if path else ("grid",))))
    defaults = tuple((k, v) for k, v in options.items() if v is not None)
    return Spec(ctx.source, fam.name, title, tuple(cases), defaults)


def _option_defaults(build: Any, options: tuple[str, ...]) -> dict[str, int | None]:
    """Family options and their default values (from the generator's signature)."""
    out: dict[str, int | None] = {}
    try:
        sig = inspect.signature(build)
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return dict.fromkeys(options)
    for name in options:
        param = sig.parameters.get(name)
        default = None if param is None else param.default
        out[name] = default if isinstance(default, int) and not isinstance(default, bool) else None
    return out


def _table(value: Any, path: _Path, ctx: _Ctx) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ctx.error(path, f"expected a table, got {type(value).__name__}")
    return value


def _formula(text: Any, path: _Path, ctx: _Ctx, allowed: set[str]) -> Formula:
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ctx.error(path, f"expected a formula (string) or a number, got {text!r}")
    src = text if isinstance(text, str) else repr(text)
    try:
        tree = parse(src)
    except ExprError as e:
        col = f" (column {e.column} of {src!r})" if e.column else f" ({src!r})"
        raise ctx.error(path, f"{e.reason}{col}") from None
    unknown = sorted(names(tree) - allowed)
    if WORKER_SYMBOL in unknown:
        wcol = first_column(tree, WORKER_SYMBOL)
        raise ctx.error(path, f"the worker index {WORKER_SYMBOL!r} (column {wcol} of {src!r}) is only "
                              "defined for per-worker quantities compared per worker")
    if unknown:
        ucol = first_column(tree, unknown[0])
        known = ", ".join(sorted(allowed))
        raise ctx.error(path, f"unknown symbol {unknown[0]!r} at column {ucol} of {src!r} "
                              f"(known here: {known})")
    return Formula(src, tree, ctx.where(path))


def _grids(raw: Any, path: _Path, family: str, options: Mapping[str, int | None],
           ctx: _Ctx) -> tuple[Grid, ...]:
    tables: list[tuple[_Path, Any]]
    if isinstance(raw, list):
        if not raw:
            raise ctx.error(path, "empty grid: give at least one table of D and N values")
        tables = [((*path, i), t) for i, t in enumerate(raw)]
    else:
        tables = [(path, raw)]
    out: list[Grid] = []
    for tpath, table in tables:
        t = _table(table, tpath, ctx)
        for key in ("D", "N"):
            if key not in t:
                raise ctx.error(tpath, f"the grid needs {key} values")
        extra = [k for k in t if k not in ("D", "N")]
        for k in extra:
            if k not in options:
                known = ", ".join(options) or "none"
                raise ctx.error((*tpath, k),
                                f"{k!r} is not an option of family {family!r} (options: {known})")
        order = ["D", "N", *extra]
        axes: list[tuple[str, tuple[GridValue, ...]]] = []
        allowed: set[str] = set()
        for key in order:
            values = t[key] if isinstance(t[key], list) else [t[key]]
            if not values:
                raise ctx.error((*tpath, key), f"empty list of {key} values: the grid would be empty")
            vals: list[GridValue] = []
            for j, v in enumerate(values):
                vpath = (*tpath, key, j) if isinstance(t[key], list) else (*tpath, key)
                if isinstance(v, int) and not isinstance(v, bool):
                    vals.append(v)
                elif isinstance(v, str):
                    vals.append(_formula(v, vpath, ctx, allowed))
                else:
                    raise ctx.error(vpath, f"expected an integer or a formula string, got {v!r}")
            axes.append((key, tuple(vals)))
            allowed = allowed | {key} | ({"K"} if key == "N" else set())
        out.append(Grid(tuple(axes), ctx.where(tpath)))
    return tuple(out)


def _costs(raw: Any, path: _Path, ctx: _Ctx) -> tuple[CostModel, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ctx.error(path, "empty list of cost models")
    out: list[CostModel] = []
    for j, item in enumerate(items):
        ipath = (*path, j) if isinstance(raw, list) else path
        try:
            if isinstance(item, str):
                model = CostModel.parse(item)
            elif isinstance(item, dict):
                bad = sorted(set(item) - set(_COST_KEYS))
                if bad:
                    raise ctx.error((*ipath, bad[0]),
                                    f"unknown cost key {bad[0]!r} (allowed: {', '.join(_COST_KEYS)})")
                for k, v in item.items():
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        raise ctx.error((*ipath, k), f"expected a number, got {v!r}")
                values = {k: float(v) for k, v in item.items()}
                model = CostModel(
                    F=values.get("F", 1.0), B=values.get("B"), I=values.get("I"), W=values.get("W"),
                    overlap=values.get("overlap"), latency=values.get("latency", 0.0),
                    activation=values.get("activation", 1.0),
                )
            else:
                raise ctx.error(ipath, f"expected a cost model like \"F=1,B=2\" or a table, got {item!r}")
        except ScheduleFormatError:
            raise
        except ValueError as e:
            raise ctx.error(ipath, str(e)) from None
        if model.per_stage or model.links:
            raise ctx.error(ipath, "per-stage costs and per-link latencies are not supported in specs")
        out.append(model)
    return tuple(out)


def _claims(
    merged: Mapping[str, tuple[_Path, Any]], options: set[str], ctx: _Ctx
) -> tuple[tuple[PropertyClaim, ...], tuple[Claim, ...]]:
    props: list[PropertyClaim] = []
    claims: list[Claim] = []
    scalar_syms = set(BASE_SYMBOLS) | options
    for key, (path, value) in merged.items():
        if key in PROPERTY_KEYS:
            if not isinstance(value, bool):
                raise ctx.error(path, f"expected true or false, got {value!r}")
            props.append(PropertyClaim(PROPERTY_KEYS[key], key, value, ctx.where(path)))
            continue
        if key not in QUANTITIES:
            known = ", ".join([*PROPERTY_KEYS, *QUANTITIES])
            raise ctx.error(path, f"unknown claim {path[-1]!r} (known: {known})")
        per_worker = key in PER_WORKER
        allowed = scalar_syms | ({WORKER_SYMBOL} if per_worker else set())
        if isinstance(value, dict):
            if not value:
                raise ctx.error(path, "empty table: give equals, min, max, at_least or at_most")
            for mkey, mval in value.items():
                try:
                    mode = Mode(mkey)
                except ValueError:
                    raise ctx.error((*path, mkey), f"unknown comparison {mkey!r} "
                                    "(known: equals, min, max, at_least, at_most)") from None
                if mode in (Mode.MIN, Mode.MAX) and not per_worker:
                    raise ctx.error((*path, mkey), f"{key} is one number, not one per worker: "
                                    "use equals, at_least or at_most")
                sub = allowed - ({WORKER_SYMBOL} if mode in (Mode.MIN, Mode.MAX) else set())
                claims.append(Claim(key, mode, _formula(mval, (*path, mkey), ctx, sub)))
        else:
            claims.append(Claim(key, Mode.EQUALS, _formula(value, path, ctx, allowed)))
    return tuple(props), tuple(claims)
