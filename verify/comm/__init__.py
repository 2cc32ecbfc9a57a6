"""Communication: lowering compute schedules to SEND/RECV programs, and checking them.

Concept map:

- :mod:`verify.comm.lowering` - passes from a compute schedule to per-worker programs
  with comm actions (policies ``torch``, ``torch-deferred``, ``lazy``, ``eager``,
  ``batched``), plus PyTorch's FSDP and gradient-reduction passes.
- :mod:`verify.comm.models` - communication models (rendezvous, buffered(k), batched)
  and process-group layouts.
- :mod:`verify.comm.program` - the array form of a lowered schedule: messages,
  channels, FIFO pairing.
- :mod:`verify.comm.static` - findings that hold under every model (unmatched, FIFO,
  order, collectives).
- :mod:`verify.comm.engine` / :mod:`verify.comm.deadlock` - execution under a model,
  and deadlocks explained as wait-for cycles.
- :mod:`verify.comm.analysis` - the API: ``check_comms``, ``analyze_comms``,
  ``comm_timing``, ``comm_report``.

>>> from verify.generators import generate
>>> lazy = lower(generate("1f1b", 2, 2), Policy.LAZY)
>>> analyze_comms(lazy).summary()
'deadlocks under rendezvous; holds under buffered(1), buffered, batched'
>>> analyze_comms(lower(generate("chimera", 4, 4))).ok
True
"""

from verify.comm.analysis import (
    CommAnalysis,
    CommTiming,
    ModelVerdict,
    analyze_comms,
    check_comms,
    comm_report,
    comm_timing,
    lower_and_check,
    merge_report,
)
from verify.comm.lowering import (
    LoweringError,
    Policy,
    add_reduce_grad,
    add_unshard_reshard,
    lower,
    lower_indexed,
    lower_like_torch,
)
from verify.comm.models import (
    BATCHED,
    DEFAULT_MODELS,
    RENDEZVOUS,
    CommModel,
    Groups,
    ModelKind,
    buffered,
)

__all__ = [
    "BATCHED",
    "DEFAULT_MODELS",
    "RENDEZVOUS",
    "CommAnalysis",
    "CommModel",
    "CommTiming",
    "Groups",
    "LoweringError",
    "ModelKind",
    "ModelVerdict",
    "Policy",
    "add_reduce_grad",
    "add_unshard_reshard",
    "analyze_comms",
    "buffered",
    "check_comms",
    "comm_report",
    "comm_timing",
    "lower",
    "lower_and_check",
    "lower_indexed",
    "lower_like_torch",
    "merge_report",
]
