"""A training run's folder and its checkpoints: what is saved with them and how it is read back.

The trainer (:mod:`translate.train.trainer`) builds and writes each checkpoint; this module holds
what goes into one besides the recipe's state (the RNG states, ``--precise-bn`` statistics), the
best validation score already saved, and the checks and reads of a run folder: ``--resume``
(which recipe, which config with which overrides) and a new run's ``--out`` (never over the
user's files). The checkpoint file format itself is :mod:`translate.models.checkpoint`'s.

Run folder layout::

    RUN_DIR/config.json              the config (atomic; rewritten on resume with overrides)
    RUN_DIR/losses.jsonl             one JSON object per --print-every iterations
    RUN_DIR/samples/iter_000400.png  image sheets (rows of the recipe's sheet_columns)
    RUN_DIR/checkpoints/latest.pt    every --save-every iterations and at the end
    RUN_DIR/checkpoints/epoch_5.pt   every --save-every-epochs epochs
    RUN_DIR/checkpoints/best.pt      best validation PSNR (--val-every; translate.train.validation)
    RUN_DIR/config.yaml              the same config as YAML (translate train --config)
    RUN_DIR/index.html, losses.png   sheets over time and the loss curve (translate.train.monitor)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from translate.errors import TranslateError
from translate.fileio import WriteError
from translate.models.checkpoint import read_checkpoint
from translate.nets.layers import precise_batchnorm
from translate.train.config import TrainConfig, flag_name, input_folders, resumable_fields
from translate.train.recipes import Recipe

BEST = "best.pt"  # the checkpoint of the best validation PSNR so far (--val-every)
#: What a run folder holds (the names a run writes); a new run refuses a folder where one of
#: these names is not from a translate run, so it never replaces a file of the user's.
RUN_ENTRIES = ("config.json", "config.yaml", "losses.jsonl", "losses.png", "index.html", "samples", "checkpoints",
               "tensorboard")


# ---------------------------------------------------------------------------- saving

def rng_state() -> dict[str, Any]:
    """torch / CUDA / numpy / python RNG states as tensors, lists and scalars only
    (so checkpoints load with ``torch.load(weights_only=True)``)."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "cached_gaussian": float(np_gauss)},
        "python": {"version": py_version, "state": list(py_internal), "gauss_next": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))


def precise_bn_states(recipe: Recipe, dataset: Dataset, config: TrainConfig,
                      iteration: int) -> dict[str, dict[str, torch.Tensor]]:
    """The generators' state dicts with batch-norm statistics recomputed over ``--precise-bn``
    training batches, for the checkpoint saved at ``iteration``."""
    # Only the saved copy gets the recomputed statistics: in train mode BatchNorm never reads
    # its running averages, so the live nets (and an exact resume) are unaffected. The
    # batches are drawn with their own generator, never from the training RNG streams.
    picker = torch.Generator().manual_seed(config.seed * 1_000_003 + iteration)
    n = config.precise_bn * config.batch_size
    picks = torch.randint(len(dataset), (n,), generator=picker).tolist()
    loader = DataLoader(dataset, batch_size=config.batch_size, sampler=picks, num_workers=0)
    inputs = [recipe.generator_inputs(batch) for batch in loader]
    return {name: precise_batchnorm(recipe.nets[name], [x[name] for x in inputs]).state_dict()
            for name in inputs[0]}


def saved_best(ckpt_dir: Path) -> float:
    """The PSNR of the ``best.pt`` already in the run folder (-inf when none or unreadable:
    the next validation replaces it)."""
    path = ckpt_dir / BEST
    if not path.is_file():
        return -math.inf
    try:  # mmap: only the small entries are read
        return float(read_checkpoint(path, mmap=True)["val"]["val_psnr"])
    except (TranslateError, KeyError, TypeError, ValueError):
        return -math.inf


# ---------------------------------------------------------------------------- run folders

def _run_folder(run_dir: str | os.PathLike) -> Path:
    """``--resume RUN_DIR`` checked to be a folder of a translate run: it holds a checkpoint, or at
    least the config.json a run writes first (a run killed before its first save)."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise TranslateError(f"--resume {run_dir}: that is a file; give the run folder (the --out of translate train)")
    if not (run_dir / "checkpoints" / "latest.pt").is_file() and not (run_dir / "config.json").is_file():
        raise TranslateError(f"--resume {run_dir}: no checkpoint at {run_dir / 'checkpoints' / 'latest.pt'} and no "
                             f"config.json; is this a run folder of translate train? start a new run with --out")
    return run_dir


def _yaml_recipe(run_dir: Path) -> str:
    """The ``recipe:`` entry of ``run_dir/config.yaml`` ('' when absent or unreadable)."""
    import yaml

    try:
        data = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ""
    return str(data.get("recipe") or "") if isinstance(data, dict) else ""


def run_recipe(run_dir: str | os.PathLike) -> str:
    """The recipe name of the run in ``run_dir`` (from its latest checkpoint, or from its
    config.yaml when it was stopped before its first checkpoint)."""
    run_dir = _run_folder(run_dir)
    latest = run_dir / "checkpoints" / "latest.pt"
    if not latest.is_file():
        recipe = _yaml_recipe(run_dir)
        if not recipe:
            raise TranslateError(f"--resume {run_dir}: no checkpoint yet and no recipe in {run_dir / 'config.yaml'}; "
                                 f"name the recipe: translate train RECIPE --resume {run_dir}")
        return recipe
    return str(read_checkpoint(latest, mmap=True)["recipe"])  # mmap: the weights are not read


def run_config(run_dir: str | os.PathLike, config_cls: type[TrainConfig],
               checkpoint: dict[str, Any] | None = None) -> TrainConfig:
    """The config of the run in ``run_dir``: the checkpoint's copy with the resumable fields of
    ``config.json`` (which a resumed run rewrites with its overrides), or config.json alone for
    a run stopped before its first checkpoint.

    Both copies go through the typed check of :meth:`TrainConfig.from_dict`; a config.json that
    is not JSON, or that changes a field ``--resume`` may not change (a hand edit), is a
    one-line TranslateError naming it.
    """
    run_dir = Path(run_dir)
    saved = None
    if checkpoint is not None:
        saved = config_cls.from_dict(checkpoint.get("config"), str(run_dir / "checkpoints" / "latest.pt"))
    config_json = run_dir / "config.json"
    if not config_json.is_file():
        if saved is None:
            raise TranslateError(f"--resume {run_dir}: no config.json and no checkpoint; is this a run folder?")
        return saved
    try:
        data = json.loads(config_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        fix = "delete it to use the checkpoint's copy" if saved is not None else "restore it"
        raise TranslateError(f"{config_json}: cannot read the run's config ({str(e).splitlines()[0]}); fix it or "
                             f"{fix}") from None
    from_file = config_cls.from_dict(data, str(config_json))
    if saved is None:
        return from_file
    allowed = set(resumable_fields(config_cls))
    for f in dataclasses.fields(config_cls):
        if f.name not in allowed and f.name != "out" and getattr(from_file, f.name) != getattr(saved, f.name):
            raise TranslateError(f"{config_json}: '{f.name}' is {getattr(from_file, f.name)!r} but the run was trained "
                                 f"with {getattr(saved, f.name)!r}; only the options --resume may change can differ "
                                 f"(undo the edit, or delete config.json to use the checkpoint's copy)")
    return dataclasses.replace(saved, **{k: getattr(from_file, k) for k in allowed})


def resumed_config(resume: str | os.PathLike, recipe_cls: type[Recipe], recipe: str,
                   options: dict[str, Any]) -> tuple[TrainConfig, dict[str, Any] | None]:
    """The config and the latest checkpoint (None when the run was stopped before its first
    save) for continuing the run in ``resume`` as ``translate train recipe`` with ``options``
    (which may only change the resumable fields; ``out`` is taken out of it)."""
    checkpoint = None
    run_dir = _run_folder(resume)
    latest = run_dir / "checkpoints" / "latest.pt"
    if latest.is_file():
        checkpoint = read_checkpoint(latest)
        saved_recipe = str(checkpoint.get("recipe"))
    else:
        saved_recipe = _yaml_recipe(run_dir) or recipe_cls.name
    if saved_recipe != recipe_cls.name:
        raise TranslateError(f"--resume {run_dir}: that run trains '{saved_recipe}', not '{recipe}'; "
                             f"use `translate train {saved_recipe} --resume {run_dir}`")
    base = run_config(run_dir, recipe_cls.Config, checkpoint)
    if checkpoint is None:
        print(f"translate: warning: {run_dir} has no checkpoint yet (stopped before its first save); starting "
              f"it from iteration 0 with its config.json", file=sys.stderr)
    out = options.pop("out", None)
    if out and Path(out).resolve() != run_dir.resolve():
        raise TranslateError(f"--out {out} differs from --resume {run_dir}; a resumed run stays in its folder")
    allowed = set(resumable_fields(recipe_cls.Config))
    changed = sorted(k for k, v in options.items() if k not in allowed and v != getattr(base, k))
    if changed:
        may = ", ".join("--" + flag_name(k) for k in sorted(allowed))
        raise TranslateError(f"--resume cannot change {', '.join('--' + flag_name(k) for k in changed)} "
                             f"(the run was trained with other values); only {may} may change")
    config = dataclasses.replace(base, **{k: v for k, v in options.items() if k in allowed}, out=str(run_dir))
    return config, checkpoint


def check_run_folder(config: TrainConfig, new: bool) -> None:
    """Refuse run folders that would write over the user's files: inside a dataset folder, a
    file, or (a new run) a folder holding a checkpoint or run file names that are not from a
    translate run."""
    run_dir = Path(config.out)
    try:
        run_dir.stat()
    except FileNotFoundError:
        pass
    except OSError as e:  # a name too long, a file where a folder is expected on the path
        raise WriteError(run_dir, e) from None
    if run_dir.exists() and not run_dir.is_dir():
        raise TranslateError(f"--out {run_dir} is a file; give a folder for the run")
    real = run_dir.resolve()
    for folder in input_folders(config):
        inside = folder.resolve()
        if real == inside or inside in real.parents:
            raise TranslateError(f"--out {run_dir} lies inside the input folder {folder}; the run would write into "
                                 f"it: choose a run folder outside the data")
    if not new or not run_dir.is_dir():
        return
    if any((run_dir / "checkpoints").glob("*.pt")):
        raise TranslateError(f"{run_dir} already holds a run with checkpoints; continue it with "
                             f"--resume {run_dir} or choose another --out")
    present = [name for name in RUN_ENTRIES if (run_dir / name).exists()]
    if present:
        try:  # a run stopped before its first checkpoint is replaced; anything else is the user's
            type(config).from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, TranslateError):
            raise TranslateError(f"--out {run_dir} holds {present[0]}, which is not from a translate run of this "
                                 f"recipe and would be replaced; choose an empty or new folder") from None
