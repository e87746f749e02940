"""`translate eval TASK --model M --data DIR [--json]`: benchmark a model (PSNR / SSIM).

Tasks are entries of :data:`TASKS`: a help line, a function adding the task's own options and a
function running :mod:`translate.eval.restoration` or :mod:`translate.eval.translation` on the parsed
arguments. Adding a task (e.g. derain, inpaint) is one entry here plus one ``evaluate_<task>`` function there.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any, Callable

from translate.errors import TranslateError


@dataclass(frozen=True)
class EvalTask:
    """One `translate eval` subcommand: its help, its extra options and how it runs."""

    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], Any]  # returns a translate.eval.report.EvalReport
    data_required: bool = True  # False: the task has other ways to name its data (derain: --input / --target)


def _sr_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", type=int, default=4, choices=(2, 3, 4), help="upscaling factor (default 4)")
    p.add_argument("--no-bicubic", dest="bicubic", action="store_false", help="skip the bicubic baseline row")


def _sr_run(args: argparse.Namespace) -> Any:
    from translate.eval.restoration import evaluate_sr

    if args.model is None and not args.bicubic:
        raise TranslateError("nothing to evaluate: give --model or drop --no-bicubic")
    return evaluate_sr(args.model, args.data, args.scale, device=args.device, tile=args.tile,
                       tile_overlap=args.tile_overlap, bicubic=args.bicubic)


def _derain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", help="folder of rainy images (instead of --data DIR/rain)")
    p.add_argument("--target", help="folder of clean images (instead of --data DIR/norain)")


def _derain_run(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from translate.eval.restoration import evaluate_derain

    if (args.input is None) != (args.target is None):
        raise TranslateError("give both --input (rainy folder) and --target (clean folder), or --data DIR with "
                             "rain/ and norain/")
    if args.input is None:
        if args.data is None:
            raise TranslateError("give --input DIR_RAIN --target DIR_CLEAN, or --data DIR with rain/ and norain/")
        from translate.data.layouts import DERAIN

        args.input, args.target = (str(Path(args.data) / name) for name in DERAIN.folders)  # rain/, norain/
    return evaluate_derain(args.model, args.input, args.target, device=args.device, tile=args.tile,
                           tile_overlap=args.tile_overlap)


def _inpaint_run(args: argparse.Namespace) -> Any:
    from translate.eval.restoration import evaluate_inpaint

    return evaluate_inpaint(args.model, args.data, device=args.device)


def _translation_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--direction", choices=("AtoB", "BtoA"),
                   help="which half of the A|B files is the input (default: the model card's direction)")
    p.add_argument("--palette", help="score outputs as label maps with this palette: a name (facades) or a JSON "
                                     "file (default: the model card's palette; 'none': score as photos)")
    p.add_argument("--train-data", help="A|B training split for the nearest-neighbour and majority-class "
                                        "baselines (default: train/ beside --data)")
    p.add_argument("--fid", action="store_true", help="also FID and KID against the real targets (photos; needs "
                                                      "translate-gan[fid] and the Inception weights, downloaded once)")
    p.add_argument("--inception-weights", metavar="FILE", help="Inception weights file for --fid instead of the "
                                                               "cached download")
    p.add_argument("--predictions", metavar="DIR", help="also score outputs made elsewhere (another tool's test "
                                                        "results): one image per test file, named like it")
    p.add_argument("--prediction-suffix", default="", metavar="S",
                   help="--predictions file names are the test file's stem + S, any extension (e.g. _fake_B for "
                        "the reference implementation's test.py results)")
    p.add_argument("--bn-train-mode", action="store_true",
                   help="run --model as the reference pix2pix test.py does without --eval: batch norm on each "
                        "image's own statistics, dropout active (random outputs); default: eval mode")


def _translation_run(args: argparse.Namespace) -> Any:
    from translate.eval.translation import evaluate_translation

    return evaluate_translation(args.model, args.data, direction=args.direction, palette=args.palette,
                                train_data=args.train_data, fid=args.fid, inception_weights=args.inception_weights,
                                device=args.device, tile=args.tile, tile_overlap=args.tile_overlap,
                                predictions=args.predictions,
                                prediction_suffix=args.prediction_suffix, bn_train_mode=args.bn_train_mode)


TASKS: dict[str, EvalTask] = {
    "sr": EvalTask(
        help="super-resolution: PSNR / SSIM (Y and RGB) of a model and of bicubic",
        description="Super-resolution benchmark as in the SRResNet/SRGAN tables: HR images cropped to a multiple of "
                    "the scale, LR made with MATLAB bicubic imresize (uint8), PSNR and SSIM on Y (MATLAB BT.601) and "
                    "RGB with `scale` border pixels cropped, per image and mean, for the model and for bicubic.",
        add_arguments=_sr_arguments, run=_sr_run),
    "derain": EvalTask(
        help="de-raining: PSNR / SSIM (Y and RGB) of a model and of the rainy input",
        description="De-raining benchmark (Rain100L / Rain100H convention): rainy images matched to clean targets "
                    "by name (rain-001.png <-> norain-001.png, or the same name), PSNR and SSIM on Y (MATLAB BT.601) "
                    "and RGB, per image and mean, for the model and for the untouched input.",
        add_arguments=_derain_arguments, run=_derain_run, data_required=False),
    "inpaint": EvalTask(
        help="inpainting: PSNR / L1 inside a 64x64 centre hole, model vs mean fill vs OpenCV Telea",
        description="Inpainting benchmark (Context Encoders' setting): the centre 128x128 crop of each image with "
                    "its 64x64 centre hole; PSNR (RGB) and mean L1 (in [0, 1]) inside the hole, per image and mean, "
                    "for the model, the mean colour of the known pixels and cv2.inpaint (Telea, radius 5).",
        add_arguments=lambda p: None, run=_inpaint_run),
    "translation": EvalTask(
        help="paired translation: label-map accuracy / IoU, or photo PSNR / SSIM / L1 (+ FID / KID), with baselines",
        description="Paired translation benchmark on a test split of A|B images. Label-map targets (--palette, or "
                    "the model card's): every output and ground-truth pixel is mapped to the nearest palette colour; "
                    "per-pixel accuracy, mean class accuracy and mean class IoU pooled over the split (the CycleGAN "
                    "paper's photo -> labels protocol), next to the majority class and nearest-neighbour retrieval "
                    "of a training label map. Photo targets: PSNR / SSIM (RGB) and L1 per image, optionally FID / "
                    "KID, next to the input itself and nearest-neighbour retrieval of a training photo.",
        add_arguments=_translation_arguments, run=_translation_run),
}

EPILOG = """examples:
  translate eval sr --model sr-x4 --data ../shared/data/sr/Set5 --scale 4
  translate eval sr --data ../shared/data/sr/Set14              (bicubic only)
  translate eval sr --model runs/sr-x4 --data Set5 --json > set5.json
  translate eval derain --model derain --input Rain100L/rain --target Rain100L/norain
  translate eval inpaint --model inpaint --data ../shared/data/sr/B100
  translate eval translation --model facades-photo2label --data ../shared/data/paired/facades/test
  translate eval translation --model facades-label2photo --data ../shared/data/paired/facades/test --fid"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="benchmark a model (PSNR / SSIM, label accuracy / IoU, FID)", epilog=EPILOG,
                       description="Score a model on a benchmark folder, per image and on average.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    tasks = p.add_subparsers(dest="eval_task", metavar="TASK")
    for name, task in TASKS.items():
        t = tasks.add_parser(name, help=task.help, description=task.description)
        t.add_argument("--model", help="zoo name, run folder, checkpoint, .safetensors or .onnx file "
                                       "(omitted: baselines only)")
        t.add_argument("--data", required=task.data_required, help="folder (or glob) of benchmark images")
        t.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
        t.add_argument("--tile", type=int, default=0, help="run the model in tiles of N px (0: whole image)")
        t.add_argument("--tile-overlap", type=int, default=32,
                       help="overlap between tiles in px (default 32; at most half of --tile)")
        t.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
        t.add_argument("--summary", action="store_true", help="print only the means, not every image")
        task.add_arguments(t)
        t.set_defaults(func=handle, eval_run=task.run)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def handle(args: argparse.Namespace) -> int:
    from translate.eval.report import format_report

    from translate.run.pipeline import check_tiling

    try:  # the rule of every entry point, before any model loads or image is read
        check_tiling(args.tile, args.tile_overlap)
    except ValueError as e:
        raise TranslateError(str(e)) from None
    report = args.eval_run(args)
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report, per_image=not args.summary))
    return 0
