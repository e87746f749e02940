"""The backbone library: generators and discriminators shared by every recipe.

Generators are built by name from the architecture table (:mod:`translate.nets.architectures`, as
timm's registry): ``build_generator(arch=..., **kwargs)`` where the keyword arguments are
exactly those stored in a model card's ``generator`` field, so any card or checkpoint rebuilds
its network from data alone.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import torch
import torch.nn as nn

from translate.errors import TranslateError, few
from translate.nets import architectures
from translate.nets.discriminators import MultiscaleDiscriminator, PatchDiscriminator, PixelDiscriminator
from translate.nets.layers import init_weights, norm_layer, precise_batchnorm
from translate.nets.resnet import ResnetBlock, ResnetGenerator
from translate.nets.unet import UnetGenerator

__all__ = [
    "ResnetGenerator", "ResnetBlock", "UnetGenerator", "PatchDiscriminator", "PixelDiscriminator",
    "MultiscaleDiscriminator", "init_weights", "norm_layer", "precise_batchnorm", "build_generator",
    "build_discriminator", "load_generator_state", "infer_generator_config", "describe",
]


def build_generator(arch: str, **kwargs: Any) -> nn.Module:
    """Build the generator named ``arch`` (e.g. ``resnet_9blocks``, ``resnet_6blocks``,
    ``unet_256``, ``unet_128``) with the keyword arguments of its class (``input_nc``,
    ``output_nc``, ``ngf``, ``norm``, ``use_dropout``, ``padding_type`` ...).

    The name is looked up in :data:`translate.nets.architectures.GENERATORS`, whose row names the
    factory and the arguments the name gives it; unknown architectures raise
    :class:`TranslateError` listing the known names.
    """
    entry, m = architectures.lookup(arch)
    module, _, name = entry.factory.partition(":")
    factory = getattr(importlib.import_module(module), name)
    try:
        return factory(**{**kwargs, **entry.name_kwargs(m, kwargs)})
    except TypeError as e:
        raise TranslateError(f"bad options for generator '{arch}': {e}") from None


def build_discriminator(arch: str = "basic", input_nc: int = 3, ndf: int = 64, n_layers: int = 3,
                        norm: str = "batch", num_D: int = 3, antialias: bool = False) -> nn.Module:
    """Build a discriminator: ``basic`` (70x70 PatchGAN), ``n_layers`` (PatchGAN with
    ``n_layers``), ``pixel`` (1x1) or ``multiscale`` (``num_D`` PatchGANs at halving scales).
    ``antialias``: the PatchGANs downsample with blurred stride-1 convs (CUT reference layout)."""
    if antialias and arch not in ("basic", "n_layers"):
        raise TranslateError(f"anti-aliased downsampling exists for the PatchGAN (--netD basic / n_layers), "
                             f"not --netD {arch}; pass --no-antialias or another --netD")
    if arch == "basic":
        return PatchDiscriminator(input_nc, ndf, 3, norm, antialias)
    if arch == "n_layers":
        return PatchDiscriminator(input_nc, ndf, n_layers, norm, antialias)
    if arch == "pixel":
        return PixelDiscriminator(input_nc, ndf, norm)
    if arch == "multiscale":
        return MultiscaleDiscriminator(input_nc, ndf, n_layers, norm, num_D)
    raise TranslateError(f"unknown discriminator '{arch}'; use one of {', '.join(architectures.DISCRIMINATORS)}")


def describe(generator: dict[str, Any]) -> str:
    """A short human description of a generator config, e.g. ``resnet_9blocks ngf=64 norm=instance``."""
    rest = " ".join(f"{k}={v}" for k, v in sorted(generator.items()) if k != "arch")
    return f"{generator.get('arch')} {rest}".strip()


def _drop_instance_norm_stats(net: nn.Module, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the InstanceNorm running stats old checkpoints carry (as the reference loader does)."""
    modules = dict(net.named_modules())
    out = {}
    for key, value in state_dict.items():
        prefix, _, attr = key.rpartition(".")
        module = modules.get(prefix)
        if isinstance(module, nn.InstanceNorm2d):
            if attr == "num_batches_tracked":
                continue
            if attr in ("running_mean", "running_var") and getattr(module, attr) is None:
                continue
        out[key] = value
    return out


def load_generator_state(net: nn.Module, state_dict: dict[str, torch.Tensor], expected: str,
                         source: str = "checkpoint") -> nn.Module:
    """Load ``state_dict`` into ``net`` strictly, after dropping legacy InstanceNorm stats.

    A mismatch raises :class:`TranslateError` naming ``source``, the ``expected`` architecture
    and the first missing / unexpected / wrongly shaped keys, instead of PyTorch's traceback.
    """
    state_dict = _drop_instance_norm_stats(net, state_dict)
    own = net.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        # keys come from the user's file: 3 at most, each cut to 50 characters, so the line stays short
        if missing:
            parts.append(f"{len(missing)} missing keys ({few(missing, width=50)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({few(unexpected, width=50)})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches ({few(shapes, limit=1, width=160)})")
        raise TranslateError(
            f"{source}: weights do not match the expected architecture [{expected}]: "
            f"{'; '.join(parts)}; pass the right --arch (e.g. resnet_9blocks, resnet_6blocks, unet_256) "
            f"and --norm, or check the file"
        )
    net.load_state_dict(state_dict, strict=True)
    return net


def infer_generator_config(state_dict: dict[str, torch.Tensor]) -> dict[str, Any] | None:
    """Guess the generator config of a reference-layout state dict from its keys and shapes.

    Returns a dict for :func:`build_generator`, or None when the layout is not recognised
    (then the user passes ``--arch``). Dropout has no weights: U-Nets are assumed to use it
    (as the official pix2pix models), ResNets only when ``conv_block.6`` exists.
    """
    keys = set(state_dict)
    if "model.model.0.weight" in keys:
        weights = [k for k, v in state_dict.items() if k.endswith(".weight") and v.ndim == 4]
        num_downs = len(weights) // 2
        first = state_dict["model.model.0.weight"]
        last = state_dict.get("model.model.3.weight")
        if last is None:
            return None
        norm = "batch" if any(k.endswith("running_mean") for k in keys) else "instance"
        return {"arch": f"unet_{2 ** num_downs}", "input_nc": int(first.shape[1]),
                "output_nc": int(last.shape[1]), "ngf": int(first.shape[0]), "norm": norm,
                "use_dropout": True}
    first = state_dict.get("model.1.weight")
    if first is not None and first.ndim == 4 and first.shape[-1] == 7:
        blocks = {int(m.group(1)) for k in keys if (m := re.match(r"model\.(\d+)\.conv_block\.", k))}
        if not blocks:
            return None
        padded = any(".conv_block.1.weight" in k for k in keys)
        dropout = any(".conv_block.6.weight" in k for k in keys)
        out_key = max((k for k in keys if re.fullmatch(r"model\.\d+\.weight", k)),
                      key=lambda k: int(k.split(".")[1]))
        config = {"arch": f"resnet_{len(blocks)}blocks", "input_nc": int(first.shape[1]),
                  "output_nc": int(state_dict[out_key].shape[0]), "ngf": int(first.shape[0]),
                  "norm": "batch" if "model.2.weight" in keys else "instance",
                  "use_dropout": dropout, "padding_type": "reflect" if padded else "zero"}
        # blurred down- / up-sampling (a CUT file) store their filters as model.N.filt, before /
        # after the residual blocks
        blurs = [int(m.group(1)) for k in keys if (m := re.fullmatch(r"model\.(\d+)\.filt", k))]
        if any(i < min(blocks) for i in blurs):
            config["antialias"] = True
        if any(i > max(blocks) for i in blurs):
            config["antialias_up"] = True
        return config
    return None
