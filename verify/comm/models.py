"""Communication models: what a send, a receive and a batch wait for.

Every model pairs point-to-point messages first-in first-out per *channel*: the ordered
pair (sending worker, receiving worker) within one process group. The k-th send a worker
posts on a channel is delivered to the k-th receive its peer posts on that channel,
whatever tensor either of them names (PyTorch attaches no tag to p2p messages; gloo and
NCCL pair them in FIFO order per peer pair).

* ``rendezvous``: a send completes only when the matching receive is posted, and a
  receive only when the matching send is posted; both then complete together
  (synchronous, blocking point-to-point).
* ``buffered(k)``: a send completes as soon as the channel holds fewer than ``k``
  undelivered messages (``k=None``: unbounded, like PyTorch's ``isend`` waited at the end
  of the step); a receive blocks until its message has been sent.
* ``batched``: a maximal run of consecutive SEND/RECV actions in a worker's program is
  one ``batch_isend_irecv`` group: its operations are posted together and the group
  completes when every one of them has met its partner (the partner's group is posted).

A gradient allreduce (``REDUCE_GRAD`` of a stage with several replicas) is a collective
over the replica group in every model: a worker that reaches it waits until every replica
has reached it. ``UNSHARD``/``RESHARD`` and a ``REDUCE_GRAD`` without other replicas are
local: they never wait for another worker.

>>> CommModel.parse("buffered:2").name, CommModel.parse("rendezvous") == RENDEZVOUS
('buffered(2)', True)
>>> [m.name for m in DEFAULT_MODELS]
['rendezvous', 'buffered(1)', 'buffered', 'batched']
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from verify.core.schedule import Schedule
from verify.errors import ModelError, ParameterError

MAX_CAPACITY = 10**9


class ModelKind(enum.Enum):
    """The three families of communication semantics (see the module docstring)."""

    RENDEZVOUS = "rendezvous"
    BUFFERED = "buffered"
    BATCHED = "batched"


@dataclass(frozen=True, slots=True)
class CommModel:
    """One communication model: ``kind`` and, for ``buffered``, the capacity of every
    channel in messages (``None`` = unbounded)."""

    kind: ModelKind
    capacity: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, ModelKind):
            raise ModelError("CommModel", "kind", "a ModelKind", self.kind)
        cap = self.capacity
        if self.kind is not ModelKind.BUFFERED:
            if cap is not None:
                raise ModelError("CommModel", "capacity", f"None for {self.kind.value}", cap)
        elif cap is not None and (
            not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_CAPACITY
        ):
            raise ModelError("CommModel", "capacity", f"None or an integer in [1, {MAX_CAPACITY}]", cap)

    @property
    def name(self) -> str:
        """``rendezvous``, ``buffered(2)``, ``buffered`` (unbounded) or ``batched``."""
        if self.kind is ModelKind.BUFFERED and self.capacity is not None:
            return f"buffered({self.capacity})"
        return self.kind.value

    def __str__(self) -> str:
        return self.name

    @classmethod
    def parse(cls, text: str) -> CommModel:
        """Parse ``rendezvous``, ``batched``, ``buffered`` (unbounded), ``buffered:K`` or
        ``buffered(K)``; a ParameterError says what is accepted."""
        t = text.strip().lower()
        if t == "rendezvous":
            return RENDEZVOUS
        if t == "batched":
            return BATCHED
        if t == "buffered":
            return cls(ModelKind.BUFFERED)
        m = _BUFFERED_RE.match(t)
        if m is not None:
            digits = m.group(1) or m.group(2)
            if len(digits) <= 10 and 1 <= int(digits) <= MAX_CAPACITY:
                return cls(ModelKind.BUFFERED, int(digits))
        raise ParameterError(
            f"unknown communication model {text!r}: expected rendezvous, batched, buffered "
            f"or buffered:K with 1 <= K <= {MAX_CAPACITY}"
        )


_BUFFERED_RE = re.compile(r"^buffered(?::([0-9]+)|\(([0-9]+)\))$")

RENDEZVOUS = CommModel(ModelKind.RENDEZVOUS)
"""Blocking, synchronous point-to-point: sender and receiver meet."""

BATCHED = CommModel(ModelKind.BATCHED)
"""``batch_isend_irecv`` groups: runs of consecutive comm actions post and complete together."""


def buffered(capacity: int | None = None) -> CommModel:
    """Buffered sends: at most ``capacity`` undelivered messages per channel (None: no limit).

    >>> buffered(4).name
    'buffered(4)'
    """
    return CommModel(ModelKind.BUFFERED, capacity)


DEFAULT_MODELS: tuple[CommModel, ...] = (RENDEZVOUS, buffered(1), buffered(), BATCHED)
"""The models a report covers unless told otherwise, strictest first."""


Groups: TypeAlias = Literal["shared", "per-pipeline"] | Mapping[str, str]
"""Process groups of the pipelines: ``shared`` (every pipeline's messages travel on one
group, so their order on a worker pair must agree across pipelines; the strictest and
DualPipe's choice), ``per-pipeline`` (one group per pipeline, as two PyTorch runtimes
would use for Chimera's two directions), or an explicit ``{pipeline: group}`` map
(pipelines it omits get a group of their own name)."""


def group_names(schedule: Schedule, groups: Groups) -> tuple[str, ...]:
    """The process group of each pipeline of ``schedule``, in pipeline order.

    >>> from verify.generators import generate
    >>> s = generate("chimera", 4, 4)
    >>> group_names(s, "shared"), group_names(s, "per-pipeline"), group_names(s, {"up": "down"})
    (('pp', 'pp'), ('down', 'up'), ('down', 'down'))
    """
    names = [p.name for p in schedule.pipelines]
    if isinstance(groups, str):
        if groups == "shared":
            return tuple("pp" for _ in names)
        if groups == "per-pipeline":
            return tuple(names)
        raise ParameterError(
            f"unknown process-group layout {groups!r}: expected 'shared', 'per-pipeline' "
            "or a {pipeline: group} mapping"
        )
    if not isinstance(groups, Mapping):
        raise ParameterError(f"groups: expected 'shared', 'per-pipeline' or a mapping, got {groups!r}")
    unknown = sorted(set(groups) - set(names))
    if unknown:
        raise ParameterError(
            f"groups names pipeline {unknown[0]!r}, which the schedule does not have "
            f"(pipelines: {', '.join(names)})"
        )
    out = []
    for n in names:
        g = groups.get(n, n)
        if not isinstance(g, str) or not g:
            raise ParameterError(f"groups[{n!r}]: expected a non-empty group name, got {g!r}")
        out.append(g)
    return tuple(out)
