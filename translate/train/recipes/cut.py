"""CUT and FastCUT (Park, Efros, Zhang, Zhu, ECCV 2020): one-way unpaired translation with one
generator, one discriminator and a patch-wise contrastive loss (PatchNCE) instead of a cycle.

G maps X (the source domain) to Y; the PatchGAN D judges Y images. PatchNCE ties each output
patch to the input patch at the same place: G's own encoder reads both images (``--nce-layers``
of :meth:`~translate.nets.resnet.ResnetGenerator.encode`), the projection head F
(:class:`~translate.nets.projection.PatchSampleMLP`) maps ``--num-patches`` positions of each layer
to unit vectors, and a cross-entropy at temperature ``--nce-T`` asks each output patch to pick its
own input patch among the other positions of the same image. Each iteration, in the reference
order: ``fake = G(cat(x, y))`` (or ``G(x)`` without identity NCE; flipped left-right with
probability 1/2 under flip-equivariance); one Adam step of D on ``0.5 * (GAN(D(y), real) +
GAN(D(fake_y), fake))``; then one Adam step of G and F together (D frozen) on
``lambda_GAN * GAN(D(fake_y), real) + NCE`` where NCE is ``NCE(x, G(x))``, or with identity NCE
the mean of it and ``NCE(y, G(y))``. With ``--diffaugment`` every image D sees goes through it.

``--mode cut``: lambda_NCE 1, identity NCE, no flips, 200 + 200 epochs. ``--mode fastcut``:
lambda_NCE 10, no identity NCE, flip-equivariance, 150 + 50 epochs (the reference's two presets;
an option given explicitly wins over the preset). Data: unpaired ``trainA/`` and ``trainB/``
folders as for CycleGAN; ``--direction BtoA`` translates B to A.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from translate.data.datasets import UnalignedDataset
from translate.errors import TranslateError
from translate.nets.architectures import family, size_multiple
from translate.nets.build import build_discriminator
from translate.nets.layers import init_weights
from translate.nets.projection import PatchSampleMLP
from translate.nets.resnet import EncoderFeatures
from translate.train.config import GANConfig, opt
from translate.train.losses import GANLoss
from translate.train.recipes import HealthSignals, Recipe, register
from translate.train.recipes._gan import (adam, discriminator_step, gan_health_signals, generator_card, linear_decay,
    make_generator, seen_by_discriminator, set_requires_grad)

#: The reference's two presets: (lambda_NCE, nce_idt, flip_equivariance, epochs, epochs_decay).
MODES = {"cut": (1.0, True, False, 200, 200), "fastcut": (10.0, False, True, 150, 50)}


@dataclass
class CUTConfig(GANConfig):
    """CUT defaults of the reference (``--CUT_mode``, base and train options): ResNet 9 blocks,
    instance norm in G and D, Xavier init (gain 0.02), LSGAN, no image pool, anti-aliased sampling."""

    mode: str = opt("cut", "cut: lambda-NCE 1, identity NCE, 200 + 200 epochs; fastcut: lambda-NCE 10, "
                    "flip-equivariance, 150 + 50 epochs (options given explicitly override the preset)",
                    tuple(MODES))
    direction: str = opt("AtoB", "AtoB: translate trainA images into trainB's domain; BtoA: the other way",
                         ("AtoB", "BtoA"))
    epochs: int | None = opt(None, "epochs at the initial learning rate (default by --mode: 200 cut, 150 fastcut)",
                             resumable=True, high=10**6)
    epochs_decay: int | None = opt(None, "epochs over which the learning rate decays linearly to 0 (default by "
                                   "--mode: 200 cut, 50 fastcut)", resumable=True, high=10**6)
    netG: str = "resnet_9blocks"
    norm: str = "instance"
    init_type: str = "xavier"
    gan_mode: str = "lsgan"
    lambda_GAN: float = opt(1.0, "weight of the generator's adversarial loss")
    lambda_NCE: float | None = opt(None, "weight of the PatchNCE loss (default by --mode: 1 cut, 10 fastcut)",
                                   above=0)
    nce_idt: bool | None = opt(None, "also NCE(G(y), y) on target images, averaged with NCE(G(x), x) (default by "
                               "--mode: on for cut, off for fastcut)")
    flip_equivariance: bool | None = opt(None, "flip G's input left-right with probability 1/2 and its encoder "
                                         "features of the output back (default by --mode: off for cut, on for "
                                         "fastcut)")
    nce_layers: str = opt("0,4,8,12,16", "indices into the generator's layer list whose outputs PatchNCE reads "
                          "(see translate.nets.resnet)", metavar="LIST")
    num_patches: int = opt(256, "positions sampled per NCE layer and image", low=1, high=65536)
    nce_T: float = opt(0.07, "temperature of the NCE cross-entropy", above=0)
    netF_nc: int = opt(256, "width of the projection head's MLP (2 linear layers per NCE layer)", low=1, high=65536)
    antialias: bool = opt(True, "blurred down-sampling in G and D (Zhang 2019) instead of stride-2 convs; "
                          "--no-antialias is the reference's --no_antialias")
    antialias_up: bool = opt(True, "blurred up-sampling + 3x3 conv in G instead of transposed convs; "
                             "--no-antialias-up is the reference's --no_antialias_up")

    def __post_init__(self) -> None:
        # the preset fills what the user left open, so the saved config holds the values used
        preset = MODES.get(self.mode, MODES["cut"])
        for name, value in zip(("lambda_NCE", "nce_idt", "flip_equivariance", "epochs", "epochs_decay"), preset):
            if getattr(self, name) is None:
                setattr(self, name, value)

    def validate(self) -> None:
        super().validate()
        if family(self.netG) != "resnet":
            raise TranslateError(f"--netG {self.netG}: CUT reads the ResNet generator's encoder layers; use "
                                 f"resnet_9blocks or another resnet_Nblocks")
        if self.nce_idt and self.input_nc != self.output_nc:
            raise TranslateError(f"identity NCE runs G on target images, so it needs --input-nc = --output-nc (got "
                                 f"{self.input_nc} and {self.output_nc}); pass --no-nce-idt")
        self.layer_list()  # refuse a malformed list before building anything

    def layer_list(self) -> list[int]:
        """``--nce-layers`` as ascending distinct ints; TranslateError for anything else."""
        try:
            layers = [int(v) for v in self.nce_layers.split(",")]
        except ValueError:
            layers = []
        if not layers or layers != sorted(set(layers)) or layers[0] < 0:
            raise TranslateError(f"--nce-layers must be ascending distinct indices like 0,4,8,12,16, got "
                                 f"'{self.nce_layers}'")
        return layers

    def generator_kwargs(self, input_nc: int, output_nc: int) -> dict[str, Any]:
        return {**super().generator_kwargs(input_nc, output_nc), "antialias": self.antialias,
                "antialias_up": self.antialias_up}


def patch_nce(query: torch.Tensor, key: torch.Tensor, batch_size: int, temperature: float) -> torch.Tensor:
    """PatchNCE per query patch: (B * P, C) unit queries and keys (row ``b * P + i`` is position
    ``i`` of image ``b``) -> (B * P,) cross-entropies.

    For each query the logits are its similarity to the key at the same position (the positive)
    and to the keys of the P positions of the same image (negatives; its own position is masked
    with -10 before the division by ``temperature``, as the reference does), all divided by
    ``temperature``; the target is the positive. Keys are detached: only the query side learns.
    """
    key = key.detach()
    dim = query.shape[1]
    positive = (query * key).sum(1, keepdim=True)  # (B*P, 1)
    q, k = query.view(batch_size, -1, dim), key.view(batch_size, -1, dim)
    patches = q.shape[1]
    negative = torch.bmm(q, k.transpose(2, 1))  # (B, P, P)
    own = torch.eye(patches, device=query.device, dtype=torch.bool)[None]
    negative = negative.masked_fill(own, -10.0).view(-1, patches)
    logits = torch.cat((positive, negative), dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long, device=query.device),
                           reduction="none")


@register
class CUT(Recipe):
    name = "cut"
    Config = CUTConfig
    sheet_columns = ("real_A", "fake_B", "real_B", "idt_B")

    def __init__(self, config: CUTConfig, device: torch.device, run_name: str):
        super().__init__(config, device, run_name)
        if not config.nce_idt:
            self.sheet_columns = ("real_A", "fake_B", "real_B")
        self.layers = config.layer_list()
        self.generator = config.generator_kwargs(config.input_nc, config.output_nc)
        G = make_generator(config, config.input_nc, config.output_nc, device)
        D = build_discriminator(config.netD, input_nc=config.output_nc, ndf=config.ndf, n_layers=config.n_layers_D,
                                norm=config.norm, antialias=config.antialias)
        D = init_weights(D, config.init_type, config.init_gain).to(device)
        if self.layers[-1] >= len(G.model):
            raise TranslateError(f"--nce-layers {config.nce_layers}: {config.netG} has layers 0..{len(G.model) - 1}")
        # F's input widths are the encoder's channel counts at the NCE layers: the reference learns
        # them at its first forward pass; one small probe through the encoder gives them here
        with torch.no_grad():
            probe = G.encode(torch.zeros(1, config.input_nc, 16, 16, device=device), self.layers)
        F_net = init_weights(PatchSampleMLP([f.shape[1] for f in probe], config.netF_nc), config.init_type,
                             config.init_gain).to(device)
        self.nets = {"G": G, "D": D, "F": F_net}
        self.optimizers = {k: adam(net.parameters(), config) for k, net in self.nets.items()}
        self.schedulers = {k: linear_decay(o, config) for k, o in self.optimizers.items()}
        self.gan = GANLoss(config.gan_mode).to(device)
        self.visuals: list[torch.Tensor] = []

    @classmethod
    def build_dataset(cls, config: CUTConfig) -> UnalignedDataset:
        a_nc, b_nc = ((config.input_nc, config.output_nc) if config.direction == "AtoB"
                      else (config.output_nc, config.input_nc))
        return UnalignedDataset(config.data, load_size=config.load_size, crop_size=config.crop_size,
                                preprocess=config.preprocess, flip=config.flip, seed=config.seed,
                                input_nc=a_nc, output_nc=b_nc, multiple=size_multiple({"arch": config.netG}))

    def _domains(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(source x, target y) of a batch, on the device."""
        a, b = ("A", "B") if self.config.direction == "AtoB" else ("B", "A")
        return batch[a].to(self.device, non_blocking=True), batch[b].to(self.device, non_blocking=True)

    def generator_inputs(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {"G": self._domains(batch)[0]}

    def nce_loss(self, source: torch.Tensor, output: torch.Tensor, flipped: bool) -> torch.Tensor:
        """``lambda_NCE`` x the mean over NCE layers of the mean PatchNCE of ``output`` (queries)
        against ``source`` (keys); ``flipped``: ``output`` came from the flipped ``source``, so its
        features are flipped back to line up with the source's positions."""
        cfg, F_net = self.config, self.nets["F"]
        G: EncoderFeatures = self.nets["G"]  # type: ignore[assignment]  (a ResnetGenerator: validate() checks)
        queries = G.encode(output, self.layers)
        if flipped:
            queries = [torch.flip(q, [3]) for q in queries]
        keys, ids = F_net(G.encode(source, self.layers), cfg.num_patches)
        queries, _ = F_net(queries, cfg.num_patches, ids)
        total = sum(patch_nce(q, k, source.shape[0], cfg.nce_T).mean() * cfg.lambda_NCE for q, k in zip(queries, keys))
        return total / len(self.layers)

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        cfg = self.config
        G, D = self.nets["G"], self.nets["D"]
        D_sees = seen_by_discriminator(D, cfg)
        real_A, real_B = self._domains(batch)
        real = torch.cat((real_A, real_B)) if cfg.nce_idt else real_A
        flipped = bool(cfg.flip_equivariance and torch.rand(()).item() < 0.5)
        fake = G(torch.flip(real, [3]) if flipped else real)
        fake_B = fake[: real_A.shape[0]]
        idt_B = fake[real_A.shape[0]:] if cfg.nce_idt else None

        set_requires_grad([D], True)
        losses = discriminator_step(self.gan, D_sees, self.optimizers["D"], real_B, fake_B, cfg.lambda_gp,
                                    scaling=self.scaling)
        losses["D"] = 0.5 * (losses["D_real"] + losses["D_fake"])

        set_requires_grad([D], False)  # the G step needs no gradients for D's weights
        self.optimizers["G"].zero_grad(set_to_none=True)
        self.optimizers["F"].zero_grad(set_to_none=True)
        losses["G_GAN"] = self.gan(D_sees(fake_B), True, for_discriminator=False) * cfg.lambda_GAN
        losses["NCE"] = self.nce_loss(real_A, fake_B, flipped)
        nce = losses["NCE"]
        if idt_B is not None:
            losses["NCE_Y"] = self.nce_loss(real_B, idt_B, flipped)
            nce = 0.5 * (losses["NCE"] + losses["NCE_Y"])
        losses["G"] = losses["G_GAN"] + nce
        self.scaling.backward(losses["G"])
        self.scaling.step(self.optimizers["G"])
        self.scaling.step(self.optimizers["F"])
        set_requires_grad([D], True)

        shown = (real_A, fake_B, real_B) + ((idt_B,) if idt_B is not None else ())
        self.visuals = [t.detach() for t in shown]
        return {k: float(v.item()) for k, v in losses.items()}

    def sample(self, batch: dict[str, Any]) -> list[torch.Tensor]:
        return self.visuals

    def nce_chance(self) -> float:
        """The NCE loss of an output that carries nothing of its input: each query then matches
        its own key no better than the P - 1 other positions, so every layer's cross-entropy is
        log P (P = num_patches, or fewer positions in a small feature map; the masked own-position
        logit adds ~exp(-10 / T) = 0, hence log P, not log(P + 1)); times lambda_NCE."""
        side = self.config.crop_size
        with torch.no_grad():
            shapes = [f.shape[-2:] for f in self.nets["G"].encode(
                torch.zeros(1, self.config.input_nc, side, side, device=self.device), self.layers)]
        logs = [math.log(min(self.config.num_patches, h * w)) for h, w in shapes]
        return self.config.lambda_NCE * sum(logs) / len(logs)

    def health_signals(self) -> HealthSignals:
        signals = gan_health_signals(self.config, ("D",), ("G_GAN",), (("real_A", "fake_B", "real_B"),))
        hint = (f"raise --lambda-NCE (now {self.config.lambda_NCE:g}; the presets use 1 for cut and 10 for "
                f"fastcut) or --nce-T, or lower --lambda-GAN")
        return dataclasses.replace(signals, chance_losses=(("NCE", self.nce_chance(), hint),))

    def cards(self) -> dict[str, dict[str, Any]]:
        mode = "FastCUT" if self.config.mode == "fastcut" else "CUT"
        return {"G": generator_card(self.config, "cut", self.generator, self.config.direction, self.run_name,
                                    f"{mode} {self.config.netG} trained by translate on {self.config.data} "
                                    f"({self.config.direction})")}
