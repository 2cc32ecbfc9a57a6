"""The native schedule format (JSON and TOML), the file API of ``verify.io`` and
``location_of``.

Expected values come from the Chimera slot table of the reference facts, from documents
written by hand in the tests, or from reading the written text independently (``json``,
``tomllib``, ``jsonschema``), never from the writer's own output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.core.actions import (
    Action,
    Comm,
    CommKind,
    Op,
    OpKind,
    Overlap,
    StageAction,
    StageActionKind,
    format_action,
)
from verify.core.costs import CostModel
from verify.core.schedule import Pipeline, Schedule, Timing, TimingUnit
from verify.errors import ScheduleFormatError
from verify.generators import generate
from verify.io import (
    dumps_native,
    dumps_schedule,
    load_schedule,
    loads_native,
    loads_schedule,
    location_of,
    locator,
    read_costs,
    save_schedule,
    schedule_schema,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The D = 4, N = 4 slot table of chimera.md, copied cell by cell (Fd0 = forward of the
# down pipeline's micro-batch 0; "." = idle).
CHIMERA_TABLE = """
P0 | Fd0 | . | Fd1 | Fu0 | Bu0 | Fu1 | Bu1 | Bd0 | . | Bd1
P1 | . | Fd0 | Fu0 | Fd1 | Fu1 | Bu0 | Bd0 | Bu1 | Bd1 | .
P2 | . | Fu0 | Fd0 | Fu1 | Fd1 | Bd0 | Bu0 | Bd1 | Bu1 | .
P3 | Fu0 | . | Fu1 | Fd0 | Bd0 | Fd1 | Bd1 | Bu0 | . | Bu1
"""


def chimera_table_cells(D: int = 4) -> list[list[str | None]]:
    """The reference table as action strings: on worker w the down stage is w and the up
    stage D-1-w (chimera.md's placement)."""
    rows: list[list[str | None]] = []
    for w, line in enumerate(CHIMERA_TABLE.strip().splitlines()):
        cells: list[str | None] = []
        for tok in [t.strip() for t in line.split("|")][1:]:
            if tok == ".":
                cells.append(None)
                continue
            kind, direction, mb = tok[0], tok[1], tok[2:]
            pipe, stage = ("down", w) if direction == "d" else ("up", D - 1 - w)
            cells.append(f"{pipe}:{stage}{kind}{mb}")
        rows.append(cells)
    return rows


def base_doc() -> dict[str, Any]:
    return {
        "format": "chimera-verify/schedule",
        "version": 1,
        "workers": 2,
        "pipelines": [
            {"name": "down", "placement": [0, 1], "microbatches": 1},
            {"name": "up", "placement": [1, 0], "microbatches": 1},
        ],
        "programs": [["down:0F0", "up:1F0"], ["down:1F0", "up:0F0"]],
    }


def load_error(text: str, fmt: str = "json", source: str = "sched.json") -> str:
    with pytest.raises(ScheduleFormatError) as info:
        loads_schedule(text, fmt=fmt, source=source)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- reading
def test_minimal_document_reads_as_written() -> None:
    s = loads_native(json.dumps(base_doc()), source="s.json")
    down, up = Pipeline("down", (0, 1), 1), Pipeline("up", (1, 0), 1)
    assert s.pipelines == (down, up)
    assert s.programs == (
        (Op("down", 0, 0, OpKind.F), Op("up", 1, 0, OpKind.F)),
        (Op("down", 1, 0, OpKind.F), Op("up", 0, 0, OpKind.F)),
    )
    assert s.timing is None and s.name == "" and s.params == ()
    assert s.source == "s.json"


def test_single_pipeline_may_omit_the_prefix() -> None:
    doc = base_doc()
    doc["pipelines"] = [{"name": "solo", "placement": [0, 1], "microbatches": 1}]
    doc["programs"] = [["0F0", "solo:0B0"], ["1F0", "1B0"]]
    s = loads_native(json.dumps(doc))
    assert s.programs[0] == (Op("solo", 0, 0, OpKind.F), Op("solo", 0, 0, OpKind.B))


def test_steps_slot_table_maps_columns_to_steps() -> None:
    doc = base_doc()
    doc["timing"] = "steps"
    doc["programs"] = [["down:0F0", None, "up:1F0"], [None, "down:1F0", "", "up:0F0", None]]
    s = loads_native(json.dumps(doc))
    assert s.timing == Timing(TimingUnit.STEPS, ((0, 2), (1, 3)))
    assert [format_action(a) for a in s.programs[1]] == ["down:1F0", "up:0F0"]


def test_times_reads_starts_parallel_to_programs() -> None:
    doc = base_doc()
    doc["timing"] = "times"
    doc["starts"] = [[0, 1.5], [1, 2.5]]
    s = loads_native(json.dumps(doc))
    assert s.timing == Timing(TimingUnit.TIMES, ((0, 1.5), (1, 2.5)))


def test_unknown_pipeline_stage_or_microbatch_is_not_a_load_error() -> None:
    doc = base_doc()
    doc["programs"][1][1] = "ghost:9F99"
    s = loads_native(json.dumps(doc))
    assert s.programs[1][1] == Op("ghost", 9, 99, OpKind.F)


def test_every_action_kind_reads() -> None:
    doc = base_doc()
    doc["programs"][0] = [
        "down:1UNSHARD",
        "down:1RESHARD",
        "up:1REDUCE_GRAD",
        "down:0SEND_F3",
        "up:3RECV_B2",
        "(down:0F3;up:3B1)OVERLAP_F_B",
        "down:0I5",
        "down:0W1",
    ]
    s = loads_native(json.dumps(doc))
    assert s.programs[0] == (
        StageAction("down", 1, StageActionKind.UNSHARD),
        StageAction("down", 1, StageActionKind.RESHARD),
        StageAction("up", 1, StageActionKind.REDUCE_GRAD),
        Comm("down", 0, 3, CommKind.SEND_F),
        Comm("up", 3, 2, CommKind.RECV_B),
        Overlap((Op("down", 0, 3, OpKind.F), Op("up", 3, 1, OpKind.B))),
        Op("down", 0, 5, OpKind.I),
        Op("down", 0, 1, OpKind.W),
    )


def test_toml_document_reads_like_json() -> None:
    text = """
format = "chimera-verify/schedule"
version = 1
name = "two ranks"
workers = 2
timing = "steps"
costs = "F=1,B=2"
pipelines = [{name = "main", placement = [0, 1], microbatches = 1}]
programs = [["0F0", "", "", "0B0"], ["", "1F0", "1B0"]]

[params]
family = "1f1b"
D = 2
"""
    s = loads_native(text, fmt="toml")
    assert s.name == "two ranks"
    assert s.params == (("family", "1f1b"), ("D", 2))
    assert s.timing == Timing(TimingUnit.STEPS, ((0, 3), (1, 2)))
    assert s.programs[1] == (Op("main", 1, 0, OpKind.F), Op("main", 1, 0, OpKind.B))


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


def _drop(key: str) -> Any:
    return lambda doc: doc.pop(key)


def _update(**kv: Any) -> Any:
    return lambda doc: doc.update(kv)


GRAMMAR = (
    "[pipeline:]<stage><F|B|I|W|SEND_F|RECV_F|SEND_B|RECV_B><microbatch>, "
    "[pipeline:]<stage><UNSHARD|RESHARD|REDUCE_GRAD>, or (<op>;<op>...)OVERLAP_F_B"
)

MALFORMED = [
    ("invalid action", _set(("programs", 1, 1), "1F0junk"),
     f"$.programs[1][1]: invalid action '1F0junk': expected {GRAMMAR}"),
    ("no micro-batch", _set(("programs", 0, 0), "down:3F"),
     "$.programs[0][0]: action 'down:3F': F needs a micro-batch id, e.g. 'down:3F0'"),
    ("prefix mandatory", _set(("programs", 1, 1), "0F0"),
     "$.programs[1][1]: action '0F0' needs a pipeline prefix (e.g. 'down:0F0'): "
     "the schedule has several pipelines"),
    ("bad prefix", _set(("programs", 1, 0), "do wn:1F0"),
     f"$.programs[1][0]: invalid action 'do wn:1F0': expected {GRAMMAR}"),
    ("wrong schema", _set(("format",), "torch-schedule"),
     "$.format: expected 'chimera-verify/schedule', got 'torch-schedule'"),
    ("no format key", _drop("format"),
     "$: missing key 'format': not a schedule document (expected 'chimera-verify/schedule')"),
    ("wrong version", _set(("version",), 2),
     "$.version: unsupported version 2: this reader knows version 1"),
    ("version as text", _set(("version",), "1"), "$.version: expected the integer 1, got '1'"),
    ("no version", _drop("version"), "$: missing key 'version' (this reader knows version 1)"),
    ("unknown key", _update(sched=1),
     "$.sched: unknown key 'sched' (allowed: 'format', 'version', 'name', 'workers', "
     "'timing', 'pipelines', 'params', 'costs', 'programs', 'starts')"),
    ("unknown pipeline key", _set(("pipelines", 0, "stages"), 2),
     "$.pipelines[0].stages: unknown key 'stages' (allowed: 'name', 'placement', "
     "'microbatches')"),
    ("missing workers", _drop("workers"), "$: missing key 'workers'"),
    ("too few programs", _set(("workers",), 3),
     "$.programs: expected 3 programs (one per worker), got 2"),
    ("placement out of range", _set(("pipelines", 1, "placement"), [1, 2]),
     "$.pipelines[1].placement[1]: worker 2 out of range: the schedule has 2 workers (0..1)"),
    ("negative placement", _set(("pipelines", 1, "placement"), [1, -1]),
     "$.pipelines[1].placement[1]: expected an integer in [0, 1048575], got -1"),
    ("duplicate pipeline", _set(("pipelines", 1, "name"), "down"),
     "$.pipelines[1].name: duplicate pipeline name 'down'"),
    ("bad pipeline name", _set(("pipelines", 1, "name"), "u p"),
     "$.pipelines[1].name: expected a name matching ^[A-Za-z_][A-Za-z0-9_.\\-]*$, got 'u p'"),
    ("negative workers", _set(("workers",), -3),
     "$.workers: expected an integer in [1, 1048576], got -3"),
    ("huge workers", _set(("workers",), 10**7),
     "$.workers: expected an integer in [1, 1048576], got 10000000"),
    ("fractional workers", _set(("workers",), 2.5), "$.workers: expected an integer, got 2.5"),
    ("boolean workers", _set(("workers",), True), "$.workers: expected an integer, got true"),
    ("huge micro-batch count", _set(("pipelines", 0, "microbatches"), 10**12),
     "$.pipelines[0].microbatches: expected an integer in [0, 1000000000], got 1000000000000"),
    ("idle step in order timing", _set(("programs", 1, 1), None),
     "$.programs[1][1]: idle step (null) is only allowed in slot tables "
     "(timing 'steps' without 'starts')"),
    ("empty action in order timing", _set(("programs", 1, 1), ""),
     "$.programs[1][1]: idle step (an empty string) is only allowed in slot tables "
     "(timing 'steps' without 'starts')"),
    ("number as action", _set(("programs", 0, 1), 7),
     "$.programs[0][1]: expected a string or null, got 7"),
    ("unknown timing", _update(timing="slots"),
     "$.timing: expected one of 'order', 'steps', 'times', got 'slots'"),
    ("times without starts", _update(timing="times"),
     "$: timing 'times' needs key 'starts' (one start time per action)"),
    ("starts with order", _update(starts=[[0, 1], [0, 1]]),
     "$.starts: start times need timing 'times' or 'steps', got timing 'order'"),
    ("starts rows", _update(timing="times", starts=[[0, 1]]),
     "$.starts: expected 2 rows (one per worker), got 1"),
    ("starts row length", _update(timing="times", starts=[[0, 1], [0]]),
     "$.starts[1]: expected 2 start times (one per action of $.programs[1]), got 1"),
    ("negative start", _update(timing="times", starts=[[0, 1], [0, -1]]),
     "$.starts[1][1]: expected a number in [0, 1e+12], got -1"),
    ("huge start", _update(timing="times", starts=[[0, 1], [0, 1e13]]),
     "$.starts[1][1]: expected a number in [0, 1e+12], got 10000000000000.0"),
    ("bad cost model", _update(costs="F=1,B=slow"),
     "$.costs: invalid cost model 'F=1,B=slow': CostModel.B: expected a number, got 'slow'"),
    ("bad parameter key", _update(params={"bad key": 1}),
     '$.params["bad key"]: invalid key \'bad key\': expected a name matching '
     "^[A-Za-z_][A-Za-z0-9_.\\-]*$"),
    ("boolean parameter", _update(params={"D": True}),
     "$.params.D: expected a number or a string, got true"),
    ("huge parameter", _update(params={"D": 1e16}),
     "$.params.D: expected a number in [-1e+15, 1e+15], got 1e+16"),
    ("name not text", _update(name=5), "$.name: expected a string, got 5"),
    ("no pipelines", _update(pipelines=[]), "$.pipelines: expected at least 1 item(s), got 0"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_json_is_a_located_one_line_error(mutate: Any, expected: str) -> None:
    doc = base_doc()
    mutate(doc)
    assert load_error(json.dumps(doc)) == f"sched.json:{expected}"


# Problems only the reader can see (cross-field structure, action grammar, cost text);
# every other malformed case above is also refused by the published schema alone.
READER_ONLY = {
    "invalid action", "no micro-batch", "prefix mandatory", "bad prefix", "too few programs",
    "placement out of range", "duplicate pipeline", "idle step in order timing",
    "empty action in order timing", "starts rows", "starts row length", "bad cost model",
}


@pytest.mark.parametrize(
    ("name", "mutate"), [(c[0], c[1]) for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_published_schema_agrees_with_the_reader(name: str, mutate: Any) -> None:
    doc = base_doc()
    mutate(doc)
    valid = jsonschema.Draft202012Validator(schedule_schema()).is_valid(doc)
    assert valid == (name in READER_ONLY)


def test_overlong_cell_is_refused() -> None:
    doc = base_doc()
    doc["programs"][0][0] = "x" * 100_001
    assert load_error(json.dumps(doc)) == (
        "sched.json:$.programs[0][0]: text too long (100001 characters, at most 100000)"
    )


def _number_doc(workers_text: str) -> str:
    doc = json.dumps(base_doc())
    return doc.replace('"workers": 2', f'"workers": {workers_text}')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("NaN", "$.workers: expected an integer, got NaN"),
        ("Infinity", "$.workers: expected an integer, got Infinity"),
        ("1e400", "$.workers: expected an integer, got 1e400"),
        ("9" * 100, "$.workers: expected an integer, got a 100-digit integer"),
    ],
)
def test_non_finite_and_huge_numbers_are_refused(raw: str, expected: str) -> None:
    assert load_error(_number_doc(raw)) == f"sched.json:{expected}"


def test_json_syntax_error_gives_line_and_column() -> None:
    text = '{\n  "format": "chimera-verify/schedule",\n  "version": 1,,\n}'
    assert load_error(text) == (
        "sched.json:line 3, column 16: invalid JSON: Expecting property name enclosed in "
        "double quotes"
    )


def test_duplicate_json_key_is_located() -> None:
    text = json.dumps(base_doc()).replace('"name": "up"', '"name": "up", "name": "up2"')
    assert load_error(text) == "sched.json:$.pipelines[1]: duplicate key 'name'"


def test_top_level_must_be_an_object() -> None:
    assert load_error("[1, 2]") == (
        "sched.json:$: expected an object (a chimera-verify/schedule document), got a list"
    )


def test_toml_syntax_error_gives_line_and_column() -> None:
    text = 'format = "chimera-verify/schedule"\nversion = 1\nworkers = [1,\n x]\n'
    assert load_error(text, "toml", "s.toml") == "s.toml:line 4, column 2: invalid TOML: Invalid value"


def test_toml_nan_is_refused() -> None:
    text = 'format = "chimera-verify/schedule"\nversion = 1\nworkers = nan\n'
    text += 'pipelines = [{name = "main", placement = [0], microbatches = 1}]\nprograms = [[]]\n'
    assert load_error(text, "toml", "s.toml") == "s.toml:$.workers: expected an integer, got nan"


def test_model_errors_become_located_format_errors() -> None:
    # CostModel's constructor refuses a negative duration with a ModelError.
    doc = base_doc()
    doc["costs"] = "F=-1"
    assert load_error(json.dumps(doc)) == (
        "sched.json:$.costs: invalid cost model 'F=-1': CostModel.F: expected a finite "
        "number >= 0 and <= 1e+12, got -1.0"
    )


def test_index_beyond_the_core_bound_is_located() -> None:
    doc = base_doc()
    doc["programs"][0][0] = "down:9999999999F0"
    assert load_error(json.dumps(doc)) == (
        "sched.json:$.programs[0][0]: action 'down:9999999999F0': index larger than 1000000000"
    )


# --------------------------------------------------------------------------- chimera
def test_chimera_steps_form_reproduces_the_reference_slot_table() -> None:
    text = dumps_native(generate("chimera", 4, 4))
    doc = json.loads(text)
    assert doc["timing"] == "steps"
    assert doc["programs"] == chimera_table_cells()
    assert doc["pipelines"] == [
        {"name": "down", "placement": [0, 1, 2, 3], "microbatches": 2},
        {"name": "up", "placement": [3, 2, 1, 0], "microbatches": 2},
    ]
    assert doc["params"] == {"family": "chimera", "D": 4, "N": 4}
    # human-friendly: one program row per line
    lines = text.splitlines()
    for row in doc["programs"]:
        assert f"    {json.dumps(row)}," in lines or f"    {json.dumps(row)}" in lines


def test_chimera_toml_steps_form_reproduces_the_reference_slot_table() -> None:
    doc = tomllib.loads(dumps_native(generate("chimera", 4, 4), "toml"))
    idle_as_empty = [[c if c is not None else "" for c in row] for row in chimera_table_cells()]
    assert doc["programs"] == idle_as_empty


def test_written_documents_validate_against_the_published_schema() -> None:
    schema = schedule_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for s in (generate("chimera", 4, 4), generate("1f1b", 3, 5), generate("gpipe", 2, 2)):
        jsonschema.validate(json.loads(dumps_native(s)), schema)


# --------------------------------------------------------------------------- round trips
NAMES = st.sampled_from(["main", "down", "up", "p1", "x.y-z"])


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """Random structurally valid schedules, including ops the verifier would reject."""
    workers = draw(st.integers(1, 4))
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    pipes = tuple(
        Pipeline(
            n,
            tuple(draw(st.lists(st.integers(0, workers - 1), min_size=1, max_size=5))),
            draw(st.integers(0, 6)),
        )
        for n in names
    )
    pipe = st.sampled_from([*names, "ghost"])
    idx = st.integers(0, 12)
    op = st.builds(Op, pipe, idx, idx, st.sampled_from(list(OpKind)))
    action: st.SearchStrategy[Action] = st.one_of(
        op,
        st.builds(Comm, pipe, idx, idx, st.sampled_from(list(CommKind))),
        st.builds(StageAction, pipe, idx, st.sampled_from(list(StageActionKind))),
        st.lists(op, min_size=2, max_size=3).map(lambda ops: Overlap(tuple(ops))),
    )
    programs = tuple(tuple(draw(st.lists(action, max_size=6))) for _ in range(workers))
    kind = draw(st.sampled_from(["none", "table", "steps", "times"]))
    timing: Timing | None = None
    if kind == "table":
        rows = []
        for prog in programs:
            gaps = draw(st.lists(st.integers(1, 3), min_size=len(prog), max_size=len(prog)))
            cols, t = [], -1
            for g in gaps:
                t += g
                cols.append(t)
            rows.append(tuple(cols))
        timing = Timing(TimingUnit.STEPS, tuple(rows))
    elif kind in ("steps", "times"):  # overlaps, repeated and fractional steps
        number = st.one_of(
            st.integers(0, 10**6),
            st.floats(0, 1e12, allow_nan=False, allow_infinity=False),
        )
        free = [
            tuple(draw(st.lists(number, min_size=len(p), max_size=len(p)))) for p in programs
        ]
        unit = TimingUnit.STEPS if kind == "steps" else TimingUnit.TIMES
        timing = Timing(unit, tuple(free))
    name = draw(st.text(max_size=12))
    keys = draw(st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
                         max_size=3, unique=True))
    value = st.one_of(
        st.integers(-(10**15), 10**15),
        st.floats(-1e15, 1e15, allow_nan=False),
        st.text(max_size=8),
    )
    params = tuple((k, draw(value)) for k in keys)
    return Schedule(workers, pipes, programs, timing, name=name, params=params)


@FAST
@given(schedules(), st.sampled_from(["json", "toml"]))
def test_native_round_trip_is_lossless(s: Schedule, fmt: str) -> None:
    text = dumps_native(s, fmt)
    back = loads_native(text, fmt=fmt, source=f"r.{fmt}")
    assert back == s
    assert back.source == f"r.{fmt}"
    # the text is canonical: writing again gives the same text
    assert dumps_native(back, fmt) == text


@FAST
@given(schedules())
def test_json_output_is_valid_json_with_one_row_per_line(s: Schedule) -> None:
    text = dumps_native(s)
    doc = json.loads(text)
    jsonschema.validate(doc, schedule_schema())
    lines = text.splitlines()
    start = lines.index('  "programs": [') if doc["programs"] else -1
    if start >= 0:
        for w, row in enumerate(doc["programs"]):
            assert json.loads(lines[start + 1 + w].strip().rstrip(",")) == row


@FAST
@given(schedules())
def test_location_of_points_at_the_action_in_the_written_json(s: Schedule) -> None:
    doc = json.loads(dumps_native(s))
    find = locator(s, fmt="json")
    default = s.default_pipeline
    for w, prog in enumerate(s.programs):
        for i, a in enumerate(prog):
            loc = find(w, i)
            assert loc.startswith(f"$.programs[{w}][") and loc.endswith("]")
            col = int(loc[len(f"$.programs[{w}][") : -1])
            assert doc["programs"][w][col] == format_action(a, default_pipeline=default)
            assert location_of(s, w, i, fmt="json") == loc


def test_steps_with_two_actions_in_one_step_are_written_with_starts() -> None:
    s = generate("chimera-naive", 3, 2)  # odd D: Fd0 and Fu0 share slot 1 on worker 1
    doc = json.loads(dumps_native(s))
    assert doc["timing"] == "steps"
    assert doc["starts"][1][:2] == [1, 1]
    assert doc["programs"][1][:2] == ["down:1F0", "up:1F0"]
    assert loads_native(dumps_native(s)) == s
    assert location_of(s, 1, 1, fmt="json") == "$.programs[1][1]"


def test_costs_are_written_and_read_back(tmp_path: Path) -> None:
    s = generate("1f1b", 2, 2)
    path = tmp_path / "s.json"
    save_schedule(s, path, costs="F=1,B=2,latency=0.5")
    assert json.loads(path.read_text())["costs"] == "F=1,B=2,latency=0.5"
    assert read_costs(path) == CostModel(F=1, B=2, latency=0.5)
    tpath = tmp_path / "s.toml"
    save_schedule(s, tpath, costs=CostModel(F=1, I=1, W=1))
    assert read_costs(tpath) == CostModel.parse("F=1,B=2,I=1,W=1")
    save_schedule(s, tmp_path / "plain.json")
    assert read_costs(tmp_path / "plain.json") is None
    save_schedule(s, tmp_path / "s.csv")
    assert read_costs(tmp_path / "s.csv") is None


def test_writer_refuses_what_the_reader_would_refuse() -> None:
    base = generate("1f1b", 1, 1)
    late = Schedule(1, base.pipelines, base.programs,
                    Timing(TimingUnit.TIMES, ((0, 2e12),)))
    with pytest.raises(ScheduleFormatError) as info:
        dumps_native(late)
    assert str(info.value) == (
        "<output>:$.starts[0][1]: expected a number in [0, 1e+12], got 2000000000000.0"
    )
    dup = Schedule(1, base.pipelines, base.programs, params=(("D", 1), ("D", 2)))
    with pytest.raises(ScheduleFormatError) as info:
        dumps_native(dup)
    assert str(info.value) == "<output>:$.params.D: duplicate parameter 'D'"
    flag = Schedule(1, base.pipelines, base.programs, params=(("fast", True),))
    with pytest.raises(ScheduleFormatError) as info:
        dumps_native(flag)
    assert str(info.value) == "<output>:$.params.fast: expected a number or a string, got true"
    with pytest.raises(ScheduleFormatError) as info:
        dumps_native(base, costs="F=fast")
    assert str(info.value) == (
        "<output>:$.costs: invalid cost model 'F=fast': CostModel.F: expected a number, "
        "got 'fast'"
    )


# --------------------------------------------------------------------------- files
def test_load_schedule_picks_the_format_and_sets_source(tmp_path: Path) -> None:
    s = generate("chimera", 4, 4)
    for ext in ("json", "toml", "csv"):
        path = tmp_path / f"c.{ext}"
        save_schedule(s, path)
        back = load_schedule(path)
        assert back.source == str(path)
        assert back.programs == s.programs and back.timing == s.timing
    other = tmp_path / "c.txt"
    other.write_text((tmp_path / "c.json").read_text())
    assert load_schedule(other, fmt="json") == s


def test_file_errors_are_located(tmp_path: Path) -> None:
    def err(path: Path, **kw: Any) -> str:
        with pytest.raises(ScheduleFormatError) as info:
            load_schedule(path, **kw)
        return str(info.value)

    missing = tmp_path / "none.json"
    assert err(missing) == f"{missing}: file not found"
    folder = tmp_path / "d.json"
    folder.mkdir()
    assert err(folder) == f"{folder}: is a directory, not a schedule file"
    empty = tmp_path / "e.toml"
    empty.write_text("  \n")
    assert err(empty) == f"{empty}:line 1: empty file"
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"0F0,0B0\n1F0,caf\xe9\n")
    assert err(latin) == f"{latin}:line 2, column 8: not UTF-8 text (byte 0xe9)"
    odd = tmp_path / "s.yaml"
    odd.write_text("x")
    assert err(odd) == (
        f"{odd}: unknown file type ('.yaml'): expected .json, .toml or .csv, or a format"
    )
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps(base_doc()).replace('"up:0F0"', '"up:0F0junk"'))
    assert err(bad) == f"{bad}:$.programs[1][1]: invalid action 'up:0F0junk': expected {GRAMMAR}"
    native = tmp_path / "n.json"
    native.write_text(json.dumps(base_doc()))
    assert err(native, microbatches=4) == (
        f"{native}: microbatches applies to CSV files only: a native file states its counts"
    )


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(base_doc()).encode())
    assert load_schedule(path).num_workers == 2


def test_save_never_overwrites_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text("precious")
    s = generate("1f1b", 2, 2)
    with pytest.raises(ScheduleFormatError) as info:
        save_schedule(s, path)
    assert str(info.value) == f"{path}: file exists: pass overwrite=True to replace it"
    assert path.read_text() == "precious"
    path.chmod(0o640)
    save_schedule(s, path, overwrite=True)
    assert load_schedule(path) == s
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]
    fresh = tmp_path / "fresh.toml"
    save_schedule(s, fresh, overwrite=True)
    assert load_schedule(fresh) == s


def test_save_reports_write_problems_at_the_target(tmp_path: Path) -> None:
    s = generate("chimera-naive", 3, 2)
    target = tmp_path / "naive.csv"
    with pytest.raises(ScheduleFormatError) as info:
        save_schedule(s, target)
    assert str(info.value) == (
        f"{target}:worker 1, position 1: cannot write 'up:1F0' as a CSV cell: step 1 is also "
        "the step of the previous action (a cell holds one action per step); write the "
        "schedule without timing to keep the order only"
    )
    assert not target.exists()
    missing_dir = tmp_path / "no" / "s.json"
    with pytest.raises(ScheduleFormatError) as info:
        save_schedule(generate("1f1b", 1, 1), missing_dir)
    assert str(info.value) == f"{missing_dir}: cannot write: No such file or directory"
    with pytest.raises(ScheduleFormatError) as info:
        dumps_schedule(generate("1f1b", 1, 1), "csv", costs="F=1")
    assert str(info.value) == "<output>: a CSV file cannot hold a cost model: use json or toml"


def test_location_of_by_format() -> None:
    order = loads_native(json.dumps(base_doc()), source="o.json")
    assert location_of(order, 1, 1) == "$.programs[1][1]"
    timed = generate("chimera", 4, 4)  # P1's first op sits in slot 1
    assert location_of(timed, 1, 0, fmt="toml") == "$.programs[1][1]"
    assert location_of(timed, 1, 0, fmt="csv") == "line 2, cell 2"
    assert location_of(timed, 1, 0) == "worker 1, position 0"
    csv_order = generate("1f1b", 2, 2)
    assert location_of(csv_order, 0, 3, fmt="csv") == "line 1, cell 4"


# --------------------------------------------------------------------------- docs
def _doc_blocks(language: str) -> list[str]:
    text = (Path(__file__).parent.parent / "docs" / "format.md").read_text()
    parts = text.split(f"```{language}\n")[1:]
    return [p.split("```", 1)[0] for p in parts]


def test_format_doc_examples_load() -> None:
    chimera = generate("chimera", 4, 4)
    json_blocks = [b for b in _doc_blocks("json") if '"format"' in b]
    toml_blocks = _doc_blocks("toml")
    assert len(json_blocks) == 2 and len(toml_blocks) == 1
    assert loads_native(json_blocks[0]) == chimera
    assert loads_native(toml_blocks[0], fmt="toml") == chimera
    times = loads_native(json_blocks[1])
    assert times.timing == Timing(TimingUnit.TIMES, ((0, 4), (1, 2)))
    assert dumps_native(chimera, costs="F=1,B=1") == json_blocks[0]
    assert dumps_native(chimera, "toml", costs="F=1,B=1") == toml_blocks[0]


def test_format_doc_csv_examples_are_the_fixtures() -> None:
    data = Path(__file__).parent / "data"
    blocks = _doc_blocks("csv")
    assert blocks == [
        (data / "interleaved_1f1b_fsdp.csv").read_text(),
        (data / "chimera_d4_n4.csv").read_text(),
    ]
