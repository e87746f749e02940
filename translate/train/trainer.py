"""The one training loop every recipe runs in.

The trainer owns everything that is not the math of a task: device choice, seeding, data
order, epochs and iterations, the progress bar, the loss log, image sheets, atomic checkpoints
and exact resume. A recipe (:class:`translate.train.recipes.Recipe`) supplies networks, optimisers,
schedulers and ``train_step``. Beside the loop: :mod:`translate.train.checkpoints` (the run
folder's layout, what a checkpoint holds besides the recipe's state, the ``--resume`` / ``--out``
checks), :mod:`translate.train.runlog` (``losses.jsonl``, image sheets, the progress line) and
:mod:`translate.train.failures` (errors turned into one line naming the fix).

Exact resume: the data order of epoch ``e`` is a permutation drawn from ``(seed, e)`` and each
item's augmentation from ``(seed, e, index)``; checkpoints hold nets, optimisers, schedulers,
recipe extras (image pools) and the torch / numpy / python RNG states, so a run resumed from
iteration ``k`` computes bit for bit what the uninterrupted run computes (on CPU; CUDA kernels
are not all deterministic). A mid-epoch resume skips the done batches without decoding them.
"""

from __future__ import annotations

import dataclasses
import errno
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

from translate import precision
from translate.data.datasets import EpochItems, EpochSampler
from translate.device import resolve_device
from translate.errors import TranslateError
from translate.fileio import WriteError, atomic_writer
from translate.imageio import write_image
from translate.models.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from translate.resilience import StopSignals, ignore_stop_signals, pause_inside_save, remove_stale_temp_files
from translate.train import distributed
from translate.train.checkpoints import (BEST, check_run_folder, precise_bn_states, resumed_config, rng_state,
                                         saved_best, set_rng_state)
from translate.train.config import TrainConfig, save_config_yaml
from translate.train.failures import WorkerDied, check_finite, out_of_memory, too_small_for_the_nets, worker_error
from translate.train.health import Finding, HealthMonitor
from translate.train.monitor import Monitor
from translate.train.recipes import Recipe, get_recipe
from translate.train.runlog import (PRINT_SECONDS, Window, append_record, make_sheet, progress_line, read_log,
                                    trim_log)


# ---------------------------------------------------------------------------- small helpers

def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


#: The clock of the progress line and of losses.jsonl's ``time`` (a test replaces it with a fake one).
clock = time.perf_counter


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled item order of ``epoch``: a permutation of ``range(n)`` drawn from (seed, epoch)."""
    return np.random.default_rng([seed, epoch, 0x5EED]).permutation(n).tolist()


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
        # can be saved (batches() -> WorkerDied).
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

    @property
    def epochs_done(self) -> int:
        """Full epochs done, as the checkpoint counts them (``epoch``): the bar, losses.jsonl, the
        progress line and the summary all use this one number."""
        # Inside _step between the iteration and the end-of-epoch bookkeeping an epoch may be
        # complete while self.epoch still names it.
        return self.epoch + (self.epoch_iteration >= self.iters_per_epoch)

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
            ckpt["nets"].update(precise_bn_states(self.recipe, self.dataset, self.config, self.iteration))
        if self.scaling.enabled:
            ckpt["scaler"] = self.scaling.state_dict()
        if self.health is not None:
            ckpt["health"] = self.health.state_dict()
        ckpt["rng"] = rng_state()
        return ckpt

    def save(self, name: str, extra: dict[str, Any] | None = None) -> Path:
        """Write the checkpoint (plus the top-level entries ``extra``) atomically to ``checkpoints/<name>``."""
        path = self.ckpt_dir / name
        with atomic_writer(path) as f:
            try:
                torch.save({**self.checkpoint(), **(extra or {})}, f)
            except RuntimeError as e:  # how torch's zip writer reports a failed write (the disk filling)
                if "inline_container" not in str(e):
                    raise
                raise WriteError(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from None
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
            raise worker_error(e) from None
        except RuntimeError as e:  # a worker killed from outside (the OOM killer, kill -9)
            if "DataLoader worker" not in str(e):
                raise
            raise WorkerDied(str(e).splitlines()[0].rstrip(". ")) from None
        except (EOFError, ConnectionError):  # killed while handing a batch's shared memory over (its socket closed)
            raise WorkerDied("a DataLoader worker ended while sending a batch") from None

    # -- logging -------------------------------------------------------------------------

    def _record(self, losses: dict[str, float], seconds_per_iter: float) -> dict[str, Any]:
        return {"iteration": self.iteration, "epoch": self.epochs_done, "time": round(seconds_per_iter, 4),
                **{f"lr_{k}": v for k, v in self.recipe.learning_rates().items()}, **losses}

    def _log(self, losses: dict[str, float], seconds_per_iter: float) -> dict[str, Any]:
        record = self._record(losses, seconds_per_iter)
        append_record(self.log_path, record)
        return record

    def _describe_bar(self) -> None:
        self._bar.set_description(f"{self.recipe.name} {self.epochs_done}/{self.total_epochs} epochs")

    def _print_line(self, now: float) -> None:
        """Print the progress line (stderr no terminal, so no progress bar): the mean seconds per
        iteration since the previous line and the ETA it gives. On stdout, beside the summary:
        stderr holds warnings and errors only, so a run that fails says so in one line there."""
        mean = self._line_window.mean(self.iteration, now)
        print(progress_line(self._record(self.losses, mean), self.total_iters, mean), flush=True)
        self._line_window = Window(self.iteration, now)

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
            trim_log(self.log_path, self.iteration)
            remove_stale_temp_files([self.run_dir, self.ckpt_dir, self.run_dir / "samples"])  # left by a kill -9
        self.monitor = Monitor(self.run_dir, self.config.tensorboard, enabled=self.is_main,
                               title=f"{self.recipe.name}: {self.run_dir.name}", columns=self.recipe.sheet_columns)
        if self.config.val_every and self.is_main:
            from translate.train.validation import Validator

            self.validator = Validator(self.recipe, self.config)
            self.best_psnr = saved_best(self.ckpt_dir)
        total = self.total_iters
        self._bar = tqdm(total=total, initial=min(self.iteration, total), unit="it", dynamic_ncols=True,
                         disable=None if self.is_main else True)  # None: off when stderr is no terminal
        self._last_saved = self._last_sampled = self.iteration if self.iteration else -1
        batch: dict[str, Any] | None = None
        # Timing windows: losses.jsonl's ``time`` is the mean since the previous record; the
        # progress line's (stderr no terminal) the mean since the previous line.
        self._log_window = self._line_window = Window(self.iteration, clock())
        self._lines = self.is_main and bool(self._bar.disable)
        self._first_iteration = self.iteration + 1  # of this session (a resumed run starts past 1)
        ended = None
        try:
            with StopSignals() as stop:
                while self.iteration < total and self.epoch < self.total_epochs:
                    self._describe_bar()
                    for batch in self.batches(self.epoch, self.epoch_iteration):
                        with too_small_for_the_nets(batch):
                            self._step(batch)
                        if self.iteration >= total or distributed.any_rank(stop.requested):
                            break
                    if distributed.any_rank(stop.requested):
                        self._stop(stop.name or "SIGTERM")
                ended = clock()
        except WorkerDied as e:
            self._stop(f"{e} (a data worker died; if memory is short, lower --workers)", exit_code=1)
        finally:
            self._bar.close()
            self._stop_workers()
        path = self.ckpt_dir / "latest.pt"
        if self.is_main and batch is not None and self._last_sampled != self.iteration:
            self._sheet(batch)
        if self.is_main and (self._last_saved != self.iteration or not path.exists()):
            path = self.save("latest.pt")
        # the last line, where the run ended: after the final save, so a failed write is the only line
        if self._lines and ended is not None and self._line_window.iteration != self.iteration:
            self._print_line(ended)
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
        check_finite(losses, self.iteration, self.epoch, self.run_dir)
        self.losses = losses
        if self.health is not None:
            for finding in self.health.step(self.iteration, losses, self.recipe, batch):
                self._health_warning(finding)
        now = clock()
        self._bar.update(1)
        self._bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()}, refresh=False)
        if self.iteration % cfg.print_every == 0 and self.is_main:
            record = self._log(losses, self._log_window.mean(self.iteration, now))
            self._log_window = Window(self.iteration, now)
            self.monitor.scalars(record)
        if self.iteration % cfg.sample_every == 0 and self.is_main:
            self._sheet(batch)
            self._last_sampled = self.iteration
        end_of_epoch = self.epoch_iteration == self.iters_per_epoch
        if end_of_epoch:
            self.recipe.end_epoch()
            self.epoch += 1
            self.epoch_iteration = 0
            self._describe_bar()
        # checkpoints last, so they hold the state after this iteration's schedulers step
        if self.iteration % cfg.save_every == 0 and self.is_main:
            self.save("latest.pt")
            self._last_saved = self.iteration
        if end_of_epoch and cfg.save_every_epochs and self.epoch % cfg.save_every_epochs == 0 and self.is_main:
            self.save(f"epoch_{self.epoch}.pt")
        if cfg.val_every and self.iteration % cfg.val_every == 0 and self.is_main:
            self._validate()  # after the checkpoints' state: best.pt holds the same
        # stderr no terminal: a first line after the first iteration, then one every PRINT_SECONDS;
        # printed after the iteration's writes, so a write that fails is the run's only line
        if self._lines and (self.iteration == self._first_iteration
                            or now - self._line_window.time >= PRINT_SECONDS):
            self._print_line(now)

    def _validate(self) -> dict[str, float]:
        """Score the validation set, log the scores and write ``best.pt`` when the PSNR improves."""
        metrics = self.validator.evaluate()
        self.monitor.scalars(self._log(metrics, 0.0))
        if metrics["val_psnr"] > self.best_psnr:
            self.best_psnr = metrics["val_psnr"]
            self.save(BEST, {"val": {**metrics, "iteration": self.iteration}})
        return metrics

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


# ---------------------------------------------------------------------------- entry points

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
        config, checkpoint = resumed_config(resume, recipe_cls, recipe, options)
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
    check_run_folder(config, new=resume is None)
    try:
        return Trainer(recipe_cls, config, checkpoint).run()
    except WriteError as e:  # disk full, folder made read-only meanwhile: the last checkpoint is intact
        if not (Path(config.out) / "checkpoints" / "latest.pt").is_file():
            raise
        raise TranslateError(f"{e}; then continue with translate train --resume {config.out}") from None
    except (MemoryError, RuntimeError, ValueError) as e:  # torch / numpy / OpenCV allocations
        if not out_of_memory(e):
            raise
        raise TranslateError(f"out of memory ({str(e).splitlines()[0][:120]}): lower --batch-size, --crop-size / "
                             f"--load-size or the network widths (--ngf, --ndf)") from None
    finally:
        # Leave the process group (torchrun): exiting with gloo's threads alive aborts the process.
        distributed.teardown()
