"""PyTorch CSV schedules: strict reading, placement inference, writing and round trips.

Expected values are written by hand from the fixtures in ``tests/data`` (an Interleaved
1F1B schedule with FSDP cells, and Chimera D=4 N=4 as in the reference slot table), or
computed in the test from the cells it generated.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

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
    compute_ops,
    format_action,
)
from verify.core.schedule import Pipeline, Schedule, Timing, TimingUnit
from verify.errors import ScheduleFormatError
from verify.generators import generate
from verify.io import (
    dumps_schedule,
    dumps_torch_csv,
    load_schedule,
    loads_schedule,
    loads_torch_csv,
    location_of,
)
from verify.io.torch_csv import Microbatches

DATA = Path(__file__).parent / "data"
FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GRAMMAR = (
    "[pipeline:]<stage><F|B|I|W|SEND_F|RECV_F|SEND_B|RECV_B><microbatch>, "
    "[pipeline:]<stage><UNSHARD|RESHARD|REDUCE_GRAD>, or (<op>;<op>...)OVERLAP_F_B"
)


def F(s: int, m: int, p: str = "main") -> Op:
    return Op(p, s, m, OpKind.F)


def B(s: int, m: int, p: str = "main") -> Op:
    return Op(p, s, m, OpKind.B)


def SA(s: int, kind: StageActionKind) -> StageAction:
    return StageAction("main", s, kind)


UN, RS, RG = StageActionKind.UNSHARD, StageActionKind.RESHARD, StageActionKind.REDUCE_GRAD


def csv_error(
    text: str, *, microbatches: Microbatches = None, workers: int | None = None
) -> str:
    with pytest.raises(ScheduleFormatError) as info:
        loads_torch_csv(text, source="s.csv", microbatches=microbatches, workers=workers)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- fixtures
def test_interleaved_1f1b_fixture_with_fsdp_cells() -> None:
    path = DATA / "interleaved_1f1b_fsdp.csv"
    s = load_schedule(path)
    # 4 stages on 2 ranks, stage indices global: rank 0 holds stages 0 and 2.
    assert s.pipelines == (Pipeline("main", (0, 1, 0, 1), 2),)
    assert s.num_workers == 2 and s.source == str(path)
    rank0 = [
        (0, SA(0, UN)), (1, SA(2, UN)), (2, F(0, 0)), (3, F(0, 1)), (4, F(2, 0)), (5, F(2, 1)),
        (7, B(2, 0)), (9, B(2, 1)), (10, B(0, 0)), (11, B(0, 1)),
        (12, SA(2, RG)), (13, SA(0, RG)), (14, SA(2, RS)), (15, SA(0, RS)),
    ]
    rank1 = [
        (0, SA(1, UN)), (1, SA(3, UN)), (3, F(1, 0)), (4, F(1, 1)), (5, F(3, 0)), (6, B(3, 0)),
        (7, F(3, 1)), (8, B(3, 1)), (9, B(1, 0)), (10, B(1, 1)),
        (11, SA(3, RG)), (12, SA(1, RG)), (13, SA(3, RS)), (14, SA(1, RS)),
    ]
    assert s.programs == (tuple(a for _, a in rank0), tuple(a for _, a in rank1))
    assert s.timing == Timing(
        TimingUnit.STEPS, (tuple(c for c, _ in rank0), tuple(c for c, _ in rank1))
    )


def test_interleaved_fixture_is_a_lock_step_schedule() -> None:
    """The hand-written fixture itself: every F and B runs after its producers' steps."""
    s = load_schedule(DATA / "interleaved_1f1b_fsdp.csv")
    assert s.timing is not None
    step = {
        op: s.timing.starts[w][i] for w, prog in enumerate(s.programs)
        for i, a in enumerate(prog) for op in compute_ops(a)
    }
    for op, t in step.items():
        s_, m = op.stage, op.microbatch
        needs = [F(s_ - 1, m)] if op.kind is OpKind.F and s_ > 0 else []
        if op.kind is OpKind.B:
            needs = [F(s_, m)] + ([B(s_ + 1, m)] if s_ < 3 else [])
        assert all(step[n] < t for n in needs), op


def test_interleaved_fixture_round_trips_as_text() -> None:
    text = (DATA / "interleaved_1f1b_fsdp.csv").read_text()
    s = loads_torch_csv(text)
    assert dumps_torch_csv(s) == text
    assert loads_torch_csv(dumps_torch_csv(s)) == s


def test_chimera_csv_with_prefixed_cells_round_trips() -> None:
    text = (DATA / "chimera_d4_n4.csv").read_text()
    s = loads_torch_csv(text, source="chimera.csv")
    generated = generate("chimera", 4, 4)
    assert s == dataclasses.replace(generated, name="", params=())
    assert s.pipelines == (
        Pipeline("down", (0, 1, 2, 3), 2),
        Pipeline("up", (3, 2, 1, 0), 2),
    )
    assert dumps_torch_csv(generated) == text
    assert dumps_torch_csv(s) == text


def test_location_of_names_the_cell_of_the_csv_file() -> None:
    text = (DATA / "chimera_d4_n4.csv").read_text()
    s = loads_schedule(text, fmt="csv", source="chimera.csv")
    lines = text.splitlines()
    for w, prog in enumerate(s.programs):
        for i, a in enumerate(prog):
            loc = location_of(s, w, i)
            line_text, cell_text = loc.removeprefix("line ").split(", cell ")
            cell = lines[int(line_text) - 1].split(",")[int(cell_text) - 1]
            assert cell == format_action(a, default_pipeline=None)


# --------------------------------------------------------------------------- reading
def test_cells_of_every_kind() -> None:
    text = "1UNSHARD,0SEND_F3,3RECV_B2,(0F3;3B1)OVERLAP_F_B,0I5,0W1,1REDUCE_GRAD,1RESHARD\n"
    text += "1F0,2F0\n"
    s = loads_torch_csv(text, workers=4)
    assert s.pipelines == (Pipeline("main", (0, 1, 1, 0), 6),)
    assert s.programs[0] == (
        SA(1, UN),
        Comm("main", 0, 3, CommKind.SEND_F),
        Comm("main", 3, 2, CommKind.RECV_B),
        Overlap((F(0, 3), B(3, 1))),
        Op("main", 0, 5, OpKind.I),
        Op("main", 0, 1, OpKind.W),
        SA(1, RG),
        SA(1, RS),
    )
    assert s.num_workers == 4 and s.programs[2:] == ((), ())


def test_trailing_empty_cells_and_line_endings_do_not_matter() -> None:
    plain = loads_torch_csv("0F0,0B0\n,1F0,1B0\n")
    assert loads_torch_csv("0F0,0B0,,,\r\n,1F0,1B0,\r\n") == plain
    assert loads_torch_csv(' 0F0 ,"0B0"\n,1F0,1B0') == plain


def test_blank_row_is_an_idle_rank() -> None:
    s = loads_torch_csv("0F0\n\n1F0\n")
    assert s.num_workers == 3 and s.programs[1] == ()
    assert s.pipelines == (Pipeline("main", (0, 2), 1),)


def test_stage_on_two_rows_is_left_to_the_verifier() -> None:
    s = loads_torch_csv("0F0,1F0\n1B0,0B0\n")
    assert s.pipelines == (Pipeline("main", (0, 0), 1),)  # first row holding each stage
    assert s.programs[1] == (B(1, 0), B(0, 0))


def test_pipeline_order_down_first_else_first_appearance() -> None:
    s = loads_torch_csv("up:1F0,down:0F0\nup:0F0,down:1F0\n")
    assert [p.name for p in s.pipelines] == ["down", "up"]
    t = loads_torch_csv("b:1F0,a:0F0\nb:0F0,a:1F0\n")
    assert [p.name for p in t.pipelines] == ["b", "a"]
    assert t.pipelines[0] == Pipeline("b", (1, 0), 1)


def test_microbatch_counts_inferred_or_given() -> None:
    text = "down:0F3,up:1F0\nup:0F1,down:1F0\n"
    assert [p.microbatches for p in loads_torch_csv(text).pipelines] == [4, 2]
    assert [p.microbatches for p in loads_torch_csv(text, microbatches=7).pipelines] == [4, 3]
    given_up = loads_torch_csv(text, microbatches={"up": 5})
    assert [p.microbatches for p in given_up.pipelines] == [4, 5]


def test_load_schedule_passes_microbatches_to_csv(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("0F0,0B0\n1F0,1B0\n")
    assert load_schedule(path, microbatches=8).pipelines == (Pipeline("main", (0, 1), 8),)


MALFORMED = [
    ("junk after action", "0F0,1F0junk\n", {},
     f"line 1, cell 2: invalid action '1F0junk': expected {GRAMMAR}"),
    ("no micro-batch", "0F0\n1F0,3F\n", {},
     "line 2, cell 2: action '3F': F needs a micro-batch id, e.g. '3F0'"),
    ("bad pipeline prefix", "0F0\nup down:1F0\n", {},
     f"line 2, cell 1: invalid action 'up down:1F0': expected {GRAMMAR}"),
    ("empty prefix", ":0F0\n", {}, f"line 1, cell 1: invalid action ':0F0': expected {GRAMMAR}"),
    ("stage action in overlap", "(0F0;1UNSHARD)OVERLAP_F_B\n", {},
     "line 1, cell 1: OVERLAP_F_B container '(0F0;1UNSHARD)OVERLAP_F_B' holds '1UNSHARD': "
     "only F, B, I, W ops"),
    ("no actions", ",,\n\n", {}, "line 1: no actions: every cell is empty"),
    ("missing stage", "0F0\n\n2F0,2B0\n", {},
     "line 3, cell 1: stage 1 has no F, B, I or W cell, so its worker is unknown "
     "('2F0' implies stages 0..2); add its ops, or give the placement in the native format"),
    ("missing stage of a named pipeline", "down:0F0\nup:1F0\n", {},
     "line 2, cell 1: stage 0 of pipeline 'up' has no F, B, I or W cell, so its worker is "
     "unknown ('up:1F0' implies stages 0..1); add its ops, or give the placement in the "
     "native format"),
    ("mixed prefixes", "down:0F0,1F0\n", {},
     "line 1, cell 2: action '1F0' has no pipeline prefix, but other cells name pipelines "
     "'down': with several pipelines every cell needs one"),
    ("pipeline without compute", "down:0F0\nup:0UNSHARD\n", {},
     "line 2, cell 1: pipeline 'up' has no F, B, I or W cell: its stages and their workers "
     "are unknown"),
    ("unterminated quote", '0F0,"1F0\n', {}, "line 1: invalid CSV: unexpected end of data"),
    ("more rows than workers", "0F0\n1F0\n", {"workers": 1},
     "line 2: a row for rank 1 or above, but workers=1"),
    ("unknown pipeline in microbatches", "down:0F0\nup:0F0\n", {"microbatches": {"side": 2}},
     "microbatches names pipeline 'side', which no cell uses (pipelines: 'down', 'up')"),
    ("negative microbatches", "0F0\n", {"microbatches": -1},
     "microbatches: expected an integer in [0, 1000000000], got -1"),
    ("zero workers", "0F0\n", {"workers": 0},
     "workers: expected an integer in [1, 1048576], got 0"),
]


@pytest.mark.parametrize(
    ("text", "kw", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_csv_is_a_located_one_line_error(
    text: str, kw: dict[str, Any], expected: str
) -> None:
    where = "s.csv:" if expected.startswith("line") else "s.csv: "
    assert csv_error(text, **kw) == where + expected


# --------------------------------------------------------------------------- writing
def test_order_only_schedules_are_written_left_aligned() -> None:
    # 1F1B with D = N = 2: worker 0 warms up with one forward.
    assert dumps_torch_csv(generate("1f1b", 2, 2)) == "0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1\n"
    assert dumps_schedule(generate("gpipe", 1, 2), "csv") == "0F0,0F1,0B0,0B1\n"


def test_time_timed_schedules_are_written_by_order() -> None:
    p = (Pipeline("main", (0,), 1),)
    s = Schedule(1, p, ((F(0, 0), B(0, 0)),), Timing(TimingUnit.TIMES, ((0.0, 7.5),)))
    assert dumps_torch_csv(s) == "0F0,0B0\n"


def test_fractional_steps_cannot_be_written() -> None:
    p = (Pipeline("main", (0,), 1),)
    s = Schedule(1, p, ((F(0, 0), B(0, 0)),), Timing(TimingUnit.STEPS, ((0, 1.5),)))
    with pytest.raises(ScheduleFormatError) as info:
        dumps_torch_csv(s)
    assert str(info.value) == (
        "<output>:worker 0, position 1: cannot write 'main:0B0' as a CSV cell: step 1.5 is not "
        "a whole number (a cell holds one action per step); write the schedule without timing "
        "to keep the order only"
    )


def test_single_pipeline_of_another_name_is_written_without_prefix() -> None:
    s = loads_torch_csv("solo:0F0,solo:0B0\n")
    assert s.pipelines == (Pipeline("solo", (0,), 1),)
    assert dumps_torch_csv(s) == "0F0,0B0\n"
    assert loads_torch_csv(dumps_torch_csv(s)).pipelines[0].name == "main"


# --------------------------------------------------------------------------- round trips
PIPELINE_SETS = [["main"], ["down", "up"], ["up", "down"], ["a", "b", "c"]]


@st.composite
def grids(draw: st.DrawFn) -> tuple[list[list[Action | None]], list[str], dict[str, int]]:
    """A random CSV grid whose every pipeline stage has a compute cell on some row."""
    names = draw(st.sampled_from(PIPELINE_SETS))
    nrows = draw(st.integers(1, 4))
    width = 10
    grid: list[list[Action | None]] = [[None] * width for _ in range(nrows)]
    stages = {n: draw(st.integers(1, 3)) for n in names}
    kinds = st.sampled_from(list(OpKind))
    mb = st.integers(0, 5)

    def op_of(name: str) -> st.SearchStrategy[Op]:
        return st.builds(Op, st.just(name), st.integers(0, stages[name] - 1), mb, kinds)

    any_op = st.sampled_from(names).flatmap(op_of)
    extra: st.SearchStrategy[Action] = st.one_of(
        any_op,
        st.lists(any_op, min_size=2, max_size=3).map(lambda ops: Overlap(tuple(ops))),
        st.builds(Comm, st.sampled_from(names), st.integers(0, 9), mb,
                  st.sampled_from(list(CommKind))),
        st.builds(StageAction, st.sampled_from(names), st.integers(0, 9),
                  st.sampled_from(list(StageActionKind))),
    )
    for _ in range(draw(st.integers(0, 12))):
        r, c = draw(st.integers(0, nrows - 1)), draw(st.integers(0, width - 1))
        grid[r][c] = draw(extra)
    homes = [(n, s) for n in names for s in range(stages[n])]
    cells = st.tuples(st.integers(0, nrows - 1), st.integers(0, width - 1))
    spots = draw(st.lists(cells, min_size=len(homes), max_size=len(homes), unique=True))
    for (n, s), (r, c) in zip(homes, spots, strict=True):  # written last: nothing hides them
        grid[r][c] = Op(n, s, draw(mb), draw(kinds))
    return grid, names, stages


def render(grid: list[list[Action | None]], single: bool, pad: bool) -> str:
    lines = []
    for row in grid:
        cells = [
            "" if a is None else format_action(a, default_pipeline="main" if single else None)
            for a in row
        ]
        if not pad:
            while cells and cells[-1] == "":
                cells.pop()
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@FAST
@given(grids(), st.booleans())
def test_csv_grid_reads_as_expected_and_round_trips(
    case: tuple[list[list[Action | None]], list[str], dict[str, int]], pad: bool
) -> None:
    grid, names, stages = case
    single = names == ["main"]
    s = loads_torch_csv(render(grid, single, pad))

    # expected, computed from the grid: order of first appearance (down before up),
    # home = first row with a compute cell of the stage, count = largest id + 1
    seen: list[str] = []
    home: dict[tuple[str, int], int] = {}
    top_mb: dict[str, int] = {}
    for r, row in enumerate(grid):
        for a in row:
            if a is None:
                continue
            subs = a.ops if isinstance(a, Overlap) else (a,)
            for sub in subs:
                if sub.pipeline not in seen:
                    seen.append(sub.pipeline)
                if isinstance(sub, Op):
                    home.setdefault((sub.pipeline, sub.stage), r)
                    top_mb[sub.pipeline] = max(top_mb.get(sub.pipeline, 0), sub.microbatch)
    order = ["down", "up"] if set(seen) == {"down", "up"} else seen
    expected = tuple(
        Pipeline(n, tuple(home[(n, st_)] for st_ in range(stages[n])), top_mb[n] + 1)
        for n in order
    )
    assert s.pipelines == expected
    assert s.num_workers == len(grid)
    assert s.programs == tuple(tuple(a for a in row if a is not None) for row in grid)
    assert s.timing == Timing(
        TimingUnit.STEPS,
        tuple(tuple(c for c, a in enumerate(row) if a is not None) for row in grid),
    )
    # writing gives the canonical text (no trailing empty cells), and reads back equal
    assert dumps_torch_csv(s) == render(grid, len(s.pipelines) == 1, pad=False)
    assert loads_torch_csv(dumps_torch_csv(s)) == s
