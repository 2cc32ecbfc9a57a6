"""Vectorised scanning of comma-separated text, a chunk of lines at a time.

The CSV event log reader hands over a block of body lines (each ending in ``\\n``) as
bytes; this module finds every field's byte span with one pass over the block and
converts whole columns with NumPy, eight bytes per machine word:

* :meth:`Scan.delimiters` finds every comma and newline in one pass, and
  :meth:`Scan.column` the ``(start, end)`` byte offsets of a column's fields (when
  every line has the header's number of fields, see :meth:`Scan.well_formed`);
* :func:`numbers` parses a column of plain decimal numbers (``-12``, ``3.25``; at most 16
  characters): each field is loaded as one or two unaligned 64-bit words, aligned to the
  right, checked to be digits and combined by multiply-and-shift steps. A decimal is
  its digits divided by a power of ten; both are exact, so the division rounds as
  ``float()`` does. Fields in any other spelling (``1e-05``, `` 7``, ``+1``, ``nan``)
  are flagged for the caller's per-value path;
* :func:`categories` groups a column of short strings (``F``, ``SEND_B``, pipeline
  names) by their bytes, so the caller decodes each distinct value once.

>>> s = Scan.of(b"3,-1.5,F\\n12,0.25,SEND_B\\n")
>>> d = s.delimiters()
>>> s.well_formed(3, 2, d)
True
>>> values, fast = numbers(s.words, *s.column(d, 3, 0), integer=True)
>>> values.tolist(), fast.tolist()
([3, 12], [True, True])
>>> numbers(s.words, *s.column(d, 3, 1), integer=False)[0].tolist()
[-1.5, 0.25]
>>> start, end = s.column(d, 3, 2)
>>> first, inverse = categories(s, start, end)
>>> [s.text(int(r), start, end) for r in first], inverse.tolist()
(['F', 'SEND_B'], [0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
WordArray = npt.NDArray[np.uint64]

PAD = b"\0" * 16
"""Bytes a scanned block is followed by, so that two words load from any field start."""
_COMMA, _NEWLINE, _CR, _MINUS = 44, 10, 13, 45
_U = np.uint64
_ZEROS = _U(0x3030303030303030)  # eight '0'
_DOTS = _U(0x2E2E2E2E2E2E2E2E)  # eight '.'
_LOW7 = _U(0x7F7F7F7F7F7F7F7F)
_HIGH = _U(0x8080808080808080)
_NIBBLE = _U(0xF0F0F0F0F0F0F0F0)
_SIXES = _U(0x0606060606060606)
_MASK = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
"""``_MASK[k]``: the low ``k`` bytes of a word."""
_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_POW10F = np.array([float(10**k) for k in range(17)])
_EXACT = 1 << 53  # integers up to this are exact doubles


@dataclass(frozen=True, slots=True)
class Scan:
    """A block of lines as bytes, with an unaligned 64-bit word view of it."""

    data: bytes
    """The block followed by zero padding."""
    bytes_: npt.NDArray[np.uint8]
    words: WordArray
    """``words[i]``: the eight bytes from offset ``i`` (little-endian)."""
    size: int
    """Length of the block without padding."""
    nul: bool
    """The block holds a NUL byte."""

    @classmethod
    def of(cls, block: bytes) -> Scan:
        """Scan ``block`` (lines ending in ``\\n``)."""
        return cls.over(block + PAD, len(block))

    @classmethod
    def over(cls, data: bytes, size: int) -> Scan:
        """Scan the first ``size`` bytes of ``data`` (lines ending in ``\\n``), which
        holds at least :data:`PAD` more bytes after them (read, never parsed)."""
        if len(data) - size < len(PAD):
            raise ValueError("a scan needs 16 bytes after its block")
        words = np.ndarray(shape=(len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
        return cls(data, np.frombuffer(data, np.uint8), words, size, data.find(b"\0", 0, size) >= 0)

    def delimiters(self) -> IntArray:
        """Offsets of every comma and newline, in order."""
        a = self.bytes_[: self.size]
        return np.flatnonzero((a == _COMMA) | (a == _NEWLINE))

    def well_formed(self, ncol: int, lines: int, delims: IntArray) -> bool:
        """True when each of the ``lines`` lines has exactly ``ncol`` fields."""
        if len(delims) != lines * ncol:
            return False
        return bool(np.all(self.bytes_[delims[ncol - 1 :: ncol]] == _NEWLINE))

    def field_counts(self) -> IntArray:
        """Number of fields of every line (slow path: locating a malformed line)."""
        a = self.bytes_[: self.size]
        commas = np.flatnonzero(a == _COMMA)
        ends = np.flatnonzero(a == _NEWLINE)
        return np.diff(np.searchsorted(commas, ends), prepend=0) + 1

    def column(
        self, delims: IntArray, ncol: int, k: int, *, strip_cr: bool = False
    ) -> tuple[IntArray, IntArray]:
        """``(start, end)`` offsets of the ``k``-th field of every line of a well-formed
        block; ``strip_cr``: the end moves before carriage returns ending the field."""
        end = delims[k::ncol].copy()
        if k:
            start = delims[k - 1 :: ncol] + 1
        else:
            start = np.empty_like(end)
            start[:1] = 0
            np.add(delims[ncol - 1 : -1 : ncol], 1, out=start[1:])
        if strip_cr:
            a = self.bytes_
            while True:
                cr = (end > start) & (a[np.maximum(end - 1, 0)] == _CR)
                if not np.any(cr):
                    break
                end[cr] -= 1
        return start, end

    def text(self, row: int, start: IntArray, end: IntArray) -> str:
        """Field ``row`` of the column ``(start, end)`` as text."""
        return self.data[int(start[row]) : int(end[row])].decode("utf-8", "surrogatepass")


def _digits8(x: WordArray) -> WordArray:
    """The value of eight ASCII digits in a word (the first digit in the lowest byte)."""
    d = x - _ZEROS
    d = (d * _U(10) + (d >> _U(8))) & _U(0x00FF00FF00FF00FF)
    d = (d * _U(100) + (d >> _U(16))) & _U(0x0000FFFF0000FFFF)
    out: WordArray = (d * _U(10000) + (d >> _U(32))) & _U(0xFFFFFFFF)
    return out


def _all_digits(x: WordArray) -> BoolArray:
    """Every byte of the word is an ASCII digit."""
    out: BoolArray = ((x & _NIBBLE) == _ZEROS) & (((x + _SIXES) & _NIBBLE) == _ZEROS)
    return out


def _zero_bytes(t: WordArray) -> WordArray:
    """The high bit of every byte of ``t`` that is zero (exact, no false positives)."""
    out: WordArray = ~(((t & _LOW7) + _LOW7) | t) & _HIGH
    return out


def _dots(x: WordArray, last: int) -> tuple[IntArray, IntArray]:
    """Replace every '.' of the word by '0'; returns the number of points, and for a
    single one the number of characters after it (``last`` minus its byte index)."""
    z = _zero_bytes(x ^ _DOTS)
    count = np.bitwise_count(z).astype(np.int64)
    after = last - ((np.bitwise_count(z - _U(1)).astype(np.int64) - 7) >> 3)
    after[count != 1] = 0
    x += (z >> _U(7)) * _U(2)
    return count, after


def _tables(width: int) -> tuple[WordArray, WordArray, WordArray]:
    """Per field width (0 to ``width``): the shift that right-aligns it in a word of
    ``width`` bytes, the '0' padding before it, and the fix turning its first byte '-'
    into '0'."""
    shift = np.array([8 * (width - w) % 64 for w in range(width + 1)], dtype=np.uint64)
    pad = np.array([0x3030303030303030 & ((1 << int(sh)) - 1) for sh in shift], dtype=np.uint64)
    return shift, pad, np.array([3 << int(sh) for sh in shift], dtype=np.uint64)


_SHIFT8, _PAD8, _NEG8 = _tables(8)
_SHIFT16, _PAD16, _NEG16 = _tables(16)  # within the word holding the first character


def numbers(
    words: WordArray, start: IntArray, end: IntArray, *, integer: bool
) -> tuple[IntArray | FloatArray, BoolArray]:
    """Parse the fields ``[start, end)`` as integers (``-?[0-9]+``) or decimals
    (``-?[0-9]*.?[0-9]*`` with at least one digit). Returns the values and a mask of the
    fields parsed; the others (empty, longer than 16 bytes, another spelling, or a
    decimal whose digits exceed 2**53) hold unspecified values, for the caller to fill."""
    n = len(start)
    w = end - start
    fast = (w > 0) & (w <= 16)
    if not np.any(fast):
        return (np.zeros(n, np.int64) if integer else np.zeros(n)), fast
    np.clip(w, 0, 16, out=w)
    first = words[start]
    neg = (first & _U(0xFF)) == _U(_MINUS)
    any_neg = bool(np.any(neg))
    if any_neg:  # a sign alone is no number
        fast &= ~neg | (w >= 2)
    if int(w.max()) <= 8:
        # right-align the field in one word, '0' before it
        x = first
        x <<= _SHIFT8[w]
        x |= _PAD8[w]
        if any_neg:
            x += np.where(neg, _NEG8[w], _U(0))
        parts = [x]
    else:
        # right-align in two words: lo holds the first eight of sixteen characters
        short = w <= 8
        k = 16 - w
        sh = _SHIFT16[w]
        spill = np.where(k % 8 > 0, first >> ((64 - k * 8) % 64).astype(np.uint64), _U(0))
        hi = np.where(short, first << sh, (words[start + 8] << sh) | spill)
        lo = np.where(short, _ZEROS, first << sh)
        pad = _PAD16[w]
        hi |= np.where(short, pad, _U(0))
        lo |= np.where(short, _U(0), pad)
        if any_neg:
            fix = np.where(neg, _NEG16[w], _U(0))
            hi += np.where(short, fix, _U(0))
            lo += np.where(short, _U(0), fix)
        parts = [lo, hi]
    dots = after = None
    if not integer:
        for j, x in enumerate(parts):
            c, a = _dots(x, 8 * (len(parts) - j) - 1)
            dots, after = (c, a) if dots is None or after is None else (dots + c, after + a)
        assert dots is not None and after is not None
        if len(parts) == 2:
            after[dots != 1] = 0  # one point in each word: no number, and no valid count
        fast &= dots <= 1
        fast &= (w - neg - dots) >= 1
    for x in parts:
        fast &= _all_digits(x)
    m = _digits8(parts[0]).astype(np.int64)
    if len(parts) == 2:
        m *= 100_000_000
        m += _digits8(parts[1]).astype(np.int64)
    if integer:
        if any_neg:
            np.negative(m, out=m, where=neg)
        return m, fast
    assert dots is not None and after is not None
    if np.any(dots):  # drop the '0' that replaced the point
        p = _POW10[after]
        m = np.where(dots == 1, (m // (p * 10)) * p + m % p, m)
    if len(parts) == 2:
        fast &= m <= _EXACT
    val = m.astype(np.float64)
    if np.any(after):
        val /= _POW10F[after]
    if any_neg:
        np.negative(val, out=val, where=neg)
    return val, fast


_PEEL = 32  # distinct values taken one by one before sorting the rest


def categories(scan: Scan, start: IntArray, end: IntArray) -> tuple[IntArray, IntArray] | None:
    """Group the fields ``[start, end)`` by content: the row of each group's first field,
    in order of first appearance, and every field's group. None when a field is longer
    than 16 bytes or the block holds a NUL byte (the caller then reads the column value
    by value)."""
    n = len(start)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    w = end - start
    top = int(w.max())
    if top > 16 or scan.nul:
        return None
    # no field holds a NUL byte, so its zero-padded bytes identify it
    words = scan.words
    lo = words[start] & _MASK[np.minimum(w, 8)]
    hi = words[start + 8] & _MASK[np.clip(w - 8, 0, 8)] if top > 8 else None
    inverse = np.empty(n, np.int64)
    firsts: list[int] = []
    rest = np.arange(n)
    while len(rest) and len(firsts) < _PEEL:
        r = int(rest[0])
        same = lo[rest] == lo[r]
        if hi is not None:
            same &= hi[rest] == hi[r]
        inverse[rest[same]] = len(firsts)
        firsts.append(r)
        rest = rest[~same]
    first = np.array(firsts, dtype=np.int64)
    if len(rest):
        keys = lo[rest] if hi is None else np.stack([lo[rest], hi[rest]], axis=1)
        _, at, inv = np.unique(keys, return_index=True, return_inverse=True, axis=0)
        order = np.argsort(at, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        inverse[rest] = len(firsts) + rank[inv.reshape(-1)]
        first = np.concatenate([first, rest[at[order]]])
    return first, inverse
