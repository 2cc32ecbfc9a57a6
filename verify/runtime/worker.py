"""One rank of a real run: ``python -m verify.runtime.worker --plan ... --rank R ...``.

Builds a tiny model (one ``Linear(16, 16) + Tanh`` per stage, weights seeded by the stage
index so that replicas start equal), one ``_PipelineScheduleRuntime`` per pipeline of the
plan on its own gloo process group, and runs a warm-up step and ``--steps`` profiled
steps with the PyTorch profiler on (``ProfilerStep#n`` marks each step); the trace is
written to ``OUT/rank<R>.json``. Several pipelines run in one thread each and take
turns in the schedule's joint per-worker order. After each step the gradients of
replicated stages are summed over their holders and an SGD step is taken.

Progress goes to ``OUT/progress/rank<R>.json`` (the last action started, and whether
the rank is waiting for its turn), which the launcher reads to say where a rank was
blocked when a run times out. Every wait is bounded by ``--pg-timeout``.

torch is imported inside :func:`main` only, so importing this module is cheap.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from verify.runtime.plan import RunPlan

HIDDEN = 16
MICROBATCH_ROWS = 2


class Progress:
    """Writes this rank's progress file (atomically: write beside, then rename)."""

    def __init__(self, path: str, rank: int) -> None:
        self.path = path
        self.rank = rank
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {"rank": rank, "phase": "starting", "step": -1,
                                      "threads": {}}

    def set(self, **fields: Any) -> None:
        with self.lock:
            self.state.update(fields)
            self._write()

    def thread(self, pipeline: str, **fields: Any) -> None:
        with self.lock:
            self.state["threads"][pipeline] = {**fields, "since": time.time()}
            self._write()

    def _write(self) -> None:
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.path)


class Turns:
    """The joint per-worker order of several runtimes: ``wait(p, k)`` blocks until the
    k-th compute action of pipeline p is next on this worker; ``done()`` passes the turn."""

    def __init__(self, joint: Sequence[tuple[int, int]], abort: threading.Event, timeout: float) -> None:
        self.joint = list(joint)
        self.cursor = 0
        self.cv = threading.Condition()
        self.abort = abort
        self.timeout = timeout

    def reset(self) -> None:
        with self.cv:
            self.cursor = 0

    def wait(self, p: int, k: int) -> None:
        deadline = time.monotonic() + self.timeout
        with self.cv:
            while self.cursor >= len(self.joint) or self.joint[self.cursor] != (p, k):
                if self.abort.is_set():
                    raise RuntimeError("aborted: another pipeline of this rank failed")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"waited {self.timeout:g} s for the turn of compute action {k}")
                self.cv.wait(0.2)

    def done(self) -> None:
        with self.cv:
            self.cursor += 1
            self.cv.notify_all()


def _gated_list(base: list[Any], name: str, p: int, labels: Sequence[str], turns: Turns | None,
                progress: Progress, stall: str | None) -> list[Any]:
    """The runtime's action list, iterated with turns and progress reports.

    ``_PipelineScheduleRuntime`` iterates its list once per step; this list's first
    iteration of a step goes through :class:`Turns`, later ones (torch formatting an
    error) are plain.
    """
    compute = {"F", "B", "I", "W", "OVERLAP_F_B"}

    class Gated(list):  # type: ignore[type-arg]
        armed = False

        def __iter__(self) -> Iterator[Any]:
            if not Gated.armed:
                return list.__iter__(self)
            Gated.armed = False
            return self._gated()

        def _gated(self) -> Iterator[Any]:
            k = 0
            for action in list.__iter__(self):
                text = str(action)
                is_compute = action.computation_type.value in compute
                if is_compute and turns is not None:
                    progress.thread(name, action=text, state="waiting for its turn")
                    turns.wait(p, k)
                shown = labels[k] if is_compute and k < len(labels) else text
                if stall is not None and shown == stall:
                    progress.thread(name, action=shown, state="stalled (injected fault)")
                    time.sleep(3600)
                progress.thread(name, action=shown, state="running")
                yield action
                if is_compute:
                    if turns is not None:
                        turns.done()
                    k += 1
            progress.thread(name, action="", state="finished the step")

    g = Gated(base)
    return g


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="one rank of a chimera-verify run")
    ap.add_argument("--plan", required=True)
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--pg-timeout", type=float, default=60.0)
    ap.add_argument("--stall", default=None)
    args = ap.parse_args(argv)
    with open(args.plan, encoding="utf-8") as f:
        plan = RunPlan.from_json(f.read())
    rank, world = args.rank, plan.num_workers
    progress = Progress(os.path.join(args.out, "progress", f"rank{rank}.json"), rank)
    progress.set(phase="importing torch")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import datetime

    import torch
    import torch.distributed as dist
    from torch.distributed.pipelining import PipelineStage
    from torch.distributed.pipelining.schedules import _Action, _PipelineScheduleRuntime
    from torch.profiler import (  # type: ignore[attr-defined]
        ProfilerActivity,
        _ExperimentalConfig,
        profile,
        schedule,
    )

    torch.set_num_threads(1)
    timeout = datetime.timedelta(seconds=args.pg_timeout)
    progress.set(phase="rendezvous")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=rank,
                            world_size=world, timeout=timeout)
    multi = len(plan.pipelines) > 1
    groups = [dist.new_group(list(range(world)), timeout=timeout) if multi else None
              for _ in plan.pipelines]
    replica_groups = {s: dist.new_group(list(ws), timeout=timeout) for s, ws in plan.replicas}
    loss_fn = torch.nn.MSELoss()

    def make_stage_module(s: int) -> torch.nn.Module:
        torch.manual_seed(1000 + s)
        return torch.nn.Sequential(torch.nn.Linear(HIDDEN, HIDDEN), torch.nn.Tanh())

    abort = threading.Event()
    turns = Turns(plan.joint[rank], abort, args.pg_timeout) if multi else None
    runtimes: list[tuple[int, Any, list[int], Any, Any, Any]] = []
    modules: dict[tuple[int, int], torch.nn.Module] = {}
    for k, pp in enumerate(plan.pipelines):
        here = [s for s, w in enumerate(pp.placement) if w == rank]
        if not here:
            continue
        stages = []
        for s in here:
            mod = make_stage_module(s)
            modules[(k, s)] = mod
            stages.append(PipelineStage(mod, s, pp.num_stages, torch.device("cpu"), group=groups[k]))
        rt = _PipelineScheduleRuntime(stages, pp.microbatches, loss_fn=loss_fn)  # type: ignore[no-untyped-call]
        order = {r: [_Action.from_str(a) for a in pp.actions[r]] for r in range(world)}
        rt._prepare_schedule_with_comms(order)
        mine = [j for j, (q, _) in enumerate(plan.joint[rank]) if q == k]
        labels = [plan.labels[rank][j] for j in mine]
        stall = args.stall if args.stall and args.stall in labels else None
        gated = _gated_list(rt.pipeline_order_with_comms[rank], pp.name, k, labels, turns, progress, stall)
        rt.pipeline_order_with_comms[rank] = gated
        g = torch.Generator().manual_seed(k)
        x = torch.randn(pp.microbatches * MICROBATCH_ROWS, HIDDEN, generator=g)
        y = torch.randn(pp.microbatches * MICROBATCH_ROWS, HIDDEN, generator=g)
        runtimes.append((k, rt, here, gated, x, y))
    params = [q for m in modules.values() for q in m.parameters()]
    opt = torch.optim.SGD(params, lr=0.01) if params else None

    def run_one(k: int, rt: Any, here: list[int], gated: Any, x: Any, y: Any) -> None:
        pp = plan.pipelines[k]
        type(gated).armed = True
        call_args = (x,) if 0 in here else ()
        kwargs = {"target": y} if pp.num_stages - 1 in here else {}
        rt.step(*call_args, **kwargs)

    def train_step(n: int) -> None:
        progress.set(phase="running", step=n)
        if turns is not None:
            turns.reset()
        if not multi:
            for item in runtimes:
                run_one(*item)
        else:
            errors: list[BaseException] = []

            def target(item: tuple[int, Any, list[int], Any, Any, Any]) -> None:
                try:
                    run_one(*item)
                except BaseException as e:
                    errors.append(e)
                    abort.set()
                    with turns.cv:  # type: ignore[union-attr]
                        turns.cv.notify_all()  # type: ignore[union-attr]

            threads = [threading.Thread(target=target, args=(item,), daemon=True) for item in runtimes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(args.pg_timeout * 2)
            if errors:
                raise errors[0]
            if any(t.is_alive() for t in threads):
                raise TimeoutError("a pipeline thread did not finish its step")
        progress.set(phase="reducing replica gradients")
        for s, ws in plan.replicas:
            if rank not in ws:
                continue
            local = [m for (k, st), m in modules.items() if st == s]
            grads = [torch.cat([q.grad.reshape(-1) if q.grad is not None else torch.zeros(q.numel())
                                for q in m.parameters()]) for m in local]
            total = torch.stack(grads).sum(0)
            dist.all_reduce(total, group=replica_groups[s])
            for m in local:
                off = 0
                for q in m.parameters():
                    q.grad = total[off:off + q.numel()].view_as(q).clone()
                    off += q.numel()
        if opt is not None:
            opt.step()
            opt.zero_grad()

    trace_path = os.path.join(args.out, f"rank{rank}.json")
    with profile(
        activities=[ProfilerActivity.CPU],
        schedule=schedule(wait=0, warmup=1, active=args.steps, repeat=1),
        on_trace_ready=lambda p: p.export_chrome_trace(trace_path),
        experimental_config=_ExperimentalConfig(profile_all_threads=True),
    ) as prof:
        for n in range(args.steps + 1):
            train_step(n)
            prof.step()
    progress.set(phase="finishing")
    dist.barrier()
    dist.destroy_process_group()
    progress.set(phase="done")
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    raise SystemExit(main())
