"""CycleGAN (Zhu et al. 2017): unpaired translation with two generators and cycle consistency.

G_A maps A to B and G_B maps B to A; D_A judges B images (real vs G_A's), D_B judges A images.
Each iteration, in the reference order: forward ``fake_B = G_A(A)``, ``rec_A = G_B(fake_B)``,
``fake_A = G_B(B)``, ``rec_B = G_A(fake_A)``; then one Adam step on both generators (D frozen)
with ``GAN(D_A(fake_B)) + GAN(D_B(fake_A)) + lambda_cycle * (|rec_A - A| + |rec_B - B|)`` plus the
identity loss ``lambda_identity * lambda_cycle * (|G_A(B) - B| + |G_B(A) - A|)``; then one Adam step
on both discriminators, each on real vs a fake drawn from its image pool, loss ``0.5 * (real + fake)``.
With ``--diffaugment`` every image a discriminator sees, in both steps, goes through DiffAugment first.
Data: unpaired ``trainA/`` and ``trainB/`` folders (:class:`~translate.data.datasets.UnalignedDataset`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from translate.data.datasets import UnalignedDataset
from translate.errors import TranslateError
from translate.nets.architectures import size_multiple
from translate.train.config import GANConfig, opt
from translate.train.losses import GANLoss, ImagePool
from translate.train.recipes import HealthSignals, Recipe, register
from translate.train.recipes._gan import (adam, discriminator_loss, gan_health_signals, generator_card, linear_decay,
    make_discriminator, make_generator, seen_by_discriminator, set_requires_grad)


@dataclass
class CycleGANConfig(GANConfig):
    """CycleGAN defaults of the reference: ResNet 9 blocks, instance norm, LSGAN, pools of 50."""

    netG: str = "resnet_9blocks"
    norm: str = "instance"
    dropout: bool = False
    gan_mode: str = "lsgan"
    pool_size: int = 50
    lambda_cycle: float = opt(10.0, "weight of each cycle-consistency loss (A->B->A and B->A->B)")
    lambda_identity: float = opt(0.5, "identity loss weight, times --lambda-cycle (0: off; needs "
                                      "--input-nc = --output-nc)")

    def validate(self) -> None:
        super().validate()
        if self.lambda_identity > 0 and self.input_nc != self.output_nc:
            raise TranslateError(f"the identity loss needs --input-nc = --output-nc (got {self.input_nc} and "
                                 f"{self.output_nc}); pass --lambda-identity 0")


@register
class CycleGAN(Recipe):
    name = "cyclegan"
    Config = CycleGANConfig
    sheet_columns = ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B")

    def __init__(self, config: CycleGANConfig, device: torch.device, run_name: str):
        super().__init__(config, device, run_name)
        a_nc, b_nc = config.input_nc, config.output_nc
        self.generators = {"G_A": config.generator_kwargs(a_nc, b_nc), "G_B": config.generator_kwargs(b_nc, a_nc)}
        self.nets = {"G_A": make_generator(config, a_nc, b_nc, device),
                     "G_B": make_generator(config, b_nc, a_nc, device),
                     "D_A": make_discriminator(config, b_nc, device),
                     "D_B": make_discriminator(config, a_nc, device)}
        n = self.nets
        self.optimizers = {"G": adam(itertools.chain(n["G_A"].parameters(), n["G_B"].parameters()), config),
                           "D": adam(itertools.chain(n["D_A"].parameters(), n["D_B"].parameters()), config)}
        self.schedulers = {k: linear_decay(o, config) for k, o in self.optimizers.items()}
        self.gan = GANLoss(config.gan_mode).to(device)
        # pool_A holds fake A images (for D_B), pool_B fake B images (for D_A)
        self.pools = {"A": ImagePool(config.pool_size), "B": ImagePool(config.pool_size)}
        self.visuals: list[torch.Tensor] = []

    @classmethod
    def build_dataset(cls, config: CycleGANConfig) -> UnalignedDataset:
        return UnalignedDataset(config.data, load_size=config.load_size, crop_size=config.crop_size,
                                preprocess=config.preprocess, flip=config.flip, seed=config.seed,
                                input_nc=config.input_nc, output_nc=config.output_nc,
                                multiple=size_multiple({"arch": config.netG}))

    def generator_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"G_A": batch["A"].to(self.device), "G_B": batch["B"].to(self.device)}

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        G_A, G_B, D_A, D_B = (self.nets[k] for k in ("G_A", "G_B", "D_A", "D_B"))
        cfg = self.config
        D_A_sees, D_B_sees = seen_by_discriminator(D_A, cfg), seen_by_discriminator(D_B, cfg)
        real_A = batch["A"].to(self.device, non_blocking=True)
        real_B = batch["B"].to(self.device, non_blocking=True)
        fake_B = G_A(real_A)
        rec_A = G_B(fake_B)
        fake_A = G_B(real_B)
        rec_B = G_A(fake_A)

        set_requires_grad([D_A, D_B], False)  # the G step needs no gradients for D's weights
        self.optimizers["G"].zero_grad(set_to_none=True)
        losses = {
            "G_A": self.gan(D_A_sees(fake_B), True, for_discriminator=False),
            "G_B": self.gan(D_B_sees(fake_A), True, for_discriminator=False),
            "cycle_A": F.l1_loss(rec_A, real_A) * cfg.lambda_cycle,
            "cycle_B": F.l1_loss(rec_B, real_B) * cfg.lambda_cycle,
        }
        if cfg.lambda_identity > 0:
            weight = cfg.lambda_identity * cfg.lambda_cycle
            losses["idt_A"] = F.l1_loss(G_A(real_B), real_B) * weight
            losses["idt_B"] = F.l1_loss(G_B(real_A), real_A) * weight
        self.scaling.backward(sum(losses.values()))
        self.scaling.step(self.optimizers["G"])

        set_requires_grad([D_A, D_B], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        for d_name, net_d, real, fake, pool in (("D_A", D_A_sees, real_B, fake_B, self.pools["B"]),
                                                ("D_B", D_B_sees, real_A, fake_A, self.pools["A"])):
            loss_d, parts = discriminator_loss(self.gan, net_d, real, pool.query(fake), cfg.lambda_gp)
            self.scaling.backward(loss_d)
            losses[d_name] = loss_d
            if "gp" in parts:
                losses[f"{d_name}_gp"] = parts["gp"]
        self.scaling.step(self.optimizers["D"])

        self.visuals = [t.detach() for t in (real_A, fake_B, rec_A, real_B, fake_A, rec_B)]
        return {k: float(v.item()) for k, v in losses.items()}

    def sample(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return self.visuals

    def health_signals(self) -> HealthSignals:
        return gan_health_signals(self.config, ("D_A", "D_B"), ("G_A", "G_B"),
                                  (("real_A", "fake_B", "real_B"), ("real_B", "fake_A", "real_A")))

    def extra_state(self) -> dict[str, Any]:
        return {"pools": {k: pool.state_dict() for k, pool in self.pools.items()}}

    def load_extra_state(self, checkpoint: dict[str, Any]) -> None:
        for k, pool in self.pools.items():
            pool.load_state_dict(checkpoint["pools"][k], self.device)

    def cards(self) -> dict[str, dict[str, Any]]:
        desc = f"CycleGAN {self.config.netG} trained by translate on {self.config.data}"
        return {name: generator_card(self.config, "cyclegan", self.generators[name], direction, self.run_name,
                                     f"{desc} ({direction})")
                for name, direction in (("G_A", "AtoB"), ("G_B", "BtoA"))}
