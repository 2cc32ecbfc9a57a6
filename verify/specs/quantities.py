"""The measurable quantities claims and comparisons speak about.

Everything is read from a schedule and the :class:`~verify.core.results.Metrics` of its
earliest-start execution (``verify.sim``), so a spec claim, the ``compare`` table and
``chimera-verify check`` always measure the same thing.

Per-worker quantities (one value per worker): ``idle``, ``busy``, ``peak_activations``
(in units of one micro-batch's activation on one stage), ``weights`` (in M_theta = model
size / number of workers), ``stage_replicas``. Scalars: ``makespan``, ``bubble_ratio``
(total idle / (workers x makespan)), ``total_activations`` (sum of the per-worker peaks),
``p2p_messages`` (cross-worker dependencies, see :func:`p2p_messages`) and ``num_ops``.

>>> from verify.generators import generate
>>> from verify.sim import metrics
>>> s = generate("chimera", 4, 4)
>>> m = metrics(s)
>>> measure("makespan", s, m), measure("idle", s, m), p2p_messages(s)
(10.0, (2.0, 2.0, 2.0, 2.0), 24)
"""

from __future__ import annotations

from verify.core.actions import OpKind
from verify.core.results import Metrics
from verify.core.schedule import Schedule

PER_WORKER = ("idle", "busy", "peak_activations", "weights", "stage_replicas")
SCALAR = ("makespan", "bubble_ratio", "total_activations", "p2p_messages", "num_ops")
QUANTITIES = SCALAR + PER_WORKER


def p2p_messages(schedule: Schedule) -> int:
    """Number of cross-worker data dependencies of the compute schedule.

    One message per op whose producer on the neighbouring stage sits on another worker:
    the activation a forward receives from stage s-1, the gradient a backward (``B`` or
    ``I``) receives from stage s+1. This counts the dependencies a communication lowering
    must turn into send/receive pairs; it is not that lowering (no batching, no local
    hand-over elision beyond "same worker"). Linear in the number of ops.

    >>> from verify.generators import generate
    >>> p2p_messages(generate("1f1b", 4, 8))  # 3 boundaries x 8 micro-batches x 2 directions
    48
    """
    placement = {p.name: p.placement for p in schedule.pipelines}
    count = 0
    for w, _, op in schedule.ops():
        pl = placement.get(op.pipeline)
        if pl is None or op.stage >= len(pl):
            continue
        if op.kind is OpKind.F:
            if op.stage > 0 and pl[op.stage - 1] != w:
                count += 1
        elif op.kind is not OpKind.W and op.stage + 1 < len(pl) and pl[op.stage + 1] != w:
            count += 1
    return count


def measure(name: str, schedule: Schedule, metrics: Metrics) -> float | tuple[float, ...]:
    """The value of quantity ``name`` (one of :data:`QUANTITIES`)."""
    if name == "makespan":
        return metrics.makespan
    if name == "bubble_ratio":
        return metrics.bubble_ratio
    if name == "total_activations":
        return float(sum(metrics.peak_activations))
    if name == "p2p_messages":
        return float(p2p_messages(schedule))
    if name == "num_ops":
        return float(metrics.num_ops)
    if name == "idle":
        return metrics.idle
    if name == "busy":
        return metrics.busy
    if name == "peak_activations":
        return metrics.peak_activations
    if name == "weights":
        return metrics.weights
    if name == "stage_replicas":
        return tuple(float(x) for x in metrics.stage_replicas)
    raise KeyError(name)


