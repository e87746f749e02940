"""Context encoder inpainting (Pathak et al. 2016): fill a hole from its 128x128 context.

G (:class:`~translate.nets.context_encoder.ContextEncoder`) sees a 128x128 image with the hole
filled with the mean pixel plus the hole mask, and predicts the whole 128x128 image; only the
hole and a ``--overlap``-px band of context around it are trained (the paper's 4-px overlap
of the predicted patch with the context, weighted 10x, which makes the fill continue the
surrounding pixels), and the known pixels are composited back. D (a PatchGAN) judges the
composite against the real image. Each iteration: D on real vs composite (detached), loss
``0.5 * (real + fake)``; then G with ``lambda_rec * masked L2 + lambda_adv * GAN(D(composite))``
(0.999 / 0.001). Adam with beta1 0.5; D's learning rate is ``--lr-d-ratio`` (0.1) times G's.

Data: ``--data DIR`` (and ``--more-data DIR[,DIR]``): inpainting layouts
(:data:`translate.data.layouts.INPAINT`: clean images in ``images/`` or the folder itself, optional
``masks/``); 128x128 random crops with holes of the kinds in ``--masks`` (centre, block, strokes,
files from ``--mask-dir``, by default the layout's ``masks/``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from translate.data.inpaint import IMAGE_SIZE, MASK_SOURCES, InpaintDataset
from translate.errors import TranslateError
from translate.models.cards import ModelCard
from translate.nets.build import build_discriminator, build_generator
from translate.nets.layers import init_weights
from translate.train.config import TrainConfig, flag_name, opt
from translate.train.losses import GAN_MODES, GANLoss
from translate.train.recipes import Recipe, register
from translate.train.recipes._gan import adam, discriminator_step, linear_decay, set_requires_grad


@dataclass
class InpaintConfig(TrainConfig):
    """Context encoder defaults: 128x128, 4000-channel bottleneck, 0.999 L2 + 0.001 GAN, G lr 10x D's."""

    batch_size: int = 64
    crop_size: int = IMAGE_SIZE
    more_data: str = opt("", "comma-separated further folders of training images", resumable=True, metavar="DIRS")
    masks: str = opt("centre,block,strokes", f"comma-separated hole kinds drawn per image: {', '.join(MASK_SOURCES)}",
                     metavar="KINDS")
    mask_dir: str = opt("", "folder of mask images (white = hole) for --masks files (default: masks/ in --data)",
                        metavar="DIR")
    ngf: int = opt(32, "generator filters in the first conv layer")
    max_channels: int = opt(128, "most channels of any encoder / decoder layer")
    bottleneck: int = opt(4000, "channels of the 1x1 bottleneck code")
    bottleneck_groups: int = opt(32, "groups of the bottleneck convolutions (1: the paper's dense layer, 131 MB)")
    ndf: int = opt(64, "discriminator filters in the first conv layer")
    n_layers_D: int = opt(3, "PatchGAN layers")
    gan_mode: str = opt("vanilla", "adversarial loss", GAN_MODES)
    lambda_gp: float = opt(10.0, "gradient penalty weight (only with --gan-mode wgangp)")
    lambda_rec: float = opt(0.999, "weight of the masked L2 reconstruction loss")
    lambda_adv: float = opt(0.001, "weight of the adversarial loss")
    overlap: int = opt(4, "width in px of the context band around the hole that is also reconstructed")
    overlap_weight: float = opt(10.0, "loss weight of the overlap band relative to the hole")
    lr_d_ratio: float = opt(0.1, "discriminator learning rate = --lr times this")

    def validate(self) -> None:
        super().validate()
        if self.crop_size != IMAGE_SIZE:
            raise TranslateError(f"--crop-size must be {IMAGE_SIZE} for the context encoder, got {self.crop_size}")
        for name in ("ngf", "max_channels", "bottleneck", "bottleneck_groups", "ndf", "n_layers_D"):
            if getattr(self, name) < 1:
                raise TranslateError(f"--{flag_name(name)} must be >= 1, got {getattr(self, name)}")
        if self.overlap < 0 or self.overlap_weight < 0 or self.lambda_rec < 0 or self.lambda_adv < 0:
            raise TranslateError("--overlap, --overlap-weight, --lambda-rec and --lambda-adv must be >= 0")
        if self.lr_d_ratio <= 0:
            raise TranslateError(f"--lr-d-ratio must be > 0, got {self.lr_d_ratio}")
        bad = [k for k in self.mask_kinds() if k not in MASK_SOURCES]
        if bad or not self.mask_kinds():
            raise TranslateError(f"--masks: unknown kind '{bad[0] if bad else ''}'; use {', '.join(MASK_SOURCES)}")

    def mask_kinds(self) -> list[str]:
        return [k.strip() for k in self.masks.split(",") if k.strip()]

    def generator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`translate.nets.build.build_generator` (what the model card stores)."""
        return {"arch": "context_encoder", "input_nc": 3, "output_nc": 3, "ngf": self.ngf,
                "max_channels": self.max_channels, "bottleneck": self.bottleneck,
                "bottleneck_groups": self.bottleneck_groups, "norm": "batch"}


def loss_weights(mask: torch.Tensor, overlap: int, overlap_weight: float) -> torch.Tensor:
    """Per-pixel reconstruction weights for (B, 1, H, W) hole masks (1 = hole): 1 in the hole,
    ``overlap_weight`` on the ``overlap``-px band of context around it, 0 elsewhere."""
    if overlap == 0:
        return mask.clone()
    grown = torch.nn.functional.max_pool2d(mask, 2 * overlap + 1, stride=1, padding=overlap)
    return mask + overlap_weight * (grown - mask)


def masked_l2(output: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted squared error of (B, C, H, W) tensors, averaged over the pixels with weight > 0."""
    count = (weights > 0).sum().clamp(min=1) * output.shape[1]
    return (weights * (output - target) ** 2).sum() / count


@register
class Inpaint(Recipe):
    name = "inpaint"
    Config = InpaintConfig
    min_batch = 2  # the 1x1 bottleneck's batch norm normalises over the batch
    sheet_columns = ("input", "output", "target")

    def __init__(self, config: InpaintConfig, device: torch.device, run_name: str):
        super().__init__(config, device, run_name)
        self.generator = config.generator_kwargs()
        G = build_generator(**self.generator)
        D = build_discriminator("n_layers", input_nc=3, ndf=config.ndf, n_layers=config.n_layers_D, norm="batch")
        self.nets = {"G": init_weights(G, "normal", 0.02).to(device), "D": init_weights(D, "normal", 0.02).to(device)}
        self.optimizers = {"G": adam(G.parameters(), config),
                           "D": adam(D.parameters(), config, lr=config.lr * config.lr_d_ratio)}
        self.schedulers = {k: linear_decay(o, config) for k, o in self.optimizers.items()}
        self.gan = GANLoss(config.gan_mode).to(device)
        self.visuals: list[torch.Tensor] = []

    @classmethod
    def build_dataset(cls, config: InpaintConfig) -> InpaintDataset:
        folders = [config.data] + [d.strip() for d in config.more_data.split(",") if d.strip()]
        return InpaintDataset(folders, config.mask_kinds(), mask_dir=config.mask_dir or None, flip=config.flip,
                              seed=config.seed)

    def generator_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"G": torch.cat([batch["A"], batch["M"]], 1).to(self.device)}

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        G, D, cfg = self.nets["G"], self.nets["D"], self.config
        real = batch["A"].to(self.device, non_blocking=True)
        mask = batch["M"].to(self.device, non_blocking=True)
        output = G(torch.cat([real, mask], 1))
        composite = real * (1 - mask) + output * mask

        losses: dict[str, torch.Tensor] = {}
        if cfg.lambda_adv > 0:
            losses.update(discriminator_step(self.gan, D, self.optimizers["D"], real, composite, cfg.lambda_gp,
                                             scaling=self.scaling))

        set_requires_grad([D], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        weights = loss_weights(mask, cfg.overlap, cfg.overlap_weight)
        losses["G_L2"] = masked_l2(output, real, weights) * cfg.lambda_rec
        total = losses["G_L2"]
        if cfg.lambda_adv > 0:
            losses["G_GAN"] = self.gan(D(composite), True, for_discriminator=False) * cfg.lambda_adv
            total = total + losses["G_GAN"]
        self.scaling.backward(total)
        self.scaling.step(self.optimizers["G"])
        set_requires_grad([D], True)

        self.visuals = [(real * (1 - mask)).detach(), composite.detach(), real.detach()]
        return {k: float(v.item()) for k, v in losses.items()}

    def sample(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return self.visuals

    def cards(self) -> dict[str, dict[str, Any]]:
        cfg = self.config
        card = ModelCard(name=f"run:{self.run_name}", task="inpaint", generator=dict(self.generator), mean=0.5,
                         std=0.5, multiple=IMAGE_SIZE, licence="user-trained", source="translate train inpaint",
                         description=f"context encoder inpainting (128x128, {cfg.bottleneck}-channel bottleneck) "
                                     f"trained by translate on {cfg.data}",
                         extra={"masks": cfg.masks})  # inputs image + mask and fixed size: the architecture table
        return {"G": card.to_dict()}
