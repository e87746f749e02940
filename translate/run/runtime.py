"""Run exported models with onnxruntime: the torch-free runtime for applications.

Only onnxruntime, numpy and OpenCV are imported (plus the torch-free parts of `translate`:
cards, errors, fileio, imageio, pipeline), so an application can ship `translate` with
onnxruntime and without PyTorch. A :class:`Session` is a :class:`~translate.run.pipeline.Translator`
whose backend is an onnxruntime session: the image goes through exactly the same pipeline as
with PyTorch (normalisation, reflect padding to the size multiple, optional tiles, crop back,
alpha and gray handling), rebuilt from the model card that `translate export` embedded::

    from translate.run.runtime import Session
    session = Session("horse2zebra.onnx")          # device="auto": CUDA if usable, else CPU
    zebra = session(horse)                          # (H, W, 3) uint8 RGB -> (H, W, 3) uint8
    session.translate_file("horse.jpg", "zebra.png")

Devices: ``cpu``; ``cuda`` (CUDAExecutionProvider only, with CPU fallback disabled, so a
machine where onnxruntime cannot use CUDA raises instead of silently running on the CPU;
cuDNN picks convolution algorithms heuristically, because the exhaustive default re-benchmarks
every new input size); ``tensorrt`` (TensorRT, then CUDA, engines cached under the
`translate` cache folder); ``coreml`` (Apple), ``dml`` (DirectML, Windows) and ``openvino``
(Intel) where the installed onnxruntime offers that execution provider (nodes it cannot run
fall back to the CPU; an onnxruntime without it is a one-line error naming the package that
has it); ``auto`` (CUDA when onnxruntime can use it, else CPU). On a GPU the
backend uses IO binding: each input is copied to the device once and the output lands in a
device buffer that is kept and reused while the tile / batch shape stays the same (tiles of a
large image all share one shape), then copied back once; onnxruntime allocates nothing per call.

Metadata: `translate export` stores a JSON object under the ONNX ``metadata_props`` key
``"translate"`` (:data:`METADATA_KEY`); its ``"card"`` is the full model card.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state
from onnxruntime.capi.onnxruntime_pybind11_state import InvalidProtobuf

from translate.errors import TranslateError
from translate.models.cards import ONNX_METADATA_KEY as METADATA_KEY
from translate.models.cards import ModelCard, read_onnx_metadata
from translate.run.pipeline import BackendError, Translator

#: Devices served by an execution provider that only some onnxruntime packages carry, with CPU
#: fallback for the nodes it cannot run: device -> (provider, the package / platform that has it).
OTHER_PROVIDERS = {
    "coreml": ("CoreMLExecutionProvider", "the onnxruntime package on macOS"),
    "dml": ("DmlExecutionProvider", "onnxruntime-directml on Windows"),
    "openvino": ("OpenVINOExecutionProvider", "onnxruntime-openvino"),
}
DEVICES = ("auto", "cpu", "cuda", "tensorrt", *OTHER_PROVIDERS)
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
# cuDNN's EXHAUSTIVE search (onnxruntime's default) benchmarks every algorithm once per new
# input shape: seconds per new image size with dynamic shapes.
CUDA_OPTIONS = {"cudnn_conv_algo_search": "HEURISTIC"}

# onnxruntime's warnings (e.g. which nodes a provider placed on the CPU) are noise to a user;
# errors stay visible. While a session is being created even errors are hidden: onnxruntime-gpu
# logs one for every CUDA library it cannot load, and _open turns a failure into one line.
onnxruntime.set_default_logger_severity(3)


def read_metadata(session: onnxruntime.InferenceSession,
                  path: str | os.PathLike = "model") -> tuple[dict[str, Any], ModelCard]:
    """The ``translate`` metadata object that `translate export` wrote into the file, and its card
    (:func:`translate.models.cards.read_onnx_metadata`, which raises the one-line errors)."""
    return read_onnx_metadata(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY), path)


#: onnxruntime session configuration under which an int8 file computes exact integer arithmetic on
#: every CPU: `translate export --int8` measures its gate with it and names it in the file's
#: metadata; :class:`Session` opens every model with it where the default kernels saturate
#: (:func:`int8_saturates`; no effect on fp32 / fp16 graphs).
#:
#: On x86 CPUs without VNNI (AVX2, AVX-512 without VNNI: AMD Zen 2 / 3, Intel before Ice Lake)
#: onnxruntime's uint8 x int8 kernels multiply with VPMADDUBSW, which adds two products in a
#: *saturating* int16 (255 x 127 x 2 = 64770 > 32767); VNNI CPUs accumulate in int32 and are exact.
#: The int8 export was tuned on an AVX-512 VNNI CPU. On a 2-core AMD EPYC Zen 3 (AVX2, no VNNI) the
#: same files, with onnxruntime 1.30 and 1.31 alike, came out 21 dB from fp32 (tests/export's ResNet;
#: its first convolution, reading the image's full uint8 range, up to 41 quantisation steps off the
#: exact integer result, 56% of its outputs off by more than one step), facades-photo2label 29.1 dB
#: and inpaint 18.5 dB; exact arithmetic of the very same files gives 35.6, 39.5 and 38.9 dB.
#: ``session.x64quantprecision`` makes onnxruntime run such layers with its uint8 x uint8 kernels
#: (the int8 weights + 128, the zero point moved with them: the same products), which do not
#: saturate. It costs speed (there exact int8 runs at about fp32 speed), not accuracy.
#:
#: Not chosen: 7-bit weights (``reduce_range``, |weight| <= 64, exact in any session) cost accuracy:
#: inpaint 31.2 / 29.8 dB instead of 38.9 / 38.0 (calibration / held-out worst image, refused),
#: facades-photo2label 39.0 / 39.9 instead of 39.5 / 40.2; uint8 weights in the file
#: (uint8 x uint8 everywhere) lose onnxruntime's fast uint8 x int8 kernels (VNNI, AMX) on every CPU.
EXACT_INT8_SESSION_CONFIG = {"session.x64quantprecision": "1"}
#: CPU flags (Linux /proc/cpuinfo) of the instructions that make the default int8 kernels exact.
_EXACT_INT8_FLAGS = {"avx512_vnni", "avx_vnni", "amx_int8"}
_CPUINFO = Path("/proc/cpuinfo")


def int8_saturates() -> bool:
    """Whether onnxruntime's default uint8 x int8 CPU kernels saturate on this machine: an x86 CPU
    without VNNI (see :data:`EXACT_INT8_SESSION_CONFIG`). Where the flags cannot be read on x86,
    yes (exact arithmetic is the safe side: it costs speed only)."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return False
    try:
        flags = set(_CPUINFO.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return True
    return not _EXACT_INT8_FLAGS & flags


def _session_options(threads: int | None, *, forbid_cpu_fallback: bool) -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 4  # errors reach the caller as exceptions (one line from _open)
    if threads:
        options.intra_op_num_threads = threads
    if forbid_cpu_fallback:
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    if int8_saturates():
        for key, value in EXACT_INT8_SESSION_CONFIG.items():
            options.add_session_config_entry(key, value)
    return options


def _providers(device: str) -> list[Any]:
    if device == "cpu":
        return [CPU]
    if device == "cuda":
        return [(CUDA, dict(CUDA_OPTIONS))]
    if device == "tensorrt":
        from translate.models.weights import cache_dir  # torch-free; only needed here

        engines = cache_dir() / "tensorrt"
        engines.mkdir(parents=True, exist_ok=True)
        return [(TENSORRT, {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(engines)}),
                (CUDA, dict(CUDA_OPTIONS))]
    if device in OTHER_PROVIDERS:
        return [OTHER_PROVIDERS[device][0], CPU]
    raise ValueError(f"device must be one of {DEVICES}, got {device!r}")


# What InferenceSession.run raises when the graph cannot run an input (the card and the graph
# disagree) or memory runs out.
_RUN_ERRORS = tuple(getattr(_ort_state, name) for name in (
    "Fail", "InvalidArgument", "RuntimeException", "InvalidGraph", "NotImplemented", "EPFail")
    if hasattr(_ort_state, name))

_UNUSABLE_GPU = ("fallback to CPU EP has been explicitly disabled", "Conflicting session configuration",
                 "Failed to load", "EP Error")


def _open(model: bytes | str, path: str | os.PathLike, device: str,
          threads: int | None) -> onnxruntime.InferenceSession:
    """An InferenceSession on exactly ``device`` (cpu / cuda / tensorrt, or coreml / dml / openvino
    with CPU fallback) or a TranslateError.

    onnxruntime's own log lines are hidden while the session is created: a failure becomes
    one TranslateError line instead.
    """
    other = OTHER_PROVIDERS.get(device)
    if other is not None and other[0] not in onnxruntime.get_available_providers():
        raise TranslateError(
            f"device '{device}': this onnxruntime ({onnxruntime.__version__}, providers "
            f"{', '.join(p.removesuffix('ExecutionProvider') for p in onnxruntime.get_available_providers())}) "
            f"has no {other[0]}; it comes with {other[1]}; use device 'cpu' or 'auto'")
    onnxruntime.set_default_logger_severity(4)
    try:
        session = onnxruntime.InferenceSession(
            model, _session_options(threads, forbid_cpu_fallback=device != "cpu" and other is None),
            providers=_providers(device))
    except InvalidProtobuf:
        raise TranslateError(f"{path}: not an ONNX model (cannot parse it); export one with `translate export`") from None
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several types with its own messages
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if other is not None and any(reason in message for reason in _UNUSABLE_GPU):
            raise TranslateError(f"device '{device}': onnxruntime cannot use {other[0]} on this machine "
                                 f"({message[:200]}); use device 'cpu' or 'auto'") from None
        if device != "cpu" and any(reason in message for reason in _UNUSABLE_GPU):
            raise TranslateError(
                f"device '{device}': onnxruntime cannot use {'TensorRT/CUDA' if device == 'tensorrt' else 'CUDA'} "
                f"on this machine (no NVIDIA GPU, or its CUDA/cuDNN{'/TensorRT' if device == 'tensorrt' else ''} "
                f"libraries are missing); use device 'cpu' or 'auto'") from None
        if "float16" in message.lower() or "NOT_IMPLEMENTED" in message:
            raise TranslateError(f"{path}: {device} cannot run this model ({message[:200]}); an --fp16 export needs a "
                                 f"GPU: export without --fp16 for the CPU") from None
        raise TranslateError(f"{path}: onnxruntime cannot load this model ({message[:300]})") from None
    finally:
        onnxruntime.set_default_logger_severity(3)
    if other is not None:
        if other[0] not in session.get_providers():
            raise TranslateError(f"device '{device}': onnxruntime is not using {other[0]} on this machine; "
                                 f"use device 'cpu' or 'auto'")
    elif device != "cpu" and CUDA not in session.get_providers():
        raise TranslateError(f"device '{device}': onnxruntime is not using CUDA on this machine; use device 'cpu' or 'auto'")
    return session


class OrtBackend:
    """A pipeline backend on an onnxruntime session: (B, C, H, W) float32 -> (B, C', H*s, W*s).

    The channels are split among the model's inputs in their order (an inpainting model's
    ``image`` and ``mask`` arrive concatenated, as the pipeline passes extra inputs). A model
    exported with a fixed batch N runs any batch in chunks of N, the last one padded.

    ``io_binding`` (default: on when the session runs on CUDA) binds the inputs and a reused
    output buffer on the session's device instead of letting ``run`` allocate per call.
    ``source`` (the model's file) is named in the error for a model it cannot run.
    """

    def __init__(self, session: onnxruntime.InferenceSession, io_binding: bool | None = None,
                 source: str | os.PathLike | None = None):
        self.session = session
        on_gpu = session.get_providers()[0] in (CUDA, TENSORRT)
        self.io_binding = on_gpu if io_binding is None else bool(io_binding)
        self.device_type = "cuda" if on_gpu else "cpu"
        self._outputs: dict[tuple[int, ...], Any] = {}  # input shape -> its bound output OrtValue
        inputs = session.get_inputs()
        self.input_names = [i.name for i in inputs]
        self.input_channels = [i.shape[1] for i in inputs]
        dynamic = next((i for i, c in zip(inputs, self.input_channels) if not isinstance(c, int)), None)
        if dynamic is not None:
            raise TranslateError(f"{source or 'the ONNX model'}: its inputs must have a fixed channel count "
                                 f"(NCHW), input '{dynamic.name}' has {dynamic.shape[1]!r}; export it with "
                                 f"`translate export`")
        batch = inputs[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) else None
        self.output_name = session.get_outputs()[0].name

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return self._run_unchecked(x)
        except _RUN_ERRORS as e:
            message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if "allocat" in message.lower():  # e.g. "Failed to allocate memory": `translate run` suggests --tile
                raise MemoryError(f"onnxruntime: {message[:200]}") from None
            raise BackendError(f"onnxruntime cannot run it on a {tuple(x.shape)} input ({message[:200]})") from None

    def _run_unchecked(self, x: np.ndarray) -> np.ndarray:
        parts = np.split(x, np.cumsum(self.input_channels)[:-1], axis=1)
        feed = {name: np.ascontiguousarray(part, dtype=np.float32) for name, part in zip(self.input_names, parts)}
        if not self.io_binding:
            return self.session.run([self.output_name], feed)[0]
        binding = self.session.io_binding()
        for name, array in feed.items():
            binding.bind_ortvalue_input(name, onnxruntime.OrtValue.ortvalue_from_numpy(array, self.device_type, 0))
        kept = self._outputs.get(x.shape)
        if kept is None:  # a new input shape: onnxruntime allocates the output on the device, we keep it
            binding.bind_output(self.output_name, self.device_type)
        else:
            binding.bind_ortvalue_output(self.output_name, kept)
        self.session.run_with_iobinding(binding)
        if kept is None:
            if len(self._outputs) >= 4:  # tiles share one shape; do not hoard memory for every image size
                self._outputs.pop(next(iter(self._outputs)))
            self._outputs[x.shape] = binding.get_outputs()[0]
        return binding.copy_outputs_to_cpu()[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.shape[1] != sum(self.input_channels):
            raise BackendError(f"expected (B, {sum(self.input_channels)}, H, W) input, got {x.shape}")
        n = self.fixed_batch
        if n is None or x.shape[0] == n:
            return self._run(x)
        outputs = []
        for start in range(0, x.shape[0], n):
            chunk = x[start:start + n]
            missing = n - chunk.shape[0]
            if missing:
                chunk = np.concatenate([chunk, np.zeros((missing, *chunk.shape[1:]), chunk.dtype)])
            outputs.append(self._run(chunk)[:n - missing])
        return np.concatenate(outputs)


class Session(Translator):
    """An exported ``.onnx`` model ready to translate images, without torch.

    ``device`` is ``auto`` (CUDA when onnxruntime can use it, else CPU), ``cpu``, ``cuda``,
    ``tensorrt``, or ``coreml`` / ``dml`` / ``openvino`` where onnxruntime offers them; ``threads`` sets onnxruntime's intra-op threads (default: one per physical
    core); ``io_binding`` as in :class:`OrtBackend`. ``session(array)`` maps an (H, W), (H, W, 3) RGB or (H, W, 4) RGBA uint8 / uint16
    array to the translated array of the same layout (gray becomes RGB; alpha is kept), times
    the model's scale; ``translate_file(src, dst)`` works on files. Attributes: ``card``
    (:class:`ModelCard`), ``metadata`` (the embedded JSON), ``providers`` (in use),
    ``backend`` (:class:`OrtBackend`), ``path``.
    """

    def __init__(self, path: str | os.PathLike, device: str = "auto", *, threads: int | None = None,
                 io_binding: bool | None = None):
        if device not in DEVICES:
            raise TranslateError(f"unknown device '{device}'; use one of {', '.join(DEVICES)}")
        self.path = Path(path)
        if not os.path.isfile(self.path):
            what = "is a folder, not an ONNX file" if os.path.isdir(self.path) else "no such file"
            raise TranslateError(f"{self.path}: {what}")
        model = str(self.path)
        if device == "auto":
            session = self._open_auto(model, threads)
        else:
            session = _open(model, self.path, device, threads)
        self.session = session
        self.metadata, card = read_metadata(session, self.path)
        self.providers = session.get_providers()
        used = "cuda" if CUDA in self.providers else "cpu"
        if TENSORRT in self.providers:
            used = "tensorrt"
        if device in OTHER_PROVIDERS:
            used = device
        super().__init__(OrtBackend(session, io_binding, source=self.path), card, device=used, model_file=self.path)

    def _open_auto(self, model: str, threads: int | None) -> onnxruntime.InferenceSession:
        if CUDA not in onnxruntime.get_available_providers():
            return _open(model, self.path, "cpu", threads)
        try:
            return _open(model, self.path, "cuda", threads)
        except TranslateError as e:
            if "cannot use" not in str(e) and "not using CUDA" not in str(e):
                raise
        return _open(model, self.path, "cpu", threads)

    def __repr__(self) -> str:
        return f"Session({str(self.path)!r}, card={self.card.name!r}, providers={self.providers})"


__all__ = ["DEVICES", "OTHER_PROVIDERS", "OrtBackend", "Session", "read_metadata"]
