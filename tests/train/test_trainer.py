"""The training loop: seeding, exact resume, logs, schedules, epoch checkpoints, NaN stops."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from translate.cli import main
from translate.errors import TranslateError
from translate.train import trainer as trainer_module
from translate.train.checkpoints import rng_state, set_rng_state
from translate.train.recipes import get_recipe
from translate.train.recipes.pix2pix import Pix2Pix
from translate.train.runlog import Window, eta_seconds, format_duration, progress_line, read_log
from translate.train.trainer import Trainer, epoch_order, train

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FACADES = DATA / "paired" / "facades_mini"
HORSES = DATA / "unpaired" / "horse2zebra_mini"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="real images in ../shared/data are not available")

TINY = {
    # unet_64 has one dropout level (unet_32 none), so exact resume needs the torch RNG restored
    "pix2pix": {"data": str(FACADES), "netG": "unet_64", "load_size": 72, "crop_size": 64},
    "cyclegan": {"data": str(HORSES), "netG": "resnet_2blocks", "pool_size": 2},
}
COMMON = {"ngf": 8, "ndf": 8, "load_size": 36, "crop_size": 32, "workers": 0, "seed": 7, "print_every": 1,
          "sample_every": 2, "save_every": 2}


def options(recipe: str, out: Path, **extra) -> dict:
    return {**COMMON, **TINY[recipe], "out": str(out), **extra}


def checkpoint(run: Path, name: str = "latest.pt") -> dict:
    return torch.load(run / "checkpoints" / name, weights_only=True)


def assert_same_state(a: dict, b: dict) -> None:
    """Nets and optimiser states are identical (bit for bit)."""
    for name in a["nets"]:
        for key, value in a["nets"][name].items():
            assert torch.equal(value, b["nets"][name][key]), (name, key)
    for name in a["optimizers"]:
        for pid, state in a["optimizers"][name]["state"].items():
            for key, value in state.items():
                assert torch.equal(value, b["optimizers"][name]["state"][pid][key]), (name, pid, key)


def test_same_seed_gives_identical_weights(tmp_path):
    first = train("pix2pix", options("pix2pix", tmp_path / "a", max_iters=3))
    second = train("pix2pix", options("pix2pix", tmp_path / "b", max_iters=3))
    assert_same_state(checkpoint(first.run_dir), checkpoint(second.run_dir))
    third = train("pix2pix", options("pix2pix", tmp_path / "c", max_iters=3, seed=8))
    g1, g3 = checkpoint(first.run_dir)["nets"]["G"], checkpoint(third.run_dir)["nets"]["G"]
    assert any(not torch.equal(v, g3[k]) for k, v in g1.items())


@pytest.mark.parametrize("recipe", ["pix2pix", "cyclegan"])
def test_resume_continues_exactly(tmp_path, recipe, capsys):
    # 2 images per epoch, batch 1: stopping after 3 iterations stops mid-epoch 2
    whole = train(recipe, options(recipe, tmp_path / "whole", max_iters=5))
    part = options(recipe, tmp_path / "part", max_iters=3)
    args = ["train", recipe] + [f"--{k.replace('_', '-')}={v}" for k, v in part.items()]
    assert main(args) == 0
    assert checkpoint(tmp_path / "part")["iteration"] == 3
    # both spellings: with the recipe name, and without it (read from the run)
    named = ["train", recipe] if recipe == "pix2pix" else ["train"]
    assert main([*named, "--resume", str(tmp_path / "part"), "--max-iters", "5"]) == 0
    resumed = checkpoint(tmp_path / "part")
    assert resumed["iteration"] == 5 and resumed["epoch"] == 2 and resumed["epoch_iteration"] == 1
    assert_same_state(checkpoint(whole.run_dir), resumed)

    def logged(run: Path) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "time"} for r in read_log(run / "losses.jsonl")]

    assert [r["iteration"] for r in logged(tmp_path / "part")] == [1, 2, 3, 4, 5]
    assert logged(tmp_path / "part") == logged(whole.run_dir)  # same losses, each iteration once
    assert json.loads((tmp_path / "part" / "config.json").read_text())["max_iters"] == 5


def test_resume_drops_log_lines_past_the_checkpoint(tmp_path):
    run = tmp_path / "run"
    train("pix2pix", options("pix2pix", run, max_iters=2))
    with open(run / "losses.jsonl", "a") as f:  # as if it crashed after logging iteration 3
        f.write(json.dumps({"iteration": 3, "G_L1": 1.0}) + "\n" + '{"iteration": 4, "G_')
    train("pix2pix", {"max_iters": 4}, resume=run)
    records = read_log(run / "losses.jsonl")
    assert [r["iteration"] for r in records] == [1, 2, 3, 4] and records[2]["G_L1"] != 1.0


def test_learning_rate_schedule_and_epoch_checkpoints(tmp_path):
    # 2 iterations per epoch; epochs 1 + decay 2: factors 1, 2/3, 1/3 for epochs 1, 2, 3
    result = train("pix2pix", options("pix2pix", tmp_path / "run", epochs=1, epochs_decay=2, save_every_epochs=1,
                                      save_every=100))
    assert result.iteration == 6 and result.epoch == 3
    lrs = [r["lr_G"] for r in read_log(tmp_path / "run" / "losses.jsonl")]
    assert lrs == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 * 2 / 3, 2e-4 / 3, 2e-4 / 3])
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "epoch_1.pt", "epoch_2.pt", "epoch_3.pt", "latest.pt"]
    assert checkpoint(tmp_path / "run", "epoch_2.pt")["iteration"] == 4
    samples = sorted(p.name for p in (tmp_path / "run" / "samples").iterdir())
    assert samples == ["iter_000002.png", "iter_000004.png", "iter_000006.png"]


def test_worker_processes_give_the_same_result(tmp_path):
    # 5 iterations = 3 epochs: persistent workers must see each epoch's augmentations
    a = train("cyclegan", options("cyclegan", tmp_path / "a", max_iters=5))
    b = train("cyclegan", options("cyclegan", tmp_path / "b", max_iters=5, workers=2))
    assert_same_state(checkpoint(a.run_dir), checkpoint(b.run_dir))


class _PidItems(torch.utils.data.Dataset):
    """Items tagged with the id of the process that loaded them."""

    def __init__(self, dataset):
        self.dataset = dataset

    def set_epoch(self, epoch):
        self.dataset.set_epoch(epoch)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return {**self.dataset[index], "pid": os.getpid()}


class _PidPix2Pix(Pix2Pix):
    @classmethod
    def build_dataset(cls, config):
        return _PidItems(super().build_dataset(config))


def test_data_workers_persist_across_epochs(tmp_path):
    config = Pix2Pix.Config(**options("pix2pix", tmp_path / "run", workers=1))
    trainer = Trainer(_PidPix2Pix, config)
    pids = {int(p) for epoch in range(3) for batch in trainer.batches(epoch, 0) for p in batch["pid"]}
    assert len(pids) == 1 and pids != {os.getpid()}  # one worker process served all three epochs


class _Diverging(Pix2Pix):
    """pix2pix whose third iteration reports a NaN loss."""

    calls = 0

    def train_step(self, batch):
        losses = super().train_step(batch)
        type(self).calls += 1
        return {**losses, "G_L1": float("nan")} if type(self).calls == 3 else losses


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    _Diverging.calls = 0
    config = get_recipe("pix2pix").Config(**options("pix2pix", tmp_path / "run", max_iters=10))
    with pytest.raises(TranslateError, match="G_L1=nan at iteration 3.*last good checkpoint") as err:
        Trainer(_Diverging, config).run()
    assert err.value.exit_code == 1 and "\n" not in str(err.value)
    assert checkpoint(tmp_path / "run")["iteration"] == 2
    assert [r["iteration"] for r in read_log(tmp_path / "run" / "losses.jsonl")] == [1, 2]


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    state = rng_state()
    torch.save(state, tmp_path / "rng.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_epoch_order_is_a_seeded_permutation():
    assert sorted(epoch_order(10, 0, 0)) == list(range(10))
    assert epoch_order(10, 0, 1) == epoch_order(10, 0, 1)
    assert epoch_order(10, 0, 0) != epoch_order(10, 0, 1)


def test_precise_bn_checkpoints_keep_exact_resume(tmp_path):
    # pix2pix's U-Net has batch norm: the saved G carries recomputed statistics, the live G keeps
    # its moving average (train-mode BN never reads it), so resuming still matches a whole run.
    opts = {"norm": "batch", "precise_bn": 2, "save_every": 3}
    whole = train("pix2pix", options("pix2pix", tmp_path / "whole", max_iters=5, **opts))
    train("pix2pix", options("pix2pix", tmp_path / "part", max_iters=3, **opts))
    resumed = train("pix2pix", {"max_iters": 5}, resume=tmp_path / "part")
    a, b = checkpoint(whole.run_dir), checkpoint(resumed.run_dir)
    assert_same_state(a, b)  # statistics too: both recomputed at iteration 5 from the same batches
    assert a["nets"]["G"]["model.model.1.model.2.num_batches_tracked"] == 2  # 2 batches, not 5 iterations
    d_counts = [int(v) for k, v in a["nets"]["D"].items() if k.endswith("num_batches_tracked")]
    assert d_counts and all(n > 2 for n in d_counts)  # D keeps its moving average
    with pytest.raises(TranslateError, match="--precise-bn"):
        train("pix2pix", options("pix2pix", tmp_path / "sync", max_iters=1, precise_bn=1, sync_bn=True))


# -- what a run prints: mean seconds per iteration, ETA, lines without a terminal, epochs


def test_progress_line_shows_the_mean_and_the_eta():
    start = Window(iteration=0, time=100.0)
    now = 100.0 + 1 + 3 + 2  # three iterations of 1, 3 and 2 seconds
    mean = start.mean(3, now)
    assert mean == 2.0 and eta_seconds(mean, 3, 10) == 14.0  # 2 s/it x 7 iterations left
    record = {"iteration": 3, "epoch": 1, "time": 3.0, "lr_G": 2e-4, "G_L1": 12.5}
    assert progress_line(record, 10, mean) == "iteration=3/10 epoch=1 s/it=2 eta=0:00:14 lr_G=0.0002 G_L1=12.5"
    assert progress_line(record) == "iteration=3 epoch=1 time=3 lr_G=0.0002 G_L1=12.5"  # the record as logged
    assert format_duration(2 * 86400 + 3725.4) == "49:02:05" and Window(5, 1.0).mean(5, 9.0) == 0.0


def _cli(recipe: str, opts: dict) -> list[str]:
    return ["train", recipe] + [f"--{k.replace('_', '-')}={v}" for k, v in opts.items()]


def test_lines_without_a_terminal_mean_eta_and_rate_limit(tmp_path, monkeypatch, capsys):
    # a fake clock: iterations of 1, 3, 2, 4, 4, 4 seconds (one reading per iteration, one at the
    # start and one for the last line); stderr is pytest's capture, not a terminal
    readings = iter([0.0, 1.0, 4.0, 6.0, 10.0, 14.0, 18.0, 18.0])
    monkeypatch.setattr(trainer_module, "clock", lambda: next(readings))
    run = tmp_path / "run"
    opts = options("pix2pix", run, max_iters=6, print_every=3, sample_every=100, save_every=100)
    assert main(_cli("pix2pix", opts)) == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("iteration=")]
    # the first line after the first iteration, then at most one per PRINT_SECONDS (10 s): at
    # iteration 5 (14 s, 13 s after the first), and the last one where the run ended
    assert [line.split()[:4] for line in lines] == [
        ["iteration=1/6", "epoch=0", "s/it=1", "eta=0:00:05"],
        ["iteration=5/6", "epoch=2", "s/it=3.25", "eta=0:00:03"],  # (14 - 1) / 4 iterations, x 1 left
        ["iteration=6/6", "epoch=3", "s/it=4", "eta=0:00:00"]]
    assert "\r" not in out + err and "iteration=" not in err  # no bar redraws; stderr: warnings, errors
    # losses.jsonl's time: the mean since the previous record (1, 3, 2 -> 2; 4, 4, 4 -> 4)
    records = read_log(run / "losses.jsonl")
    assert [(r["iteration"], r["time"], r["epoch"]) for r in records] == [(3, 2.0, 1), (6, 4.0, 3)]
    # one epoch count (the checkpoint's: full epochs done) in the log, the line, the summary
    assert checkpoint(run)["epoch"] == 3 and "(3 full epochs)" in out


def test_first_line_without_a_terminal_and_one_full_epoch(tmp_path, capsys):
    # the real clock; --print-every larger than the run: a line still comes after iteration 1
    run = tmp_path / "run"
    opts = options("pix2pix", run, max_iters=3, print_every=100, sample_every=100, save_every=100)
    assert main(_cli("pix2pix", opts)) == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("iteration=")]
    assert lines[0].startswith("iteration=1/3 epoch=0 s/it=") and " eta=" in lines[0]
    assert lines[-1].startswith("iteration=3/3 epoch=1 ")  # 2 iterations per epoch
    assert checkpoint(run)["epoch"] == 1 and "to iteration 3 (1 full epoch);" in out
