"""SRResNet / SRGAN (Ledig et al. 2017): single-image super-resolution, x2 / x3 / x4.

Two stages. ``--stage pretrain`` (the default) trains the SRResNet generator alone with a pixel
loss (L1 by default, ``--pixel-loss mse`` as the paper): the PSNR-oriented model. ``--stage gan``
starts from that generator (``--pretrained RUN_DIR_OR_CHECKPOINT``) and fine-tunes it against a
VGG-style discriminator with ``lambda_content * VGG19 feature loss + lambda_adv * adversarial
(+ lambda_pixel * pixel)``; the VGG19 ImageNet weights must be in torchvision's cache.
Data: one or more folders of HR images (``--data T91,BSD200``) or SR layouts (their ``HR/``, as
`translate convert sr` writes them, :data:`translate.data.layouts.SR`); LR inputs are made on the fly with
MATLAB bicubic downscaling (:class:`~translate.data.sr.SRDataset`). The generator sees RGB in
[0, 1] (card mean 0, std 1). ``--load-size``, ``--crop-size`` and ``--preprocess`` are not used:
``--patch-size`` is the HR crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from translate.data.sr import SRDataset
from translate.errors import TranslateError
from translate.models.cards import ModelCard
from translate.nets.build import build_generator, describe
from translate.nets.srresnet import VGGStyleDiscriminator
from translate.train.config import TrainConfig, flag_name, opt
from translate.train.losses import GANLoss
from translate.train.recipes import Recipe, register
from translate.train.recipes._gan import adam, discriminator_step, linear_decay, set_requires_grad


@dataclass
class SRGANConfig(TrainConfig):
    """SRResNet pretraining / SRGAN fine-tuning options (defaults: BN-free SRResNet, L1, x4)."""

    scale: int = opt(4, "upscaling factor", (2, 3, 4))
    stage: str = opt("pretrain", "pretrain: pixel loss only (SRResNet, best PSNR); gan: perceptual + adversarial "
                     "fine-tuning from --pretrained", ("pretrain", "gan"))
    pretrained: str = opt("", "gan stage: run folder, checkpoint or .safetensors of a pretrained generator",
                          metavar="RUN_OR_CKPT")
    num_blocks: int = opt(16, "residual blocks of the generator")
    num_feat: int = opt(64, "generator channels")
    norm: str = opt("none", "generator normalisation: none (BN-free, as MSRResNet) or batch (the paper)",
                    ("none", "batch"))
    upsample_skip: str = opt("bicubic", "add the bicubic/bilinear upsampled input to the output (the net learns the "
                             "residual; trains much faster) or none (the paper)", ("bicubic", "bilinear", "none"))
    head_kernel: int = opt(9, "kernel size of the first and last conv (9 as the paper; 3 is ~2x faster on CPU)")
    patch_size: int = opt(96, "HR training crop in px (a multiple of --scale); the LR crop is patch-size / scale")
    repeat: int = opt(1, "random crops per training image per epoch")
    pixel_loss: str = opt("l1", "pixel loss", ("l1", "mse"))
    lambda_pixel: float = opt(0.0, "gan stage: weight of the pixel loss (the pretrain stage uses 1)")
    lambda_content: float = opt(1.0, "gan stage: weight of the VGG19 feature (content) loss")
    lambda_adv: float = opt(1e-3, "gan stage: weight of the adversarial loss")
    vgg_layer: str = opt("conv5_4", "VGG19 layer of the content loss (conv5_4: before ReLU as BasicSR; relu5_4: "
                         "after, as the paper)")
    gan_mode: str = opt("vanilla", "adversarial loss", ("vanilla", "lsgan", "hinge"))
    ndf: int = opt(64, "discriminator channels in the first conv")
    batch_size: int = 16
    beta1: float = 0.9

    def validate(self) -> None:
        super().validate()
        for name in ("num_feat", "repeat", "ndf", "head_kernel"):
            if getattr(self, name) < 1:
                raise TranslateError(f"--{flag_name(name)} must be >= 1, got {getattr(self, name)}")
        if self.num_blocks < 0:
            raise TranslateError(f"--num-blocks must be >= 0, got {self.num_blocks}")
        if self.head_kernel % 2 == 0:
            raise TranslateError(f"--head-kernel must be odd, got {self.head_kernel}")
        if self.patch_size % self.scale or self.patch_size < 4 * self.scale:
            raise TranslateError(f"--patch-size {self.patch_size} must be a multiple of --scale {self.scale} and "
                                 f"at least {4 * self.scale}")
        if self.stage == "gan" and not self.pretrained:
            raise TranslateError("--stage gan starts from a pretrained generator: pass --pretrained RUN_DIR "
                                 "(a run of `translate train srgan --stage pretrain`)")
        if self.stage == "gan" and self.patch_size < 16:
            raise TranslateError(f"--stage gan needs --patch-size >= 16 for the discriminator, got {self.patch_size}")

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`translate.nets.build.build_generator` (what the model card stores)."""
        return {"arch": "srresnet", "scale": self.scale, "num_blocks": self.num_blocks, "num_feat": self.num_feat,
                "norm": self.norm, "upsample_skip": self.upsample_skip, "head_kernel": self.head_kernel,
                "input_nc": 3, "output_nc": 3}


def _to_sheet(x: torch.Tensor) -> torch.Tensor:
    return x.detach().clamp(0, 1) * 2 - 1


@register
class SRGAN(Recipe):
    name = "srgan"
    Config = SRGANConfig
    sheet_columns = ("input (nearest)", "output", "target")

    def __init__(self, config: SRGANConfig, device: torch.device, run_name: str):
        super().__init__(config, device, run_name)
        self.val_crop_border = config.scale  # `scale` px from each border, as the SR papers score
        self.generator = config.generator_kwargs()
        G = build_generator(**self.generator).to(device)
        if config.pretrained:
            self._load_pretrained(G)
        self.nets = {"G": G}
        self.optimizers = {"G": adam(G.parameters(), config)}
        if config.stage == "gan":
            from translate.nets.vgg import PerceptualLoss

            self.nets["D"] = VGGStyleDiscriminator(3, config.ndf).to(device)
            self.optimizers["D"] = adam(self.nets["D"].parameters(), config)
            self.content = PerceptualLoss(config.vgg_layer).to(device)
            self.gan = GANLoss(config.gan_mode).to(device)
        self.schedulers = {k: linear_decay(o, config) for k, o in self.optimizers.items()}
        self.visuals: list[torch.Tensor] = []

    def _load_pretrained(self, G: torch.nn.Module) -> None:
        from translate.models.loading import load_model

        net, card = load_model(self.config.pretrained)
        if card.generator != self.generator:
            raise TranslateError(f"--pretrained {self.config.pretrained}: its generator [{describe(card.generator)}] "
                                 f"differs from this run's [{describe(self.generator)}]; use the same --scale, "
                                 f"--num-blocks, --num-feat, --norm, --upsample-skip and --head-kernel")
        G.load_state_dict(net.state_dict())

    @classmethod
    def build_dataset(cls, config: SRGANConfig) -> SRDataset:
        return SRDataset(config.data, scale=config.scale, patch_size=config.patch_size, repeat=config.repeat,
                         augment=config.flip, seed=config.seed)

    val_y_channel = True  # scored on the luma, as `translate eval sr` and the papers do

    @classmethod
    def build_val_dataset(cls, config: SRGANConfig, folder: Path) -> SRDataset:
        # one fixed (seeded) crop per held-out HR image, no flips: the same items at every validation
        return SRDataset([folder], scale=config.scale, patch_size=config.patch_size, repeat=1, augment=False,
                         seed=config.seed)

    def validate(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        sr = self.nets["G"](batch["lr"].to(self.device)).clamp(0, 1)
        return sr * 2 - 1, batch["hr"].to(self.device) * 2 - 1  # the validator takes [-1, 1]

    def _pixel(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(output, target) if self.config.pixel_loss == "l1" else F.mse_loss(output, target)

    def generator_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"G": batch["lr"].to(self.device)}

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        cfg, G = self.config, self.nets["G"]
        lr = batch["lr"].to(self.device, non_blocking=True)
        hr = batch["hr"].to(self.device, non_blocking=True)
        sr = G(lr)
        if cfg.stage == "pretrain":
            self.optimizers["G"].zero_grad(set_to_none=True)
            loss = self._pixel(sr, hr)
            self.scaling.backward(loss)
            self.scaling.step(self.optimizers["G"])
            losses = {"G_pixel": loss}
        else:
            D = self.nets["D"]
            d_losses = discriminator_step(self.gan, D, self.optimizers["D"], hr, sr, 0.0, scaling=self.scaling)

            set_requires_grad([D], False)
            self.optimizers["G"].zero_grad(set_to_none=True)
            content = self.content(sr, hr) * cfg.lambda_content
            adversarial = self.gan(D(sr), True, for_discriminator=False) * cfg.lambda_adv
            total = content + adversarial
            losses = {"G_content": content, "G_adv": adversarial}
            if cfg.lambda_pixel:
                losses["G_pixel"] = self._pixel(sr, hr) * cfg.lambda_pixel
                total = total + losses["G_pixel"]
            self.scaling.backward(total)
            self.scaling.step(self.optimizers["G"])
            set_requires_grad([D], True)
            losses.update(d_losses)
        up = F.interpolate(lr, scale_factor=cfg.scale, mode="nearest")
        self.visuals = [_to_sheet(up), _to_sheet(sr), _to_sheet(hr)]
        return {k: float(v.item()) for k, v in losses.items()}

    def sample(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return self.visuals

    def cards(self) -> dict[str, dict[str, Any]]:
        cfg = self.config
        kind = "SRResNet" if cfg.stage == "pretrain" else "SRGAN"
        return {"G": ModelCard(
            name=f"run:{self.run_name}", task="sr", generator=dict(self.generator), mean=0.0, std=1.0, multiple=1,
            scale=cfg.scale, licence="user-trained", source="translate train srgan",
            description=f"{kind} x{cfg.scale} ({describe(self.generator)}) trained by translate on {cfg.data}",
        ).to_dict()}
