"""int8 ONNX models for CPU apps: static QDQ quantisation with onnxruntime's tools, gated by PSNR.

:func:`quantize_int8` turns the verified fp32 model of :func:`translate.export.onnx.export_onnx` into
an int8 one with ``onnxruntime.quantization.quantize_static``: QDQ format (QuantizeLinear /
DequantizeLinear pairs that onnxruntime's CPU provider fuses into integer kernels), weights int8
per output channel, activations uint8 per tensor with ranges calibrated on real images. The
calibration images go through the same pipeline as ``translate run`` (:class:`Translator`:
normalisation, padding to the size multiple, the inpainting window with a centre hole), so the
quantiser sees exactly the tensors the network sees in use: a recording backend runs the fp32
model and keeps every input it was given.

Quality gate: the int8 model's final images (after the pipeline's crop and clip, RGB in [0, 1];
for inpainting only the hole's pixels, the rest is copied from the input) are compared with the
fp32 model's by PSNR, per image, on the calibration images and on held-out images (``check``, or
every 5th image of the calibration folder). The worst image of each set must reach the gate
(default 35 dB, i.e. an RMS difference under 1.8% of the range); otherwise
:class:`TranslateError` and nothing is written. The measured figures go into the export's
summary and the file's metadata (:meth:`Int8Report.to_metadata`).

Exact integer arithmetic: the gate runs the int8 model with
:data:`translate.run.runtime.EXACT_INT8_SESSION_CONFIG`, under which onnxruntime computes the same
integers on every CPU; the runtime opens int8 files with it on x86 CPUs without VNNI, where
onnxruntime's default uint8 x int8 kernels saturate (see the constant), and the metadata names it
for other apps.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from translate.errors import TranslateError

if TYPE_CHECKING:  # numpy and the card are imported where used: `translate --help` reads the constants
    import numpy as np

    from translate.models.cards import ModelCard

#: Calibration methods offered (onnxruntime's names); the default was chosen by measurement.
METHODS = ("minmax", "entropy", "percentile")
#: MinMax, because it is the only method that passed the 35 dB gate on all three shipped models.
#: Worst-image PSNR of int8 vs fp32, calibration / held-out images (tools/bench/bench_infer.py --int8
#: --int8-methods minmax entropy percentile, 2026-11-26; README "int8"):
#:   sr-x4    minmax 43.8 / 44.6   entropy 41.1 / 40.9   percentile 43.4 / 44.8
#:   derain   minmax 42.4 / 41.6   entropy 46.2 / 46.5   percentile 46.2 / 49.3
#:   inpaint  minmax 37.9 / 37.9   entropy 32.9 / 29.8   percentile 35.5 / 30.9
#: Entropy and Percentile clip rare large activations. That suits the de-rainer (+5 dB), but the
#: context encoder's filled hole is made of exactly those values, and clipping them costs more
#: than the finer steps gain. MinMax also calibrates 3-4x faster (one pass, no histograms).
DEFAULT_METHOD = "minmax"
DEFAULT_GATE_DB = 35.0
#: Calibration / check images are centre-cropped so the output side is at most this (input side
#: IMAGE_SIDE / scale, at least the size multiple): the activation ranges of a fully
#: convolutional network do not need whole photos, and it bounds memory and time.
IMAGE_SIDE = 256
MAX_CALIBRATION_IMAGES = 16
MAX_CHECK_IMAGES = 8
#: Without ``check``, every HELD_OUT_EVERY-th calibration image is held out (not calibrated on).
HELD_OUT_EVERY = 5
#: The context encoder's hole during calibration: a centre square of half the window, as trained.
INPAINT_HOLE_FRACTION = 0.5


@dataclass
class PsnrSet:
    """PSNR (dB) of int8 vs fp32 output on one set of images: per image, worst and mean."""

    name: str
    images: list[str]
    psnr: list[float]

    @property
    def worst(self) -> float:
        return min(self.psnr)

    @property
    def mean(self) -> float:
        finite = [p for p in self.psnr if math.isfinite(p)]
        return math.fsum(finite) / len(finite) if finite else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"images": len(self.psnr), "min_db": _rounded(self.worst), "mean_db": _rounded(self.mean)}


def _rounded(db: float) -> float | str:
    return round(db, 2) if math.isfinite(db) else "inf"


@dataclass
class Int8Report:
    """How an int8 model was made and how close it stays to fp32 (what the gate measured)."""

    method: str
    gate_db: float
    calibration: PsnrSet
    held_out: PsnrSet
    calibration_folder: str
    check_folder: str | None

    @property
    def worst(self) -> float:
        return min(self.calibration.worst, self.held_out.worst)

    def passed(self) -> bool:
        return self.worst >= self.gate_db

    def to_metadata(self) -> dict[str, Any]:
        """The ``int8`` entry of the file's ``translate`` metadata."""
        from translate.run.runtime import EXACT_INT8_SESSION_CONFIG

        return {
            "format": "QDQ", "weights": "int8, per output channel, symmetric",
            "activations": "uint8, per tensor", "calibration_method": self.method,
            # what the gate ran it with: exact on every CPU (EXACT_INT8_SESSION_CONFIG)
            "onnxruntime_session_config": dict(EXACT_INT8_SESSION_CONFIG),
            "calibration_folder": self.calibration_folder, "check_folder": self.check_folder,
            "gate": f"PSNR of int8 vs fp32 output >= {self.gate_db:g} dB on every image",
            "gate_db": self.gate_db,
            "psnr_vs_fp32": {"calibration": self.calibration.to_dict(), "held_out": self.held_out.to_dict()},
        }

    def summary(self) -> str:
        """One line: the measured PSNR of both sets against the gate."""
        def part(s: PsnrSet) -> str:
            n = len(s.psnr)
            return f"{s.name} min {_rounded(s.worst)} dB / mean {_rounded(s.mean)} dB on {n} image{'s' * (n != 1)}"
        return (f"int8 vs fp32 PSNR: {part(self.calibration)}, {part(self.held_out)} "
                f"(gate >= {self.gate_db:g} dB, {self.method} calibration)")


def calibration_files(calibration: str | os.PathLike,
                      check: str | os.PathLike | None = None) -> tuple[list[Path], list[Path]]:
    """The (calibration, held-out) image files: sorted, evenly thinned to the caps.

    Without ``check`` every :data:`HELD_OUT_EVERY`-th image of ``calibration`` (at least one) is
    held out, so it needs two images or more. Raises :class:`TranslateError` (one line) for a
    missing folder, a file instead of a folder, a folder without images or too few of them.
    """
    def images(option: str, folder: str | os.PathLike) -> list[Path]:
        from translate.imageio import list_images

        path = Path(folder)
        if not os.path.isdir(path):
            what = "is a file, not a folder" if os.path.exists(path) else "no such folder"
            raise TranslateError(f"{option} {path}: {what}; give a folder of images the model takes as input")
        try:
            return list_images(path)
        except TranslateError as e:
            raise TranslateError(f"{option} {e}") from None

    files = images("--calibration", calibration)
    if check is None:
        files = _thin(files, MAX_CALIBRATION_IMAGES + MAX_CALIBRATION_IMAGES // (HELD_OUT_EVERY - 1))
        if len(files) < 2:
            raise TranslateError(f"--calibration {calibration}: has 1 image; int8 needs at least 2 (one is held "
                                 f"out to check the quality), or give held-out images with --int8-check DIR")
        held = files[HELD_OUT_EVERY - 1::HELD_OUT_EVERY] or files[-1:]
        return [f for f in files if f not in held], held
    return _thin(files, MAX_CALIBRATION_IMAGES), _thin(images("--int8-check", check), MAX_CHECK_IMAGES)


def check_options(calibration: str | os.PathLike, check: str | os.PathLike | None, method: str,
                  gate_db: float) -> tuple[list[Path], list[Path]]:
    """Validate the int8 options (cheap, before any export work); returns :func:`calibration_files`."""
    if method not in METHODS:
        raise TranslateError(f"--int8-method {method}: use one of {', '.join(METHODS)}")
    if not math.isfinite(gate_db):
        raise TranslateError(f"--int8-gate {gate_db}: must be a finite number of dB")
    return calibration_files(calibration, check)


def _thin(files: list[Path], limit: int) -> list[Path]:
    """At most ``limit`` of ``files``, evenly spread over the sorted list (not just its start)."""
    if len(files) <= limit:
        return files
    return [files[round(i * (len(files) - 1) / (limit - 1))] for i in range(limit)]


def _center_hole(size: tuple[int, int]) -> np.ndarray:
    """A centre square hole of :data:`INPAINT_HOLE_FRACTION` of the shorter side, (H, W) bool."""
    import numpy as np

    h, w = size
    side = max(1, int(min(h, w) * INPAINT_HOLE_FRACTION))
    hole = np.zeros((h, w), bool)
    top, left = (h - side) // 2, (w - side) // 2
    hole[top:top + side, left:left + side] = True
    return hole


class _RecordingSession:
    """An onnxruntime session proxy that keeps a copy of every input feed it runs."""

    def __init__(self, session: Any):
        self._session = session
        self.feeds: list[dict[str, np.ndarray]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def run(self, output_names: Any, feed: dict[str, np.ndarray], *args: Any) -> Any:
        import numpy as np

        self.feeds.append({k: np.array(v, copy=True) for k, v in feed.items()})
        return self._session.run(output_names, feed, *args)


class _FeedReader:
    """onnxruntime's CalibrationDataReader protocol over recorded feeds: ``get_next``, and
    ``__len__`` / ``set_range`` for its strided calibration (one feed at a time)."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]):
        self._all = list(feeds)
        self._feeds = iter(self._all)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)

    def __len__(self) -> int:
        return len(self._all)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._feeds = iter(self._all[start_index:end_index])


def _cpu_session(model: bytes) -> Any:
    """A CPU session with :data:`~translate.run.runtime.EXACT_INT8_SESSION_CONFIG` (exact int8 on
    every CPU; no effect on an fp32 graph)."""
    import onnxruntime

    from translate.run.runtime import EXACT_INT8_SESSION_CONFIG

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    for key, value in EXACT_INT8_SESSION_CONFIG.items():
        options.add_session_config_entry(key, value)
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _outputs(session: Any, card: ModelCard, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The pipeline's final image for each RGB image (for inpainting: the hole's pixels only)."""
    from translate.imageio import Image
    from translate.run.pipeline import Translator
    from translate.run.runtime import OrtBackend

    translator = Translator(OrtBackend(session, io_binding=False), card)
    results = []
    for rgb in images:
        if translator.needs_mask:
            hole = _center_hole(rgb.shape[:2])
            results.append(translator.translate(Image(rgb=rgb), mask=hole)[0][hole])
        else:
            results.append(translator.translate(Image(rgb=rgb))[0])
    return results


def _read(files: Sequence[Path], option: str, card: ModelCard) -> list[np.ndarray]:
    from translate.imageio import read_image
    from translate.run.pipeline import center_crop

    side = max(card.multiple, IMAGE_SIDE // card.scale)
    images = []
    for path in files:
        try:
            images.append(center_crop(read_image(path).rgb, side))
        except TranslateError as e:
            raise TranslateError(f"{option}: {e}") from None
    return images


def _quantize(model: bytes, feeds: Sequence[dict[str, np.ndarray]], method: str) -> bytes:
    """onnxruntime's quantize_static on ``model`` with ``feeds``: QDQ, per-channel int8 weights."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from translate.export.graph_rewrite import unshare_constant_dequantize

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    quiet = logging.getLogger()
    level = quiet.level
    # The quantiser logs every tensor it leaves in float and prints progress; the export reports
    # the outcome in its own lines.
    quiet.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="translate_int8_") as tmp, _data_movement_in_8_bit(), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            source, prepared = Path(tmp) / "fp32.onnx", Path(tmp) / "prepared.onnx"
            # From a file: given a ModelProto, the pre-processor hands its weights to onnxruntime
            # as external initializers and the optimised copy then points at a missing data file.
            source.write_bytes(model)
            # onnxruntime's recommended pre-processing: BatchNorm folded into the convolutions and
            # shapes inferred, so the quantiser sees the graph the CPU provider will run.
            quant_pre_process(source, prepared, skip_symbolic_shape=True)
            output = Path(tmp) / "int8.onnx"
            quantize_static(
                prepared, output, _FeedReader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                nodes_to_exclude=_grouped_transposed_convolutions(prepared),
                # u8 activations x s8 weights in full 8 bits, without the 7-bit range reduction
                # onnxruntime suggests for x86 CPUs without VNNI: exact there with
                # runtime.EXACT_INT8_SESSION_CONFIG instead, which keeps the weights' precision.
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=False,
                calibrate_method=methods[method],
                # Statistics merged after every input: the calibrators otherwise keep every
                # activation of every calibration image in memory (GBs for a 256x256 de-rainer).
                extra_options={"CalibStridedMinMax": 1},
            )
            quantized = onnx.load(str(output))
            # onnxruntime cannot open the file with runtime.EXACT_INT8_SESSION_CONFIG otherwise.
            unshare_constant_dequantize(quantized)
            return quantized.SerializeToString()
    finally:
        quiet.setLevel(level)


#: Operators that only move values: quantised like Transpose (output scale = input scale), so
#: onnxruntime drops their DequantizeLinear / QuantizeLinear pair and moves uint8 instead of float.
DATA_MOVEMENT_OPS = ("DepthToSpace", "SpaceToDepth")


@contextlib.contextmanager
def _data_movement_in_8_bit() -> Iterator[None]:
    """While quantising, treat :data:`DATA_MOVEMENT_OPS` as onnxruntime treats Transpose.

    onnxruntime's QDQ quantiser (1.31) gives an operator missing from its registry its own
    calibrated output scale; the CPU provider then runs a DepthToSpace (sub-pixel upsampling)
    between a DequantizeLinear and a QuantizeLinear in float32, 4x the bytes moved (sr-x4 at
    256x256: its two pixel shuffles were 18% of the int8 model's time, profiled). With the input's
    scale on the output, the pair is dropped and the shuffle moves uint8. The registry entry is
    restored afterwards.
    """
    from onnxruntime.quantization import registry
    from onnxruntime.quantization.operators.direct_q8 import QDQDirect8BitOp

    added = [op for op in DATA_MOVEMENT_OPS if op not in registry.QDQRegistry]
    for op in added:
        registry.QDQRegistry[op] = QDQDirect8BitOp
    try:
        yield
    finally:
        for op in added:
            registry.QDQRegistry.pop(op, None)


def _grouped_transposed_convolutions(path: Path) -> list[str]:
    """Names of the ConvTranspose nodes with groups (the context encoder's bottleneck decoder).

    onnxruntime's per-channel scheme gives such a weight (C_in, C_out / groups, k, k) one scale
    per C_out / groups channels while its bias has C_out values, and the quantiser fails; they
    stay float32 between QDQ pairs (a 4x4 layer: little of the network's time).
    """
    import onnx

    return [node.name for node in onnx.load(str(path)).graph.node if node.op_type == "ConvTranspose"
            and any(a.name == "group" and a.i > 1 for a in node.attribute)]


def quantize_int8(model: bytes, card: ModelCard, calibration: str | os.PathLike,
                  check: str | os.PathLike | None = None, *, method: str = DEFAULT_METHOD,
                  gate_db: float = DEFAULT_GATE_DB,
                  progress: Callable[[str], None] | None = None) -> tuple[bytes, Int8Report]:
    """Quantise the fp32 ONNX ``model`` (bytes) to int8 and measure it against fp32.

    Calibration images come from the folder ``calibration`` and held-out ones from ``check``
    (or from ``calibration``, see :func:`calibration_files`); both go through the model's
    pipeline. Returns the int8 model and its :class:`Int8Report`; raises
    :class:`TranslateError` for a bad folder or method, or when the worst image of either set
    falls below ``gate_db`` (the message carries the measured figures).
    """
    calibration_list, held_list = check_options(calibration, check, method, gate_db)
    say = progress or (lambda message: None)
    calibration_images = _read(calibration_list, "--calibration", card)
    held_images = _read(held_list, "--int8-check" if check is not None else "--calibration", card)

    say(f"calibrating int8 ({method}) on {len(calibration_images)} images ...")
    fp32 = _RecordingSession(_cpu_session(model))
    fp32_calibration = _outputs(fp32, card, calibration_images)
    feeds = fp32.feeds
    fp32_held = _outputs(fp32._session, card, held_images)
    try:
        quantized = _quantize(model, feeds, method)
    except Exception as e:  # noqa: BLE001 - onnxruntime's quantiser raises many types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise TranslateError(f"int8 quantisation of {card.name} failed: {first[:300]}") from e

    say("checking int8 against fp32 ...")
    from translate.metrics import psnr

    int8 = _cpu_session(quantized)
    sets = []
    for name, files, images, reference in (("calibration", calibration_list, calibration_images, fp32_calibration),
                                           ("held-out", held_list, held_images, fp32_held)):
        got = _outputs(int8, card, images)
        sets.append(PsnrSet(name, [f.name for f in files], [psnr(a, b) for a, b in zip(got, reference)]))
    report = Int8Report(method=method, gate_db=gate_db, calibration=sets[0], held_out=sets[1],
                        calibration_folder=str(calibration), check_folder=None if check is None else str(check))
    if not report.passed():
        worst = min(sets, key=lambda s: s.worst)
        image = worst.images[worst.psnr.index(worst.worst)]
        raise TranslateError(f"int8 export of {card.name} not written: int8 differs from fp32 by PSNR "
                             f"{_rounded(worst.worst)} dB < the gate {gate_db:g} dB ({worst.name} image {image}); "
                             f"{report.summary()}; try --int8-method entropy or percentile, or ship fp32")
    return quantized, report


__all__ = ["DEFAULT_GATE_DB", "DEFAULT_METHOD", "Int8Report", "METHODS", "PsnrSet", "calibration_files",
           "check_options", "quantize_int8"]
