"""pix2pix (Isola et al. 2017): paired translation with a conditional GAN and an L1 loss.

G (U-Net) maps A to B; the PatchGAN D judges (A, B) pairs, concatenated on channels. Each
iteration, in the reference order: ``fake_B = G(A)``; update D on real (A, B) vs (A, fake_B)
detached (through an image pool if ``--pool-size`` > 0; the reference uses none), loss
``0.5 * (real + fake)`` (+ gradient penalty for wgangp); then update G with
``GAN(D(A, fake_B)) + lambda_L1 * |fake_B - B|`` while D is frozen. With ``--diffaugment`` every
pair D sees, in both steps, goes through DiffAugment first.
Data: A|B side by side in one image (:class:`~translate.data.datasets.AlignedDataset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from translate.data.datasets import AlignedDataset
from translate.nets.architectures import size_multiple
from translate.train.config import GANConfig, opt
from translate.train.losses import GANLoss, ImagePool
from translate.train.recipes import HealthSignals, Recipe, register
from translate.train.recipes._gan import (adam, discriminator_step, gan_health_signals, generator_card, linear_decay,
    make_discriminator, make_generator, seen_by_discriminator, set_requires_grad)


@dataclass
class Pix2PixConfig(GANConfig):
    """pix2pix defaults of the reference: U-Net 256, batch norm, dropout, vanilla GAN, L1 x100."""

    netG: str = "unet_256"
    norm: str = "batch"
    dropout: bool = True
    gan_mode: str = "vanilla"
    direction: str = opt("AtoB", "AtoB: left half is the input; BtoA: right half is", ("AtoB", "BtoA"))
    lambda_L1: float = opt(100.0, "weight of the L1 loss between output and target")


@register
class Pix2Pix(Recipe):
    name = "pix2pix"
    Config = Pix2PixConfig
    sheet_columns = ("input", "output", "target")

    def __init__(self, config: Pix2PixConfig, device: torch.device, run_name: str):
        super().__init__(config, device, run_name)
        self.generator = config.generator_kwargs(config.input_nc, config.output_nc)
        self.nets = {"G": make_generator(config, config.input_nc, config.output_nc, device),
                     "D": make_discriminator(config, config.input_nc + config.output_nc, device)}
        self.optimizers = {"G": adam(self.nets["G"].parameters(), config),
                           "D": adam(self.nets["D"].parameters(), config)}
        self.schedulers = {k: linear_decay(o, config) for k, o in self.optimizers.items()}
        self.gan = GANLoss(config.gan_mode).to(device)
        self.pool = ImagePool(config.pool_size)
        self.visuals: list[torch.Tensor] = []

    @classmethod
    def build_dataset(cls, config: Pix2PixConfig) -> AlignedDataset:
        return AlignedDataset(config.data, direction=config.direction, load_size=config.load_size,
                              crop_size=config.crop_size, preprocess=config.preprocess, flip=config.flip,
                              seed=config.seed, input_nc=config.input_nc, output_nc=config.output_nc,
                              multiple=size_multiple({"arch": config.netG}))

    def generator_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"G": batch["A"].to(self.device)}

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        G, D, cfg = self.nets["G"], self.nets["D"], self.config
        real_A = batch["A"].to(self.device, non_blocking=True)
        real_B = batch["B"].to(self.device, non_blocking=True)
        fake_B = G(real_A)
        # D judges whether B fits A pixel for pixel, so DiffAugment moves the condition and the
        # image of a pair together: shifted or cut out apart, every pair (real ones too) would
        # look mismatched and D would learn nothing about correspondence.
        D_sees = seen_by_discriminator(D, cfg, (cfg.input_nc, cfg.output_nc))

        d_losses = discriminator_step(self.gan, D_sees, self.optimizers["D"], torch.cat([real_A, real_B], 1),
                                      self.pool.query(torch.cat([real_A, fake_B], 1)), cfg.lambda_gp,
                                      scaling=self.scaling)

        set_requires_grad([D], False)  # G's loss needs no gradients for D's weights
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss_G_GAN = self.gan(D_sees(torch.cat([real_A, fake_B], 1)), True, for_discriminator=False)
        loss_G_L1 = F.l1_loss(fake_B, real_B) * cfg.lambda_L1
        self.scaling.backward(loss_G_GAN + loss_G_L1)
        self.scaling.step(self.optimizers["G"])
        set_requires_grad([D], True)

        self.visuals = [real_A.detach(), fake_B.detach(), real_B.detach()]
        losses = {"G_GAN": loss_G_GAN, "G_L1": loss_G_L1, **d_losses}
        return {k: float(v.item()) for k, v in losses.items()}

    def sample(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return self.visuals

    def health_signals(self) -> HealthSignals:
        return gan_health_signals(self.config, ("D_real", "D_fake"), ("G_GAN",), (("input", "output", "target"),))

    @classmethod
    def build_val_dataset(cls, config: Pix2PixConfig, folder: Path) -> AlignedDataset:
        return AlignedDataset(folder, direction=config.direction, load_size=config.crop_size,
                              crop_size=config.crop_size, preprocess="none" if config.preprocess == "none" else "resize",
                              flip=False, seed=config.seed, input_nc=config.input_nc, output_nc=config.output_nc,
                              multiple=size_multiple({"arch": config.netG}))

    def validate(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.nets["G"](batch["A"].to(self.device)), batch["B"].to(self.device)

    def extra_state(self) -> dict[str, Any]:
        return {"pools": {"AB": self.pool.state_dict()}}

    def load_extra_state(self, checkpoint: dict[str, Any]) -> None:
        self.pool.load_state_dict(checkpoint["pools"]["AB"], self.device)

    def cards(self) -> dict[str, dict[str, Any]]:
        return {"G": generator_card(self.config, "pix2pix", self.generator, self.config.direction, self.run_name,
                                    f"pix2pix {self.config.netG} trained by translate on {self.config.data}")}
