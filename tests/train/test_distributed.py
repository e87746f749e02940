"""Data-parallel training and sharded `translate run` under torchrun (2 CPU processes, gloo)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from translate.train.distributed import DistInfo, iterations_per_epoch, rank_order, shard
from translate.train.trainer import epoch_order, train

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
FACADES = DATA / "paired" / "facades_mini"  # 2 training pairs: one global batch of 2 per epoch

TINY = {"data": str(FACADES), "netG": "unet_32", "ngf": 8, "ndf": 8, "load_size": 36, "crop_size": 32,
        "dropout": False, "workers": 0, "seed": 3, "print_every": 1, "sample_every": 100, "save_every": 100,
        "max_iters": 3}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node N -m translate ARGS`` (CPU, gloo)."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), "-m", "translate", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def cli_flags(options: dict) -> list[str]:
    flags = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, str(value)]
    return flags


def nets(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    return torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["nets"]


def assert_close_nets(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys(), name  # same plain layout, no "module." prefix
        for key, value in a[name].items():
            if value.is_floating_point():
                torch.testing.assert_close(value, b[name][key], atol=atol, rtol=1e-3, msg=f"{name}.{key}")


# ---------------------------------------------------------------------------- data split

@pytest.mark.parametrize("n, batch, world", [(7, 1, 2), (10, 3, 2), (5, 2, 3), (4, 2, 2)])
def test_ranks_split_each_global_batch_of_the_single_process_order(n, batch, world):
    order = epoch_order(n, seed=1, epoch=4)
    parts = [rank_order(order, batch, DistInfo(r, world)) for r in range(world)]
    iters = iterations_per_epoch(n, batch, world)
    assert all(len(p) == iters * batch for p in parts)  # every rank runs the same number of steps
    for i in range(iters):  # global batch i = the ranks' batches i side by side
        global_batch = [x for p in parts for x in p[i * batch:(i + 1) * batch]]
        padded = (order * 2)[i * batch * world:(i + 1) * batch * world]
        assert global_batch == padded
    covered = [x for p in parts for x in p]
    assert sorted(set(covered)) == list(range(n))
    assert len(covered) - n < batch * world  # padding is less than one global batch


def test_shard_gives_each_file_to_exactly_one_rank():
    files = [f"f{i}.png" for i in range(11)]
    shards = [shard(files, DistInfo(r, 3)) for r in range(3)]
    assert sorted(x for s in shards for x in s) == sorted(files)
    assert shard(files, DistInfo(0, 1)) == files


# ---------------------------------------------------------------------------- torchrun

needs_data = pytest.mark.skipif(not FACADES.is_dir(), reason="real images in ../shared/data are not available")


@needs_data
def test_two_gloo_processes_match_one_process_with_the_global_batch(tmp_path):
    torchrun("train", "pix2pix", *cli_flags({**TINY, "norm": "none", "batch_size": 1}),
             "--out", str(tmp_path / "ddp"))
    single = train("pix2pix", {**TINY, "norm": "none", "batch_size": 2, "out": str(tmp_path / "one")})
    assert single.iteration == 3
    assert_close_nets(nets(tmp_path / "ddp"), nets(single.run_dir), atol=1e-5)
    # rank 0 alone wrote the run: one log line per iteration, one checkpoint
    assert len((tmp_path / "ddp" / "losses.jsonl").read_text().splitlines()) == 3
    assert [p.name for p in (tmp_path / "ddp" / "checkpoints").iterdir()] == ["latest.pt"]


@needs_data
def test_sync_bn_matches_batch_norm_over_the_global_batch(tmp_path):
    torchrun("train", "pix2pix", *cli_flags({**TINY, "norm": "batch", "batch_size": 1, "sync_bn": True}),
             "--out", str(tmp_path / "ddp"))
    single = train("pix2pix", {**TINY, "norm": "batch", "batch_size": 2, "out": str(tmp_path / "one")})
    # running statistics included: they are computed over the global batch too
    assert_close_nets(nets(tmp_path / "ddp"), nets(single.run_dir), atol=1e-4)


@needs_data
def test_sharded_run_translates_each_file_once(tmp_path):
    model = train("pix2pix", {**TINY, "norm": "instance", "max_iters": 1, "out": str(tmp_path / "model")}).run_dir
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    sources = sorted((FACADES / "train").glob("*.jpg")) + sorted((FACADES / "test").glob("*.jpg"))
    for i in range(5):
        shutil.copy(sources[i % len(sources)], inputs / f"img{i}.jpg")
    result = torchrun("run", str(model), str(inputs), "-o", str(tmp_path / "out"), "--device", "cpu")
    # the combined summary is printed once, by rank 0, and counts every file once (not 2 x 5)
    assert result.stdout.count("translated") == 1, result.stdout
    assert "5 translated, 0 failed" in result.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"img{i}_model.png" for i in range(5)]
