"""Bulk helpers for the linear-time passes (hundreds of thousands of actions).

Building and classifying that many records one Python call at a time costs more than
all the analysis, so these helpers let C-level ``map`` do the per-element work:

* :func:`make_comms` fills ``Comm`` records slot by slot from columns that were derived
  from already-validated ops, skipping the per-record ``__post_init__`` (the records are
  equal to, and hash like, checked ones);
* :func:`paused_gc` keeps the cyclic garbage collector from rescanning the growing heap
  while such columns are built (these records form no cycles);
* :func:`trusted_schedule` builds a ``Schedule`` whose parts come from a checked one
  (same workers and pipelines; programs made of checked records), skipping the
  per-action re-validation of ``__post_init__``;
* :func:`kind_codes` maps enum members to small integers by identity rather than
  through ``Enum.__hash__``.

>>> from verify.core.actions import CommKind
>>> make_comms(["main"], [1], [0], [CommKind.RECV_F]) == [Comm("main", 1, 0, CommKind.RECV_F)]
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from enum import Enum
from itertools import repeat

import numpy as np
import numpy.typing as npt

from verify.core.actions import Action, Comm, CommKind
from verify.core.schedule import Schedule
from verify.passes.index import gc_paused

IntArray = npt.NDArray[np.int64]

_FIELDS = ("pipeline", "stage", "microbatch", "kind")
_SLOTS = [Comm.__dict__.get(f) for f in _FIELDS]
_BY_SLOTS = all(type(d).__name__ == "member_descriptor" for d in _SLOTS)


def make_comms(
    pipelines: Sequence[str], stages: Sequence[int], microbatches: Sequence[int],
    kinds: Sequence[CommKind],
) -> list[Comm]:
    """``Comm(p, s, m, k)`` for every row of the columns, whose values must be valid
    (names of existing pipelines, indices in range, CommKind members)."""
    n = len(stages)
    if not _BY_SLOTS:  # pragma: no cover - records not laid out in slots
        return [Comm(p, s, m, k) for p, s, m, k in zip(pipelines, stages, microbatches, kinds)]
    objs: list[Comm] = list(map(object.__new__, repeat(Comm, n)))
    for desc, values in zip(_SLOTS, (pipelines, stages, microbatches, kinds)):
        deque(map(desc.__set__, objs, values), maxlen=0)  # type: ignore[union-attr]
    return objs


_SCHEDULE_FIELDS = ("num_workers", "pipelines", "programs", "timing", "name", "params", "source")
_SCHEDULE_SLOTS = [Schedule.__dict__.get(f) for f in _SCHEDULE_FIELDS]
_SCHEDULE_BY_SLOTS = all(type(d).__name__ == "member_descriptor" for d in _SCHEDULE_SLOTS)


def trusted_schedule(
    base: Schedule, programs: tuple[tuple[Action, ...], ...], name: str,
    params: tuple[tuple[str, int | float | str], ...],
) -> Schedule:
    """``Schedule(base.num_workers, base.pipelines, programs, None, name, params)`` for
    ``programs`` made only of checked action records, one per worker of ``base``."""
    if not _SCHEDULE_BY_SLOTS or len(programs) != base.num_workers:  # pragma: no cover
        return Schedule(base.num_workers, base.pipelines, programs, None, name, params)
    s: Schedule = object.__new__(Schedule)
    values = (base.num_workers, base.pipelines, programs, None, name, params, None)
    for desc, value in zip(_SCHEDULE_SLOTS, values):
        desc.__set__(s, value)  # type: ignore[union-attr]
    return s


paused_gc = gc_paused
"""Pause the cyclic garbage collector during bulk passes (see ``gc_paused``)."""


def kind_codes(values: Iterable[object], n: int, members: Sequence[Enum]) -> IntArray:
    """Index in ``members`` of every value (by identity); -1 for anything else."""
    ids = np.array([id(m) for m in members], dtype=np.int64)
    order = np.argsort(ids)
    sorted_ids = ids[order]
    got = np.fromiter(map(id, values), np.int64, n)
    pos = np.minimum(np.searchsorted(sorted_ids, got), len(ids) - 1)
    return np.where(sorted_ids[pos] == got, order[pos], -1).astype(np.int64)
