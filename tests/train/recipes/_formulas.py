"""Independent loss formulas and checking helpers for the recipe tests that pin what each
recipe's ``train_step`` computes (issue #22).

The formulas here are written from the papers (BCE with logits, least squares, L1, MSE), not
taken from :mod:`translate.train.losses`, so a bug there is caught as well. The helpers record
the gradients each optimiser steps on (a step pre-hook: the recipe itself is not changed) and
compare them with the gradients of the full formula on copies of the networks taken before the
step. The tests turn the recipe's modules and their batch to float64 (:func:`in_float64`), so the
references agree with the step to ~1e-15 and even a term weighted 1e-3 is checked closely.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

#: Adam's first step moves every weight by lr * g / (|g| + eps) (the bias corrections cancel).
ADAM_EPS = 1e-8


@contextlib.contextmanager
def single_thread():
    """Run torch on one CPU thread inside the block: these nets are tiny, and on a loaded 2-core
    machine the intra-op threads of a tiny conv wait for each other ~100x longer than it computes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def bce_real(logits: torch.Tensor) -> torch.Tensor:
    """Vanilla GAN loss against the label 1: mean of -log(sigmoid(x)) = softplus(-x)."""
    return F.softplus(-logits).mean()


def bce_fake(logits: torch.Tensor) -> torch.Tensor:
    """Vanilla GAN loss against the label 0: mean of -log(1 - sigmoid(x)) = softplus(x)."""
    return F.softplus(logits).mean()


def ls_real(pred: torch.Tensor) -> torch.Tensor:
    """LSGAN loss against 1: mean((D(x) - 1)^2)."""
    return ((pred - 1) ** 2).mean()


def ls_fake(pred: torch.Tensor) -> torch.Tensor:
    """LSGAN loss against 0: mean(D(x)^2)."""
    return (pred ** 2).mean()


def over_scales(loss: Callable[[torch.Tensor], torch.Tensor], preds) -> torch.Tensor:
    """A multi-scale discriminator's loss: the mean over its scales of ``loss``."""
    preds = preds if isinstance(preds, (list, tuple)) else [preds]
    return sum(loss(p) for p in preds) / len(preds)


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().mean()


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a - b) ** 2).mean()


def in_float64(recipe) -> None:
    """Turn every module the recipe holds (nets, VGG, GAN loss) to float64 in place, keeping the
    parameter objects its optimisers hold: the references then agree with the step to ~1e-15,
    so even a term weighted 1e-3 is checked precisely."""
    for value in vars(recipe).values():
        modules = value.values() if isinstance(value, dict) else [value]
        for module in modules:
            if isinstance(module, nn.Module):
                module.double()
    for opt in recipe.optimizers.values():
        assert all(p.dtype == torch.float64 for g in opt.param_groups for p in g["params"])


def snapshot(nets: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """Deep copies of ``nets`` (weights, buffers, train/eval mode) to compute references with."""
    return {k: copy.deepcopy(v) for k, v in nets.items()}


def record_gradients(optimizer: torch.optim.Optimizer) -> list[list[torch.Tensor]]:
    """Each time ``optimizer`` steps, append the gradients it steps on (zeros for ``None``), in
    the order of its parameters."""
    steps: list[list[torch.Tensor]] = []

    def hook(opt, args, kwargs):
        steps.append([p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                      for group in opt.param_groups for p in group["params"]])

    optimizer.register_step_pre_hook(hook)
    return steps


def params(*nets: nn.Module) -> list[nn.Parameter]:
    return [p for net in nets for p in net.parameters()]


def grads(loss: torch.Tensor, parameters: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """d loss / d parameters (zeros where the loss does not depend on one); keeps the graph."""
    out = torch.autograd.grad(loss, list(parameters), retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(parameters, out)]


def _flat(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1) for t in tensors])


def assert_gradients_match(got: Sequence[torch.Tensor], want: Sequence[torch.Tensor],
                           terms: dict[str, Sequence[torch.Tensor]] | None = None, what: str = "") -> None:
    """The recorded gradients ``got`` equal ``want`` (the full formula's), in float64: the distance
    between them (L2 norm over all parameters) is below 1e-9 of ``want``'s norm and below 1e-3 of
    the norm of each of ``terms`` (name -> that term's own gradient). Leaving one term out of the
    backward, detaching it or giving it a weight off by 0.1 % or more moves the gradient by at least
    that much, however small the term's share of the total."""
    g, w = _flat(got), _flat(want)
    assert g.shape == w.shape, what
    size = w.norm().item()
    assert size > 0, f"{what}: the reference gradient is zero"
    dist = (g - w).norm().item()
    assert dist <= 1e-9 * size, f"{what}: gradient differs from the formula's by {dist:.3g} (norm {size:.3g})"
    for name, term in (terms or {}).items():
        t = _flat(term).norm().item()
        assert dist <= 1e-3 * t, f"{what}: gradient differs from the formula's by {dist:.3g}, against {t:.3g} for {name}"
    if os.environ.get("FORMULAS_DEBUG"):
        print(f"{what}: dist {dist:.3g} norm {size:.3g} terms " +
              " ".join(f"{k}={_flat(t).norm().item():.3g}" for k, t in (terms or {}).items()))


def assert_each_net_took_one_adam_step(stepped, learning_rates: dict[str, float]) -> None:
    """Each optimiser of ``stepped`` (the fixture of a recipe's test: ``before`` / ``after`` nets,
    the recorded ``grads`` and ``steps``) stepped once, and each net named in ``learning_rates``
    moved by one Adam step of its rate on its own gradient."""
    assert stepped.steps == {k: 1 for k in learning_rates}
    for k, lr in learning_rates.items():
        assert_one_adam_step(params(stepped.before[k]), params(stepped.after[k]), stepped.grads[k], lr, k)


def assert_one_adam_step(before: Sequence[torch.Tensor], after: Sequence[torch.Tensor],
                         gradients: Sequence[torch.Tensor], lr: float, what: str = "") -> None:
    """``after`` is ``before`` moved by one (first) Adam step of learning rate ``lr`` on
    ``gradients``: p - lr * g / (|g| + eps)."""
    b, a, g = _flat(before), _flat(after), _flat(gradients)
    want = b - lr * g / (g.abs() + ADAM_EPS)
    err = (a - want).abs().max().item()
    assert err < 1e-6 * lr, f"{what}: weights are not one Adam step of lr {lr} from the recorded gradients ({err:.3g})"


def fake_vgg19_weights(path, layers: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Write random VGG19 ``features.*`` weights for the first ``layers`` modules to ``path`` (as
    torchvision's cache file) and return them (``features.<i>.weight`` / ``.bias``)."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(seed)
    state = {f"features.{k}": v.clone() for k, v in make_layers(cfgs["E"])[:layers].state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def vgg19_features(x: torch.Tensor, state: dict[str, torch.Tensor], layer: str) -> torch.Tensor:
    """VGG19 features of ``x`` (RGB in [0, 1], ImageNet-normalised here) at ``layer`` (one of
    conv1_1 ... relu2_2), written out with the functional convs: conv3x3 pad 1, ReLU, max-pool 2."""
    plan = [("conv1_1", 0), ("relu1_1", None), ("conv1_2", 2), ("relu1_2", None), ("pool1", None),
            ("conv2_1", 5), ("relu2_1", None), ("conv2_2", 7), ("relu2_2", None)]
    h = (x - IMAGENET_MEAN.to(x)) / IMAGENET_STD.to(x)
    for name, index in plan:
        if name.startswith("conv"):
            h = F.conv2d(h, state[f"features.{index}.weight"].to(x), state[f"features.{index}.bias"].to(x), padding=1)
        elif name.startswith("relu"):
            h = h.clamp(min=0)
        else:
            h = F.max_pool2d(h, 2)
        if name == layer:
            return h
    raise ValueError(f"layer {layer} is not written out here")
