"""GAN losses, the WGAN-GP gradient penalty and the image pool, shared by every recipe."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from translate.nets.architectures import GAN_MODES


class GANLoss(nn.Module):
    """Adversarial loss on discriminator logits; accepts one tensor or a list (multi-scale D).

    ``vanilla``: BCE with logits; ``lsgan``: MSE to 1 / 0; ``hinge``: relu(1 -+ D) for the
    discriminator and -D for the generator; ``wgangp``: -D / +D (pair it with
    :func:`gradient_penalty`). Call as ``loss(pred, target_is_real, for_discriminator)``.
    """

    def __init__(self, mode: str = "lsgan", real_label: float = 1.0, fake_label: float = 0.0):
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"gan mode must be one of {GAN_MODES}, got {mode!r}")
        self.mode = mode
        self.real_label = real_label
        self.fake_label = fake_label

    def _single(self, pred: torch.Tensor, real: bool, for_discriminator: bool) -> torch.Tensor:
        if self.mode in ("vanilla", "lsgan"):
            target = torch.full_like(pred, self.real_label if real else self.fake_label)
            if self.mode == "vanilla":
                return F.binary_cross_entropy_with_logits(pred, target)
            return F.mse_loss(pred, target)
        if self.mode == "hinge" and for_discriminator:
            return F.relu(1.0 - pred).mean() if real else F.relu(1.0 + pred).mean()
        # wgangp, and hinge for the generator: raise the critic's score of what should look real
        return -pred.mean() if real else pred.mean()

    def forward(self, pred: torch.Tensor | list[torch.Tensor], target_is_real: bool,
                for_discriminator: bool = True) -> torch.Tensor:
        preds = pred if isinstance(pred, (list, tuple)) else [pred]
        return sum(self._single(p, target_is_real, for_discriminator) for p in preds) / len(preds)


def gradient_penalty(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     weight: float = 10.0, constant: float = 1.0) -> torch.Tensor:
    """WGAN-GP penalty ``weight * E[(||grad D(x_hat)||_2 - constant)^2]`` on random mixes.

    ``real`` and ``fake`` are (B, C, H, W); ``x_hat = a * real + (1 - a) * fake`` with one
    ``a ~ U(0, 1)`` per sample. The graph is kept (create_graph) so the penalty trains D.
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = discriminator(mixed)
    outs = out if isinstance(out, (list, tuple)) else [out]
    grads = torch.autograd.grad(outputs=[o.sum() for o in outs], inputs=mixed, create_graph=True)[0]
    norms = grads.flatten(1).norm(2, dim=1)
    return weight * ((norms - constant) ** 2).mean()


class ImagePool:
    """History of generated images (Shrivastava et al.), as in the reference CycleGAN.

    Until ``pool_size`` images are stored, each query returns its inputs and stores them; then
    each image is, with probability 1/2, swapped with a random stored one (the stored one is
    returned). ``pool_size=0`` disables the pool. Random draws use torch's RNG, so a seeded run
    is repeatable and the pool is part of a checkpoint (:meth:`state_dict`).
    """

    def __init__(self, pool_size: int = 50):
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}")
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) freshly generated images -> (B, C, H, W) images for the discriminator."""
        if self.pool_size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(()).item() > 0.5:
                i = int(torch.randint(0, self.pool_size, ()).item())
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        return {"pool_size": self.pool_size, "images": [t.cpu() for t in self.images]}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        self.pool_size = int(state["pool_size"])
        self.images = [t.to(device) for t in state["images"]]
