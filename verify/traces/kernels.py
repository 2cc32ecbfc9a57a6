"""Vectorised building blocks of the trace checks: orders and ranks.

Sorting dominates a vectorised check, and NumPy's stable sorts of 64-bit keys are
several times slower than its unstable ones. Traces are nearly always in time order per
worker already, so :func:`lex_order` first checks whether its input is ordered (one
pass), and otherwise packs integer keys with the position into one ``int64`` and sorts
that by value, which is stable by construction.

>>> import numpy as np
>>> w = np.array([1, 0, 1, 0]); t = np.array([0.5, 2.0, 0.5, 1.0])
>>> lex_order([t, w]).tolist() == np.lexsort([t, w]).tolist()
True
>>> group_rank(np.array([3, 3, 5, 5, 5, 7])).tolist()
[0, 1, 0, 1, 2, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_PACK_LIMIT = 1 << 62


def is_lex_sorted(keys: Sequence[npt.NDArray[Any]]) -> bool:
    """True when ``np.lexsort(keys)`` is the identity (the last key is the primary one;
    NaN counts as unordered, so an input holding one is never taken as sorted)."""
    n = len(keys[0])
    if n < 2:
        return True
    undecided: BoolArray | None = None
    for k in reversed(keys):
        a, b = k[:-1], k[1:]
        eq = a == b
        ok = (a < b) | eq
        if undecided is not None:
            ok |= ~undecided
        if not ok.all():
            return False
        undecided = eq if undecided is None else undecided & eq
        if not undecided.any():
            return True
    return True


def lex_order(keys: Sequence[npt.NDArray[Any]]) -> IntArray:
    """Exactly ``np.lexsort(keys)``, faster: an ordered input is recognised in one pass,
    and integer primary keys (the trailing integer keys) are packed with the position
    into one ``int64`` and sorted by value after a stable sort on the other keys."""
    order = reorder(keys)
    return np.arange(len(keys[0]), dtype=np.int64) if order is None else order


def reorder(keys: Sequence[npt.NDArray[Any]]) -> IntArray | None:
    """:func:`lex_order`, or None when the input is in order already."""
    n = len(keys[0])
    if is_lex_sorted(keys):
        return None
    ints = 0
    for k in reversed(keys):
        if not np.issubdtype(k.dtype, np.integer):
            break
        ints += 1
    if ints == 0:
        return np.lexsort(keys).astype(np.int64, copy=False)
    rest = keys[: len(keys) - ints]
    combined: IntArray | None = None
    span = 1
    for k in reversed(keys[len(keys) - ints :]):  # primary first
        lo, hi = int(k.min()), int(k.max())
        r = hi - lo + 1
        if span * r * max(n, 1) * 2 >= _PACK_LIMIT:
            return np.lexsort(keys).astype(np.int64, copy=False)
        if combined is None:
            combined = k.astype(np.int64)  # (a copy, whatever the key's integer type)
            combined -= lo
        else:
            combined *= r
            combined += k
            combined -= lo
        span *= r
    assert combined is not None
    if not rest:
        return stable_order(combined)
    first = np.argsort(rest[0], kind="stable") if len(rest) == 1 else np.lexsort(rest)
    return stable_order(combined[first], first.astype(np.int64, copy=False))


def pack_sort(key: npt.NDArray[np.integer[Any]], then: IntArray | None = None) -> IntArray:
    """The stable order of the non-negative ``key`` (``then[order]`` when ``then`` is
    given): key and position packed into one ``int64`` and sorted by value. The caller
    guarantees ``key.max() * len(key) < 2**62``."""
    n = len(key)
    bits = max(n - 1, 1).bit_length()
    packed = key.astype(np.int64) << bits
    packed |= np.arange(n, dtype=np.int64)
    packed.sort()
    packed &= (1 << bits) - 1
    return packed if then is None else then[packed]


def stable_order(key: npt.NDArray[np.integer[Any]], then: IntArray | None = None) -> IntArray:
    """``np.argsort(key, kind="stable")`` for an integer key (``then[order]`` when
    ``then`` is given): radix sort for keys spanning fewer than 65,536 values, else a
    packed sort."""
    n = len(key)
    if n < 2 or bool(np.all(key[1:] >= key[:-1])):
        return np.arange(n, dtype=np.int64) if then is None else then
    lo, hi = int(key.min()), int(key.max())
    if hi - lo < 1 << 16:
        order = np.argsort((key - lo).astype(np.uint16), kind="stable").astype(np.int64, copy=False)
    elif (hi - lo + 1) * n * 2 < _PACK_LIMIT:
        return pack_sort(key - lo, then)
    else:
        order = np.argsort(key, kind="stable").astype(np.int64, copy=False)
    return order if then is None else then[order]


def group_rank(sorted_key: npt.NDArray[Any]) -> IntArray:
    """Position of every element within its run of equal keys (``sorted_key`` sorted)."""
    if not len(sorted_key):
        return np.zeros(0, dtype=np.int64)
    return run_rank(sorted_key[1:] == sorted_key[:-1])


def run_rank(same: BoolArray) -> IntArray:
    """Position of every element within its run, ``same[i]`` saying whether element
    ``i + 1`` continues the run of element ``i``."""
    n = len(same) + 1
    at = np.arange(n, dtype=np.int64)
    head = np.zeros(n, dtype=np.int64)
    np.multiply(at[1:], ~same, out=head[1:])
    np.maximum.accumulate(head, out=head)
    at -= head
    return at
