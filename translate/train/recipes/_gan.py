"""Pieces the GAN recipes share: network building, Adam + linear decay, D loss, DiffAugment,
health signals, model cards."""

from __future__ import annotations

from typing import Any, Iterable

import torch
import torch.nn as nn

from translate.models.cards import ModelCard
from translate.nets.architectures import size_multiple
from translate.nets.build import build_discriminator, build_generator
from translate.nets.layers import init_weights
from translate.precision import LossScaler
from translate.train.config import GANConfig, TrainConfig
from translate.train.diffaugment import augmented, parse_policy
from translate.train.losses import GANLoss, gradient_penalty
from translate.train.recipes import HealthSignals


def make_generator(config: GANConfig, input_nc: int, output_nc: int, device: torch.device) -> nn.Module:
    """``config.netG`` built with :meth:`GANConfig.generator_kwargs`, initialised, on ``device``."""
    net = build_generator(**config.generator_kwargs(input_nc, output_nc))
    return init_weights(net, config.init_type, config.init_gain).to(device)


def make_discriminator(config: GANConfig, input_nc: int, device: torch.device) -> nn.Module:
    """``config.netD`` for ``input_nc`` channels, initialised, on ``device``."""
    net = build_discriminator(config.netD, input_nc=input_nc, ndf=config.ndf, n_layers=config.n_layers_D,
                              norm=config.norm)
    return init_weights(net, config.init_type, config.init_gain).to(device)


def adam(params: Iterable[nn.Parameter], config: TrainConfig, lr: float | None = None) -> torch.optim.Adam:
    """Adam with ``lr`` (default ``config.lr``) and betas ``(config.beta1, 0.999)``; the fused
    kernel on CUDA."""
    params = list(params)
    fused = bool(params) and all(p.device.type == "cuda" for p in params)
    return torch.optim.Adam(params, lr=config.lr if lr is None else lr, betas=(config.beta1, 0.999),
                            fused=fused or None)


def linear_decay(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Constant lr for ``config.epochs`` epochs, then linearly to 0 over ``config.epochs_decay``.

    Stepped once per epoch; the factor in epoch ``e`` (0-based) is
    ``1 - max(0, e + 1 - epochs) / (epochs_decay + 1)`` as in the reference implementation. The
    lambda reads ``config`` when called, so ``--resume --epochs N`` changes the schedule.
    """
    def factor(epoch: int) -> float:
        return 1.0 - max(0, epoch + 1 - config.epochs) / float(config.epochs_decay + 1)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def set_requires_grad(nets: Iterable[nn.Module], flag: bool) -> None:
    """Freeze (``False``) or unfreeze the parameters of ``nets`` (to skip D grads in the G step)."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def discriminator_loss(gan: GANLoss, net_d: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                       lambda_gp: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """D loss ``0.5 * (real + fake)`` (+ gradient penalty for wgangp) on (B, C, H, W) inputs.

    ``fake`` is detached here. Returns the total and its parts (``real``, ``fake``[, ``gp``]).
    """
    fake = fake.detach()
    parts = {"real": gan(net_d(real), True), "fake": gan(net_d(fake), False)}
    total = 0.5 * (parts["real"] + parts["fake"])
    if gan.mode == "wgangp":
        parts["gp"] = gradient_penalty(net_d, real, fake, weight=lambda_gp)
        total = total + parts["gp"]
    return total, parts


def discriminator_step(gan: GANLoss, net_d: nn.Module, optimizer: torch.optim.Optimizer, real: torch.Tensor,
                       fake: torch.Tensor, lambda_gp: float, *, scaling: LossScaler) -> dict[str, torch.Tensor]:
    """One optimiser step of ``net_d`` on :func:`discriminator_loss` through the recipe's
    ``scaling`` (loss-scaled under fp16); returns the loss parts as ``D_real``, ``D_fake``[, ``D_gp``]."""
    optimizer.zero_grad(set_to_none=True)
    loss, parts = discriminator_loss(gan, net_d, real, fake, lambda_gp)
    scaling.backward(loss)
    scaling.step(optimizer)
    return {f"D_{k}": v for k, v in parts.items()}


def seen_by_discriminator(net_d: nn.Module, config: GANConfig, groups: tuple[int, ...] | None = None) -> nn.Module:
    """``net_d`` as the recipe calls it, in D's step and G's step alike: behind DiffAugment when
    ``--diffaugment`` is set (``groups``: channels of the images stacked in D's input, which share
    one transform), else ``net_d`` itself. Built per step, so ``net_d`` stays the saved module."""
    return augmented(net_d, parse_policy(config.diffaugment), groups)


def gan_health_signals(config: GANConfig, d_losses: tuple[str, ...], g_losses: tuple[str, ...],
                       outputs: tuple[tuple[str, str, str], ...]) -> HealthSignals:
    """:class:`~translate.train.recipes.HealthSignals` of a GAN recipe; its D losses are bounded below
    by 0 in every ``--gan-mode`` but WGAN-GP's."""
    return HealthSignals(d_losses=d_losses, d_losses_bounded=config.gan_mode != "wgangp", g_losses=g_losses,
                         outputs=outputs)


def generator_card(config: GANConfig, task: str, generator: dict[str, Any], direction: str,
                   run_name: str, description: str) -> dict[str, Any]:
    """The model card (as a dict) of a generator trained by this run."""
    return ModelCard(
        name=f"run:{run_name}", task=task, generator=dict(generator), direction=direction,
        mean=0.5, std=0.5, multiple=size_multiple(generator), licence="user-trained",
        source=f"translate train {task}", description=description,
    ).to_dict()
