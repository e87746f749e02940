"""Recipes: the math of one task each; :mod:`translate.train.trainer` runs any of them.

A recipe is a module ``translate/train/recipes/<name>.py`` with a config dataclass (a
:class:`~translate.train.config.TrainConfig`) and a :class:`Recipe` subclass decorated with
:func:`register`. The trainer only talks to the small interface below, so a new task (SR,
de-raining, inpainting, ...) is a new recipe file and nothing else: :func:`recipe_names` finds
the modules by their file names (modules starting with ``_`` are helpers) without importing
them, and :func:`get_recipe` imports one on demand. No torch at import time here, so the CLI
can list recipes cheaply.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from translate.errors import TranslateError
from translate.train.config import TrainConfig

if TYPE_CHECKING:
    import torch
    from torch.utils.data import Dataset

__all__ = ["Recipe", "HealthSignals", "register", "recipe_names", "get_recipe", "REGISTRY"]

REGISTRY: dict[str, type["Recipe"]] = {}


@dataclass(frozen=True)
class HealthSignals:
    """What the training-health monitor (:mod:`translate.train.health`) may watch in a recipe, besides
    the gradient norms of its nets.

    ``d_losses``: keys of ``train_step``'s losses that are discriminator losses;
    ``d_losses_bounded``: they are >= 0 and near 0 only when D tells real from fake almost
    perfectly (vanilla, lsgan, hinge; not WGAN-GP's critic); ``g_losses``: the generators'
    adversarial losses; ``outputs``: ``(input, output, reference)`` column triples of
    ``sheet_columns``: a generator's input, its output, and real images of the output domain
    (targets) whose variety across inputs the output should roughly have; ``chance_losses``:
    ``(loss, chance, hint)`` triples: a loss whose value is ``chance`` when the output carries
    nothing of the input (e.g. a contrastive loss at log of its number of candidates), and what to
    try when it stays there.
    """

    d_losses: tuple[str, ...] = ()
    d_losses_bounded: bool = True
    g_losses: tuple[str, ...] = ()
    outputs: tuple[tuple[str, str, str], ...] = ()
    chance_losses: tuple[tuple[str, float, str], ...] = ()


class Recipe:
    """One training task: networks, optimisers, schedulers, losses and one iteration of updates.

    Subclasses set ``name``, ``Config`` (their dataclass) and ``sheet_columns``, and in
    ``__init__`` fill ``self.nets``, ``self.optimizers`` and ``self.schedulers`` (name ->
    object). The base class turns those dicts into the checkpoint entries, so a recipe only adds
    what else it owns (e.g. image pools) via :meth:`extra_state` / :meth:`load_extra_state`.
    Networks are built by ``__init__`` on ``device`` from the current torch RNG state (the
    trainer seeds it first). ``train_step`` calls ``self.scaling.backward(loss)`` and
    ``self.scaling.step(optimizer)`` instead of ``loss.backward()`` / ``optimizer.step()``: the
    trainer hands the recipe its :class:`~translate.precision.LossScaler` there (fp16 loss scaling).
    """

    name: ClassVar[str]
    Config: ClassVar[type[TrainConfig]]
    #: Column titles of the sample sheet, matching what :meth:`sample` returns.
    sheet_columns: ClassVar[tuple[str, ...]]

    def __init__(self, config: TrainConfig, device: "torch.device", run_name: str):
        self.config = config
        self.device = device
        self.run_name = run_name
        self.nets: dict[str, torch.nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        from translate.precision import LossScaler

        self.scaling: LossScaler = LossScaler()  # plain backward / step until the trainer hands its own

    @classmethod
    def build_dataset(cls, config: TrainConfig) -> "Dataset":
        """The training dataset for ``config``; it must have ``set_epoch(epoch)`` and return
        dicts of tensors (and strings) that the default collate can batch."""
        raise NotImplementedError

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One iteration on ``batch`` (forward, backward, optimiser steps); returns the losses."""
        raise NotImplementedError

    def sample(self, batch: dict[str, Any]) -> list["torch.Tensor"]:
        """Images for a sheet, one (B, C, H, W) tensor in [-1, 1] per ``sheet_columns`` entry.

        Called right after :meth:`train_step` on the same ``batch``; it must not change any
        state or draw random numbers (recipes return the tensors of the last step).
        """
        raise NotImplementedError

    def cards(self) -> dict[str, dict[str, Any]]:
        """``{net_name: ModelCard.to_dict()}`` for the networks inference can run (generators)."""
        raise NotImplementedError

    def generator_inputs(self, batch: dict[str, Any]) -> dict[str, "torch.Tensor"]:
        """``{net_name: (B, C, H, W) input}`` of each generator for a training batch, on the
        recipe's device: what ``--precise-bn`` runs the generators on."""
        raise NotImplementedError(f"the {self.name} recipe does not support --precise-bn")

    #: Smallest batch the networks can train on (batch norm over a 1x1 map needs 2): the trainer
    #: refuses a smaller --batch-size and completes a shorter last batch of an epoch with the
    #: epoch's first items.
    min_batch: ClassVar[int] = 1

    #: Validation (:mod:`translate.train.validation`): measure PSNR / SSIM on the luma Y instead of RGB
    #: (SR, de-raining), and ignore this many border pixels.
    val_y_channel: ClassVar[bool] = False
    val_crop_border: ClassVar[int] = 0

    @classmethod
    def build_val_dataset(cls, config: TrainConfig, folder: Path) -> "Dataset | None":
        """The validation pairs in ``folder`` (deterministic: no random crop or flip), or None
        when the recipe has no validation (the default; paired recipes override it)."""
        return None

    def validate(self, batch: dict[str, Any]) -> tuple["torch.Tensor", "torch.Tensor"]:
        """``(output, target)`` for a validation batch, each (B, C, H, W) in [-1, 1]; called with
        the nets in eval mode under ``torch.no_grad()``."""
        raise NotImplementedError

    def health_signals(self) -> HealthSignals:
        """What :mod:`translate.train.health` may watch besides gradient norms (default: nothing)."""
        return HealthSignals()

    def end_epoch(self) -> None:
        """Called after each epoch: steps the learning-rate schedulers."""
        for scheduler in self.schedulers.values():
            scheduler.step()

    def learning_rates(self) -> dict[str, float]:
        """Current learning rate of each optimiser (first parameter group)."""
        return {name: float(opt.param_groups[0]["lr"]) for name, opt in self.optimizers.items()}

    def extra_state(self) -> dict[str, Any]:
        """Checkpoint entries beyond nets / optimisers / schedulers (top-level key -> value)."""
        return {}

    def load_extra_state(self, checkpoint: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` saved, from the whole checkpoint dict."""

    def state_dict(self) -> dict[str, Any]:
        """Checkpoint entries ``nets``, ``optimizers``, ``schedulers`` plus :meth:`extra_state`."""
        state = {
            "nets": {k: net.state_dict() for k, net in self.nets.items()},
            "optimizers": {k: opt.state_dict() for k, opt in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
        }
        state.update(self.extra_state())
        return state

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        """Restore nets, optimisers, schedulers and extra state from a checkpoint dict."""
        for group in ("nets", "optimizers", "schedulers"):
            own: dict[str, Any] = getattr(self, group)
            saved = checkpoint.get(group, {})
            if set(saved) != set(own):
                raise TranslateError(f"checkpoint {group} {sorted(saved)} do not match the recipe's {sorted(own)}")
            for key, obj in own.items():
                obj.load_state_dict(saved[key])
        self._apply_schedules()
        self.load_extra_state(checkpoint)

    def _apply_schedules(self) -> None:
        # Optimisers come back with the saved lr, which a scheduler recomputes only at the end of
        # the epoch: apply the (possibly --resume-changed) schedule now, so that e.g.
        # `--resume RUN --epochs-decay N` after a finished run restarts at the right lr at once.
        for name, scheduler in self.schedulers.items():
            factors = getattr(scheduler, "lr_lambdas", None)
            if factors is None or name not in self.optimizers:
                continue
            for group, base, factor in zip(self.optimizers[name].param_groups, scheduler.base_lrs, factors):
                group["lr"] = base * factor(scheduler.last_epoch)


def register(cls: type[Recipe]) -> type[Recipe]:
    """Class decorator: make a recipe available to `translate train` under ``cls.name``."""
    REGISTRY[cls.name] = cls
    return cls


def recipe_names() -> list[str]:
    """Names of the recipe modules in this package (without importing them)."""
    here = [str(Path(__file__).parent)]
    return sorted(m.name for m in pkgutil.iter_modules(here) if not m.name.startswith("_"))


def get_recipe(name: str) -> type[Recipe]:
    """The recipe class called ``name`` (imports ``translate.train.recipes.<name>``)."""
    if name not in recipe_names():
        raise TranslateError(f"unknown recipe '{name}'; available: {', '.join(recipe_names())}")
    importlib.import_module(f"{__name__}.{name}")
    if name not in REGISTRY:
        raise TranslateError(f"translate/train/recipes/{name}.py registers no recipe named '{name}'")
    return REGISTRY[name]
