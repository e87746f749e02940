"""The one training loop every recipe runs in.

The trainer owns everything that is not the math of a task: device choice, seeding, data
order, epochs and iterations, the progress bar, the loss log, image sheets, atomic checkpoints
and exact resume. A recipe (:class:`translate.train.recipes.Recipe`) supplies networks, optimisers,
schedulers and ``train_step``.

Run folder layout::

    RUN_DIR/config.json              the config (atomic; rewritten on resume with overrides)
    RUN_DIR/losses.jsonl             one JSON object per --print-every iterations
    RUN_DIR/samples/iter_000400.png  image sheets (rows of the recipe's sheet_columns)
    RUN_DIR/checkpoints/latest.pt    every --save-every iterations and at the end
    RUN_DIR/checkpoints/epoch_5.pt   every --save-every-epochs epochs
    RUN_DIR/checkpoints/best.pt      best validation PSNR (--val-every; translate.train.validation)
    RUN_DIR/config.yaml              the same config as YAML (translate train --config)
    RUN_DIR/index.html, losses.png   sheets over time and the loss curve (translate.train.monitor)

Exact resume: the data order of epoch ``e`` is a permutation drawn from ``(seed, e)`` and each
item's augmentation from ``(seed, e, index)``; checkpoints hold nets, optimisers, schedulers,
recipe extras (image pools) and the torch / numpy / python RNG states, so a run resumed from
iteration ``k`` computes bit for bit what the uninterrupted run computes (on CPU; CUDA kernels
are not all deterministic). A mid-epoch resume skips the done batches without decoding them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from translate.train import distributed
from translate import precision
from translate.models.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, read_checkpoint
from translate.train.config import TrainConfig, flag_name, input_folders, resumable_fields, save_config_yaml
from translate.data.datasets import EpochItems, EpochSampler
from translate.errors import TranslateError
from translate.fileio import WriteError, atomic_write_text, atomic_writer
from translate.train.health import Finding, HealthMonitor
from translate.imageio import write_image
from translate.device import resolve_device
from translate.nets.layers import precise_batchnorm
from translate.train.recipes import Recipe, get_recipe
from translate.train.monitor import Monitor
from translate.resilience import StopSignals, ignore_stop_signals, pause_inside_save, remove_stale_temp_files

BEST = "best.pt"  # the checkpoint of the best validation PSNR so far (--val-every)
#: What a run folder holds (the names a run writes); a new run refuses a folder where one of
#: these names is not from a translate run, so it never replaces a file of the user's.
RUN_ENTRIES = ("config.json", "config.yaml", "losses.jsonl", "losses.png", "index.html", "samples", "checkpoints",
               "tensorboard")
SHEET_ROWS = 4  # batch items shown per sample sheet


# ---------------------------------------------------------------------------- small helpers

def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled item order of ``epoch``: a permutation of ``range(n)`` drawn from (seed, epoch)."""
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n).tolist()


def tensor_to_rgb(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] with C = 1 or 3 -> (H, W, 3) float32 in [0, 1]."""
    a = ((t.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()
    return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a


def make_sheet(columns: list[torch.Tensor], rows: int = SHEET_ROWS) -> np.ndarray:
    """Tile (B, C, H, W) tensors: one row per batch item (at most ``rows``), one column each."""
    n = min(rows, columns[0].shape[0])
    return np.concatenate([np.concatenate([tensor_to_rgb(c[i]) for c in columns], axis=1) for i in range(n)],
                          axis=0)


def read_log(path: Path) -> list[dict[str, Any]]:
    """The records of a losses.jsonl file (a torn last line from a crash is ignored)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


#: What PyTorch says when an input is smaller than a network's kernels, paddings or norms allow.
_TOO_SMALL = ("Kernel size can't be greater than actual input size", "Padding size should be less than",
              "Expected more than 1 value per channel", "Output size is too small", "smaller than kernel size")


@contextlib.contextmanager
def _too_small_for_the_nets(batch: dict[str, Any]) -> Iterator[None]:
    """Turn PyTorch's shape errors for too-small inputs into one line naming an image of ``batch``.

    Small crops, ``--preprocess none`` on tiny images or a deep discriminator can shrink a
    feature map below a kernel or a norm's needs; which size is enough depends on every net of
    the recipe, so the step itself is the one place that knows.
    """
    try:
        yield
    except (RuntimeError, ValueError) as e:
        if not any(marker in str(e) for marker in _TOO_SMALL):
            raise
        image = next((v for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() == 4), None)
        size = f"{image.shape[-1]}x{image.shape[-2]} px " if image is not None else ""
        paths = next((v for k, v in batch.items() if k.endswith("path") and v), [""])
        raise TranslateError(f"{paths[0]}: a {size}input is too small for the networks ({str(e).splitlines()[0]}); "
                             f"use a larger --crop-size, --preprocess resize_and_crop, or larger images") from None


class _WorkerDied(Exception):
    """A data loading worker process died; the main process still holds a consistent state."""


def _worker_error(e: TranslateError) -> TranslateError:
    # A TranslateError raised in a DataLoader worker comes back wrapped in a multi-line message
    # with the worker's traceback; keep the one line the user needs.
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    last = lines[-1] if lines else str(e)
    return TranslateError(last.split("TranslateError: ", 1)[-1], e.exit_code)


# ---------------------------------------------------------------------------- the trainer

@dataclass
class TrainResult:
    """What :func:`train` did: the run folder, the final checkpoint and the last losses."""

    run_dir: Path
    checkpoint: Path
    iteration: int
    epoch: int
    losses: dict[str, float]


class Trainer:
    """Runs ``recipe_cls`` with ``config`` (a fresh run) or continues the run in ``resume``.

    Use :func:`train` instead of this class directly unless you need the pieces.
    """

    def __init__(self, recipe_cls: type[Recipe], config: TrainConfig, checkpoint: dict[str, Any] | None = None):
        if config.batch_size < recipe_cls.min_batch:
            raise TranslateError(f"--batch-size must be >= {recipe_cls.min_batch} for `translate train "
                                 f"{recipe_cls.name}` (its networks batch-normalise over the batch), got "
                                 f"{config.batch_size}")
        self.recipe_cls = recipe_cls
        self.config = config
        self.run_dir = Path(config.out)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.log_path = self.run_dir / "losses.jsonl"
        self.device = torch.device(resolve_device(config.device))
        self.dist = distributed.setup(self.device)  # torchrun: join the process group (one process: no-op)
        self.device = distributed.local_device(self.device, self.dist)

        seed_everything(config.seed)
        self.dataset = recipe_cls.build_dataset(config)
        self.iters_per_epoch = distributed.iterations_per_epoch(len(self.dataset), config.batch_size,
                                                                self.dist.world_size)
        self.total_epochs = config.epochs + config.epochs_decay
        self.recipe = recipe_cls(config, self.device, self.run_dir.name)
        self.iteration = 0  # iterations done in total
        self.epoch = 0  # index of the epoch in progress (= epochs completed)
        self.epoch_iteration = 0  # iterations done in the epoch in progress
        self.losses: dict[str, float] = {}
        self.is_main = self.dist.is_main  # the process that writes files (rank 0 under DDP)
        if checkpoint is not None:
            saved_size = int(checkpoint.get("dataset_size", len(self.dataset)))
            if saved_size != len(self.dataset):
                print(f"translate: warning: the dataset has {len(self.dataset)} items, the run was saved with "
                      f"{saved_size}; the data order will differ from an uninterrupted run", file=sys.stderr)
            if int(checkpoint["epoch_iteration"]) >= self.iters_per_epoch:
                raise TranslateError(f"--resume: the checkpoint is {checkpoint['epoch_iteration']} iterations into "
                                     f"an epoch but the dataset now gives {self.iters_per_epoch} per epoch; resume "
                                     f"with the data the run was trained on")
            self.recipe.load_state_dict(checkpoint)
            self.iteration = int(checkpoint["iteration"])
            self.epoch = int(checkpoint["epoch"])
            self.epoch_iteration = int(checkpoint["epoch_iteration"])
            self.losses = dict(checkpoint.get("losses", {}))
            set_rng_state(checkpoint["rng"])  # last: building the nets above drew random numbers
        distributed.prepare_recipe(self.recipe, config, self.device, self.dist)  # --sync-bn, torchrun
        precision.speed_up(self.recipe.nets, config, self.device)  # --channels-last, --compile, cuDNN autotuning
        self.scaling = precision.loss_scaler(self.device, config.precision)  # fp16: a GradScaler
        if checkpoint is not None:
            self.scaling.load_state_dict(checkpoint.get("scaler"))
        self.recipe.scaling = self.scaling  # the recipe's backward / step go through it
        self.health = (HealthMonitor(self.recipe.health_signals(), config.health_every, self.scaling.enabled)
                       if config.health_every and self.is_main else None)
        if self.health is not None and checkpoint is not None and "health" in checkpoint:
            self.health.load_state_dict(checkpoint["health"])  # so a resumed run warns as the whole one would
        self.loader_generator = torch.Generator().manual_seed(config.seed)
        # torch's SIGCHLD handler raises "DataLoader worker ... is killed" wherever the main process
        # is when a worker dies, even half-way through an optimiser step, where no consistent
        # state is left to save. Without it the loader reports a dead worker itself at the next
        # batch (it polls its workers every few seconds), between iterations, where latest.pt
        # can be saved (batches() -> _WorkerDied).
        from torch.utils.data._utils import signal_handling

        signal_handling._SIGCHLD_handler_set = True
        # One loader for the whole run: its worker processes persist across epochs.
        self.sampler = EpochSampler()
        self.loader = DataLoader(EpochItems(self.dataset), batch_size=config.batch_size, sampler=self.sampler,
                                 num_workers=config.workers, persistent_workers=config.workers > 0,
                                 drop_last=False, generator=self.loader_generator,
                                 pin_memory=self.device.type == "cuda",
                                 worker_init_fn=ignore_stop_signals if config.workers > 0 else None)

    # -- state ---------------------------------------------------------------------------

    @property
    def total_iters(self) -> int:
        planned = self.total_epochs * self.iters_per_epoch
        return min(planned, self.config.max_iters) if self.config.max_iters else planned

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint dict (format ``translate-checkpoint`` version 1)."""
        ckpt = {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "recipe": self.recipe.name,
            "config": self.config.to_dict(), "iteration": self.iteration, "epoch": self.epoch,
            "epoch_iteration": self.epoch_iteration, "dataset_size": len(self.dataset), "losses": dict(self.losses),
            "cards": self.recipe.cards(),
        }
        ckpt.update(self.recipe.state_dict())
        if self.config.precise_bn:
            ckpt["nets"].update(self._precise_bn_states())
        if self.scaling.enabled:
            ckpt["scaler"] = self.scaling.state_dict()
        if self.health is not None:
            ckpt["health"] = self.health.state_dict()
        ckpt["rng"] = rng_state()
        return ckpt

    def _precise_bn_states(self) -> dict[str, dict[str, torch.Tensor]]:
        # Only the saved copy gets the recomputed statistics: in train mode BatchNorm never reads
        # its running averages, so the live nets (and an exact resume) are unaffected. The
        # batches are drawn with their own generator, never from the training RNG streams.
        picker = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.iteration)
        n = self.config.precise_bn * self.config.batch_size
        picks = torch.randint(len(self.dataset), (n,), generator=picker).tolist()
        loader = DataLoader(self.dataset, batch_size=self.config.batch_size, sampler=picks, num_workers=0)
        inputs = [self.recipe.generator_inputs(batch) for batch in loader]
        return {name: precise_batchnorm(self.recipe.nets[name], [x[name] for x in inputs]).state_dict()
                for name in inputs[0]}

    def save(self, name: str, extra: dict[str, Any] | None = None) -> Path:
        """Write the checkpoint (plus the top-level entries ``extra``) atomically to ``checkpoints/<name>``."""
        path = self.ckpt_dir / name
        with atomic_writer(path) as f:
            torch.save({**self.checkpoint(), **(extra or {})}, f)
            pause_inside_save()  # test hook: lets a test kill -9 between write and rename
        return path

    # -- data ----------------------------------------------------------------------------

    def batches(self, epoch: int, skip: int) -> Iterator[dict[str, Any]]:
        """Batches of ``epoch`` after the first ``skip`` ones (skipped items are not decoded)."""
        self.dataset.set_epoch(epoch)  # for --workers 0; worker processes get the epoch with each index
        order = distributed.rank_order(epoch_order(len(self.dataset), self.config.seed, epoch),
                                       self.config.batch_size, self.dist)
        short = len(order) % self.config.batch_size
        if 0 < short < self.recipe_cls.min_batch:  # e.g. one image left for a batch-normalised 1x1 map
            order = order + order[:self.recipe_cls.min_batch - short]
        self.sampler.start(epoch, order[skip * self.config.batch_size:])
        try:
            yield from self.loader
        except TranslateError as e:
            raise _worker_error(e) from None
        except RuntimeError as e:  # a worker killed from outside (the OOM killer, kill -9)
            if "DataLoader worker" not in str(e):
                raise
            raise _WorkerDied(str(e).splitlines()[0].rstrip(". ")) from None

    # -- logging -------------------------------------------------------------------------

    def _trim_log(self) -> None:
        # After a crash the log may run past the checkpoint (or end in a torn line); keep only
        # the records up to the checkpoint so the resumed run logs each iteration once.
        if not self.log_path.exists():
            return
        text = self.log_path.read_text(encoding="utf-8")
        kept = "".join(json.dumps(r) + "\n" for r in read_log(self.log_path) if r.get("iteration", 0) <= self.iteration)
        if kept != text:
            atomic_write_text(self.log_path, kept)

    def _log(self, losses: dict[str, float], seconds_per_iter: float) -> dict[str, Any]:
        record = {"iteration": self.iteration, "epoch": self.epoch + 1, "time": round(seconds_per_iter, 4),
                  **{f"lr_{k}": v for k, v in self.recipe.learning_rates().items()}, **losses}
        # An append-only log (rewriting it whole every few iterations would cost O(n^2));
        # flushed and fsynced so it never runs behind the checkpoints.
        try:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise WriteError(self.log_path, e) from None
        return record

    def _health_warning(self, finding: Finding) -> None:
        """Report a training-health finding: stderr, losses.jsonl and index.html."""
        tqdm.write(f"translate: warning: {finding.message}", file=sys.stderr)
        self._log({"health": finding.kind, "warning": finding.message}, 0.0)
        self.monitor.warnings(read_log(self.log_path))

    def _sheet(self, batch: dict[str, Any]) -> Path:
        path = self.run_dir / "samples" / f"iter_{self.iteration:06d}.png"
        sheet = make_sheet(self.recipe.sample(batch))
        write_image(path, sheet)
        self.monitor.sheet(self.iteration, sheet, read_log(self.log_path))  # index.html, tensorboard
        return path

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> TrainResult:
        """Train until ``max_iters`` iterations or the last epoch; returns what was done."""
        if self.is_main:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise WriteError(self.run_dir, e) from None
            self.config.save_json(self.run_dir / "config.json")
            save_config_yaml(self.config, self.run_dir / "config.yaml", self.recipe.name)  # same, for --config
            self._trim_log()
            remove_stale_temp_files([self.run_dir, self.ckpt_dir, self.run_dir / "samples"])  # left by a kill -9
        self.monitor = Monitor(self.run_dir, self.config.tensorboard, enabled=self.is_main,
                               title=f"{self.recipe.name}: {self.run_dir.name}", columns=self.recipe.sheet_columns)
        if self.config.val_every and self.is_main:
            from translate.train.validation import Validator

            self.validator = Validator(self.recipe, self.config)
            self.best_psnr = self._saved_best()
        total = self.total_iters
        self._bar = tqdm(total=total, initial=min(self.iteration, total), unit="it", dynamic_ncols=True,
                         disable=None if self.is_main else True)  # None: off when stderr is no terminal
        self._last_saved = self._last_sampled = self.iteration if self.iteration else -1
        batch: dict[str, Any] | None = None
        self._tick = time.perf_counter()
        try:
            with StopSignals() as stop:
                while self.iteration < total and self.epoch < self.total_epochs:
                    self._bar.set_description(f"{self.recipe.name} epoch {self.epoch + 1}/{self.total_epochs}")
                    for batch in self.batches(self.epoch, self.epoch_iteration):
                        with _too_small_for_the_nets(batch):
                            self._step(batch)
                        if self.iteration >= total or distributed.any_rank(stop.requested):
                            break
                    if distributed.any_rank(stop.requested):
                        self._stop(stop.name or "SIGTERM")
        except _WorkerDied as e:
            self._stop(f"{e} (a data worker died; if memory is short, lower --workers)", exit_code=1)
        finally:
            self._bar.close()
            self._stop_workers()
        path = self.ckpt_dir / "latest.pt"
        if self.is_main and batch is not None and self._last_sampled != self.iteration:
            self._sheet(batch)
        if self.is_main and (self._last_saved != self.iteration or not path.exists()):
            path = self.save("latest.pt")
        self.monitor.close(read_log(self.log_path))  # losses.png and the final index.html
        distributed.barrier()  # other ranks return once rank 0's checkpoint is written
        return TrainResult(self.run_dir, path, self.iteration, self.epoch, dict(self.losses))

    def _step(self, batch: dict[str, Any]) -> None:
        """One iteration and everything due after it: log, sheet, schedulers, checkpoints."""
        cfg = self.config
        with precision.autocast(self.device, cfg.precision):
            losses = self.recipe.train_step(precision.batch_to_channels_last(batch) if cfg.channels_last else batch)
        self.scaling.update()
        losses = distributed.average_losses(losses, self.dist)  # the same on every rank: NaN stops all
        self.iteration += 1
        self.epoch_iteration += 1
        self._check_finite(losses)
        self.losses = losses
        if self.health is not None:
            for finding in self.health.step(self.iteration, losses, self.recipe, batch):
                self._health_warning(finding)
        now = time.perf_counter()
        seconds, self._tick = now - self._tick, now
        self._bar.update(1)
        self._bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
        if self.iteration % cfg.print_every == 0 and self.is_main:
            record = self._log(losses, seconds)
            self.monitor.scalars(record)
            if self._bar.disable:
                print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()),
                      file=sys.stderr, flush=True)
        if self.iteration % cfg.sample_every == 0 and self.is_main:
            self._sheet(batch)
            self._last_sampled = self.iteration
        end_of_epoch = self.epoch_iteration == self.iters_per_epoch
        if end_of_epoch:
            self.recipe.end_epoch()
            self.epoch += 1
            self.epoch_iteration = 0
        # checkpoints last, so they hold the state after this iteration's schedulers step
        if self.iteration % cfg.save_every == 0 and self.is_main:
            self.save("latest.pt")
            self._last_saved = self.iteration
        if end_of_epoch and cfg.save_every_epochs and self.epoch % cfg.save_every_epochs == 0 and self.is_main:
            self.save(f"epoch_{self.epoch}.pt")
        if cfg.val_every and self.iteration % cfg.val_every == 0 and self.is_main:
            self._validate()  # after the checkpoints' state: best.pt holds the same

    def _validate(self) -> dict[str, float]:
        """Score the validation set, log the scores and write ``best.pt`` when the PSNR improves."""
        metrics = self.validator.evaluate()
        self.monitor.scalars(self._log(metrics, 0.0))
        if metrics["val_psnr"] > self.best_psnr:
            self.best_psnr = metrics["val_psnr"]
            self.save(BEST, {"val": {**metrics, "iteration": self.iteration}})
        return metrics

    def _saved_best(self) -> float:
        """The PSNR of the ``best.pt`` already in the run folder (-inf when none or unreadable:
        the next validation replaces it)."""
        path = self.ckpt_dir / BEST
        if not path.is_file():
            return -math.inf
        try:  # mmap: only the small entries are read
            return float(read_checkpoint(path, mmap=True)["val"]["val_psnr"])
        except (TranslateError, KeyError, TypeError, ValueError):
            return -math.inf

    def _stop_workers(self) -> None:
        """Shut the persistent data workers down now, whether the loop ended or raised.

        They ignore SIGINT / SIGTERM (:func:`ignore_stop_signals`), so left to interpreter exit
        (an error's traceback keeps the loader alive until then) multiprocessing would SIGTERM
        them and wait forever.
        """
        iterator = getattr(self.loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        self.loader._iterator = None

    def _stop(self, reason: str, exit_code: int = 130) -> None:
        """Save ``latest.pt`` at the current iteration and stop with ``exit_code`` (130: Ctrl-C /
        SIGTERM); ``reason`` starts the message."""
        path = self.ckpt_dir / "latest.pt"
        if self.is_main and (self._last_saved != self.iteration or not path.exists()):
            self.save("latest.pt")
        raise TranslateError(f"{reason} at iteration {self.iteration}: saved {path}; continue with "
                             f"translate train --resume {self.run_dir}", exit_code=exit_code)

    def _check_finite(self, losses: dict[str, float]) -> None:
        bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
        if bad:
            latest = self.ckpt_dir / "latest.pt"
            kept = (f"the last good checkpoint {latest} is kept; resume from it with --resume {self.run_dir}"
                    if latest.exists() else "no checkpoint was saved yet")
            raise TranslateError(
                f"loss {', '.join(f'{k}={v}' for k, v in bad.items())} at iteration {self.iteration} "
                f"(epoch {self.epoch + 1}): training diverged and was stopped; {kept}; "
                f"try a lower --lr or another --gan-mode", exit_code=1)


# ---------------------------------------------------------------------------- entry points

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


def _check_run_folder(config: TrainConfig, new: bool) -> None:
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


def _out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` is an allocation failure (PyTorch CPU / CUDA, numpy, OpenCV)."""
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(e)
    return any(marker in text for marker in ("can't allocate memory", "Insufficient memory", "out of memory"))


def train(recipe: str, options: dict[str, Any] | None = None, resume: str | os.PathLike | None = None) -> TrainResult:
    """Train ``recipe`` (e.g. ``"pix2pix"``) with config ``options`` (field name -> value), or
    continue the run in ``resume`` (a run folder), where ``options`` may only change the fields
    marked resumable (``max_iters``, ``epochs``, ``epochs_decay``, ``workers``, ``device``, the
    ``*_every`` intervals). A run folder killed before its first checkpoint resumes from
    iteration 0 with its config.json.

    A new run refuses a run folder that already holds a checkpoint, that lies inside a data
    folder or that holds files of the user's under the names a run writes. Raises
    TranslateError for bad options, data, run folders, failed writes and exhausted memory; a
    NaN / Inf loss stops training (exit code 1) and keeps the last good checkpoint.
    """
    recipe_cls = get_recipe(recipe)
    options = dict(options or {})
    checkpoint = None
    if resume is not None:
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
    else:
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(recipe_cls.Config)})
        if unknown:
            raise TranslateError(f"unknown option {unknown[0]!r} for translate train {recipe_cls.name}")
        config = recipe_cls.Config(**options)
    config.validate()
    for folder in config.data.replace(os.pathsep, ",").split(","):  # several folders: comma-separated (srgan)
        if folder.strip() and not Path(folder.strip()).is_dir():
            what = "is a file, not a folder" if Path(folder.strip()).exists() else "dataset folder not found"
            raise TranslateError(f"--data {folder.strip()}: {what}")
    _check_run_folder(config, new=resume is None)
    try:
        return Trainer(recipe_cls, config, checkpoint).run()
    except WriteError as e:  # disk full, folder made read-only meanwhile: the last checkpoint is intact
        if not (Path(config.out) / "checkpoints" / "latest.pt").is_file():
            raise
        raise TranslateError(f"{e}; then continue with translate train --resume {config.out}") from None
    except (MemoryError, RuntimeError, ValueError) as e:  # torch / numpy / OpenCV allocations
        if not _out_of_memory(e):
            raise
        raise TranslateError(f"out of memory ({str(e).splitlines()[0][:120]}): lower --batch-size, --crop-size / "
                             f"--load-size or the network widths (--ngf, --ndf)") from None
    finally:
        # Leave the process group (torchrun): exiting with gloo's threads alive aborts the process.
        distributed.teardown()
