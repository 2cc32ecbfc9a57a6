"""Actions: what one worker does at one step of its program.

The grammar extends PyTorch's action strings (``2F0``, ``3I5``, ``0W1``, ``1SEND_F3``,
``1UNSHARD``, ``(0F3;3B1)OVERLAP_F_B``) with an optional pipeline prefix
(``up:3F0``) so that replicated pipelines such as Chimera's *down* and *up* can be
written; micro-batch ids are counted per pipeline.

>>> op = parse_action("up:3F0")
>>> op
Op(pipeline='up', stage=3, microbatch=0, kind=<OpKind.F: 'F'>)
>>> format_action(op)
'up:3F0'
>>> format_action(parse_action("2I5", default_pipeline="main"), default_pipeline="main")
'2I5'
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TypeAlias

from verify.errors import ModelError

MAX_INDEX = 10**9
"""Largest stage or micro-batch index accepted anywhere (guards against absurd input)."""

DEFAULT_PIPELINE = "main"
"""Name of the pipeline of a single-pipeline schedule; its actions carry no prefix."""

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_NAME_RE = re.compile(rf"^{_NAME}$")


class OpKind(enum.Enum):
    """Compute op kinds: forward, full backward, and the zero-bubble split backward.

    ``I`` is the backward with respect to the input (it produces the gradient the
    previous stage needs); ``W`` is the backward with respect to the weights. A
    micro-batch's backward on one stage is either one ``B`` or an ``I`` followed by a ``W``.
    """

    F = "F"
    B = "B"
    I = "I"
    W = "W"

    @property
    def is_backward(self) -> bool:
        return self is not OpKind.F


class CommKind(enum.Enum):
    """Point-to-point communication actions, as PyTorch names them."""

    SEND_F = "SEND_F"
    RECV_F = "RECV_F"
    SEND_B = "SEND_B"
    RECV_B = "RECV_B"

    @property
    def is_send(self) -> bool:
        return self in (CommKind.SEND_F, CommKind.SEND_B)


class StageActionKind(enum.Enum):
    """Per-stage actions without a micro-batch (FSDP unshard/reshard, gradient reduction)."""

    UNSHARD = "UNSHARD"
    RESHARD = "RESHARD"
    REDUCE_GRAD = "REDUCE_GRAD"


_GOOD_NAMES: set[str] = set()


def _check_name(record: str, name: str) -> None:
    if type(name) is str and name in _GOOD_NAMES:
        return
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ModelError(record, "pipeline", f"a name matching {_NAME}", name)
    if len(_GOOD_NAMES) < 4096:
        _GOOD_NAMES.add(name)


def _check_index(record: str, field: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INDEX:
        raise ModelError(record, field, f"an integer in [0, {MAX_INDEX}]", value)


@dataclass(frozen=True, slots=True)
class Op:
    """One compute op: ``kind`` of micro-batch ``microbatch`` on ``stage`` of ``pipeline``.

    Whether the stage exists in the pipeline or the micro-batch is in range is a
    property of a schedule, checked by the verifier, not of the op.
    """

    pipeline: str
    stage: int
    microbatch: int
    kind: OpKind

    def __post_init__(self) -> None:
        _check_name("Op", self.pipeline)
        _check_index("Op", "stage", self.stage)
        _check_index("Op", "microbatch", self.microbatch)
        if not isinstance(self.kind, OpKind):
            raise ModelError("Op", "kind", "an OpKind (F, B, I, W)", self.kind)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.pipeline, self.stage, self.microbatch, self.kind.value)

    def __str__(self) -> str:
        return format_action(self)


@dataclass(frozen=True, slots=True)
class Overlap:
    """Compute ops executed together as one unit (PyTorch's ``OVERLAP_F_B`` container,
    DualPipe's overlapped forward-and-backward chunk)."""

    ops: tuple[Op, ...]

    def __post_init__(self) -> None:
        if len(self.ops) < 2 or not all(isinstance(o, Op) for o in self.ops):
            raise ModelError("Overlap", "ops", "two or more Op", self.ops)

    def __str__(self) -> str:
        return format_action(self)


@dataclass(frozen=True, slots=True)
class Comm:
    """A point-to-point send or receive of the activation (``_F``) or gradient (``_B``)
    of ``microbatch`` produced or consumed by ``stage`` of ``pipeline``."""

    pipeline: str
    stage: int
    microbatch: int
    kind: CommKind

    def __post_init__(self) -> None:
        _check_name("Comm", self.pipeline)
        _check_index("Comm", "stage", self.stage)
        _check_index("Comm", "microbatch", self.microbatch)
        if not isinstance(self.kind, CommKind):
            raise ModelError("Comm", "kind", "a CommKind", self.kind)

    def __str__(self) -> str:
        return format_action(self)


@dataclass(frozen=True, slots=True)
class StageAction:
    """A per-stage action: ``UNSHARD``, ``RESHARD`` or ``REDUCE_GRAD`` (the gradient
    allreduce over the stage's replicas)."""

    pipeline: str
    stage: int
    kind: StageActionKind

    def __post_init__(self) -> None:
        _check_name("StageAction", self.pipeline)
        _check_index("StageAction", "stage", self.stage)
        if not isinstance(self.kind, StageActionKind):
            raise ModelError("StageAction", "kind", "a StageActionKind", self.kind)

    def __str__(self) -> str:
        return format_action(self)


Action: TypeAlias = Op | Overlap | Comm | StageAction
"""Anything a worker program may hold."""

Compute: TypeAlias = Op | Overlap
"""An action that occupies the worker's compute stream."""

_KINDS = "SEND_F|RECV_F|SEND_B|RECV_B|REDUCE_GRAD|UNSHARD|RESHARD|F|B|I|W"
_NUM = r"(?:0|[1-9][0-9]*)"
_SIMPLE_RE = re.compile(rf"^(?:(?P<pipe>{_NAME}):)?(?P<stage>{_NUM})(?P<kind>{_KINDS})(?P<mb>{_NUM})?$")
_OVERLAP_RE = re.compile(r"^\((?P<body>[^()]*)\)OVERLAP_F_B$")

ACTION_GRAMMAR = (
    "[pipeline:]<stage><F|B|I|W|SEND_F|RECV_F|SEND_B|RECV_B><microbatch>, "
    "[pipeline:]<stage><UNSHARD|RESHARD|REDUCE_GRAD>, or (<op>;<op>...)OVERLAP_F_B"
)


class ActionSyntaxError(ValueError):
    """An action string does not follow the grammar; the message says what was expected.

    Readers catch it and re-raise it as a located :class:`verify.errors.ScheduleFormatError`.
    """


def _parse_simple(text: str, default_pipeline: str | None) -> Op | Comm | StageAction:
    m = _SIMPLE_RE.match(text)
    if m is None:
        raise ActionSyntaxError(f"invalid action {text!r}: expected {ACTION_GRAMMAR}")
    pipe = m.group("pipe") or default_pipeline
    if pipe is None:
        raise ActionSyntaxError(
            f"action {text!r} needs a pipeline prefix (e.g. 'down:{text}'): "
            "the schedule has several pipelines"
        )
    kind, mb_text = m.group("kind"), m.group("mb")
    stage_text = m.group("stage")
    if len(stage_text) > 9 or (mb_text is not None and len(mb_text) > 9):
        raise ActionSyntaxError(f"action {text!r}: index larger than {MAX_INDEX}")
    stage = int(stage_text)
    if kind in StageActionKind.__members__:
        if mb_text is not None:
            raise ActionSyntaxError(f"action {text!r}: {kind} takes no micro-batch")
        return StageAction(pipe, stage, StageActionKind(kind))
    if mb_text is None:
        raise ActionSyntaxError(f"action {text!r}: {kind} needs a micro-batch id, e.g. '{text}0'")
    if kind in CommKind.__members__:
        return Comm(pipe, stage, int(mb_text), CommKind(kind))
    return Op(pipe, stage, int(mb_text), OpKind(kind))


def parse_action(text: str, *, default_pipeline: str | None = DEFAULT_PIPELINE) -> Action:
    """Parse one action string strictly (the whole string must match).

    ``default_pipeline`` is the pipeline of actions written without a prefix; pass
    ``None`` when a prefix is mandatory (schedules with several pipelines).

    >>> parse_action("1F0junk")
    Traceback (most recent call last):
    ...
    verify.core.actions.ActionSyntaxError: invalid action '1F0junk': expected ...
    """
    m = _OVERLAP_RE.match(text)
    if m is not None:
        parts = m.group("body").split(";")
        ops: list[Op] = []
        for part in parts:
            sub = _parse_simple(part, default_pipeline)
            if not isinstance(sub, Op):
                raise ActionSyntaxError(
                    f"OVERLAP_F_B container {text!r} holds {part!r}: only F, B, I, W ops"
                )
            ops.append(sub)
        if len(ops) < 2:
            raise ActionSyntaxError(f"OVERLAP_F_B container {text!r} needs two or more ops")
        return Overlap(tuple(ops))
    return _parse_simple(text, default_pipeline)


def format_action(action: Action, *, default_pipeline: str | None = DEFAULT_PIPELINE) -> str:
    """Render an action in the extended PyTorch grammar; the prefix is omitted for
    actions of ``default_pipeline``."""
    if isinstance(action, Overlap):
        inner = ";".join(format_action(o, default_pipeline=default_pipeline) for o in action.ops)
        return f"({inner})OVERLAP_F_B"
    prefix = "" if action.pipeline == default_pipeline else f"{action.pipeline}:"
    if isinstance(action, StageAction):
        return f"{prefix}{action.stage}{action.kind.value}"
    return f"{prefix}{action.stage}{action.kind.value}{action.microbatch}"


def compute_ops(action: Action) -> tuple[Op, ...]:
    """The compute ops an action performs (empty for communication and stage actions)."""
    if isinstance(action, Op):
        return (action,)
    if isinstance(action, Overlap):
        return action.ops
    return ()
