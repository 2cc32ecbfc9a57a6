"""Completeness: every required op exactly once, and nothing that does not exist.

Required, for every pipeline p, stage s < S_p and micro-batch m < M_p: one ``F``, and
either one ``B`` or one ``I`` and one ``W``.
"""

from __future__ import annotations

import numpy as np

from verify.core.actions import Op, OpKind
from verify.core.results import Violation, ViolationKind
from verify.passes.index import IndexedSchedule, op_of_id

F, B, I, W = OpKind.F, OpKind.B, OpKind.I, OpKind.W


def _where(w: int, i: int) -> str:
    return f"worker {w}, position {i}"


def check_completeness(index: IndexedSchedule) -> list[Violation]:
    """Duplicates, unknown pipelines or stages, micro-batch ids out of range, missing
    ops and mixed backward forms (both ``B`` and ``I``/``W`` for one micro-batch)."""
    schedule = index.schedule
    pipes = schedule.pipelines
    out: list[tuple[int, Violation]] = []
    nstages = np.array([p.num_stages for p in pipes], dtype=np.int64)
    nmb = np.array([p.microbatches for p in pipes], dtype=np.int64)
    bad = np.nonzero(index.op_id < 0)[0]
    for r in bad.tolist():
        op = index.ops[r]
        w, i = int(index.op_worker[r]), int(index.op_pos[r])
        k = int(index.op_pipe[r])
        pos = ((w, i),)
        if k < 0:
            known = ", ".join(sorted(p.name for p in pipes))
            v = Violation(ViolationKind.UNKNOWN_PIPELINE,
                          f"{op} at {_where(w, i)}: no pipeline named {op.pipeline!r} "
                          f"(known: {known})", (op,), (w,), positions=pos)
        elif op.stage >= nstages[k]:
            v = Violation(ViolationKind.UNKNOWN_STAGE,
                          f"{op} at {_where(w, i)}: pipeline {op.pipeline!r} has stages "
                          f"0..{nstages[k] - 1}", (op,), (w,), positions=pos)
        else:
            v = Violation(ViolationKind.MICROBATCH_OUT_OF_RANGE,
                          f"{op} at {_where(w, i)}: pipeline {op.pipeline!r} has micro-batches "
                          f"0..{nmb[k] - 1}", (op,), (w,), positions=pos)
        out.append((r, v))

    dup_ids = np.nonzero(index.count_of_id > 1)[0]
    if len(dup_ids):
        valid = np.nonzero(index.op_id >= 0)[0]
        order = valid[np.argsort(index.op_id[valid], kind="stable")]
        sorted_ids = index.op_id[order]
        for did in dup_ids.tolist():
            lo, hi = np.searchsorted(sorted_ids, [did, did + 1])
            rows = order[lo:hi].tolist()
            first = rows[0]
            fw, fi = int(index.op_worker[first]), int(index.op_pos[first])
            for r in rows[1:]:
                op = index.ops[r]
                w, i = int(index.op_worker[r]), int(index.op_pos[r])
                out.append((r, Violation(
                    ViolationKind.DUPLICATE_OP,
                    f"{op} runs twice: at {_where(fw, fi)} and at {_where(w, i)}",
                    (op, op), (fw, w), positions=((fw, fi), (w, i)))))

    n_rows = len(index.ops)
    counts = index.count_of_id.reshape(-1, 4) > 0
    has_f, has_b, has_i, has_w = counts[:, 0], counts[:, 1], counts[:, 2], counts[:, 3]
    problem = ~has_f | (has_b & (has_i | has_w)) | (~has_b & ~(has_i & has_w))
    for slot in np.nonzero(problem)[0].tolist():
        op0 = op_of_id(index, slot * 4)
        name, s, m = op0.pipeline, op0.stage, op0.microbatch
        worker = schedule.pipeline(name).placement[s]
        missing: list[OpKind] = []
        if not has_f[slot]:
            missing.append(F)
        if has_b[slot] and (has_i[slot] or has_w[slot]):
            split = [kd for kd, h in ((I, has_i[slot]), (W, has_w[slot])) if h]
            ops = (Op(name, s, m, B), *(Op(name, s, m, kd) for kd in split))
            out.append((n_rows + slot, Violation(
                ViolationKind.MIXED_BACKWARD,
                f"micro-batch {m} of stage {s} ({name}) has both a full backward "
                f"{ops[0]} and a split one ({', '.join(map(str, ops[1:]))})",
                ops, (worker,))))
        elif not has_b[slot]:
            if has_i[slot] and not has_w[slot]:
                missing.append(W)
            elif has_w[slot] and not has_i[slot]:
                missing.append(I)
            elif not has_i[slot] and not has_w[slot]:
                missing.append(B)
        for kind in missing:
            op = Op(name, s, m, kind)
            what = {F: "F", B: "its backward (B, or I and W)", I: "I", W: "W"}[kind]
            out.append((n_rows + slot, Violation(
                ViolationKind.MISSING_OP,
                f"{op} is missing: stage {s} of pipeline {name!r} must run {what} for "
                f"micro-batch {m} (expected on worker {worker})",
                (op,), (worker,))))
    out.sort(key=lambda t: t[0])
    return [v for _, v in out]
