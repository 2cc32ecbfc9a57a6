"""Regenerate the PyTorch fixtures of this folder (needs ``pip install torch==2.13.0``).

Run from the repository root: ``python tests/data/comm/make_torch_fixtures.py``.

For each built-in multi-stage schedule of ``torch.distributed.pipelining`` and a few sizes,
it writes what PyTorch itself produces, without a process group (stand-in stage records
carry the only fields the schedule constructors read):

* ``torch_<Schedule>_r<ranks>_n<microbatches>.compute.csv``: the ``compute_only`` order
  (``pipeline_order``; an empty cell is an idle step);
* ``...comms.csv``: the lowered ``compute_comms`` order (``pipeline_order_with_comms``:
  UNSHARD/RESHARD, REDUCE_GRAD, SEND/RECV, OVERLAP_F_B containers);
* ``...deferred.comms.csv``: the same with ``defer_pp_recv=True``.

``ScheduleGPipe`` runs its own single-stage loop; its ``compute_only`` order (without the
REDUCE_GRAD cells) is lowered with PyTorch's lowering functions, in the order
``_PipelineScheduleRuntime`` applies them. ``Schedule1F1B`` is left out: its
``_get_pipeline_order`` in 2.13 names micro-batch N on the last rank and skips 0 (a bug of
that debugging view, not of its runtime).
"""

from __future__ import annotations

import csv
import os
import types
from typing import Any


def main() -> None:
    import torch
    from torch.distributed.pipelining import schedules as torch_schedules

    here = os.path.dirname(os.path.abspath(__file__))

    def stage(rank: int, size: int, index: int, total: int) -> Any:
        return types.SimpleNamespace(
            num_stages=total, group_size=size, group_rank=rank, stage_index=index,
            is_first=index == 0, is_last=index == total - 1, submod=torch.nn.Linear(2, 2),
        )

    def write(name: str, order: dict[int, list[Any]]) -> None:
        with open(os.path.join(here, name), "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            for rank in sorted(order):
                writer.writerow(["" if a is None else str(a) for a in order[rank]])

    multi = {
        "Interleaved1F1B": "loop",
        "LoopedBFS": "loop",
        "InterleavedZeroBubble": "loop",
        "ZBVZeroBubble": "v",
        "DualPipeV": "v",
    }
    for name, style in multi.items():
        cls = torch_schedules.get_schedule_class(name)
        for ranks, n in ((2, 4), (4, 8)):
            total = 2 * ranks
            locals_ = [0, ranks] if style == "loop" else [0, total - 1]
            for defer in (False, True):
                stages = [stage(0, ranks, i, total) for i in locals_]
                sch = cls(stages, n, defer_pp_recv=defer)
                base = f"torch_{name}_r{ranks}_n{n}"
                if not defer:
                    write(f"{base}.compute.csv", sch.pipeline_order)
                    write(f"{base}.comms.csv", sch.pipeline_order_with_comms)
                else:
                    write(f"{base}.deferred.comms.csv", sch.pipeline_order_with_comms)

    gp = torch_schedules.ScheduleGPipe(stage(0, 4, 0, 4), 4)
    compute = {
        r: [a for a in acts if a is None or a.computation_type != torch_schedules.REDUCE_GRAD]
        for r, acts in gp.pipeline_order.items()
    }
    write("torch_GPipe_r4_n4.compute.csv", compute)
    add_reduce = torch_schedules._add_reduce_grad
    add_fsdp = torch_schedules._add_unshard_reshard
    lowered = {r: add_reduce(add_fsdp(a), 4) for r, a in compute.items()}
    lowered = torch_schedules._add_send_recv(lowered, stage_to_rank=lambda s: s, num_stages=4)
    write("torch_GPipe_r4_n4.comms.csv", lowered)


if __name__ == "__main__":
    main()
