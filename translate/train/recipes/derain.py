"""ID-CGAN de-raining (Zhang, Sindagi, Patel): a dense encoder-decoder with a residual output.

G (:class:`~translate.nets.derain.DerainGenerator`) maps a rainy image to a clean one by adding
a correction to its input; a multi-scale PatchGAN D judges (rainy, clean) pairs. Each
iteration: ``fake = G(rainy)``; D on real (rainy, clean) vs (rainy, fake) detached, loss
``0.5 * (real + fake)``; then G with ``lambda_pixel * MSE(fake, clean) + lambda_perceptual *
MSE(VGG(fake), VGG(clean)) + lambda_adv * GAN(D(rainy, fake))`` (1, 1 and 6.6e-3 in the paper).
The perceptual term needs the VGG19 weights (torchvision's cache); ``--lambda-perceptual`` left
unset uses 1 when they are cached and 0 (with a warning) when not, 0 turns it off.

Data: ``--data DIR``, a de-raining layout (:data:`translate.data.layouts.DERAIN`): rain/ and norain/
(real pairs, e.g. rain/rain-001.png <-> norain/norain-001.png) or a folder of clean images;
``--synthetic-rain DIR[,DIR]`` adds clean images that get random light or heavy synthetic rain on
the fly.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from translate.data.derain import DerainDataset
from translate.errors import TranslateError
from translate.models.cards import ModelCard
from translate.nets.build import build_discriminator, build_generator
from translate.nets.layers import init_weights
from translate.train.config import TrainConfig, flag_name, opt
from translate.train.losses import GAN_MODES, GANLoss
from translate.train.recipes import Recipe, register
from translate.train.recipes._gan import adam, discriminator_step, linear_decay, set_requires_grad


@dataclass
class DerainConfig(TrainConfig):
    """ID-CGAN defaults: MSE + VGG + 6.6e-3 adversarial, Adam 2e-4 / 0.5, crops of 256 from the image."""

    crop_size: int = 256
    preprocess: str = "crop"
    synthetic_rain: str = opt("", "comma-separated folders of clean images that get synthetic rain on the fly "
                              "(mixed with the pairs of --data)", resumable=True, metavar="DIRS")
    light_fraction: float = opt(0.5, "share of synthetic items with light rain (the rest heavy)")
    clean_fraction: float = opt(0.0, "share of synthetic items left without rain (input = target)")
    pair_repeat: int = opt(1, "times each real rain/norain pair appears per epoch (to balance many synthetic images)")
    ngf: int = opt(32, "generator filters after the first conv")
    growth: int = opt(16, "channels each dense layer adds")
    layers_per_block: int = opt(4, "layers per dense block")
    levels: int = opt(3, "transition-down levels (image sides must be multiples of 2**levels; padded at inference)")
    ndf: int = opt(64, "discriminator filters in the first conv layer")
    n_layers_D: int = opt(3, "layers of each PatchGAN of the multi-scale discriminator")
    num_D: int = opt(2, "scales of the multi-scale discriminator")
    gan_mode: str = opt("vanilla", "adversarial loss", GAN_MODES)
    lambda_gp: float = opt(10.0, "gradient penalty weight (only with --gan-mode wgangp)")
    lambda_pixel: float = opt(1.0, "weight of the pixel MSE")
    lambda_perceptual: float | None = opt(None, "weight of the VGG perceptual loss (unset: 1 when the VGG19 weights "
                                          "are cached, else 0; 0: off)", metavar="X")
    lambda_adv: float = opt(6.6e-3, "weight of the adversarial loss")

    def validate(self) -> None:
        super().validate()
        for name in ("ngf", "growth", "layers_per_block", "levels", "ndf", "n_layers_D", "num_D", "pair_repeat"):
            if getattr(self, name) < 1:
                raise TranslateError(f"--{flag_name(name)} must be >= 1, got {getattr(self, name)}")
        if self.crop_size % 2 ** self.levels:
            raise TranslateError(f"--crop-size {self.crop_size} must be a multiple of 2**levels = {2 ** self.levels}")
        for name in ("light_fraction", "clean_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise TranslateError(f"--{flag_name(name)} must be in [0, 1], got {getattr(self, name)}")
        weights = {"lambda-pixel": self.lambda_pixel, "lambda-adv": self.lambda_adv,
                   "lambda-perceptual": self.lambda_perceptual or 0.0}
        bad = [k for k, v in weights.items() if v < 0]
        if bad:
            raise TranslateError(f"--{bad[0]} must be >= 0")

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`translate.nets.build.build_generator` (what the model card stores)."""
        return {"arch": "derain", "input_nc": 3, "output_nc": 3, "ngf": self.ngf, "growth": self.growth,
                "layers_per_block": self.layers_per_block, "levels": self.levels, "norm": "none"}


def perceptual_loss(weight: float | None, device: torch.device) -> tuple[nn.Module | None, float]:
    """The VGG19 relu2_2 MSE loss (inputs in [0, 1]) and the weight to use: ``(None, 0.0)`` when ``weight`` is 0, or
    when it is None (auto) and the VGG19 weights are not available (a warning is printed)."""
    if weight == 0:
        return None, 0.0
    try:
        from translate.nets.vgg import PerceptualLoss
        net = PerceptualLoss(layer="relu2_2", criterion="mse").to(device)
    except (ImportError, TranslateError) as e:
        if weight is not None:
            raise TranslateError(f"--lambda-perceptual {weight}: {e}") from None
        print(f"translate: warning: no VGG perceptual loss ({e}); training with --lambda-perceptual 0",
              file=sys.stderr)
        return None, 0.0
    return net, 1.0 if weight is None else float(weight)


@register
class Derain(Recipe):
    name = "derain"
    Config = DerainConfig
    sheet_columns = ("rainy", "output", "clean")

    def __init__(self, config: DerainConfig, device: torch.device, run_name: str):
        super().__init__(config, device, run_name)
        self.generator = config.generator_kwargs()
        G = build_generator(**self.generator).to(device)  # default init; the residual head starts at 0
        D = build_discriminator("multiscale", input_nc=6, ndf=config.ndf, n_layers=config.n_layers_D,
                                norm="batch", num_D=config.num_D)
        self.nets = {"G": G, "D": init_weights(D, "normal", 0.02).to(device)}
        self.optimizers = {k: adam(net.parameters(), config) for k, net in self.nets.items()}
        self.schedulers = {k: linear_decay(o, config) for k, o in self.optimizers.items()}
        self.gan = GANLoss(config.gan_mode).to(device)
        self.vgg, self.lambda_perceptual = perceptual_loss(config.lambda_perceptual, device)
        self.visuals: list[torch.Tensor] = []

    @classmethod
    def build_dataset(cls, config: DerainConfig) -> DerainDataset:
        clean = [Path(d.strip()) for d in config.synthetic_rain.split(",") if d.strip()]
        return DerainDataset(config.data, clean, crop_size=config.crop_size, flip=config.flip, seed=config.seed,
                             light_fraction=config.light_fraction, pair_repeat=config.pair_repeat,
                             clean_fraction=config.clean_fraction)

    val_y_channel = True  # scored on the luma, as `translate eval derain` and the papers do

    @classmethod
    def build_val_dataset(cls, config: DerainConfig, folder: Path) -> DerainDataset:
        # held-out rain/ + norain/ pairs, one fixed (seeded) crop each, no flips
        return DerainDataset(folder, (), crop_size=config.crop_size, flip=False, seed=config.seed)

    def validate(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.nets["G"](batch["A"].to(self.device)), batch["B"].to(self.device)

    def generator_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"G": batch["A"].to(self.device)}

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        G, D, cfg = self.nets["G"], self.nets["D"], self.config
        rainy = batch["A"].to(self.device, non_blocking=True)
        clean = batch["B"].to(self.device, non_blocking=True)
        fake = G(rainy)

        losses: dict[str, torch.Tensor] = {}
        if cfg.lambda_adv > 0:
            losses.update(discriminator_step(self.gan, D, self.optimizers["D"], torch.cat([rainy, clean], 1),
                                             torch.cat([rainy, fake], 1), cfg.lambda_gp, scaling=self.scaling))

        set_requires_grad([D], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        losses["G_MSE"] = F.mse_loss(fake, clean) * cfg.lambda_pixel
        total = losses["G_MSE"]
        if self.vgg is not None:
            losses["G_VGG"] = self.vgg((fake + 1) / 2, (clean + 1) / 2) * self.lambda_perceptual
            total = total + losses["G_VGG"]
        if cfg.lambda_adv > 0:
            losses["G_GAN"] = self.gan(D(torch.cat([rainy, fake], 1)), True, for_discriminator=False) * cfg.lambda_adv
            total = total + losses["G_GAN"]
        self.scaling.backward(total)
        self.scaling.step(self.optimizers["G"])
        set_requires_grad([D], True)

        self.visuals = [rainy.detach(), fake.detach().clamp(-1, 1), clean.detach()]
        return {k: float(v.item()) for k, v in losses.items()}

    def sample(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return self.visuals

    def cards(self) -> dict[str, dict[str, Any]]:
        cfg = self.config
        extra = {"lambda_perceptual": self.lambda_perceptual, "lambda_adv": cfg.lambda_adv,
                 "synthetic_rain": cfg.synthetic_rain, "light_fraction": cfg.light_fraction,
                 "clean_fraction": cfg.clean_fraction}
        card = ModelCard(name=f"run:{self.run_name}", task="derain", generator=dict(self.generator), mean=0.5,
                         std=0.5, multiple=2 ** cfg.levels, licence="user-trained", source="translate train derain",
                         description=f"ID-CGAN de-raining ({cfg.ngf} filters, growth {cfg.growth}) trained by "
                                     f"translate on {cfg.data}", extra=extra)
        return {"G": card.to_dict()}
