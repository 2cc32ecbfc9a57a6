"""Data dependencies between compute ops: the semantics every route shares.

Within one pipeline with S stages, for micro-batch m:

* ``F(s, m)`` needs ``F(s-1, m)`` (the activation from the previous stage);
* the backward of stage s (``B(s, m)`` or ``I(s, m)``) needs ``F(s, m)`` (its stashed
  activation) and the input-gradient of stage s+1 (``B(s+1, m)`` or ``I(s+1, m)``);
* ``W(s, m)`` needs ``I(s, m)``.

A stage's backward of one micro-batch is either one ``B`` or an ``I`` and a ``W``; which
form a schedule uses is passed in as ``grad_kind`` (``OpKind.B`` or ``OpKind.I``).
"""

from __future__ import annotations

from collections.abc import Callable

from verify.core.actions import Op, OpKind

GradKind = Callable[[str, int, int], OpKind]
"""``grad_kind(pipeline, stage, microbatch)`` -> ``OpKind.B`` or ``OpKind.I``."""


def producers(op: Op, num_stages: int, grad_kind: GradKind) -> list[Op]:
    """The ops whose outputs ``op`` consumes.

    >>> [str(op) for op in producers(Op("main", 1, 0, OpKind.B), 3, lambda p, s, m: OpKind.B)]
    ['1F0', '2B0']
    """
    p, s, m, k = op.pipeline, op.stage, op.microbatch, op.kind
    if k is OpKind.F:
        return [Op(p, s - 1, m, OpKind.F)] if s > 0 else []
    if k is OpKind.W:
        return [Op(p, s, m, OpKind.I)]
    out = [Op(p, s, m, OpKind.F)]
    if s + 1 < num_stages:
        out.append(Op(p, s + 1, m, grad_kind(p, s + 1, m)))
    return out
