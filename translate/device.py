"""Which device PyTorch runs on: one check shared by `translate run` and `translate train`.

torch is imported inside :func:`resolve_device` only, so importing this module stays cheap.
"""

from __future__ import annotations

import re

from translate.errors import TranslateError



def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cpu``, ``cuda``, ``cuda:N`` and ``mps``
    (Apple GPUs) are checked against the devices PyTorch sees, and a device this machine lacks is
    a one-line :class:`TranslateError` that lists the devices it has."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device == "mps":
        if not torch.backends.mps.is_available():
            why = ("this PyTorch was built without MPS" if not torch.backends.mps.is_built()
                   else "no Apple GPU is available (MPS needs macOS 12.3+ on Apple silicon or an AMD GPU)")
            raise TranslateError(f"--device mps: {why}; use cpu or auto")
        return device
    match = re.fullmatch(r"cuda(?::(\d+))?", str(device))
    if match is None:
        raise TranslateError(f"unknown device '{device}'; use auto, cpu, cuda, cuda:N or mps "
                             f"(and for .onnx models tensorrt, coreml, dml or openvino)")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if int(match.group(1) or 0) >= count:
        have = ", ".join(["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(count)])
        why = "no CUDA GPU is available to PyTorch" if count == 0 else "no such GPU"
        raise TranslateError(f"--device {device}: {why}; this machine has {have}; use one of those or auto")
    return device
