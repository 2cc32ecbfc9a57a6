"""The run plan (pure) and the refusal of unverified schedules: no torch needed."""

from __future__ import annotations

import io
import os
from pathlib import Path

from verify.cli import (
    main,
    trace_commands,  # noqa: F401  (registers 'trace' and 'run')
)
from verify.core.actions import parse_action
from verify.core.results import ViolationKind as K
from verify.core.schedule import Pipeline, Schedule
from verify.generators import generate
from verify.runtime import plan_run, run_schedule


def deadlocking() -> Schedule:
    """1F1B D=2 N=1 with worker 0 running its backward first: 0B0 waits for 0F0, which
    runs after it in program order."""
    progs = (tuple(map(parse_action, ["0B0", "0F0"])), tuple(map(parse_action, ["1F0", "1B0"])))
    return Schedule(2, (Pipeline("main", (0, 1), 1),), progs, name="bad")


def test_plan_of_chimera_follows_the_programs() -> None:
    s = generate("chimera", 4, 4)
    p = plan_run(s)
    assert [q.name for q in p.pipelines] == ["down", "up"]
    for w, prog in enumerate(s.programs):
        assert list(p.labels[w]) == [str(a) for a in prog]
        # each runtime gets this worker's ops of its pipeline, in program order
        for _k, q in enumerate(p.pipelines):
            assert list(q.actions[w]) == [f"{a.stage}{a.kind.value}{a.microbatch}" for a in prog
                                          if a.pipeline == q.name]
    assert p.replicas == ((0, (0, 3)), (1, (1, 2)), (2, (1, 2)), (3, (0, 3)))


def test_plan_splits_overlaps_across_pipelines_and_keeps_others() -> None:
    p = plan_run(generate("dualpipe", 2, 4))
    assert any("spans pipelines" in n for n in p.notes)
    v = plan_run(generate("dualpipev", 2, 4))
    assert "(0F3;3B1)OVERLAP_F_B" in v.pipelines[0].actions[0] and not v.notes


def test_a_deadlocking_schedule_is_refused_before_launching(tmp_path: Path) -> None:
    out = tmp_path / "run"
    r = run_schedule(deadlocking(), str(out))
    assert r.status == "refused" and r.verification is not None
    assert K.DEADLOCK in r.verification.kinds()
    assert not out.exists()  # nothing was launched, nothing written
    stdout, stderr = io.StringIO(), io.StringIO()
    src = tmp_path / "bad.csv"
    src.write_text("0B0,0F0\n1F0,1B0\n")
    code = main(["run", str(src), "--out", str(out)], stdout, stderr)
    assert code == 1 and not os.path.exists(out)
    assert "deadlock" in stdout.getvalue() and "run: refused: not run: the schedule fails verification" \
        in stdout.getvalue()
