"""How a training run fails: low-level errors turned into one line naming the cause and the fix.

The trainer's loop runs each step inside :func:`too_small_for_the_nets` (PyTorch's shape errors
for inputs the networks cannot take), checks the step's losses with :func:`check_finite` (a NaN
or Inf loss stops the run, exit code 1, keeping the last good checkpoint), unwraps errors raised
in data loading workers (:func:`worker_error`) and stops with ``latest.pt`` saved when a worker
dies (:class:`WorkerDied`); :func:`translate.train.trainer.train` reports exhausted memory
(:func:`out_of_memory`) with the options that lower it. Ctrl-C / SIGTERM are
:class:`translate.resilience.StopSignals`.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator

import torch

from translate.errors import TranslateError

#: What PyTorch says when an input is smaller than a network's kernels, paddings or norms allow.
_TOO_SMALL = ("Kernel size can't be greater than actual input size", "Padding size should be less than",
              "Expected more than 1 value per channel", "Expected more than 1 spatial element",  # batch, instance norm
              "Output size is too small", "smaller than kernel size")


@contextlib.contextmanager
def too_small_for_the_nets(batch: dict[str, Any]) -> Iterator[None]:
    """Turn PyTorch's shape errors for too-small inputs into one line naming an image of ``batch``.

    Small crops, ``--preprocess none`` on tiny images or a deep discriminator can shrink a
    feature map below a kernel or a norm's needs; which size is enough depends on every net of
    the recipe, so the step itself is the one place that knows.
    """
    try:
        yield
    except (RuntimeError, ValueError) as e:
        if not any(marker in str(e) for marker in _TOO_SMALL):
            raise
        image = next((v for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() == 4), None)
        size = f"{image.shape[-1]}x{image.shape[-2]} px " if image is not None else ""
        paths = next((v for k, v in batch.items() if k.endswith("path") and v), [""])
        raise TranslateError(f"{paths[0]}: a {size}input is too small for the networks ({str(e).splitlines()[0]}); "
                             f"use a larger --crop-size, --preprocess resize_and_crop, or larger images") from None


def check_finite(losses: dict[str, float], iteration: int, epoch: int, run_dir: Path) -> None:
    """Stop the run (exit code 1) when a loss of ``iteration`` is NaN or Inf."""
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    if bad:
        latest = run_dir / "checkpoints" / "latest.pt"
        kept = (f"the last good checkpoint {latest} is kept; resume from it with --resume {run_dir}"
                if latest.exists() else "no checkpoint was saved yet")
        raise TranslateError(
            f"loss {', '.join(f'{k}={v}' for k, v in bad.items())} at iteration {iteration} "
            f"(epoch {epoch + 1}): training diverged and was stopped; {kept}; "
            f"try a lower --lr or another --gan-mode", exit_code=1)


class WorkerDied(Exception):
    """A data loading worker process died; the main process still holds a consistent state."""


def worker_error(e: TranslateError) -> TranslateError:
    # A TranslateError raised in a DataLoader worker comes back wrapped in a multi-line message
    # with the worker's traceback; keep the one line the user needs.
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    last = lines[-1] if lines else str(e)
    return TranslateError(last.split("TranslateError: ", 1)[-1], e.exit_code)


def out_of_memory(e: BaseException) -> bool:
    """Whether ``e`` is an allocation failure (PyTorch CPU / CUDA, numpy, OpenCV)."""
    if isinstance(e, (MemoryError, torch.OutOfMemoryError)):
        return True
    text = str(e)
    return any(marker in text for marker in ("can't allocate memory", "Insufficient memory", "out of memory"))
