"""``chimera-verify comm check | lower | timing``: exit codes, verdict lines, outputs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import verify.cli.comm_commands  # noqa: F401  (registers the commands)
from tests.test_comm_support import DATA
from verify.cli import main
from verify.io import loads_schedule


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_check_a_pytorch_lowered_order_passes() -> None:
    code, out, err = run("comm", "check", str(DATA / "torch_DualPipeV_r4_n8.comms.csv"))
    assert code == 0, err
    assert "communication  holds (holds under rendezvous, buffered(1), buffered, batched)" in out


def test_check_reports_the_deadlock_located_in_the_file() -> None:
    path = str(DATA / "deadlock_mutual_sends.csv")
    code, out, _ = run("comm", "check", path)
    assert code == 1
    assert (f"{path}:line 2, cell 4: comm-deadlock: deadlock under rendezvous: worker 0 waits in "
            "0SEND_F1 for worker 1, which waits in 1SEND_B0 for worker 0") in out
    assert ("communication  VIOLATED (deadlocks under rendezvous; holds under buffered(1), "
            "buffered, batched)") in out
    code, out, _ = run("comm", "check", path, "--model", "buffered:1")
    assert code == 0
    assert "holds under buffered(1)" in out


def test_check_json_output() -> None:
    code, out, _ = run("comm", "check", str(DATA / "fifo_swapped_recvs.csv"), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    (report,) = doc["reports"]
    assert report["properties"]["communication"]["status"] == "violated"
    assert [v["kind"] for v in report["violations"]] == ["fifo-mismatch"]
    assert report["violations"][0]["location"] == "line 2, cell 1"


def test_compute_only_files_are_lowered_first(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    assert run("generate", "1f1b", "-D", "2", "-N", "2", "-o", str(path))[0] == 0
    assert run("comm", "check", str(path))[0] == 0  # torch policy: safe
    code, out, _ = run("comm", "check", str(path), "--lower", "lazy")
    assert code == 1
    assert "worker 0 waits in 0SEND_F1 for worker 1" in out


def test_lower_writes_a_compute_comms_csv(tmp_path: Path) -> None:
    src = tmp_path / "c.json"
    assert run("generate", "chimera", "-D", "4", "-N", "4", "-o", str(src))[0] == 0
    code, out, _ = run("comm", "lower", str(src), "--reduce-grad", "replicated")
    assert code == 0
    s = loads_schedule(out, fmt="csv")
    cells = [str(a) for p in s.programs for a in p]
    assert cells.count("up:3REDUCE_GRAD") == 1 and cells.count("down:3REDUCE_GRAD") == 1
    assert "down:0SEND_F0" in cells
    dst = tmp_path / "low.json"
    code, _, err = run("comm", "lower", str(src), "--policy", "eager", "--fsdp", "-o", str(dst))
    assert code == 0 and "wrote" in err
    assert run("comm", "check", str(dst))[0] == 0


def test_timing_table(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    run("generate", "1f1b", "-D", "2", "-N", "2", "-o", str(path))
    code, out, _ = run("comm", "timing", str(path), "--lower", "lazy", "--model", "buffered",
                       "--costs", "F=1,B=2,latency=0.5")
    assert code == 0
    lines = out.splitlines()
    assert "buffered: makespan 10, bubble ratio 0.4000" in lines[1]
    assert lines[2].split() == ["worker", "busy", "wait-data", "wait-peer", "idle-after"]
    assert lines[3].split() == ["0", "6", "4", "0", "0"]
    assert lines[4].split() == ["1", "6", "1.5", "0", "2.5"]


def test_unusable_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("0F0,0SEND_F0junk\n")
    code, _, err = run("comm", "check", str(bad))
    assert code == 2
    assert err.strip().count("\n") == 0
    assert f"{bad}:line 1, cell 2: invalid action '0SEND_F0junk'" in err
    code, _, err = run("comm", "check", str(bad), "--model", "fast")
    assert code == 2 and "unknown communication model 'fast'" in err
