"""`translate convert ...`: turn folders of images into training layouts, and check layouts.

The work is done by :mod:`translate.data.convert`, one module per conversion (imported when its
subcommand runs).
"""

from __future__ import annotations

import argparse
import sys

from translate.data.layouts import LAYOUTS

_EPILOG = ("Inputs are only read. The output folder must lie outside the inputs and be empty, unless "
           "--resume (complete an interrupted run) or --overwrite (replace the files this command writes). "
           "Exit code: 0 all converted, 1 some inputs skipped (listed), 2 nothing converted or bad usage.")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="make training layouts from folders of images, and check them",
        description="Turn folders of images into the layouts the recipes read (pix2pix A|B, CycleGAN "
                    "trainA/trainB, SR HR + LR_xN, de-raining rain/norain, inpainting masks), and check "
                    "a layout before training. Sources are never modified.")

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)
    conv = p.add_subparsers(dest="convert_command", metavar="CONVERT_COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workers", type=int, default=None, metavar="N",
                        help="threads (default: one per CPU, at most 8)")
    mode = common.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true",
                      help="write into a non-empty output folder, replacing the files this command writes")
    mode.add_argument("--resume", action="store_true",
                      help="complete an interrupted run: keep outputs that exist and decode, make the rest")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    images = argparse.ArgumentParser(add_help=False)
    images.add_argument("--ext", default=None,
                        help="output format, e.g. png or jpg (default: jpg for jpg sources, png otherwise)")
    images.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95)")
    both = [common, images]

    def add(name: str, help: str, description: str, parents: list, func) -> argparse.ArgumentParser:
        q = conv.add_parser(name, help=help, description=description, epilog=_EPILOG, parents=parents)
        q.set_defaults(func=func)
        return q

    q = add("combine", "A/ and B/ folders of same-named images -> A|B side-by-side images (pix2pix)",
            "Pair files of A_DIR and B_DIR with the same name (any extension; subfolders such as "
            "train/ val/ test/ are kept) and write them side by side as A|B into OUT_DIR.", both, _combine)
    q.add_argument("a_dir", metavar="A_DIR")
    q.add_argument("b_dir", metavar="B_DIR")
    q.add_argument("out_dir", metavar="OUT_DIR")
    q.add_argument("--resize", action="store_true", help="resize B to A's size when they differ "
                   "(default: skip such pairs)")

    q = add("split", "A|B side-by-side images -> OUT_DIR/A and OUT_DIR/B",
            "Cut each A|B image of AB_DIR in two halves, written to OUT_DIR/A and OUT_DIR/B "
            "(subfolders kept). The inverse of `combine`; lossless with png output.", both, _split)
    q.add_argument("ab_dir", metavar="AB_DIR")
    q.add_argument("out_dir", metavar="OUT_DIR")

    q = add("unpaired", "two folders of images -> trainA, trainB, testA, testB (CycleGAN)",
            "Copy (or hard-link) the images of A_DIR and B_DIR into OUT_DIR/trainA, trainB, testA, testB; "
            "a random --test-fraction of each goes to test. Copies are byte-identical.", [common], _unpaired)
    q.add_argument("a_dir", metavar="A_DIR")
    q.add_argument("b_dir", metavar="B_DIR")
    q.add_argument("out_dir", metavar="OUT_DIR")
    q.add_argument("--test-fraction", type=float, default=0.1, help="share of each folder for test (default 0.1)")
    q.add_argument("--seed", type=int, default=0, help="seed of the train/test draw (default 0)")
    q.add_argument("--link", action="store_true", help="hard-link instead of copying (same file system only)")

    q = add("aligned-from-unpaired", "trainA/trainB of corresponding images -> train/ test/ A|B images",
            "DIR holds trainA/ and trainB/ (and val/test likewise) whose images correspond, by name or "
            "(--by-order) by sorted position; write them as A|B pairs into OUT_DIR/train, OUT_DIR/test.",
            both, _aligned_from_unpaired)
    q.add_argument("src_dir", metavar="DIR")
    q.add_argument("out_dir", metavar="OUT_DIR")
    q.add_argument("--by-order", action="store_true", help="pair the n-th A with the n-th B in sorted order "
                   "(counts must be equal)")
    q.add_argument("--resize", action="store_true", help="resize B to A's size when they differ")

    q = add("sr", "HR images -> HR/ and LR_x<scale>/ (MATLAB bicubic), optionally as patches",
            "Crop each HR image to a multiple of --scale and make its LR image with MATLAB-compatible "
            "bicubic downscaling (antialiased), as the published SR benchmarks do. With --patch, cut both "
            "into aligned sub-images.", both, _sr)
    q.add_argument("hr_dir", metavar="HR_DIR")
    q.add_argument("out_dir", metavar="OUT_DIR")
    q.add_argument("--scale", type=int, default=4, help="downscaling factor (default 4)")
    q.add_argument("--patch", type=int, default=None, help="HR patch size in px (a multiple of --scale)")
    q.add_argument("--stride", type=int, default=None, help="HR patch stride in px (default: --patch)")

    q = add("rain", "clean images -> rain/ + norain/ pairs with synthetic rain streaks",
            "Add synthetic rain streaks to each clean image: OUT_DIR/rain/NAME (rainy) and "
            "OUT_DIR/norain/NAME (clean). Parameters are drawn per image from --seed (light or heavy "
            "rain) unless given.", both, _rain)
    q.add_argument("clean_dir", metavar="CLEAN_DIR")
    q.add_argument("out_dir", metavar="OUT_DIR")
    q.add_argument("--seed", type=int, default=0, help="seed of the per-image parameters and streaks (default 0)")
    q.add_argument("--light-fraction", type=float, default=0.5, help="share of images with light rain (default 0.5)")
    q.add_argument("--density", type=float, help="fraction of pixels seeding a streak, e.g. 0.002 light, 0.008 heavy")
    q.add_argument("--angle", type=float, help="streak angle in degrees from vertical")
    q.add_argument("--length", type=int, help="streak length in px")
    q.add_argument("--width", type=float, help="streak widening (Gaussian sigma, px)")
    q.add_argument("--intensity", type=float, help="opacity of a streak, 0..1")
    q.add_argument("--veil", type=float, help="brightness the mist of heavy rain adds to every pixel, 0..1 "
                   "(drawn: 0 for light rain, up to 0.15 for heavy)")

    q = add("masks", "write inpainting masks (centre, block or strokes)",
            "Write --count masks mask_00001.png ... into OUT_DIR: single-channel png, 255 = hole.",
            [common], _masks)
    q.add_argument("out_dir", metavar="OUT_DIR")
    q.add_argument("--count", type=int, required=True, help="number of masks")
    q.add_argument("--size", type=int, default=256, help="mask height and width in px (default 256)")
    q.add_argument("--kind", choices=("centre", "block", "strokes"), default="centre",
                   help="hole shape (default centre)")
    q.add_argument("--seed", type=int, default=0, help="seed (default 0)")

    q = conv.add_parser(
        "check", help="check a dataset folder before training",
        description="Report corrupt files, missing partners, size mismatches, non-RGB modes and images "
                    "repeated across train and test, each layout's common mistakes (aligned images that are "
                    "not A|B pairs, trainA/ and trainB/ that are paired copies, an SR HR/ of small images, "
                    "rain/norain pairs of the same image, masks that are not black and white), and what the "
                    "recipe will see. Exit code 1 when something would break training (or, with --strict, "
                    "on any warning).")
    q.add_argument("folder", metavar="DIR")
    q.add_argument("--layout", required=True, choices=list(LAYOUTS),
                   help="; ".join(f"{lay.name} ({'/'.join(lay.recipes)}): {lay.summary}" for lay in LAYOUTS.values()))
    q.add_argument("--workers", type=int, default=None, metavar="N", help="threads (default: one per CPU, at most 8)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.add_argument("--strict", action="store_true", help="exit code 1 on warnings too, not only on errors")
    q.set_defaults(func=_check)


def _options(args: argparse.Namespace):
    from translate.data.convert.outputs import ConvertOptions

    return ConvertOptions(ext=getattr(args, "ext", None), quality=getattr(args, "quality", 95),
                          workers=args.workers, overwrite=args.overwrite, resume=args.resume,
                          progress=not args.quiet)


def _finish(report) -> int:
    from translate.errors import printable  # file names may hold newlines or undecodable bytes

    for source, reason in report.skipped:
        print(printable(f"skipped {source}: {reason}"), file=sys.stderr)
    print(printable(report.summary()))
    return report.exit_code


def _combine(args: argparse.Namespace) -> int:
    from translate.data.convert.side_by_side import combine

    return _finish(combine(args.a_dir, args.b_dir, args.out_dir, resize=args.resize, options=_options(args)))


def _split(args: argparse.Namespace) -> int:
    from translate.data.convert.side_by_side import split

    return _finish(split(args.ab_dir, args.out_dir, options=_options(args)))


def _unpaired(args: argparse.Namespace) -> int:
    from translate.data.convert.unpaired import unpaired

    return _finish(unpaired(args.a_dir, args.b_dir, args.out_dir, test_fraction=args.test_fraction,
                            seed=args.seed, link=args.link, options=_options(args)))


def _aligned_from_unpaired(args: argparse.Namespace) -> int:
    from translate.data.convert.side_by_side import aligned_from_unpaired

    return _finish(aligned_from_unpaired(args.src_dir, args.out_dir, by_order=args.by_order,
                                         resize=args.resize, options=_options(args)))


def _sr(args: argparse.Namespace) -> int:
    from translate.data.convert.sr import sr

    return _finish(sr(args.hr_dir, args.out_dir, scale=args.scale, patch=args.patch, stride=args.stride,
                      options=_options(args)))


def _rain(args: argparse.Namespace) -> int:
    from translate.data.convert.rain import rain

    return _finish(rain(args.clean_dir, args.out_dir, seed=args.seed, light_fraction=args.light_fraction,
                        density=args.density, angle=args.angle, length=args.length, width=args.width,
                        intensity=args.intensity, veil=args.veil, options=_options(args)))


def _masks(args: argparse.Namespace) -> int:
    from translate.data.convert.masks import masks

    return _finish(masks(args.out_dir, count=args.count, size=args.size, kind=args.kind, seed=args.seed,
                         options=_options(args)))


def _check(args: argparse.Namespace) -> int:
    from translate.data.convert.check import check

    from translate.errors import printable

    report = check(args.folder, args.layout, workers=args.workers, progress=not args.quiet,
                   strict=args.strict)
    print("\n".join(printable(line) for line in report.lines()))
    return report.exit_code
