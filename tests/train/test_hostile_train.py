"""`translate train` under hostile and careless input: every case ends in exactly one clear stderr
line (never a traceback) with the documented exit code, and no file the user gave is changed.

Cases: numeric options that would reach PyTorch / numpy unchecked, hand-edited config.json /
YAML / checkpoint configs, wrong or overlapping folders, images that lie about their size or are
too small for the networks, failing writes (full disk, a file where a folder belongs, a name
too long), kill -9 during the very first checkpoint save, and SIGTERM to the whole process
group with data workers running.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import random_image, write_png
from tests.hostile_helpers import assert_one_error, digests, write_lying_png
from tests.train.test_trainer_robustness import start, wait_for
from translate.cli import main
from translate.train.runlog import read_log

TINY = ["--netG", "unet_32", "--ngf", "4", "--ndf", "4", "--load-size", "32", "--crop-size", "32", "--workers", "0",
        "--device", "cpu", "--print-every", "1000", "--sample-every", "1000", "--save-every", "1000"]
LOG_EVERY_ITERATION = ["--print-every", "1"]


def translate(args: list[str], capsys) -> tuple[int, str]:
    """Run the CLI in this process; returns the exit code and what it wrote to stderr."""
    code = main(args)
    return code, capsys.readouterr().err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A pix2pix dataset of two 32x64 A|B images."""
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    for i in range(2):
        write_png(root / "train" / f"{i}.png", random_image(32, 64, seed=i))
    return root


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> tuple[Path, Path]:
    """(data folder, run folder) of a finished 1-iteration pix2pix run; copy it before changing it."""
    base = tmp_path_factory.mktemp("trained")
    root = base / "data"
    (root / "train").mkdir(parents=True)
    for i in range(2):
        write_png(root / "train" / f"{i}.png", random_image(32, 64, seed=i))
    assert main(["train", "pix2pix", "--data", str(root), "--out", str(base / "run"), *TINY, "--max-iters", "1"]) == 0
    return root, base / "run"


def copy_run(run: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(run, dst)
    return dst


# ------------------------------------------------------------------------------------ options

@pytest.mark.parametrize("option, value, needle", [
    ("--lr", "nan", "--lr must be a finite number"),
    ("--lr", "inf", "--lr must be a finite number"),
    ("--lr", "0", "--lr must be > 0"),
    ("--seed", "-1", "--seed must be >= 0"),
    ("--seed", str(2**32), "--seed must be <="),
    ("--beta1", "1", "--beta1 must be < 1"),
    ("--batch-size", "0", "--batch-size must be >= 1"),
    ("--load-size", "100000", "--load-size must be <="),
    ("--init-gain", "-1", "--init-gain must be > 0"),
    ("--lambda-L1", "nan", "--lambda-L1 must be a finite number"),
    ("--lambda-gp", "-5", "--lambda-gp must be >= 0"),
    ("--max-iters", "0", "--max-iters must be >= 1"),
    ("--workers", "100000", "--workers must be <="),
    ("--ngf", "0", "--ngf must be >= 1"),
    ("--pool-size", str(2**40), "--pool-size must be <="),
])
def test_numeric_options_are_checked_before_they_reach_torch(data, tmp_path, capsys, option, value, needle):
    before = digests(data)
    code, err = translate(["train", "pix2pix", "--data", str(data), "--out", str(tmp_path / "run"), *TINY,
                           "--max-iters", "1", option, value], capsys)
    assert_one_error(code, err, 2, needle)
    assert digests(data) == before and not (tmp_path / "run").exists()


def test_python_api_types_and_unknown_options_are_one_line_errors(data, tmp_path):
    from translate.errors import TranslateError
    from translate.train.trainer import train

    for options, needle in (({"batch_size": "two"}, "--batch-size must be an int"),
                            ({"lr": True}, "--lr must be a float"),
                            ({"no_such_option": 1}, "unknown option 'no_such_option'")):
        with pytest.raises(TranslateError, match=needle):
            train("pix2pix", {"data": str(data), "out": str(tmp_path / "run"), **options})


def test_unknown_recipe_is_one_line(capsys, tmp_path):
    code, err = translate(["train", "nosuch", "--data", str(tmp_path), "--out", str(tmp_path / "r")], capsys)
    assert_one_error(code, err, 2, "unknown recipe 'nosuch'", "pix2pix")


# ------------------------------------------------------------------------ configs read back

@pytest.mark.parametrize("edit, needle", [
    (lambda c: {**c, "batch_size": "two"}, "'batch_size' must be an int, got 'two'"),
    (lambda c: [1, 2], "expected a mapping"),
    (lambda c: {**c, "lr": -1.0}, "'lr' must be > 0"),
    (lambda c: {**c, "batch_size": 2}, "'batch_size' is 2 but the run was trained with 1"),
    (lambda c: "{not json", "cannot read the run's config"),
])
def test_resume_checks_a_hand_edited_config_json(trained_run, tmp_path, capsys, edit, needle):
    data, run = trained_run
    run = copy_run(run, tmp_path / "run")
    config = run / "config.json"
    edited = edit(json.loads(config.read_text()))
    config.write_text(edited if isinstance(edited, str) else json.dumps(edited))
    before = digests(data, config, run / "checkpoints")
    code, err = translate(["train", "--resume", str(run), "--max-iters", "2"], capsys)
    assert_one_error(code, err, 2, str(config), needle)
    assert digests(data, config, run / "checkpoints") == before


@pytest.mark.parametrize("yaml_text, needle", [
    ("- a\n- b\n", "expected a mapping"),
    ("recipe: pix2pix\nlr: [1]\n", "'lr' must be a float"),
    ("recipe: pix2pix\nseed: -3\n", "'seed' must be >= 0"),
    ("recipe: pix2pix\nbatch_size: 1.5\n", "'batch_size' must be an int"),
])
def test_yaml_config_values_share_the_typed_check(data, tmp_path, capsys, yaml_text, needle):
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text)
    before = digests(data, config)
    code, err = translate(["train", "pix2pix", "--config", str(config), "--data", str(data),
                           "--out", str(tmp_path / "run")], capsys)
    assert_one_error(code, err, 2, needle)
    assert digests(data, config) == before


@pytest.mark.parametrize("damage", ["truncated", "foreign", "bad config type"])
def test_resume_from_a_damaged_checkpoint_is_one_line(trained_run, tmp_path, capsys, damage):
    data, run = trained_run
    run = copy_run(run, tmp_path / "run")
    latest = run / "checkpoints" / "latest.pt"
    (run / "config.json").unlink()  # the checkpoint's own config is all there is
    if damage == "truncated":
        latest.write_bytes(latest.read_bytes()[:1000])
    elif damage == "foreign":
        latest.write_bytes(os.urandom(4096))
    else:
        ckpt = torch.load(latest, weights_only=True)
        ckpt["config"]["batch_size"] = "two"
        torch.save(ckpt, latest)
    before = digests(latest)
    code, err = translate(["train", "pix2pix", "--resume", str(run), "--max-iters", "2"], capsys)
    assert_one_error(code, err, 2, str(latest))
    assert digests(latest) == before


# ----------------------------------------------------------------------------------- folders

def test_folder_mistakes_are_one_line_and_touch_nothing(data, tmp_path, capsys):
    image = data / "train" / "0.png"
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "config.json").write_text('{"mine": true}\n')
    (tmp_path / "empty").mkdir()
    (tmp_path / "text" / "train").mkdir(parents=True)
    (tmp_path / "text" / "train" / "a.png").write_text("not an image")
    linked = tmp_path / "linked"
    linked.symlink_to(data, target_is_directory=True)
    cases = [
        (["--data", str(image), "--out", str(tmp_path / "r1")], "is a file, not a folder"),
        (["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r2")], "dataset folder not found"),
        (["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "r3")], "no images found"),
        (["--data", str(tmp_path / "text"), "--out", str(tmp_path / "r4")], "a.png"),
        (["--data", str(data), "--out", str(data)], "lies inside the input folder"),
        (["--data", str(data), "--out", str(data / "train" / "run")], "lies inside the input folder"),
        (["--data", str(data), "--out", str(linked / "run")], "lies inside the input folder"),
        (["--data", str(data), "--out", str(image)], "is a file"),
        (["--data", str(data), "--out", str(foreign)], "holds config.json, which is not from a translate run"),
    ]
    before = digests(data, foreign)
    for args, needle in cases:
        code, err = translate(["train", "pix2pix", *args, *TINY, "--max-iters", "1"], capsys)
        assert_one_error(code, err, 2, needle)
    assert digests(data, foreign) == before
    assert not any((tmp_path / f"r{i}").exists() for i in range(1, 4))  # r4 fails when the image is read


def test_resume_of_something_that_is_not_a_run(data, tmp_path, capsys):
    before = digests(data)
    for target, needle in ((tmp_path / "nothing", "no checkpoint"), (data, "no checkpoint"),
                           (data / "train" / "0.png", "that is a file")):
        code, err = translate(["train", "--resume", str(target)], capsys)
        assert_one_error(code, err, 2, needle)
    assert digests(data) == before


def test_config_file_is_never_rewritten_by_the_run_it_configures(trained_run, tmp_path, capsys):
    data, run = trained_run
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    own = fresh / "config.yaml"
    own.write_text((run / "config.yaml").read_text())
    linked = tmp_path / "linked.yaml"
    os.link(own, linked)  # a hard link is the same file
    before = digests(own)
    for config in (own, linked):
        code, err = translate(["train", "--config", str(config), "--out", str(fresh), "--data", str(data)], capsys)
        assert_one_error(code, err, 2, "rewrites")
    assert digests(own) == before


def test_a_lying_image_header_names_the_file(data, tmp_path, capsys):
    write_lying_png(data / "train" / "1.png")
    before = digests(data)
    for workers in ("0", "1"):
        code, err = translate(["train", "pix2pix", "--data", str(data), "--out", str(tmp_path / f"r{workers}"),
                               *TINY, "--max-iters", "2", "--workers", workers], capsys)
        assert_one_error(code, err, 2, "1.png", "pixels")
    assert digests(data) == before


def test_images_too_small_for_the_networks_name_the_file(tmp_path, capsys):
    data = tmp_path / "tiny" / "train"
    data.mkdir(parents=True)
    write_png(data / "0.png", random_image(1, 2))
    code, err = translate(["train", "pix2pix", "--data", str(data.parent), "--out", str(tmp_path / "run"),
                           "--netG", "resnet_6blocks", "--ngf", "4", "--ndf", "4", "--workers", "0", "--device", "cpu",
                           "--preprocess", "none", "--max-iters", "1"], capsys)
    assert_one_error(code, err, 2, "0.png", "too small for the networks")


def test_1x1_images_too_small_for_instance_norm_name_the_file(tmp_path, capsys):
    # instance norm's own error ("Expected more than 1 spatial element") is the same case
    data = tmp_path / "tiny"
    for folder in ("trainA", "trainB"):
        (data / folder).mkdir(parents=True)
        for i in range(2):
            write_png(data / folder / f"{i}.png", random_image(1, 1, seed=i))
    before = digests(data)
    code, err = translate(["train", "cyclegan", "--data", str(data), "--out", str(tmp_path / "run"), "--ngf", "4",
                           "--ndf", "4", "--workers", "0", "--device", "cpu", "--preprocess", "none",
                           "--max-iters", "1"], capsys)
    assert_one_error(code, err, 2, ".png", "too small for the networks", "--preprocess")
    assert digests(data) == before


# ------------------------------------------------------------------------------ failing writes

def test_write_failures_are_one_line(trained_run, tmp_path, capsys):
    data, run = trained_run
    long_out = tmp_path / ("x" * 300)
    code, err = translate(["train", "pix2pix", "--data", str(data), "--out", str(long_out), *TINY,
                           "--max-iters", "1"], capsys)
    assert_one_error(code, err, 2, "cannot write", "too long")

    stopped = tmp_path / "stopped"  # a run stopped before its first checkpoint, whose samples/ is a file
    stopped.mkdir()
    (stopped / "config.json").write_text((run / "config.json").read_text())
    (stopped / "samples").write_text("a file where a folder belongs")
    code, err = translate(["train", "pix2pix", "--data", str(data), "--out", str(stopped), *TINY,
                           "--max-iters", "1", "--sample-every", "1"], capsys)
    assert_one_error(code, err, 2, "cannot write", "samples")
    assert (stopped / "samples").read_text() == "a file where a folder belongs"


def test_disk_full_during_the_checkpoint_save_keeps_nothing_half_written(data, tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("translate.train.trainer.torch.save", full)
    run = tmp_path / "run"
    code, err = translate(["train", "pix2pix", "--data", str(data), "--out", str(run), *TINY, "--max-iters", "1"],
                          capsys)
    assert_one_error(code, err, 2, str(run / "checkpoints" / "latest.pt"), "disk is full")
    assert not list((run / "checkpoints").iterdir()), "no temp file or torn checkpoint is left"


def test_torch_zip_writer_failing_mid_save_is_a_full_disk_line(trained_run, tmp_path, monkeypatch, capsys):
    # torch's zip writer reports the disk filling mid-write as a RuntimeError, not an OSError
    data, run = trained_run
    run = copy_run(run, tmp_path / "run")
    latest = run / "checkpoints" / "latest.pt"

    def fills_up(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 the first bytes of the zip")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1530560 vs 1530456")

    monkeypatch.setattr("translate.train.trainer.torch.save", fills_up)
    before = digests(run / "checkpoints")
    code, err = translate(["train", "pix2pix", "--resume", str(run), "--max-iters", "2"], capsys)
    assert_one_error(code, err, 2, str(latest), "No space left on device", "disk is full", "--resume")
    assert digests(run / "checkpoints") == before, "latest.pt unchanged, no temp file left"


# ------------------------------------------------------------------------- kills and signals

@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_kill_9_during_the_first_save_then_resume_or_restart(data, tmp_path, capsys):
    run = tmp_path / "run"
    proc = start(["pix2pix", "--data", str(data), "--out", str(run), *TINY, *LOG_EVERY_ITERATION, "--max-iters", "2",
                  "--save-every", "1"], pause=60)
    wait_for(lambda: list((run / "checkpoints").glob(".latest.pt.*.tmp")), proc)
    proc.kill()
    proc.wait()
    assert not (run / "checkpoints" / "latest.pt").exists()
    before = digests(data)

    # --resume (the recipe read from config.yaml) starts the run from iteration 0 with its config
    code = main(["train", "--resume", str(run), "--max-iters", "2", "--print-every", "1"])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err and "no checkpoint yet" in err, err
    assert not list((run / "checkpoints").glob(".*.tmp")), "the killed save's temp file is removed"
    resumed = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert resumed["iteration"] == 2
    assert [r["iteration"] for r in read_log(run / "losses.jsonl")] == [1, 2]

    # a new run into a folder left like that starts cleanly too, and computes the same
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "checkpoints").mkdir()
    for name in ("config.json", "config.yaml"):
        (fresh / name).write_text((run / name).read_text())
    (fresh / "checkpoints" / ".latest.pt.abcd1234.tmp").write_bytes(b"half a checkpoint")
    assert main(["train", "pix2pix", "--data", str(data), "--out", str(fresh), *TINY, "--max-iters", "2"]) == 0
    assert not list((fresh / "checkpoints").glob(".*.tmp"))
    again = torch.load(fresh / "checkpoints" / "latest.pt", weights_only=True)
    assert all(torch.equal(again["nets"]["G"][k], resumed["nets"]["G"][k]) for k in resumed["nets"]["G"])
    assert digests(data) == before


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
def test_sigterm_to_the_process_group_saves_the_current_iteration(data, tmp_path):
    run = tmp_path / "run"
    before = digests(data)
    proc = start(["pix2pix", "--data", str(data), "--out", str(run), *TINY, *LOG_EVERY_ITERATION, "--workers", "1",
                  "--max-iters", "100000"], start_new_session=True)
    wait_for(lambda: len(read_log(run / "losses.jsonl")) >= 2, proc)
    os.killpg(proc.pid, signal.SIGTERM)  # what timeout, Slurm, Kubernetes and systemd do
    _, err = proc.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.startswith("translate:")]
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "DataLoader worker" not in err, err[-3000:]
    assert len(lines) == 1 and "SIGTERM" in lines[0] and "--resume" in lines[0], err[-3000:]
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["iteration"] == read_log(run / "losses.jsonl")[-1]["iteration"] >= 2, "no iteration is lost"
    assert digests(data) == before


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="child processes read from /proc")
def test_a_killed_data_worker_saves_the_current_iteration(data, tmp_path):
    run = tmp_path / "run"
    proc = start(["pix2pix", "--data", str(data), "--out", str(run), *TINY, *LOG_EVERY_ITERATION, "--workers", "1",
                  "--max-iters", "100000"])
    wait_for(lambda: len(read_log(run / "losses.jsonl")) >= 2, proc)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    os.kill(int(children[0]), signal.SIGKILL)  # as the OOM killer would
    _, err = proc.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.startswith("translate:")]
    assert proc.returncode == 1 and "Traceback" not in err, err[-3000:]
    assert len(lines) == 1 and "data worker died" in lines[0] and "--resume" in lines[0], err[-3000:]
    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["iteration"] == read_log(run / "losses.jsonl")[-1]["iteration"] >= 2
