"""`translate run MODEL INPUT [-o OUT]`: translate a file, a folder or a glob of images and videos."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from translate.errors import TranslateError, is_out_of_memory, printable
from translate.fileio import FileSet, check_can_create, check_not_overwriting
from translate.imageio import IMAGE_EXTENSIONS, check_format
from translate.models.cards import model_tag
from translate.nets.architectures import NORMS
from translate.run.video import VIDEO_EXTENSIONS, check_video_format, is_video

if TYPE_CHECKING:
    from translate.run.budget import WorkBudget
    from translate.run.pipeline import Translator

AUTO_EXT = "auto"
# Image formats `--ext auto` writes back as they came: what an input of the format can hold, its
# output holds too (PNG / TIFF: alpha and 16 bits, WebP: alpha, JPEG: neither). BMP (alpha that
# its writer drops) and PPM / PGM (16 bits) become PNG.
_AUTO_KEPT = (".png", ".tif", ".tiff", ".webp", ".jpg", ".jpeg")

# An -o whose last suffix looks like a file format (".png", ".gif", ".tiff") names a file, not
# a folder to create; "results.v2" stays a folder name.
_FILE_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="translate images and videos with a model",
        description="Translate images with a zoo model (see `translate zoo list`), a checkpoint or "
                    "run folder from `translate train`, an official .pth file, a shipped "
                    ".safetensors model, an exported .onnx file or a community super-resolution model "
                    "(ESRGAN, Real-ESRGAN, SwinIR, HAT, SPAN ... .pth / .safetensors, through spandrel). "
                    "Output size = input size "
                    "(times the model's scale); alpha is kept. Inpainting models fill the white region of --mask. "
                    "Videos and animated GIF / WebP go frame by frame (see the video options).")
    p.add_argument("model", help="zoo name, checkpoint / run folder, .pth, .safetensors (ours, official or "
                   "community) or .onnx file")
    p.add_argument("input", help="an image or video file (.mp4, .mkv, .mov, .webm, .avi, animated .gif / .webp), "
                   "a folder of them or a glob pattern (quote it)")
    p.add_argument("-o", "--output", help="output file (one input) or folder; default: next to each "
                   "input as <name>_<model>.png (a folder input gets a sibling folder <folder>_<model>)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N, mps (Apple GPUs); for .onnx "
                   "models also tensorrt, and coreml / dml / openvino where the installed onnxruntime offers them")
    add_model_options(p)
    p.add_argument("--tile", type=int, default=0, help="process in tiles of N px (bounded memory); 0 = whole image")
    p.add_argument("--tile-overlap", type=int, default=32,
                   help="overlap between tiles in px (default 32; at most half of --tile)")
    p.add_argument("--max-memory-mb", type=float, metavar="MB", help="skip an image whose estimated peak memory "
                   "(whole-image buffers + the network's working set per tile) is more than this (default: this "
                   "machine's memory); checked from the file's header, before it is decoded")
    p.add_argument("--ext", default=".png", help="format of outputs named by translate (without -o FILE): auto (the "
                   "input's format; PNG for .bmp / .ppm / .pgm inputs, which could lose alpha or 16 bits), png "
                   "(default), jpg, webp, tif, ...")
    p.add_argument("--suffix", help="output names are <name>_<suffix>.<ext> (default suffix: the model's name; "
                   "'' for <name>.<ext>)")
    p.add_argument("--outscale", type=float, metavar="F", help="final scale of the output, any number (e.g. 3.5 with "
                   "a 4x model): the model runs at its own scale, then Lanczos (area when shrinking) resizes to "
                   "F x the input size")
    p.add_argument("--precision", default="fp32", metavar="fp32|fp16|bf16", help="PyTorch models: fp32 (default), fp16 "
                   "(CUDA / MPS) or bf16 (CUDA, and CPUs that support it); .onnx models keep their exported precision")
    p.add_argument("--half", action="store_const", const="fp16", dest="precision", help="same as --precision fp16")
    p.add_argument("--bn-train-mode", action="store_true", help="PyTorch models: run as the reference pix2pix "
                   "test.py does without --eval (the pix2pix paper's protocol): batch norm on each image's own "
                   "statistics and dropout active, so outputs vary from run to run; default: eval mode (running "
                   "statistics, no dropout)")
    video = p.add_argument_group("videos", "a video keeps its frame rate, frame count, rotation and audio; "
                                 "its output keeps the input's container (-o NAME.mkv etc. picks another)")
    video.add_argument("--batch", type=int, default=1, help="frames per model call (default 1; more is faster on "
                       "a GPU, uses more memory)")
    video.add_argument("--codec", help="video encoder (default: libx264 for .mp4 .m4v .mov .mkv .avi, libvpx-vp9 for "
                       ".webm; e.g. libx265, ffv1 for lossless)")
    video.add_argument("--crf", type=int, help="constant-quality level of libx264 / libx265 / libvpx-vp9 / libsvtav1 "
                       "(default 18 for H.264; lower = better, 0 = lossless)")
    p.add_argument("--mask", help="inpainting models: the hole mask (white = hole, the image's size), or a folder "
                   "of masks named like the inputs")
    p.set_defaults(func=run)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """The options that say how to resolve MODEL (shared by `run` and `export`)."""
    p.add_argument("--direction", choices=("AtoB", "BtoA"), help="which generator of a CycleGAN checkpoint")
    p.add_argument("--weights", help="use this weights file for a zoo model instead of downloading")
    p.add_argument("--arch", help="architecture of a bare .pth when its keys do not tell "
                   "(resnet_9blocks, resnet_6blocks, unet_256, unet_128)")
    p.add_argument("--norm", choices=NORMS, help="normalisation of a bare .pth")


def plan_outputs(inputs: list[Path], input_spec: str, output: str | None, tag: str, ext: str,
                 read: list[Path | None] = (), suffix: str | None = None) -> list[Path]:
    """Where each input's result goes; never onto a file the run reads (the ``inputs``, and the
    masks / model file in ``read``), never a folder named like a file.

    Outputs named here are ``<stem>_<suffix><ext>`` (``suffix`` None: the model ``tag``; empty:
    ``<stem><ext>``); ``ext`` ``auto`` keeps each image's format where it can hold everything an
    input of it can carry (:func:`_output_ext`).

    ``-o NAME.EXT`` (a suffix that looks like a format) is a file: refused for several inputs
    and for a format that cannot be written, instead of silently becoming a folder. An
    existing folder, a name ending in ``/`` or a name without such a suffix is a folder.
    """
    try:
        ext = ext if ext == AUTO_EXT else check_format(ext)
    except TranslateError as e:
        raise TranslateError(f"--ext {ext}: {e} (or auto)") from None
    if suffix is not None and (os.sep in suffix or "/" in suffix or suffix in (".", "..")):
        raise TranslateError(f"--suffix {suffix!r}: must be part of a file name, without '/'")
    name_end = "" if suffix == "" else f"_{tag if suffix is None else suffix}"
    if output is not None:
        out = Path(output)
        as_file = not os.path.isdir(out) and not output.endswith(("/", os.sep)) and _FILE_SUFFIX.fullmatch(out.suffix)
        if as_file:
            if len(inputs) != 1:
                raise TranslateError(f"-o {out}: names a file but there are {len(inputs)} inputs; give a folder "
                                     f"(e.g. -o {out.with_suffix('')})")
            try:
                check_video_format(out.suffix) if is_video(inputs[0]) else check_format(out.suffix)
            except TranslateError as e:
                raise TranslateError(f"-o {out}: {e} (for a folder of that name, create it first)") from None
            targets = [out]
        else:
            if os.path.exists(out) and not os.path.isdir(out):
                raise TranslateError(f"-o {out}: is a file but there are {len(inputs)} inputs; give a folder")
            targets = [out / f"{p.stem}{name_end}{_output_ext(p, ext)}" for p in inputs]
    elif os.path.isdir(input_spec):
        folder = Path(input_spec)
        targets = [folder.parent / f"{folder.name}_{tag}" / f"{p.stem}{name_end}{_output_ext(p, ext)}" for p in inputs]
    else:
        targets = [p.with_name(f"{p.stem}{name_end}{_output_ext(p, ext)}") for p in inputs]
    protected = FileSet([*inputs, *read])
    for t in targets:
        check_not_overwriting(t, protected)
    if len(set(targets)) != len(targets):
        raise TranslateError("two inputs have the same name and would write the same output; use -o with a folder per input")
    for folder in dict.fromkeys(t.parent for t in targets):  # fail now, not after loading the model
        check_can_create(folder / targets[0].name)
    return targets


def _output_ext(path: Path, ext: str) -> str:
    """The suffix of ``path``'s output in a folder: ``ext`` for an image, the input's own
    container for a video (``.MP4`` -> ``.mp4``). ``ext`` ``auto``: the image's own format
    where writing it back keeps everything such a file can hold (alpha, 16 bits), else PNG."""
    if is_video(path):
        return path.suffix.lower()
    if ext == AUTO_EXT:
        return path.suffix.lower() if path.suffix.lower() in _AUTO_KEPT else ".png"
    return ext


def plan_masks(inputs: list[Path], mask: str | None) -> list[Path | None]:
    """The mask file of each input: ``mask`` itself, or for a folder the file with the input's stem."""
    if mask is None:
        return [None] * len(inputs)
    folder = Path(mask)
    if not os.path.isdir(folder):
        if not os.path.isfile(folder):
            raise TranslateError(f"--mask {mask}: no such file or folder")
        return [folder] * len(inputs)
    by_stem = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS}
    missing = [p.name for p in inputs if p.stem not in by_stem]
    if missing:
        raise TranslateError(f"--mask {mask}: no mask named like {missing[0]} (masks are matched to inputs by name)")
    return [by_stem[p.stem] for p in inputs]


class FileJob(NamedTuple):
    """One file of the run: the input, where its result goes and its hole mask (None without ``--mask``)."""

    source: Path
    output: Path
    mask: Path | None


@dataclass(frozen=True)
class RunPlan:
    """What ``translate run`` does, decided from the arguments before the model loads: the model
    and the options it loads with, every file (input, output, mask), this process's share of them
    under ``torchrun``, and the tiling, ``--outscale`` and video options each file is translated with."""

    model: str
    load_options: dict[str, Any]  # keyword arguments of translate.run.inference.load: device, precision ...
    files: list[FileJob]  # every input of the run, in order, with its output and mask
    share: list[FileJob]  # the files this process translates (all of them without torchrun)
    masks_given: bool  # --mask was given
    tile: int
    tile_overlap: int
    outscale: float | None
    budget: WorkBudget  # the work one image may cause (pixels, tiles, memory), checked before it is decoded
    video_batch: int  # frames per model call
    codec: str | None
    crf: int | None

    @property
    def destination(self) -> Path:
        """Where the summary says the results went: the output file of a single input, else the
        folder of the first output."""
        return self.files[0].output if len(self.files) == 1 else self.files[0].output.parent


def plan_run(args: argparse.Namespace) -> RunPlan:
    """Check the arguments of ``translate run`` and decide every file's output and mask, so that a
    bad option, a missing input or mask, an output that would overwrite something or cannot be
    created, and a bad ``--codec`` / ``--crf`` fail here, before any model is loaded or downloaded."""
    from translate.imageio import list_images
    from translate.models.loading import source_weights_file
    from translate.run.budget import run_budget
    from translate.run.pipeline import check_outscale, check_tiling
    from translate.run.video import choose_encoder

    try:
        check_tiling(args.tile, args.tile_overlap)
    except ValueError as e:
        raise TranslateError(str(e)) from None
    if args.batch < 1:
        raise TranslateError(f"--batch must be >= 1, got {args.batch}")
    inputs = list_images(args.input, (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS), what="image files or videos")
    masks = plan_masks(inputs, args.mask)
    check_outscale(args.outscale)
    if args.max_memory_mb is not None and not (math.isfinite(args.max_memory_mb) and args.max_memory_mb > 0):
        raise TranslateError(f"--max-memory-mb must be a positive number of MiB, got {args.max_memory_mb}")
    budget = run_budget(None if args.max_memory_mb is None else int(args.max_memory_mb * 2**20))
    targets = plan_outputs(inputs, args.input, args.output, model_tag(args.model), args.ext,
                           read=[*dict.fromkeys(masks), source_weights_file(args.model, args.weights)],
                           suffix=args.suffix)
    if args.codec or args.crf is not None:  # a bad encoder fails before the model is loaded
        videos = [dst for src, dst in zip(inputs, targets) if is_video(src)]
        if not videos:
            raise TranslateError("--codec / --crf apply to videos only; the input has none")
        for suffix in dict.fromkeys(dst.suffix.lower() for dst in videos):
            choose_encoder(suffix, args.codec, args.crf)
    files = [FileJob(*job) for job in zip(inputs, targets, masks)]
    return RunPlan(
        model=args.model,
        load_options={"device": args.device, "direction": args.direction, "weights_file": args.weights,
                      "arch": args.arch, "norm": args.norm, "precision": args.precision,
                      "bn_train_mode": args.bn_train_mode},
        files=files, share=_share_of_this_process(files), masks_given=args.mask is not None,
        tile=args.tile, tile_overlap=args.tile_overlap, outscale=args.outscale, budget=budget,
        video_batch=args.batch, codec=args.codec, crf=args.crf,
    )


def _share_of_this_process(files: list[FileJob]) -> list[FileJob]:
    """Files ``rank::world_size`` of ``files`` under ``torchrun`` (from its environment, without
    joining the process group); a plain single process (no ``WORLD_SIZE``) gets all and needs no torch."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return files
    from translate.train import distributed

    return distributed.shard(files)


class _ProcessGroup:
    """The ``torchrun`` process group of a sharded run, joined on creation, and the counts summed
    over it; a plain single process (no ``WORLD_SIZE``) is the main one and needs no torch."""

    def __init__(self) -> None:
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        self.is_main = True
        if self.distributed:
            from translate.train import distributed

            self.is_main = distributed.setup().is_main

    def totals(self, counts: list[int]) -> list[int]:
        if not self.distributed:
            return counts
        from translate.train import distributed

        try:
            return distributed.all_sum(counts)  # the last collective of a sharded run
        finally:
            # Leave the process group: exiting with gloo's threads alive aborts the process.
            distributed.teardown()


@dataclass
class _Tally:
    """How this process's share went: files translated and failed, the error that stopped the
    batch (one that is the same for every remaining file) and the stop signal that arrived, if any."""

    done: int = 0
    failed: int = 0
    stopped_by: TranslateError | None = None
    stop_signal: str = ""  # SIGINT / SIGTERM when one arrived


def run(args: argparse.Namespace) -> int:
    """``translate run``: plan every file from the arguments (all checks happen there), then load
    the model and translate them; returns the exit code."""
    return execute(plan_run(args))


def execute(plan: RunPlan) -> int:
    """Load the model of ``plan``, translate this process's share of its files (images and videos)
    and print the summary; returns the exit code: 0, 1 when a file failed, 130 when stopped by a
    signal, or the error's own code when an error stopped the batch before any file was done."""
    translator = load_translator(plan)
    group = _ProcessGroup()  # under torchrun each process translates every world_size-th file
    tally = translate_files(translator, plan, show_progress=len(plan.files) != 1 and group.is_main)
    # A signal during the last file changed nothing.
    if tally.stop_signal and tally.done + tally.failed < len(plan.share):
        print(f"translate: stopped by {tally.stop_signal} after {tally.done} of {len(plan.share)} files; every file "
              f"written is complete, run the command again for the rest", file=sys.stderr)
        return 130
    done, failed = group.totals([tally.done, tally.failed])
    if not group.is_main:
        return 1 if failed else 0
    print(printable(f"{done} translated, {failed} failed -> {plan.destination}"))
    if tally.stopped_by is not None and not done:  # nothing could be done at all: an error, not a partial batch
        return tally.stopped_by.exit_code
    return 1 if failed else 0


def load_translator(plan: RunPlan) -> Translator:
    """Load the model of ``plan`` and check it fits the plan: ``--mask`` given exactly for an
    inpainting model, a tile size the model can take; warns when the model prefers whole images."""
    from translate.run.inference import load

    translator = load(plan.model, **plan.load_options)
    if translator.needs_mask and not plan.masks_given:
        raise TranslateError(f"{plan.model} is an inpainting model: give the hole with --mask MASK.png (white = hole)")
    if plan.masks_given and not translator.needs_mask:
        raise TranslateError(f"--mask applies to inpainting models only; {plan.model} is a {translator.card.task} model")
    translator.check_tiling(plan.tile, plan.tile_overlap)
    if plan.tile and translator.card.extra.get("tiling", "supported") != "supported":
        print(f"translate: warning: {translator.card.name} ({translator.card.arch}) works best on whole images "
              f"(tiling {translator.card.extra['tiling']}); --tile may leave seams", file=sys.stderr)
    return translator


def translate_files(translator: Translator, plan: RunPlan, show_progress: bool) -> _Tally:
    """Translate this process's share of the files of ``plan`` one after the other, after removing
    temp files a killed earlier run left next to their outputs. A file that fails (or runs out of
    memory) is skipped in one line; an error that is the same for every remaining file stops the
    batch, and so does SIGTERM / Ctrl-C, once the current file is done."""
    from tqdm import tqdm

    from translate.resilience import StopSignals, remove_stale_temp_files_of
    from translate.run.video import Stopped

    jobs = plan.share
    tally = _Tally()
    # Temp files of these very targets can only be left by a killed earlier run (each process
    # cleans its own share only, so a torchrun peer's live temp files are never touched).
    remove_stale_temp_files_of(job.output for job in jobs)
    # disable=None: tqdm draws the bar on a terminal only, so logs and pipes get clean lines.
    bar = tqdm(jobs, desc="translate", unit="img", disable=None if show_progress else True, file=sys.stderr)
    with StopSignals() as stop:  # SIGTERM / Ctrl-C: finish the current file, then stop cleanly
        for job in bar:
            if stop.requested:
                break
            try:
                translate_input(translator, plan, job, stop=lambda: stop.requested)
                tally.done += 1
            except Stopped:  # Ctrl-C / SIGTERM in the middle of a video: nothing of it was kept
                break
            except TranslateError as e:
                tally.failed += 1
                if e.stop_batch:  # the same for every remaining file: say it once and stop
                    tally.failed, tally.stopped_by = len(jobs) - tally.done, e
                    bar.close()
                    print(f"translate: error: {printable(e)} (stopped after {tally.done} of {len(jobs)} files)",
                          file=sys.stderr)
                    break
                reason = str(e).removeprefix(f"{job.source}: ")
                tqdm.write(printable(f"translate: skipped {job.source}: {reason}"), file=sys.stderr)
            except (MemoryError, RuntimeError) as e:
                if not isinstance(e, MemoryError) and not is_out_of_memory(e):
                    raise
                tally.failed += 1
                tqdm.write(printable(f"translate: skipped {job.source}: out of memory; process it in tiles, e.g. "
                                     f"--tile 512"), file=sys.stderr)
    bar.close()
    tally.stop_signal = stop.name
    return tally


def translate_input(translator: Translator, plan: RunPlan, job: FileJob, stop: Callable[[], bool]) -> None:
    """Translate one input of ``plan`` into its output: a video (or animated image) frame by frame
    with the plan's video options, ``stop`` polled between frames; an image in one go, once its
    header shows its work is within the plan's budget (:func:`translate.run.budget.read_within`)."""
    from translate.run.budget import read_within
    from translate.run.video import translate_video

    if is_video(job.source):
        translate_video(translator, job.source, job.output, tile=plan.tile, tile_overlap=plan.tile_overlap,
                        mask=job.mask, outscale=plan.outscale, batch=plan.video_batch, codec=plan.codec,
                        crf=plan.crf, stop=stop, budget=plan.budget)
    else:
        def read_within_budget(path: str | Path) -> Any:  # the decoded Image
            return read_within(path, plan.budget, translator.card, tile=plan.tile, tile_overlap=plan.tile_overlap,
                               outscale=plan.outscale)

        translator.translate_file(job.source, job.output, tile=plan.tile, tile_overlap=plan.tile_overlap,
                                  mask=job.mask, outscale=plan.outscale, reader=read_within_budget)
