"""Cross-check with PyTorch: our interleaved 1F1B, looped BFS, ZB-V and DualPipeV give,
op for op, the per-rank orders that ``torch.distributed.pipelining`` 2.13 itself
generates (its ``compute_only`` CSV, recorded in tests/data/comm by
make_torch_fixtures.py; empty cells are idle steps and carry no order)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from verify import generate

COMM = Path(__file__).parent / "data" / "comm"

CASES = [
    ("Interleaved1F1B", "interleaved-1f1b"),
    ("LoopedBFS", "looped-bfs"),
    ("ZBVZeroBubble", "zb-v"),
    ("DualPipeV", "dualpipev"),
]


def _torch_order(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return [[cell.strip() for cell in row if cell.strip()] for row in csv.reader(fh)]


@pytest.mark.parametrize(("torch_name", "family"), CASES)
@pytest.mark.parametrize(("ranks", "microbatches"), [(2, 4), (4, 8)])
def test_same_order_as_pytorch(torch_name: str, family: str, ranks: int, microbatches: int) -> None:
    path = COMM / f"torch_{torch_name}_r{ranks}_n{microbatches}.compute.csv"
    if not path.exists():
        pytest.skip(f"no PyTorch fixture {path.name}")
    ours = [[str(a) for a in prog] for prog in generate(family, ranks, microbatches).programs]
    assert ours == _torch_order(path)
