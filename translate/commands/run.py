"""`translate run MODEL INPUT [-o OUT]`: translate a file, a folder or a glob of images."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from translate.errors import TranslateError
from translate.imageio import IMAGE_EXTENSIONS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="translate images with a model",
        description="Translate images with a zoo model (see `translate zoo list`), a checkpoint or "
                    "run folder from `translate train`, an official .pth file, a shipped "
                    ".safetensors model or an exported .onnx file. Output size = input size "
                    "(times the model's scale); alpha is kept. Inpainting models fill the white region of --mask.")
    p.add_argument("model", help="zoo name, checkpoint / run folder, .pth, .safetensors or .onnx file")
    p.add_argument("input", help="an image file, a folder of images or a glob pattern (quote it)")
    p.add_argument("-o", "--output", help="output file (one input) or folder; default: next to each "
                   "input as <name>_<model>.png (a folder input gets a sibling folder <folder>_<model>)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda (or tensorrt for .onnx)")
    add_model_options(p)
    p.add_argument("--tile", type=int, default=0, help="process in tiles of N px (bounded memory); 0 = whole image")
    p.add_argument("--tile-overlap", type=int, default=32, help="overlap between tiles in px (default 32)")
    p.add_argument("--ext", default=".png", help="output format for folder outputs (default .png)")
    p.add_argument("--mask", help="inpainting models: the hole mask (white = hole, the image's size), or a folder "
                   "of masks named like the inputs")
    p.set_defaults(func=run)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The options that say how to resolve MODEL (shared by `run` and `export`)."""
    p.add_argument("--direction", choices=("AtoB", "BtoA"), help="which generator of a CycleGAN checkpoint")
    p.add_argument("--weights", help="use this weights file for a zoo model instead of downloading")
    p.add_argument("--arch", help="architecture of a bare .pth when its keys do not tell "
                   "(resnet_9blocks, resnet_6blocks, unet_256, unet_128)")
    p.add_argument("--norm", choices=("instance", "batch", "none"), help="normalisation of a bare .pth")


def _model_tag(spec: str) -> str:
    """Short, filename-safe name of the model for output names (``horse2zebra``, ``latest``)."""
    p = Path(spec)
    tag = p.name if p.is_dir() else (p.stem if p.suffix else spec.split("/")[-1])
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tag) or "out"


def plan_outputs(inputs: list[Path], input_spec: str, output: str | None, tag: str, ext: str) -> list[Path]:
    """Where each input's result goes; never onto an input file."""
    ext = ext if ext.startswith(".") else "." + ext
    if ext.lower() not in IMAGE_EXTENSIONS:
        raise TranslateError(f"--ext {ext}: unsupported; use one of {', '.join(IMAGE_EXTENSIONS)}")
    if output is not None:
        out = Path(output)
        if len(inputs) == 1 and out.suffix.lower() in IMAGE_EXTENSIONS and not out.is_dir():
            targets = [out]
        else:
            if out.exists() and not out.is_dir():
                raise TranslateError(f"-o {out}: is a file but there are {len(inputs)} inputs; give a folder")
            targets = [out / f"{p.stem}_{tag}{ext}" for p in inputs]
    elif Path(input_spec).is_dir():
        folder = Path(input_spec)
        targets = [folder.parent / f"{folder.name}_{tag}" / f"{p.stem}_{tag}{ext}" for p in inputs]
    else:
        targets = [p.with_name(f"{p.stem}_{tag}{ext}") for p in inputs]
    sources = {p.resolve() for p in inputs}
    for t in targets:
        if t.resolve() in sources:
            raise TranslateError(f"output {t} would overwrite an input; choose another -o")
    if len(set(targets)) != len(targets):
        raise TranslateError("two inputs have the same name and would write the same output; use -o with a folder per input")
    return targets


def plan_masks(inputs: list[Path], mask: str | None) -> list[Path | None]:
    """The mask file of each input: ``mask`` itself, or for a folder the file with the input's stem."""
    if mask is None:
        return [None] * len(inputs)
    folder = Path(mask)
    if not folder.is_dir():
        if not folder.is_file():
            raise TranslateError(f"--mask {mask}: no such file or folder")
        return [folder] * len(inputs)
    by_stem = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}
    missing = [p.name for p in inputs if p.stem not in by_stem]
    if missing:
        raise TranslateError(f"--mask {mask}: no mask named like {missing[0]} (masks are matched to inputs by name)")
    return [by_stem[p.stem] for p in inputs]


def _is_out_of_memory(e: RuntimeError) -> bool:
    """PyTorch reports a failed allocation as a RuntimeError (CPU) or OutOfMemoryError (CUDA)."""
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text


class _Shards:
    """This process's share of the files under ``torchrun`` (files ``rank::world_size``) and the
    summed counts; a plain single process (no ``WORLD_SIZE``) gets everything and needs no torch."""

    def __init__(self) -> None:
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.is_main = True
        if self.distributed:
            from translate import distributed

            self.is_main = distributed.setup().is_main

    def mine(self, jobs: list) -> list:
        if not self.distributed:
            return jobs
        from translate import distributed

        return distributed.shard(jobs)

    def totals(self, counts: list[int]) -> list[int]:
        if not self.distributed:
            return counts
        from translate import distributed

        try:
            return distributed.all_sum(counts)  # the last collective of a sharded run
        finally:
            # Leave the process group: exiting with gloo's threads alive aborts the process.
            distributed.teardown()


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from translate.imageio import list_images
    from translate.inference import load

    if args.tile < 0 or args.tile_overlap < 0:
        raise TranslateError("--tile and --tile-overlap must be >= 0")
    if args.tile and args.tile_overlap >= args.tile:
        raise TranslateError(f"--tile-overlap ({args.tile_overlap}) must be smaller than --tile ({args.tile})")
    inputs = list_images(args.input)
    targets = plan_outputs(inputs, args.input, args.output, _model_tag(args.model), args.ext)
    translator = load(args.model, device=args.device, direction=args.direction, weights_file=args.weights,
                      arch=args.arch, norm=args.norm)
    if translator.needs_mask and args.mask is None:
        raise TranslateError(f"{args.model} is an inpainting model: give the hole with --mask MASK.png (white = hole)")
    if args.mask is not None and not translator.needs_mask:
        raise TranslateError(f"--mask applies to inpainting models only; {args.model} is a {translator.card.task} model")
    masks = plan_masks(inputs, args.mask)
    jobs = list(zip(inputs, targets, masks))
    shards = _Shards()  # under torchrun each process translates every world_size-th file
    jobs = shards.mine(jobs)
    failed = 0
    bar = tqdm(jobs, desc="translate", unit="img", disable=len(inputs) == 1 or not shards.is_main, file=sys.stderr)
    for src, dst, mask in bar:
        try:
            translator.translate_file(src, dst, tile=args.tile, tile_overlap=args.tile_overlap, mask=mask)
        except TranslateError as e:
            failed += 1
            reason = str(e).removeprefix(f"{src}: ")
            tqdm.write(f"translate: skipped {src}: {reason}", file=sys.stderr)
        except (MemoryError, RuntimeError) as e:
            if not isinstance(e, MemoryError) and not _is_out_of_memory(e):
                raise
            failed += 1
            tqdm.write(f"translate: skipped {src}: out of memory; process it in tiles, e.g. --tile 512",
                       file=sys.stderr)
    done, failed = shards.totals([len(jobs) - failed, failed])
    if not shards.is_main:
        return 1 if failed else 0
    where = targets[0] if len(targets) == 1 else targets[0].parent
    print(f"{done} translated, {failed} failed -> {where}")
    return 1 if failed else 0
