"""Synthetic traces: what a runtime executing a schedule perfectly would record.

Times come from the earliest-start simulation under a cost model, so the trace conforms
by construction; tests perturb it, and the benchmark scales it to a million events.

>>> from verify.generators import generate
>>> ev = synthetic_trace(generate("gpipe", 2, 2), steps=1, messages=True)
>>> [ev.label(i) for i in range(len(ev)) if ev.worker[i] == 1][:4]
['1F0', '1F1', '1B0', '1B1']
>>> sorted({ev.label(i) for i in range(len(ev)) if ev.kind[i] >= 4})[:2]
['0RECV_B0', '0RECV_B1']
"""

from __future__ import annotations

import numpy as np

from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import Schedule
from verify.errors import ParameterError
from verify.passes.index import index_schedule
from verify.sim.execute import execute
from verify.traces.events import NO_STEP, RECV_B, RECV_F, SEND_B, SEND_F, EventBuilder, TraceEvents


def synthetic_trace(
    schedule: Schedule,
    *,
    steps: int = 1,
    costs: CostModel = UNIT_COSTS,
    gap: float = 1.0,
    messages: bool = False,
    marked: bool = False,
    source: str = "<synthetic>",
) -> TraceEvents:
    """``steps`` back-to-back executions of ``schedule`` (``gap`` apart), one event per
    compute op; with ``messages``, a send and a receive (with peer and message id) per
    cross-worker data edge, both at the producer's end; with ``marked``, a step column.

    The schedule must be deadlock-free (a ValueError otherwise).
    """
    index = index_schedule(schedule)
    ex = execute(index, costs)
    if not ex.complete:
        raise ParameterError("synthetic trace: the schedule deadlocks, so no execution can be recorded")
    builder = EventBuilder()
    src = builder.add_source(source, "line")
    pipes = schedule.pipelines
    codes = np.array([builder.pipeline_code(p.name) for p in pipes], dtype=np.int64)
    n_ops = len(index.ops)
    makespan = ex.makespan
    op_unit = index.op_unit
    multi = np.bincount(op_unit, minlength=index.num_units) > 1
    unit_of_op = np.where(multi[op_unit], op_unit, -1)
    ms: list[np.ndarray] = []
    if messages:
        s_src, s_dst, s_row = index.producers()
        uw = index.unit_worker
        cross = uw[s_src] != uw[s_dst]
        s_src, s_dst, s_row = s_src[cross], s_dst[cross], s_row[cross]
        kinds = index.op_kind[s_row]
        fwd = kinds == 0
        cons_stage = index.op_stage[s_row]
        prod_stage = np.where(fwd, cons_stage - 1, cons_stage + 1)
        t = ex.end[s_src]
        order = np.lexsort((prod_stage, t))
        s_src, s_dst, s_row, fwd, cons_stage, prod_stage, t = (
            a[order] for a in (s_src, s_dst, s_row, fwd, cons_stage, prod_stage, t))
        a_w, b_w = uw[s_src], uw[s_dst]
        chan = a_w * schedule.num_workers + b_w
        if len(pipes) > 1:
            chan = chan * len(pipes) + index.op_pipe[s_row]
        o = np.argsort(chan, kind="stable")
        new = np.ones(len(o), dtype=bool)
        new[1:] = chan[o][1:] != chan[o][:-1]
        seq = np.empty(len(o), dtype=np.int64)
        seq[o] = np.arange(len(o)) - np.nonzero(new)[0][np.cumsum(new) - 1]
        ms = [s_row, fwd, cons_stage, prod_stage, t, a_w, b_w, seq]
    for k in range(steps):
        off = k * (makespan + gap)
        step_col = np.full(n_ops, k if marked else NO_STEP, dtype=np.int64)
        unit = np.where(unit_of_op >= 0, unit_of_op + k * index.num_units, -1)
        builder.extend({
            "worker": index.op_worker, "pipeline": codes[index.op_pipe], "stage": index.op_stage,
            "microbatch": index.op_mb, "kind": index.op_kind,
            "start": ex.start[op_unit] + off, "end": ex.end[op_unit] + off,
            "ready": np.full(n_ops, np.nan), "peer": np.full(n_ops, -1), "seq": np.full(n_ops, -1),
            "step": step_col, "unit": unit, "source": np.full(n_ops, src),
            "location": np.arange(n_ops) + k * n_ops,
        })
        if messages and len(ms[0]):
            s_row, fwd, cons_stage, prod_stage, t, a_w, b_w, seq = ms
            m = len(s_row)
            p = codes[index.op_pipe[s_row]]
            mb = index.op_mb[s_row]
            for is_send in (True, False):
                builder.extend({
                    "worker": a_w if is_send else b_w, "pipeline": p,
                    "stage": prod_stage if is_send else cons_stage, "microbatch": mb,
                    "kind": np.where(fwd, SEND_F if is_send else RECV_F, SEND_B if is_send else RECV_B),
                    "start": t + off, "end": t + off, "ready": np.full(m, np.nan),
                    "peer": b_w if is_send else a_w, "seq": seq + k * 0,
                    "step": np.full(m, k if marked else NO_STEP), "unit": np.full(m, -1),
                    "source": np.full(m, src), "location": np.full(m, -1),
                })
    builder.time_unit = ""
    return builder.build()
