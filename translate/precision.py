"""Speed options of `translate train`: mixed precision, channels-last memory and torch.compile;
and the precision of inference (`translate run --precision`, :func:`inference_dtype`).

* ``--precision bf16|fp16`` runs each recipe's ``train_step`` inside ``torch.autocast``; fp16 also
  scales the losses with a :class:`torch.amp.GradScaler` (its state is saved in checkpoints),
  through the :class:`LossScaler` the trainer hands each recipe as ``recipe.scaling``.
* ``--channels-last`` stores the nets' weights and the batches' images as NHWC (faster convolutions
  on tensor cores and oneDNN).
* ``--compile`` compiles every net in place with ``nn.Module.compile`` (state-dict keys unchanged);
  where the backend cannot run here (no C++ compiler, unsupported platform) it warns and trains
  uncompiled.
* On CUDA, cuDNN autotunes its convolution algorithms (``cudnn.benchmark``) whenever every batch has
  the same size (any ``--preprocess`` but ``none``), as the reference pix2pix / CycleGAN code does:
  the first iterations time the candidates, the rest run the fastest.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import torch
import torch.nn as nn

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``precision`` on ``device``'s type; a no-op context for fp32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


class LossScaler:
    """The fp16 loss scaling of one training run, handed to the recipe explicitly
    (``recipe.scaling``): recipes call :meth:`backward` and :meth:`step` instead of
    ``loss.backward()`` / ``optimizer.step()``, and the trainer calls :meth:`update` after each
    ``train_step``.

    Without a :class:`torch.amp.GradScaler` (fp32, bf16) they are exactly those calls. With one
    (fp16) the losses are scaled, the gradients unscaled before each step and steps with inf /
    NaN gradients skipped. A recipe that calls ``loss.backward()`` / ``optimizer.step()`` itself
    trains in fp16 without loss scaling; that is allowed, with one warning.
    """

    def __init__(self, scaler: "torch.amp.GradScaler | None" = None):
        self.scaler = scaler
        self._steps = 0  # optimiser steps taken through the scaler since the last update
        self._warned = False

    @property
    def enabled(self) -> bool:
        """Whether the losses are scaled (fp16)."""
        return self.scaler is not None

    def backward(self, loss: torch.Tensor) -> None:
        """``loss.backward()``, scaled when training in fp16."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; with a GradScaler it unscales first and skips steps with inf / NaN grads."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self._steps += 1

    def update(self) -> None:
        """After a ``train_step``: adapt the scale (GradScaler.update needs at least one scaled step)."""
        if self.scaler is None:
            return
        if self._steps:
            self.scaler.update()
        elif not self._warned:
            self._warned = True
            print("translate: warning: --precision fp16: this recipe does not call self.scaling.backward/step, "
                  "so its losses are not scaled (gradients may underflow); prefer --precision bf16", file=sys.stderr)
        self._steps = 0

    def state_dict(self) -> dict[str, Any]:
        """The GradScaler's state (empty without one), for checkpoints."""
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore :meth:`state_dict` output (ignored when empty or without a GradScaler)."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def loss_scaler(device: torch.device, precision: str) -> LossScaler:
    """The :class:`LossScaler` of ``precision``: a GradScaler for fp16 (the only precision whose
    gradients underflow), plain backward / step otherwise."""
    return LossScaler(torch.amp.GradScaler(device.type) if precision == "fp16" else None)


def speed_up(nets: dict[str, nn.Module], config: Any, device: torch.device | None = None) -> None:
    """Apply ``config``'s ``--channels-last`` and ``--compile`` to the built (and resumed) nets, in place,
    and on a CUDA ``device`` let cuDNN autotune when every batch has one size (module docstring)."""
    if device is not None and device.type == "cuda":
        # With --preprocess none the sizes vary: each new size would be timed again (slower, not faster).
        torch.backends.cudnn.benchmark = config.preprocess != "none"
    if config.channels_last:
        to_channels_last(nets)
    if config.compile:
        compile_nets(nets)


def inference_dtype(precision: str, device: str, supported: tuple[str, ...] | list[str] = PRECISIONS,
                    model: str = "this model") -> torch.dtype:
    """The dtype a model's weights and inputs take to run in ``precision`` on ``device``.

    Inference casts the whole network (as Real-ESRGAN's ``--half`` does), not autocast. fp16
    runs on CUDA and MPS only: on the CPU it is refused (PyTorch's CPU kernels are slow or
    missing in half precision). bf16 runs where the device has kernels for it (checked with a
    tiny convolution). ``supported`` lists the precisions ``model`` allows (a community model's
    card says which). Anything else is a one-line :class:`~translate.errors.TranslateError`.
    """
    from translate.errors import TranslateError

    if precision not in PRECISIONS:
        raise TranslateError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    if precision == "fp32":
        return torch.float32
    kind = torch.device(device).type
    if precision == "fp16" and kind == "cpu":
        raise TranslateError("--precision fp16 (--half) needs a GPU (--device cuda or mps); on the CPU use "
                             "--precision bf16 or fp32")
    if precision not in supported:
        raise TranslateError(f"{model} does not run in {precision}; use --precision {' or '.join(supported)}")
    dtype = _DTYPES[precision]
    if kind == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise TranslateError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16 support; "
                             f"use --precision fp16 or fp32")
    try:
        with torch.inference_mode():
            probe = torch.ones(1, 1, 4, 4, dtype=dtype, device=device)
            torch.nn.functional.conv2d(probe, torch.ones(1, 1, 3, 3, dtype=dtype, device=device))
    except (RuntimeError, TypeError) as e:
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise TranslateError(f"--precision {precision}: not supported on {device} by this PyTorch ({reason}); "
                             f"use --precision fp32") from None
    return dtype


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
