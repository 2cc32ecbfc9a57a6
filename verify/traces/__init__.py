"""Runtime traces: did the job execute the schedule that was verified?

- :func:`read_trace` reads trace files through a registry of formats
  (:mod:`~verify.traces.kineto` for PyTorch profiler traces,
  :mod:`~verify.traces.eventlog` for the generic CSV / JSON Lines event log), streaming.
- :func:`check_trace` checks a trace against a schedule step by step (every op once,
  nothing unscheduled, per-worker order, cross-worker dependencies, no overlap on the
  compute stream, FIFO message pairing) and measures makespan, busy and idle time and
  bubbles, fits the op durations and predicts the makespan under them.
- :func:`synthetic_trace` makes the trace a perfect runtime would record (tests,
  benchmarks).

>>> from verify.generators import generate
>>> s = generate("gpipe", 2, 2)
>>> report = check_trace(s, synthetic_trace(s, steps=2))
>>> report.ok, report.report.metrics.bubble_ratio
(True, 0.3333333333333333)
"""

from verify.traces.conformance import check_trace
from verify.traces.eventlog import write_event_log
from verify.traces.events import KINDS, EventBuilder, TraceEvents
from verify.traces.registry import (
    TraceFormat,
    format_of_trace,
    read_trace,
    register_format,
    trace_formats,
)
from verify.traces.render import render_trace_report
from verify.traces.results import StepResult, TraceReport
from verify.traces.synthetic import synthetic_trace

__all__ = [
    "KINDS",
    "EventBuilder",
    "StepResult",
    "TraceEvents",
    "TraceFormat",
    "TraceReport",
    "check_trace",
    "format_of_trace",
    "read_trace",
    "register_format",
    "render_trace_report",
    "synthetic_trace",
    "trace_formats",
    "write_event_log",
]
