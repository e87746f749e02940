"""`translate export MODEL -o model.onnx`: export a generator to ONNX, verified against PyTorch."""

from __future__ import annotations

import argparse
import sys

from translate.commands.run import add_model_options
from translate.errors import TranslateError
from translate.export.quantize import DEFAULT_GATE_DB, DEFAULT_METHOD, METHODS


def _batch(text: str) -> str | int:
    if text == "dynamic":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 'dynamic' or a positive integer, got '{text}'")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a model to a self-contained ONNX file",
        description="Export a model (zoo name, checkpoint / run folder, .pth or .safetensors, as for "
                    "`translate run`) to one ONNX file with dynamic batch, height and width, in eval mode "
                    "(BatchNorm running statistics, no dropout). The model card is embedded, so "
                    "`translate run model.onnx IMAGE` and translate.run.runtime need nothing else. The "
                    "export is checked against PyTorch with onnxruntime before the file is written.")
    p.add_argument("model", help="zoo name, checkpoint / run folder, .pth or .safetensors file")
    p.add_argument("-o", "--output", help="the ONNX file to write (must end in .onnx); required unless --web is given")
    p.add_argument("--web", metavar="DIR",
                   help="write a static offline web app to the new folder DIR instead: index.html, the JavaScript "
                        "runtime, the model and onnxruntime-web's files (drop an image, before / after, download); "
                        "MODEL may also be an exported .onnx file; serve it with `python -m http.server -d DIR`")
    p.add_argument("--ort-web", metavar="PATH",
                   help="--web: an installed onnxruntime-web (node_modules/onnxruntime-web, its dist folder, or a "
                        "folder whose node_modules holds it; default: the js/ folder's own install)")
    p.add_argument("--web-tile", type=int, default=256, metavar="N",
                   help="--web: the fixed tile size the page uses on WebGPU (default 256)")
    p.add_argument("--fp16", action="store_true",
                   help="float16 weights and activations, float32 inputs/outputs (for GPUs; checked to 2e-2)")
    p.add_argument("--int8", action="store_true",
                   help="int8 weights and activations (static QDQ quantisation, for CPUs); needs --calibration; "
                        "written only if its output stays within --int8-gate of fp32")
    p.add_argument("--calibration", metavar="DIR",
                   help="--int8: folder of real images the model takes as input (every 5th is held out for the "
                        "quality check unless --int8-check is given)")
    p.add_argument("--int8-check", metavar="DIR", help="--int8: held-out images for the quality check")
    p.add_argument("--int8-method", choices=METHODS,
                   help=f"--int8: onnxruntime calibration method (default {DEFAULT_METHOD})")
    p.add_argument("--int8-gate", type=float, metavar="DB", dest="int8_gate_db",
                   help=f"--int8: minimum PSNR of int8 vs fp32 output on every calibration and held-out image "
                        f"(default {DEFAULT_GATE_DB:g} dB)")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's; below 18 uses the "
                   "TorchScript exporter)")
    p.add_argument("--batch", type=_batch, default="dynamic", metavar="dynamic|N",
                   help="dynamic batch size (default) or a fixed one")
    p.add_argument("--verify-image", action="append", default=[], metavar="FILE",
                   help="also compare onnxruntime with PyTorch on this image (repeatable)")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from translate.export.onnx import export_model

    if args.opset is not None and args.opset < 7:
        raise TranslateError(f"--opset {args.opset}: too old; use 17 or newer")
    if args.web is not None:
        return _run_web(args)
    if args.output is None:
        raise TranslateError("give -o FILE.onnx (the ONNX file to write) or --web DIR (a web app folder)")
    result = export_model(
        args.model, args.output, direction=args.direction, weights_file=args.weights, arch=args.arch,
        norm=args.norm, fp16=args.fp16, opset=args.opset, batch=args.batch, verify_images=args.verify_image,
        progress=lambda message: print(message, file=sys.stderr), int8=args.int8, calibration=args.calibration,
        int8_check=args.int8_check, int8_method=args.int8_method, int8_gate_db=args.int8_gate_db,
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    checks = ", ".join(f"{what} {diff:.1e}" for what, diff in result.checks)
    print(f"verified: max abs difference onnxruntime vs PyTorch {result.max_abs_diff:.1e} "
          f"<= {result.tolerance:g} ({checks})")
    if result.int8 is not None:
        print(result.int8.summary())
    print(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB, {result.precision}, opset {result.opset}, "
          f"{result.exporter} exporter, batch {result.batch})")
    return 0


def _run_web(args: argparse.Namespace) -> int:
    """`translate export MODEL --web DIR`: the web app folder (translate.export.web)."""
    from translate.export.web import export_web

    if args.output is not None:
        raise TranslateError("--web DIR writes the model into DIR; leave out -o")
    result = export_web(
        args.model, args.web, ort_web=args.ort_web, webgpu_tile=args.web_tile,
        progress=lambda message: print(message, file=sys.stderr), direction=args.direction, weights_file=args.weights,
        arch=args.arch, norm=args.norm, fp16=args.fp16, opset=args.opset, batch=args.batch,
        verify_images=args.verify_image, int8=args.int8, calibration=args.calibration, int8_check=args.int8_check,
        int8_method=args.int8_method, int8_gate_db=args.int8_gate_db)
    print(f"checked: onnxruntime-web ({result.ort_web}) ran {result.model_file.name} on WASM in Node.js "
          f"({result.check_ms:.0f} ms)")
    print(f"wrote {result.folder} ({result.size_bytes / 1e6:.1f} MB); serve it with "
          f"`python -m http.server -d {result.folder}` and open http://localhost:8000/")
    return 0
