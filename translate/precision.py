"""Speed options of `translate train`: mixed precision, channels-last memory and torch.compile.

* ``--precision bf16|fp16`` runs each recipe's ``train_step`` inside ``torch.autocast``; fp16 also
  scales the losses with a :class:`torch.amp.GradScaler` (its state is saved in checkpoints).
  Recipes call :func:`backward` and :func:`step` (re-exported by ``translate.recipes._gan``) instead
  of ``loss.backward()`` / ``optimizer.step()``; without a scaler they are exactly those calls.
* ``--channels-last`` stores the nets' weights and the batches' images as NHWC (faster convolutions
  on tensor cores and oneDNN).
* ``--compile`` compiles every net in place with ``nn.Module.compile`` (state-dict keys unchanged);
  where the backend cannot run here (no C++ compiler, unsupported platform) it warns and trains
  uncompiled.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator

import torch
import torch.nn as nn

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

#: The active GradScaler (fp16 training) or None; set by the trainer through :func:`use_scaler`.
_SCALER: "torch.amp.GradScaler | None" = None


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``precision`` on ``device``'s type; a no-op context for fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def make_scaler(device: torch.device, precision: str) -> "torch.amp.GradScaler | None":
    """A GradScaler for fp16 (the only precision whose gradients underflow), else None."""
    return torch.amp.GradScaler(device.type) if precision == "fp16" else None


_SCALED_STEPS = 0  # optimiser steps taken through the scaler (GradScaler.update needs at least one)
_WARNED_UNSCALED = False


@contextlib.contextmanager
def use_scaler(scaler: "torch.amp.GradScaler | None") -> Iterator[None]:
    """Make :func:`backward` / :func:`step` use ``scaler`` inside the block; then ``scaler.update()``.

    A recipe that calls ``loss.backward()`` / ``optimizer.step()`` itself trains in fp16 without
    loss scaling; that is allowed, with one warning.
    """
    global _SCALER, _SCALED_STEPS, _WARNED_UNSCALED
    previous, _SCALER, _SCALED_STEPS = _SCALER, scaler, 0
    try:
        yield
    finally:
        _SCALER = previous
    if scaler is not None:
        if _SCALED_STEPS:
            scaler.update()
        elif not _WARNED_UNSCALED:
            _WARNED_UNSCALED = True
            print("translate: warning: --precision fp16: this recipe does not call translate.precision.backward/"
                  "step, so its losses are not scaled (gradients may underflow); prefer --precision bf16",
                  file=sys.stderr)


def backward(loss: torch.Tensor) -> None:
    """``loss.backward()``, scaled by the active GradScaler when training in fp16."""
    (_SCALER.scale(loss) if _SCALER is not None else loss).backward()


def step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``; with a GradScaler it unscales first and skips steps with inf / NaN grads."""
    global _SCALED_STEPS
    if _SCALER is not None:
        _SCALER.step(optimizer)
        _SCALED_STEPS += 1
    else:
        optimizer.step()


def to_channels_last(nets: dict[str, nn.Module]) -> None:
    """Store the 4-D weights of ``nets`` in channels-last (NHWC) order, in place."""
    for net in nets.values():
        net.to(memory_format=torch.channels_last)


def batch_to_channels_last(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch with its (B, C, H, W) tensors in channels-last order (others unchanged)."""
    return {k: v.contiguous(memory_format=torch.channels_last) if isinstance(v, torch.Tensor) and v.dim() == 4 else v
            for k, v in batch.items()}


def compile_nets(nets: dict[str, nn.Module], backend: str = "inductor") -> bool:
    """Compile each net in place (``nn.Module.compile``); returns False (with a warning) and
    leaves the nets as they were when ``backend`` cannot compile on this machine.

    Compilation is lazy, so the backend is first tried on a tiny function: a missing C++
    compiler or an unknown backend shows up here instead of in the middle of the first step.
    """
    try:
        probe = torch.compile(lambda x: torch.relu(x) * 2, backend=backend)
        probe(torch.ones(4))
    except Exception as e:  # the backend's own errors vary (InvalidBackend, CppCompileError, ...)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"translate: warning: --compile: torch.compile ({backend}) is not usable here ({reason}); "
              f"training without it", file=sys.stderr)
        import torch._dynamo as dynamo  # (a plain `import torch._dynamo` would make `torch` local here)

        dynamo.reset()
        return False
    for net in nets.values():
        net.compile(backend=backend)
    return True
