"""The patch sampler and projection head of contrastive unpaired translation (CUT's ``netF``,
``--netF mlp_sample``), in the reference's key layout (``mlp_0.0.weight`` ... per feature layer).

For each feature map the encoder gives, it picks ``num_patches`` spatial positions (the same
positions for every image of the batch, and the same positions for the query and the key images of
one loss), sends each position's feature vector through that layer's 2-layer MLP and L2-normalises
the result. The MLP widths depend on the encoder's channel counts: the reference creates them at
its first forward pass ("data-dependent initialisation"); here the recipe builds them from the
channels of an encoder pass up front, so the head exists for optimisers, checkpoints and resume.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

__all__ = ["PatchSampleMLP", "l2_normalize"]


def l2_normalize(x: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """(N, C) -> (N, C) rows divided by (their L2 norm + ``eps``), as the reference ``Normalize``.

    The same value as the reference's ``x.pow(2).sum(1).pow(1/2)``, but its gradient at an all-zero
    row is 0 instead of NaN (``sqrt``'s derivative at 0 times 0): narrow encoders (8 channels after a
    ReLU) do produce all-zero feature vectors, and one NaN gradient stops the run at its second
    iteration. ``torch.linalg.vector_norm`` defines that gradient as 0."""
    return x / (torch.linalg.vector_norm(x, dim=1, keepdim=True) + eps)


class PatchSampleMLP(nn.Module):
    """One ``Linear(C_i, nc) -> ReLU -> Linear(nc, nc)`` per feature layer (``mlp_<i>``), applied
    to sampled positions of each (B, C_i, H_i, W_i) feature map.

    ``in_channels``: C_i of each layer, in the order the features come; ``nc``: the output width
    (the reference's ``--netF_nc``, 256).
    """

    def __init__(self, in_channels: Sequence[int], nc: int = 256):
        super().__init__()
        self.nc = nc
        self.layers = len(in_channels)
        for i, c in enumerate(in_channels):
            setattr(self, f"mlp_{i}", nn.Sequential(nn.Linear(int(c), nc), nn.ReLU(), nn.Linear(nc, nc)))

    def forward(self, feats: Sequence[torch.Tensor], num_patches: int,
                patch_ids: Sequence[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Project ``num_patches`` positions of each feature map.

        ``patch_ids``: the positions (flat indices into H_i * W_i, one LongTensor per layer) to
        use; None draws ``min(num_patches, H_i * W_i)`` distinct positions per layer with torch's
        global RNG (``torch.randperm`` on the CPU). Returns the projected, L2-normalised features
        (B * P_i, nc) per layer, batch-major (image 0's P_i rows first), and the positions used.
        """
        if len(feats) != self.layers:
            raise ValueError(f"expected {self.layers} feature maps, got {len(feats)}")
        out, ids = [], []
        for i, feat in enumerate(feats):
            flat = feat.permute(0, 2, 3, 1).flatten(1, 2)  # (B, H*W, C)
            if patch_ids is None:
                chosen = torch.randperm(flat.shape[1])[: min(num_patches, flat.shape[1])]
            else:
                chosen = patch_ids[i]
            chosen = chosen.to(device=feat.device, dtype=torch.long)
            sample = flat[:, chosen, :].flatten(0, 1)  # (B * P, C)
            out.append(l2_normalize(getattr(self, f"mlp_{i}")(sample)))
            ids.append(chosen)
        return out, ids
