"""Data-parallel training and sharded inference across processes started by ``torchrun``.

``torchrun --nproc_per_node N -m translate train RECIPE ...`` starts N processes with the usual
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``); multi-node
runs use torchrun's rendezvous flags (``--nnodes``, ``--node-rank``, ``--rdzv-endpoint``). Backend:
nccl on CUDA, gloo on CPU.

Semantics (the same as DistributedDataParallel):

* ``--batch-size`` is per process; one iteration consumes a *global* batch of
  ``world_size x batch_size`` items. Global batch ``i`` of epoch ``e`` is items
  ``order[i*G:(i+1)*G]`` of the trainer's ``epoch_order(n, seed, e)`` (``G`` = global batch) and rank
  ``r`` takes the ``r``-th slice of it, so the data order and the per-item augmentation seeds
  are those of a single process with batch ``G``. The order is padded cyclically to a multiple
  of ``G`` (as DistributedSampler does) so every rank runs the same number of iterations.
* Gradients are averaged over ranks before every optimiser step, so with per-sample-independent
  layers (instance norm, no norm, or ``--sync-bn``) one iteration equals a single-process
  iteration on the global batch.
* Rank 0 alone writes config.json, losses.jsonl, sample sheets and checkpoints; logged losses
  are averaged over ranks.

Why not ``torch.nn.parallel.DistributedDataParallel``: GAN recipes freeze D while G's loss goes
through it, call D several times before one backward, and the WGAN-GP penalty differentiates
twice; DDP's bucketed reducer supports none of these without ``find_unused_parameters`` /
``static_graph`` work-arounds that differ per recipe. Averaging the gradients in an optimiser
*step pre-hook* gives the same update, keeps ``recipe.nets`` the plain modules (checkpoint keys
without ``module.``) and needs no change in any recipe.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size`` (``local_rank`` on its node)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """The rank / world size torchrun put in the environment (1 process when absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(device: torch.device | None = None) -> DistInfo:
    """Join the process group torchrun prepared (no-op for a single process) and return the info.

    ``device`` picks the backend: nccl for CUDA (and selects ``cuda:LOCAL_RANK``), gloo otherwise.
    Calling it again once the group exists only returns the info.
    """
    info = env_info()
    if not info.enabled or (dist.is_available() and dist.is_initialized()):
        return info
    if not dist.is_available():
        raise RuntimeError("torch.distributed is not available in this PyTorch build")
    cuda = device is not None and device.type == "cuda"
    if cuda:
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=30))
    return info


def local_device(device: torch.device, info: DistInfo) -> torch.device:
    """``cuda`` -> ``cuda:LOCAL_RANK`` when distributed; other devices unchanged."""
    if info.enabled and device.type == "cuda":
        return torch.device("cuda", info.local_rank)
    return device


def teardown() -> None:
    """Leave the process group if this process is in one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# ---------------------------------------------------------------------------- data split

def iterations_per_epoch(n_items: int, batch_size: int, world_size: int) -> int:
    """Iterations in one epoch of ``n_items`` with ``batch_size`` per process on ``world_size`` ranks."""
    return -(-n_items // (batch_size * world_size))


def rank_order(order: list[int], batch_size: int, info: DistInfo) -> list[int]:
    """This rank's share of the global item ``order``: the ``rank``-th ``batch_size`` slice of
    every global batch of ``world_size x batch_size`` items (padded cyclically so each rank gets
    the same number of full batches). One process: ``order`` unchanged."""
    if not info.enabled or not order:
        return order
    step = batch_size * info.world_size
    padded = list(order)
    while len(padded) % step:
        padded.extend(order[: step - len(padded) % step])
    return [padded[g + info.rank * batch_size + j] for g in range(0, len(padded), step) for j in range(batch_size)]


def shard(items: list[Any], info: DistInfo | None = None) -> list[Any]:
    """Items ``rank::world_size`` of ``items`` (``translate run`` over a large folder)."""
    info = info or env_info()
    return items[info.rank::info.world_size]


# ---------------------------------------------------------------------------- model sync

def broadcast_nets(nets: dict[str, nn.Module], src: int = 0) -> None:
    """Copy the parameters and buffers of ``nets`` from rank ``src`` to every rank."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    with torch.no_grad():
        for net in nets.values():
            for t in list(net.parameters()) + list(net.buffers()):
                dist.broadcast(t.data, src)


def _average_grads_hook(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    world = dist.get_world_size()
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return
    # one flat all-reduce per step instead of one per tensor (what DDP's buckets do)
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(world)
    offset = 0
    for g in grads:
        g.copy_(flat[offset: offset + g.numel()].view_as(g))
        offset += g.numel()


def average_gradients_on_step(optimizers: dict[str, torch.optim.Optimizer]) -> list[Any]:
    """Make every ``optimizer.step()`` first average the gradients over all ranks.

    Ranks must step the same optimisers in the same order (they do: every rank runs the same
    recipe code on same-sized batches). A parameter without a gradient on every rank is skipped
    by all of them. Returns the hook handles (``.remove()`` undoes it).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return []
    return [opt.register_step_pre_hook(_average_grads_hook) for opt in optimizers.values()]


def average_losses(losses: dict[str, float], info: DistInfo) -> dict[str, float]:
    """The mean of each loss over ranks (every rank gets the same dict)."""
    if not info.enabled or not losses:
        return losses
    keys = sorted(losses)
    t = torch.tensor([losses[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / info.world_size for k, v in zip(keys, t.tolist())}


def all_sum(values: list[int]) -> list[int]:
    """Element-wise sum of integer ``values`` over ranks (unchanged without a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    t = torch.tensor(values, dtype=torch.int64)
    dist.all_reduce(t)
    return [int(v) for v in t.tolist()]


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is set on any rank; every rank gets the same answer (one process: ``flag``).

    A stop signal reaches the ranks at slightly different moments; deciding together keeps one
    rank from stopping while the others wait for it in the next all-reduce.
    """
    return all_sum([int(flag)])[0] > 0


# ---------------------------------------------------------------------------- SyncBatchNorm

class _GlooSyncBatchNorm(nn.BatchNorm2d):
    """Batch norm whose training statistics are computed over the whole global batch.

    ``torch.nn.SyncBatchNorm`` runs on GPUs only; this one uses the autograd-aware
    ``torch.distributed.nn.functional.all_reduce`` so it runs on CPU with gloo (and anywhere
    else), at the cost of one all-reduce of ``2C + 1`` numbers per layer and forward.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not (dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        xf = x.float()
        count = torch.full((1,), float(x.numel() // c), device=x.device)
        stats = all_reduce(torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c: 2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                m = self.momentum if self.momentum is not None else 0.1
                self.running_mean.mul_(1 - m).add_(mean.detach() * m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1).clamp_min(1)) * m)
                self.num_batches_tracked += 1
        y = (xf - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def _convert_gloo(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, _GlooSyncBatchNorm):
        new = _GlooSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                 module.track_running_stats)
        if module.affine:  # the same Parameter objects: optimisers built on them stay valid
            new.weight, new.bias = module.weight, module.bias
        if module.track_running_stats:
            new.running_mean, new.running_var = module.running_mean, module.running_var
            new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        module.add_module(name, _convert_gloo(child))
    return module


def convert_sync_batchnorm(nets: dict[str, nn.Module], device: torch.device) -> int:
    """Replace the BatchNorm layers of ``nets`` in place by synchronised ones (``--sync-bn``).

    CUDA uses ``torch.nn.SyncBatchNorm``, other devices :class:`_GlooSyncBatchNorm`. Parameters
    and buffers are kept (same objects), so optimisers and state-dict keys are unchanged.
    Returns the number of batch-norm layers converted.
    """
    converted = 0
    for name, net in nets.items():
        before = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
        if device.type == "cuda":
            nets[name] = nn.SyncBatchNorm.convert_sync_batchnorm(net)
        else:
            nets[name] = _convert_gloo(net)
        converted += before
    return converted


def warn(message: str, info: DistInfo | None = None) -> None:
    """Print ``translate: warning: message`` once (on rank 0)."""
    if (info or env_info()).is_main:
        print(f"translate: warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------- trainer hook

def prepare_recipe(recipe: Any, config: Any, device: torch.device, info: DistInfo) -> None:
    """Apply the distributed options of ``config`` to a built (and resumed) recipe.

    In order: ``--sync-bn`` layers, identical weights on every rank (broadcast from rank 0),
    gradient averaging on every optimiser step, per-rank random streams (dropout, image pools).
    The speed options (``--channels-last``, ``--compile``, loss scaling) are the trainer's, in
    :mod:`translate.precision`.
    """
    from translate.errors import TranslateError

    if info.enabled and config.precision == "fp16":
        # GradScaler decides per rank whether a step overflowed; ranks that disagree would skip
        # different steps and stop meeting in the gradient all-reduce
        raise TranslateError("--precision fp16 is not supported under torchrun; use --precision bf16")
    if config.sync_bn:
        if not info.enabled:
            warn("--sync-bn has no effect in a single process (start with torchrun --nproc_per_node N)", info)
        else:
            convert_sync_batchnorm(recipe.nets, device)
    if info.enabled:
        broadcast_nets(recipe.nets)
        average_gradients_on_step(recipe.optimizers)
        # every rank starts from the same seed (same initial nets); from here on their random
        # draws (dropout masks, image pool choices) must differ, as DDP's per-rank seeds do
        if info.rank:
            import random

            import numpy as np

            rank_seed = config.seed * 1_000_003 + info.rank
            random.seed(rank_seed)
            np.random.seed(rank_seed % 2**32)
            torch.manual_seed(rank_seed)
