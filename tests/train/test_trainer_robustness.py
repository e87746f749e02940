"""Killing a REAL `translate train` process (kill -9, also during a save) and interrupting it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from translate.resilience import SAVE_PAUSE_ENV, remove_stale_temp_files
from translate.train.runlog import read_log

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FACADES = DATA / "paired" / "facades_mini"
pytestmark = [pytest.mark.skipif(not FACADES.is_dir(), reason="real images in ../shared/data are not available"),
              pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")]

TINY = ["--data", str(FACADES), "--netG", "unet_32", "--ngf", "8", "--ndf", "8", "--load-size", "36",
        "--crop-size", "32", "--workers", "0", "--print-every", "1", "--sample-every", "1000", "--device", "cpu"]


def start(args: list[str], pause: float | None = None, **popen: object) -> subprocess.Popen:
    """`translate train ARGS` in a child process (``pause``: seconds each save sleeps before its
    rename; ``popen``: more Popen arguments, e.g. ``start_new_session``)."""
    env = dict(os.environ)
    env.pop(SAVE_PAUSE_ENV, None)
    if pause is not None:
        env[SAVE_PAUSE_ENV] = str(pause)
    return subprocess.Popen([sys.executable, "-m", "translate", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def wait_for(predicate, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early ({proc.returncode}): {proc.communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the training process")
        time.sleep(0.01)


def temp_files(run: Path) -> list[Path]:
    return sorted(p for p in (run / "checkpoints").glob(".*.tmp"))


def assert_checkpoints_load(run: Path) -> dict[str, dict]:
    """Every *.pt in the run loads with weights_only=True (none is torn); file name -> checkpoint.

    Besides latest.pt a fast run may already have written epoch_N.pt: all of them must load.
    """
    out = {path.name: torch.load(path, weights_only=True) for path in sorted((run / "checkpoints").glob("*.pt"))}
    assert "latest.pt" in out, f"no latest.pt among {sorted(out)}"
    return out


def test_kill_9_during_save_then_resume(tmp_path):
    run = tmp_path / "run"
    proc = start(["pix2pix", *TINY, "--out", str(run), "--save-every", "1", "--max-iters", "50"], pause=0.4)
    # the second save is in progress: latest.pt (iteration 1) exists and a temp file is being written
    wait_for(lambda: (run / "checkpoints" / "latest.pt").exists() and temp_files(run), proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert temp_files(run), "the kill should have left the half-done save's temp file"
    saved = assert_checkpoints_load(run)["latest.pt"]  # the temp file is not mistaken for a checkpoint
    killed_at = int(saved["iteration"])
    assert killed_at >= 1

    proc = start(["--resume", str(run), "--max-iters", str(killed_at + 3), "--save-every", "2"])
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert not temp_files(run), "stale temp files of the killed save are cleaned up on resume"
    final = assert_checkpoints_load(run)["latest.pt"]
    assert final["iteration"] == killed_at + 3
    iterations = [r["iteration"] for r in read_log(run / "losses.jsonl")]
    assert iterations == list(range(1, killed_at + 4)), "each iteration is logged once across the kill"


@pytest.mark.slow
def test_kill_9_at_random_moments_never_corrupts(tmp_path):
    run = tmp_path / "run"
    args = ["pix2pix", *TINY, "--out", str(run), "--save-every", "1", "--max-iters", "400"]
    delays = [0.3, 0.07]  # after the first checkpoint: fixed "random" moments, reproducible
    done = 0
    for round_, delay in enumerate(delays):
        proc = start(args if round_ == 0 else ["--resume", str(run), "--max-iters", "400"])
        wait_for(lambda: any(r["iteration"] > done for r in read_log(run / "losses.jsonl")), proc)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ckpt = assert_checkpoints_load(run)["latest.pt"]
        assert int(ckpt["iteration"]) >= done, "a resumed run never goes back"
        done = int(ckpt["iteration"])
    assert done > 1


def test_sigint_and_sigterm_save_at_the_current_iteration(tmp_path):
    for signum in (signal.SIGINT, signal.SIGTERM):
        run = tmp_path / signum.name
        proc = start(["pix2pix", *TINY, "--out", str(run), "--save-every", "1000", "--max-iters", "1000"])
        wait_for(lambda: len(read_log(run / "losses.jsonl")) >= 3, proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err[-2000:]
        assert signum.name in err and "--resume" in err
        ckpt = assert_checkpoints_load(run)["latest.pt"]
        logged = [r["iteration"] for r in read_log(run / "losses.jsonl")]
        assert ckpt["iteration"] == logged[-1] >= 3, "no progress is lost"


def test_remove_stale_temp_files_removes_only_atomic_writer_temps(tmp_path):
    keep = [tmp_path / "latest.pt", tmp_path / "notes.tmp", tmp_path / ".hidden"]
    stale = [tmp_path / ".latest.pt.k2j_x9.tmp", tmp_path / ".config.json.abc123.tmp"]
    for p in keep + stale:
        p.write_bytes(b"x")
    assert sorted(remove_stale_temp_files([tmp_path, tmp_path / "missing"])) == sorted(stale)
    assert all(p.exists() for p in keep) and not any(p.exists() for p in stale)
