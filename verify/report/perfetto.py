"""Perfetto / Chrome trace export of a schedule's timeline.

The output is a Chrome Trace Event Format JSON document, which the Perfetto UI
(ui.perfetto.dev), the Perfetto trace processor, ``chrome://tracing`` and HTA load:

* one process (the schedule) with one thread per worker, named ``P0``, ``P1``, ... and
  sorted by worker;
* one complete event (``"ph": "X"``) per compute op that ran: name in the action
  grammar (``down:0F1``), category the op kind (``F``, ``B``, ``I``, ``W``), real
  durations from the cost model, ``args`` with pipeline, stage, micro-batch, worker,
  program position and the violations it is involved in. The ops of an ``Overlap`` share
  one interval (Perfetto nests them);
* one flow (``"ph": "s"`` / ``"ph": "f"``) per message: every cross-worker data
  dependency (an activation going up the pipeline, a gradient coming back), drawn as an
  arrow from the producer's slice to the consumer's;
* ``otherData`` with the schedule, the cost model, the time scale and the ops that never
  started (a deadlock), which have no slice.

Times are the simulated earliest-start timeline by default (``use_schedule_times=True``
draws a timed schedule's own start times instead); one cost unit is ``time_unit_us``
microseconds (default 1000: a unit slot is one millisecond).

>>> import json
>>> from verify.generators import generate
>>> doc = json.loads(render_perfetto(generate("chimera", 4, 4)))
>>> sum(1 for e in doc["traceEvents"] if e["ph"] == "X")
32
>>> sum(1 for e in doc["traceEvents"] if e["ph"] == "s")
24
"""

from __future__ import annotations

import json
from typing import Any

from verify.core.actions import OpKind, format_action
from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.results import Report
from verify.core.schedule import Schedule
from verify.report.layout import LinkKind, compute_timeline

PID = 1
"""The process id of the schedule; worker w is thread ``w + 1``."""


def _ts(x: float) -> float | int:
    r = round(x, 3)
    return int(r) if float(r).is_integer() else r


def trace_events(
    schedule: Schedule,
    costs: CostModel = UNIT_COSTS,
    *,
    report: Report | None = None,
    use_schedule_times: bool = False,
    time_unit_us: float = 1000.0,
) -> dict[str, Any]:
    """The trace as a JSON-ready dictionary (see the module docstring)."""
    if not time_unit_us > 0:
        raise ValueError(f"time_unit_us must be > 0, got {time_unit_us!r}")
    timeline = compute_timeline(schedule, costs, use_schedule_times=use_schedule_times)
    default = schedule.default_pipeline
    name = schedule.name or schedule.source or "schedule"
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": PID, "tid": 0, "args": {"name": name}},
    ]
    for w in range(schedule.num_workers):
        events.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": w + 1,
                       "args": {"name": f"P{w}"}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": w + 1,
                       "args": {"sort_index": w}})
    hits: dict[tuple[int, int], list[str]] = {}
    if report is not None:
        for v in report.violations:
            for pos in v.positions:
                hits.setdefault(pos, []).append(v.kind.value)
    never: list[dict[str, Any]] = []
    for b in timeline.blocks:
        if not b.ops:
            continue
        if not b.started:
            never.extend({"op": format_action(op, default_pipeline=None), "worker": b.worker,
                          "position": b.position} for op in b.ops)
            continue
        for op in b.ops:
            args: dict[str, Any] = {
                "pipeline": op.pipeline, "stage": op.stage, "microbatch": op.microbatch,
                "kind": op.kind.value, "worker": b.worker, "position": b.position,
            }
            found = hits.get((b.worker, b.position))
            if found:
                args["violations"] = found
            events.append({
                "ph": "X", "name": format_action(op, default_pipeline=default), "cat": op.kind.value,
                "ts": _ts(b.start * time_unit_us), "dur": _ts((b.end - b.start) * time_unit_us),
                "pid": PID, "tid": b.worker + 1, "args": args,
            })
    flow = 0
    for link in timeline.links:
        if link.kind is not LinkKind.DATA:
            continue
        src, dst = timeline.blocks[link.src], timeline.blocks[link.dst]
        if not (src.started and dst.started):
            continue
        flow += 1
        what = "activation" if src.ops[0].kind is OpKind.F else "gradient"
        # bind each end inside its slice (mid-point), never on a boundary shared with a neighbour
        events.append({"ph": "s", "id": flow, "name": what, "cat": "message",
                       "ts": _ts((src.start + src.end) / 2 * time_unit_us), "pid": PID,
                       "tid": src.worker + 1})
        events.append({"ph": "f", "bp": "e", "id": flow, "name": what, "cat": "message",
                       "ts": _ts((dst.start + dst.end) / 2 * time_unit_us), "pid": PID,
                       "tid": dst.worker + 1})
    return {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "generator": "chimera-verify",
            "schedule": name,
            "costs": timeline.costs,
            "timing": timeline.source,
            "time_unit_us": time_unit_us,
            "makespan": _ts(timeline.makespan),
            "never_started": never,
        },
    }


def render_perfetto(
    schedule: Schedule,
    costs: CostModel = UNIT_COSTS,
    *,
    report: Report | None = None,
    use_schedule_times: bool = False,
    time_unit_us: float = 1000.0,
) -> str:
    """The trace as JSON text, one event per line (diff-friendly)."""
    doc = trace_events(schedule, costs, report=report, use_schedule_times=use_schedule_times,
                       time_unit_us=time_unit_us)
    events = ",\n".join(json.dumps(e, sort_keys=True) for e in doc["traceEvents"])
    rest = {k: v for k, v in doc.items() if k != "traceEvents"}
    tail = json.dumps(rest, indent=1, sort_keys=True)[1:-1].strip()
    return '{"traceEvents": [\n' + events + "\n],\n" + tail + "\n}\n"
