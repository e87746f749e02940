"""Export a generator to one self-contained ONNX file that `translate.run.runtime` runs without torch.

The network is exported in eval mode with ``torch.onnx.export(..., dynamo=True)``: batch,
height and width are dynamic, height and width declared as multiples of the card's size
multiple (the graph input of a ResNet reads ``[batch, 3, 4*h, 4*w]``, of a unet_256
``[batch, 3, 256*h, 256*w]``), so any image the pipeline pads to the multiple runs. The weights
are stored inside the file (``external_data=False``). Where the dynamo exporter fails for a
network, or an opset below 18 is asked for (the dynamo exporter cannot write those), the
TorchScript exporter is used with dynamic axes instead and the result says so. The file embeds
under the ``metadata_props`` key ``"translate"`` a JSON object (:func:`build_metadata`) with the
full :class:`~translate.models.cards.ModelCard`, so the runtime rebuilds the same pre/post-processing
(normalisation, padding to the multiple, scale) from the file alone.

Before the file is written the export checks itself: onnxruntime (CPU) and PyTorch run on two
random inputs of different sizes (the second with batch 2 when the batch is dynamic) and on an
optional real image, and the largest absolute difference of the network outputs must be at
most 1e-4 (2e-2 for ``fp16``, whose weights and activations are float16 while inputs and
outputs stay float32). Only then is the file written, atomically; a failed check writes nothing.

CPU rewrites (fp32 and int8, ``cpu_rewrites=True``): before the check, exact graph rewrites that
onnxruntime's CPU provider runs faster are applied (:mod:`translate.export.graph_rewrite`: a convolution
with few output channels, such as a generator's RGB output layer, is computed in four phases;
for int8 also every size-doubling transposed convolution, as four phase convolutions that
onnxruntime runs in integer arithmetic); the check then covers the rewritten graph.

int8 (``int8=True`` with a ``calibration`` folder): the verified fp32 model is quantised by
:func:`translate.export.quantize.quantize_int8` (onnxruntime's static QDQ quantisation, calibrated on
real images through the pipeline) and written only when its output stays within a PSNR gate of
the fp32 output on the calibration and on held-out images; the measured PSNR goes into the
metadata (``"int8"``) and :attr:`ExportResult.int8`.

Train-mode dropout in pix2pix. The reference ``test.py`` calls ``model.eval()`` only with
``--eval``; by default its U-Net runs in train mode, so BatchNorm normalises each image by its
own statistics (batch 1) and dropout 0.5 is active: outputs are random and differ from eval
mode. We export eval mode (BatchNorm running statistics, no dropout): deterministic, and equal
to ``translate run`` and to ``test.py --eval``. A ``--keep-dropout`` option is deliberately not
offered: exporting the network in train mode with this exporter (PyTorch 2.15, checked) gives a
graph whose Dropout is not random in onnxruntime and whose BatchNorm does not use per-image
statistics, i.e. not the reference's train-mode behaviour, and a random output could not be
verified against PyTorch anyway.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from translate.errors import TranslateError
from translate.fileio import atomic_write_bytes, check_can_create, check_not_overwriting
from translate.models.cards import ONNX_METADATA_KEY as METADATA_KEY
from translate.models.cards import ModelCard, onnx_metadata
from translate.version import __version__

if TYPE_CHECKING:
    import onnx
    import torch

    from translate.export.quantize import Int8Report

DEFAULT_INPUT_NAMES = ("image",)
DEFAULT_OUTPUT_NAMES = ("output",)
TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2}
# The dynamo exporter writes opset 18 and newer only; below that it silently keeps 18.
MIN_DYNAMO_OPSET = 18
TORCHSCRIPT_DEFAULT_OPSET = 17
# Side of the real verification image is cropped to this, to bound the time of the check.
MAX_VERIFY_SIDE = 512


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote: the file, how it was exported and the verification.

    ``checks`` holds one ``(description, max abs difference)`` per verification input (of the
    fp32 graph, before any int8 quantisation); ``notes`` says e.g. that the TorchScript exporter
    was used instead of dynamo and why; ``int8`` is the quantisation report of an int8 export.
    """

    path: Path
    exporter: str
    opset: int
    precision: str
    batch: str | int
    tolerance: float
    size_bytes: int
    checks: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    int8: "Int8Report | None" = None

    @property
    def max_abs_diff(self) -> float:
        return max(d for _, d in self.checks)


def input_names(card: ModelCard) -> list[str]:
    """Names of the network's inputs: ``card.extra["inputs"]`` or ``["image"]``.

    A network with several inputs (an inpainting net taking ``image`` and ``mask``) takes them
    positionally in this order.
    """
    return list(card.extra.get("inputs", DEFAULT_INPUT_NAMES))


def output_names(card: ModelCard) -> list[str]:
    """Names of the network's outputs: ``card.extra["outputs"]`` or ``["output"]``."""
    return list(card.extra.get("outputs", DEFAULT_OUTPUT_NAMES))


def input_channels(card: ModelCard) -> list[int]:
    """Channels of each input: ``card.extra["input_channels"]``, else the generator's ``input_nc``
    (default 3) for the first input and 1 for every further one (e.g. a mask). A graph with one
    input takes the card's further planes (``card.inputs``, e.g. the hole mask) as channels
    appended to the image, as the pipeline passes them."""
    names = input_names(card)
    channels = card.extra.get("input_channels")
    if channels is None:
        image = int(card.generator.get("input_nc", 3))
        if len(names) == 1:
            image += len(card.inputs) - 1
        channels = [image] + [1] * (len(names) - 1)
    if len(channels) != len(names):
        raise ValueError(f"card {card.name}: {len(names)} inputs {names} but input_channels {channels}")
    return [int(c) for c in channels]


def value_range(card: ModelCard) -> list[float]:
    """The range the network sees for image values in [0, 1]: ``[(0 - mean) / std, (1 - mean) / std]``."""
    return [(0.0 - card.mean) / card.std, (1.0 - card.mean) / card.std]


def fixed_size(card: ModelCard) -> int | None:
    """The one height = width a network accepts (``card.fixed_size``, e.g. the context encoder's
    128), or None when any multiple of ``card.multiple`` works."""
    return card.fixed_size


def build_metadata(card: ModelCard, *, exporter: str, opset: int, precision: str, batch: str | int,
                   source_name: str | None, source_sha256: str | None) -> dict[str, Any]:
    """The JSON object stored under ``metadata_props["translate"]`` of an exported file.

    ``card`` holds the full model card (:meth:`ModelCard.to_dict`); the other fields repeat
    what a reader without `translate` needs: task, architecture, input / output names and
    value range, normalisation, size multiple, scale, where the weights came from.
    """
    rng = value_range(card)
    return onnx_metadata(card, **{
        "task": card.task,
        "architecture": card.arch,
        "scale": card.scale,
        "size_multiple": card.multiple,
        "inputs": [{"name": n, "channels": c} for n, c in zip(input_names(card), input_channels(card))],
        "outputs": [{"name": n} for n in output_names(card)],
        "layout": "NCHW float32",
        "value_range": {"input": rng, "output": rng},
        "normalisation": {"mean": card.mean, "std": card.std,
                          "formula": "x = (rgb - mean) / std for rgb in [0, 1]; rgb = clip(y * std + mean, 0, 1)"},
        "batch": batch,
        "precision": precision,
        "opset": opset,
        "exporter": exporter,
        "source": {"model": source_name, "weights_sha256": source_sha256},
        "translate_version": __version__,
    })


def _example_inputs(card: ModelCard, batch: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """Random inputs (batch, C, height, width) float32 in the network's value range, one per input."""
    rng = np.random.default_rng(seed)
    lo, hi = value_range(card)
    return [rng.uniform(lo, hi, size=(batch, c, height, width)).astype(np.float32) for c in input_channels(card)]


def _dynamic_shapes(card: ModelCard, batch: str | int) -> tuple[dict[int, Any], ...]:
    from torch.export import Dim

    multiple = card.multiple
    dims: dict[int, Any] = {}
    if fixed_size(card) is None:
        # Height and width as multiples of the size multiple: the ONNX input reads e.g. 4*h.
        blocks_h, blocks_w = Dim("h", min=1), Dim("w", min=1)
        dims = {2: multiple * blocks_h if multiple > 1 else Dim("height", min=1),
                3: multiple * blocks_w if multiple > 1 else Dim("width", min=1)}
    if batch == "dynamic":
        dims[0] = Dim("batch", min=1)
    # All inputs share the same symbols: an image and its mask have the same batch and size.
    return tuple(dict(dims) for _ in input_names(card))


def _export_dynamo(net: "torch.nn.Module", card: ModelCard, examples: tuple, batch: str | int,
                   opset: int | None) -> "onnx.ModelProto":
    import torch

    torch_logger = logging.getLogger("torch")
    level = torch_logger.level
    # A failing torch.export prints and logs whole graph dumps to stderr; the caller reports the
    # failure in one line instead.
    torch_logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            # Several inputs share the batch / size symbols; the exporter says it names them once.
            warnings.filterwarnings("ignore", message=".*will not be used, since it shares the same shape constraints")
            program = torch.onnx.export(
                net, examples, dynamo=True, dynamic_shapes=_dynamic_shapes(card, batch),
                input_names=input_names(card), output_names=output_names(card), opset_version=opset,
                external_data=False, verbose=False,
            )
    finally:
        torch_logger.setLevel(level)
    return program.model_proto


def _export_torchscript(net: "torch.nn.Module", card: ModelCard, examples: tuple, batch: str | int,
                        opset: int | None) -> "onnx.ModelProto":
    import onnx
    import torch

    axes = {2: "height", 3: "width"} if fixed_size(card) is None else {}
    if batch == "dynamic":
        axes[0] = "batch"
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and constant-folding chatter
        torch.onnx.export(
            net, examples, buffer, dynamo=False, input_names=input_names(card), output_names=output_names(card),
            dynamic_axes={n: dict(axes) for n in input_names(card) + output_names(card)},
            opset_version=opset or TORCHSCRIPT_DEFAULT_OPSET,
        )
    return onnx.load_from_string(buffer.getvalue())


def _first_line(e: BaseException) -> str:
    """The informative line of an exporter error (torch.export wraps it in advice and a summary)."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()]
    for line in lines:
        if line.startswith("<class '") and ">: " in line:
            return line.split(">: ", 1)[1][:300]
    for line in lines:
        if not line.startswith(("Failed to export", "- ", "#", "(Refer", "The error above")):
            return line[:300]
    return type(e).__name__


def _to_fp16(model: "onnx.ModelProto") -> "onnx.ModelProto":
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    converted = convert_float_to_float16(model, keep_io_types=True)
    # The converter leaves some intermediate value_info entries typed float32 (e.g. around
    # PixelShuffle's reshapes), which the full checker rejects; shape inference recomputes them.
    del converted.graph.value_info[:]
    # It also inserts the same Cast once per consumer of a value read by several blocked nodes
    # (the de-raining net's residual input): identical copies of one node break SSA form.
    produced: set[bytes] = set()
    unique = []
    for node in converted.graph.node:
        key = node.SerializeToString()
        if key not in produced:
            produced.add(key)
            unique.append(node)
    del converted.graph.node[:]
    converted.graph.node.extend(unique)
    # The converter appends the input casts at the end of the node list; the checker (and
    # other tools) want nodes in topological order.
    OnnxModel(converted).topological_sort()
    return converted


class _Comparison:
    """A pipeline backend running both PyTorch and onnxruntime, recording the largest difference."""

    def __init__(self, net: "torch.nn.Module", session: Any, card: ModelCard):
        self.net = net
        self.session = session
        self.names = input_names(card)
        self.channels = input_channels(card)
        self.max_abs_diff = 0.0

    def run(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, float]:
        import torch

        with torch.inference_mode():
            expected = self.net(*(torch.from_numpy(np.ascontiguousarray(x)) for x in inputs)).numpy()
        got = self.session.run(None, dict(zip(self.names, inputs)))[0]
        if got.shape != expected.shape:
            raise TranslateError(f"ONNX output shape {got.shape} differs from PyTorch's {expected.shape}")
        with np.errstate(invalid="ignore"):  # inf - inf is NaN: refused below, without numpy's warning line
            diff = float(np.abs(got.astype(np.float64) - expected).max()) if got.size else 0.0
        if not math.isfinite(diff):
            diff = math.inf
        self.max_abs_diff = max(self.max_abs_diff, diff)
        return expected, diff

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        split = np.split(batch, np.cumsum(self.channels)[:-1], axis=1)
        return self.run(split)[0]


def _verify(model_bytes: bytes, net: "torch.nn.Module", card: ModelCard, batch: str | int,
            verify_images: Sequence[str | os.PathLike]) -> list[tuple[str, float]]:
    """Run onnxruntime (CPU) and PyTorch on random inputs of two sizes and on ``verify_images``."""
    import onnxruntime

    from translate.imageio import read_image
    from translate.run.pipeline import center_crop, min_side, run_backend

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    comparison = _Comparison(net, session, card)
    m = card.multiple
    base = m * math.ceil(max(64, min_side(card)) / m)
    first, second = (1 if batch == "dynamic" else batch), (2 if batch == "dynamic" else batch)
    sizes = [(base, base + m), (base + m, base)]
    if fixed_size(card) is not None:
        sizes = [(fixed_size(card), fixed_size(card))] * 2
    checks = []
    for b, (h, w), seed in ((first, sizes[0], 1), (second, sizes[1], 2)):
        _, diff = comparison.run(_example_inputs(card, b, h, w, seed))
        checks.append((f"random {b}x{sum(input_channels(card))}x{h}x{w}", diff))
    if len(input_names(card)) > 1 and verify_images:
        raise TranslateError(f"--verify-image is not supported for models with several inputs ({input_names(card)})")
    for path in verify_images:
        image = read_image(path)
        rgb = center_crop(image.rgb, MAX_VERIFY_SIDE)
        comparison.max_abs_diff = 0.0
        if batch == "dynamic":
            run_backend(rgb, comparison, mean=card.mean, std=card.std, multiple=m, scale=card.scale,
                        in_channels=input_channels(card)[0], smallest=min_side(card))
        else:  # a fixed batch of N: the same image N times
            run_backend(rgb, lambda x: comparison(np.repeat(x, batch, axis=0))[:1], mean=card.mean, std=card.std,
                        multiple=m, scale=card.scale, in_channels=input_channels(card)[0], smallest=min_side(card))
        checks.append((f"image {Path(path).name} {rgb.shape[0]}x{rgb.shape[1]}", comparison.max_abs_diff))
    return checks


def _check_output(output: str | os.PathLike, read: Sequence[str | os.PathLike | None]) -> Path:
    """The output path, refused when it is not ``.onnx``, is one of the files the export reads
    (``read``: the weights, the verification images) or clearly cannot be written."""
    output = Path(output)
    if output.suffix.lower() != ".onnx":
        raise TranslateError(f"-o {output}: the output file must end in .onnx (that is how `translate run` recognises it)")
    check_not_overwriting(output, read)
    check_can_create(output)
    return output


def export_onnx(
    net: "torch.nn.Module",
    card: ModelCard,
    output: str | os.PathLike,
    *,
    fp16: bool = False,
    opset: int | None = None,
    batch: str | int = "dynamic",
    source_name: str | None = None,
    source_file: str | os.PathLike | None = None,
    verify_images: Sequence[str | os.PathLike] = (),
    progress: Callable[[str], None] | None = None,
    int8: bool = False,
    calibration: str | os.PathLike | None = None,
    int8_check: str | os.PathLike | None = None,
    int8_method: str | None = None,
    int8_gate_db: float | None = None,
    cpu_rewrites: bool = True,
) -> ExportResult:
    """Export ``net`` (built from ``card``) to the ONNX file ``output``, verify it, then write it.

    ``net`` maps (B, C, H, W) float32 to (B, C', H*scale, W*scale) for H, W multiples of
    ``card.multiple``; it is put in eval mode. ``batch`` is ``"dynamic"`` or a fixed batch
    size. ``opset`` None uses the exporter's default. ``source_file`` (the weights) is hashed
    into the metadata and may not be ``output``. ``progress`` receives one-line status
    messages. ``int8`` quantises the verified fp32 graph with images from the folder
    ``calibration`` (held-out images from ``int8_check``, else from ``calibration``), with
    ``int8_method`` and the PSNR gate ``int8_gate_db`` (defaults in :mod:`translate.export.quantize`).
    ``cpu_rewrites`` (fp32 / int8) applies the exact graph rewrites of :mod:`translate.export.graph_rewrite`
    (few-channel convolutions in four phases; with ``int8`` also the transposed convolutions), before
    the verification.
    Raises :class:`TranslateError` when the export fails, onnxruntime's output differs from
    PyTorch's by more than 1e-4 (fp32) / 2e-2 (fp16), or the int8 model fails its gate; nothing
    is written then.
    """
    import onnx
    import torch

    read = (source_file, *verify_images)
    output = _check_output(output, read)
    _check_int8_options(fp16, int8, calibration, int8_check, int8_method, int8_gate_db)
    if batch != "dynamic" and (not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be 'dynamic' or a positive int, got {batch!r}")
    if opset is not None and not 7 <= opset <= 30:
        raise TranslateError(f"--opset {opset}: not a valid ONNX opset")
    source_sha256 = None
    if source_file is not None:
        from translate.models.weights import sha256_file

        source_sha256 = sha256_file(source_file)
    say = progress or (lambda message: None)

    from translate.run.pipeline import min_side

    net = net.eval().cpu()
    example_batch = 2 if batch == "dynamic" else batch
    # Example sizes of k and k + 1 multiples: distinct, not 1 (a size-1 dimension gets specialised),
    # and no smaller than the pipeline shows the network (pipeline.min_side).
    k = max(2, -(-min_side(card) // card.multiple))
    height, width = (fixed_size(card),) * 2 if fixed_size(card) else (k * card.multiple, (k + 1) * card.multiple)
    examples = tuple(torch.from_numpy(x) for x in _example_inputs(card, example_batch, height, width))
    notes: list[str] = []
    if opset is not None and opset < MIN_DYNAMO_OPSET:
        exporter = "torchscript"
        notes.append(f"opset {opset} < {MIN_DYNAMO_OPSET}: used the TorchScript exporter (dynamo writes opset >= 18)")
    else:
        exporter = "dynamo"
    say(f"exporting {card.name} ({card.arch}) with the {exporter} exporter ...")
    with torch.no_grad():
        try:
            model = (_export_dynamo if exporter == "dynamo" else _export_torchscript)(net, card, examples, batch, opset)
        except Exception as e:  # noqa: BLE001 - any exporter failure: fall back / report in one line
            if exporter != "dynamo":
                raise TranslateError(f"ONNX export of {card.name} failed: {_first_line(e)}") from e
            notes.append(f"the dynamo exporter failed ({_first_line(e)}); used the TorchScript exporter")
            exporter = "torchscript"
            try:
                model = _export_torchscript(net, card, examples, batch, opset)
            except Exception as e2:  # noqa: BLE001
                raise TranslateError(f"ONNX export of {card.name} failed with both exporters: {_first_line(e2)}") from e2
    actual_opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset is not None and actual_opset != opset:
        raise TranslateError(f"--opset {opset}: the exporter wrote opset {actual_opset}; use --opset {actual_opset} or newer")
    precision = "fp16" if fp16 else "fp32"
    if fp16:
        model = _to_fp16(model)
    elif cpu_rewrites:
        from translate.export.graph_rewrite import phase_split_convolutions

        rewritten = phase_split_convolutions(model)
        if rewritten:
            notes.append(f"few-channel convolutions computed in four phases for onnxruntime's CPU layout: "
                         f"{', '.join(rewritten)}")
        if int8:  # before the fp32 verification below, so PyTorch checks the graph that gets quantised
            from translate.export.graph_rewrite import phase_split_transposed_convolutions

            transposed = phase_split_transposed_convolutions(model)
            if transposed:
                notes.append(f"transposed convolutions computed as four phase convolutions, which onnxruntime "
                             f"runs in int8 (it has no integer ConvTranspose): {len(transposed)} of them")
    metadata = build_metadata(card, exporter=exporter, opset=actual_opset, precision=precision, batch=batch,
                              source_name=source_name or card.name, source_sha256=source_sha256)
    data = _finish(model, card, metadata)

    say("verifying onnxruntime against PyTorch ...")
    checks = _verify(data, net, card, batch, verify_images)
    # A card may loosen the fp32 check (community transformers: onnxruntime's attention matmuls
    # differ from PyTorch's by ~2e-4 at batch 1, see translate.models.community.EXPORT_TOLERANCE).
    tolerance = max(TOLERANCE[precision], float(card.extra.get("export_tolerance", 0.0)))
    worst = max(d for _, d in checks)
    if not worst <= tolerance:
        detail = ", ".join(f"{what}: {d:.2e}" for what, d in checks)
        raise TranslateError(f"export of {card.name} not written: onnxruntime differs from PyTorch by {worst:.2e} "
                             f"> {tolerance:g} ({detail})")
    report = None
    if int8:
        # Quantised from the fp32 graph just verified against PyTorch; the gate then measures
        # int8 against that fp32 graph, so the two checks chain: PyTorch -> fp32 -> int8.
        from translate.export.quantize import DEFAULT_GATE_DB, DEFAULT_METHOD, quantize_int8

        quantized, report = quantize_int8(
            data, card, calibration, int8_check, method=int8_method or DEFAULT_METHOD,
            gate_db=DEFAULT_GATE_DB if int8_gate_db is None else int8_gate_db, progress=say)
        precision = "int8"
        metadata = dict(metadata, precision=precision, int8=report.to_metadata())
        data = _finish(onnx.load_from_string(quantized), card, metadata)
    atomic_write_bytes(output, data, protect=read)
    return ExportResult(path=output, exporter=exporter, opset=actual_opset, precision=precision, batch=batch,
                        tolerance=tolerance, size_bytes=len(data), checks=checks, notes=notes, int8=report)


def _check_int8_options(fp16: bool, int8: bool, calibration: str | os.PathLike | None,
                        int8_check: str | os.PathLike | None, int8_method: str | None,
                        int8_gate_db: float | None) -> None:
    """One-line errors for int8 options that contradict each other, before the (slow) export."""
    if not int8:
        given = [name for name, value in (("--calibration", calibration), ("--int8-check", int8_check),
                                          ("--int8-method", int8_method), ("--int8-gate", int8_gate_db))
                 if value is not None]
        if given:
            raise TranslateError(f"{', '.join(given)} only apply with --int8")
        return
    if fp16:
        raise TranslateError("--int8 and --fp16 exclude each other: int8 is for CPUs, fp16 for GPUs")
    if calibration is None:
        raise TranslateError("--int8 needs --calibration DIR: a folder of real images the model takes as input")
    from translate.export.quantize import DEFAULT_GATE_DB, DEFAULT_METHOD, check_options

    # Bad folders or values fail now, not after the export.
    check_options(calibration, int8_check, int8_method or DEFAULT_METHOD,
                  DEFAULT_GATE_DB if int8_gate_db is None else int8_gate_db)


def _finish(model: "onnx.ModelProto", card: ModelCard, metadata: dict[str, Any]) -> bytes:
    """Embed ``metadata`` and the doc string, run onnx.checker's full check, serialise."""
    import onnx

    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    model.doc_string = f"{card.name}: {card.description}".strip(": ")
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise TranslateError(f"the exported ONNX model of {card.name} does not pass onnx.checker: {_first_line(e)}") from e
    return model.SerializeToString()


def export_model(spec: str, output: str | os.PathLike, *, direction: str | None = None,
                 weights_file: str | None = None, arch: str | None = None, norm: str | None = None,
                 **options: Any) -> ExportResult:
    """Resolve ``spec`` as `translate run` does (:func:`translate.models.loading.load_model`) and
    export it with :func:`export_onnx` (``options``: fp16, opset, batch, verify_images, progress and
    the int8 options)."""
    from translate.models.loading import load_model, source_weights_file

    if str(spec).lower().endswith(".onnx"):
        raise TranslateError(f"{spec}: is already an ONNX model; export takes a zoo name or a PyTorch checkpoint")
    # Checked before the (possibly long) load; a zoo file is only on disk after load_model fetched it.
    output = _check_output(output, (source_weights_file(spec, weights_file), *options.get("verify_images", ())))
    _check_int8_options(options.get("fp16", False), options.get("int8", False), options.get("calibration"),
                        options.get("int8_check"), options.get("int8_method"), options.get("int8_gate_db"))
    net, card = load_model(spec, direction=direction, weights_file=weights_file, arch=arch, norm=norm, device="cpu")
    return export_onnx(net, card, output, source_name=str(spec), source_file=source_weights_file(spec, weights_file),
                       **options)


__all__ = [
    "ExportResult", "METADATA_KEY", "TOLERANCE", "build_metadata", "export_model", "export_onnx", "fixed_size",
    "input_channels", "input_names", "output_names", "value_range",
]
