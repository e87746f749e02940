"""Training speed per recipe: iterations/s, images/s and achieved FLOP/s vs the matmul peak.

For each recipe (pix2pix and cyclegan by default; srgan, derain and inpaint with ``--recipes``),
size and batch, the recipe is built with its reference defaults (pix2pix: U-Net 256 batch norm,
CycleGAN: ResNet 9 blocks instance norm, ngf = ndf = 64; srgan: the pixel-loss stage, size = the
HR patch; inpaint: its one 128x128 size with centre holes) and trained on random batches (the speed of the math does
not depend on the pixels; data loading is excluded) under each variant: fp32, bf16 (autocast),
channels_last and torch.compile, exactly as `translate train --precision / --channels-last /
--compile` apply them (:func:`translate.distributed.prepare_recipe`).

FLOPs of one training iteration (forward + backward + everything the recipe does) are counted
with ``torch.utils.flop_counter.FlopCounterMode`` on the fp32 variant; the achieved FLOP/s is
that count times iterations/s, reported against the measured peak of the machine (the median
FLOP/s of a large fp32 matmul, best of several, measured before and after the runs), so bf16 rows may exceed 100% on CPUs with bf16 units, and on CPU even fp32 rows can: oneDNN's
3x3 convolutions (Winograd / direct kernels) beat torch's sgemm, which the peak is timed with. The load average is printed because a shared machine slows
every number down.

    python tools/bench_train.py --quick      # 256x256, batch 1, 2 timed iterations, no compile
    python tools/bench_train.py              # 256x256, batch 1, all variants
    python tools/bench_train.py --sizes 256 --batches 1 4 --variants fp32 bf16 --json out.json

Reference point (2-core CPU): the reference CycleGAN implementation trains at 256x256, batch 1,
at about 11.7 s per iteration.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from translate import distributed, precision  # noqa: E402
from translate.recipes import get_recipe  # noqa: E402

VARIANTS = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
}
REFERENCE_CYCLEGAN_S_PER_IT = 11.7  # reference implementation, 256x256, batch 1, this 2-core CPU


def matmul_peak(device: torch.device, n: int = 2048, repeats: int = 10) -> float:
    """Measured fp32 FLOP/s of an ``n x n`` matmul on ``device``: the best of ``repeats`` (a peak;
    on a shared machine the median mostly measures the other jobs)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / min(times)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_batch(recipe_name: str, config, batch: int, size: int, device: torch.device) -> dict[str, torch.Tensor]:
    """What the recipe's data loader would give, with random pixels."""
    def rand(channels: int, side: int) -> torch.Tensor:
        return torch.rand(batch, channels, side, side, device=device) * 2 - 1

    if recipe_name == "srgan":  # HR patches of `size`, their LR in [0, 1]
        return {"lr": rand(3, size // config.scale) * 0.5 + 0.5, "hr": rand(3, size) * 0.5 + 0.5}
    if recipe_name == "inpaint":
        mask = torch.zeros(batch, 1, size, size, device=device)
        mask[..., size // 4:size - size // 4, size // 4:size - size // 4] = 1.0
        return {"A": rand(3, size), "M": mask}
    return {"A": rand(getattr(config, "input_nc", 3), size), "B": rand(getattr(config, "output_nc", 3), size)}


def build(recipe_name: str, variant: dict, size: int, batch: int, device: torch.device):
    """The recipe under ``variant`` with a random batch and the step function the trainer runs."""
    recipe_cls = get_recipe(recipe_name)
    extra = {"patch_size": size} if recipe_name == "srgan" else {}
    config = recipe_cls.Config(data="-", out="-", batch_size=batch, load_size=size, crop_size=size,
                               preprocess="none", device=device.type, **extra, **variant)
    torch.manual_seed(0)
    recipe = recipe_cls(config, device, "bench")
    scaler = distributed.prepare_recipe(recipe, config, device, distributed.DistInfo())
    data = random_batch(recipe_name, config, batch, size, device)
    if config.channels_last:
        data = precision.batch_to_channels_last(data)

    def step() -> dict[str, float]:
        with precision.autocast(device, config.precision), precision.use_scaler(scaler):
            return recipe.train_step(data)

    return step


def count_flops(step) -> int:
    """FLOPs of one call of ``step`` (matmuls and convolutions, forward and backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def time_steps(step, device: torch.device, iters: int, warmup: int) -> list[float]:
    for _ in range(warmup):  # first calls: allocator, oneDNN / cuDNN plans, compilation
        step()
    times = []
    for _ in range(iters):
        sync(device)
        t = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - t)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 warm-up + 2 timed iterations, "
                        "variants fp32 bf16 channels_last")
    parser.add_argument("--recipes", nargs="+", default=["pix2pix", "cyclegan"],
                        choices=["pix2pix", "cyclegan", "srgan", "derain", "inpaint"])
    parser.add_argument("--sizes", nargs="+", type=int, help="crop sizes (default 256; pix2pix's U-Net 256 needs "
                        "multiples of 256)")
    parser.add_argument("--batches", nargs="+", type=int, default=[1], help="batch sizes (default 1)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS),
                        help="default: all; --quick: fp32 bf16 channels_last")
    parser.add_argument("--iters", type=int, help="timed iterations (default 5; --quick 2)")
    parser.add_argument("--warmup", type=int, help="untimed iterations first (default 2; --quick 1)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    sizes = args.sizes or [256]
    variants = args.variants or (["fp32", "bf16", "channels_last"] if args.quick else list(VARIANTS))
    iters = args.iters or (2 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))

    load = os.getloadavg()
    peak = matmul_peak(device)
    header = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or
              platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "torch": torch.__version__, "load_average_1_5_15": [round(x, 2) for x in load],
              "matmul_peak_gflops": round(peak / 1e9, 1)}
    print("# " + ", ".join(f"{k}={v}" for k, v in header.items()), flush=True)
    if load[0] > (os.cpu_count() or 1) * 0.5:
        print(f"# warning: load average {load[0]:.1f} on {os.cpu_count()} CPUs: the machine is busy, "
              f"numbers are pessimistic", flush=True)
    print(f"{'recipe':10} {'size':>5} {'batch':>5} {'variant':14} {'s/it':>8} {'it/s':>8} {'img/s':>8} "
          f"{'GFLOP/it':>9} {'GFLOP/s':>8} {'of peak':>7}", flush=True)
    rows = []
    for recipe_name in args.recipes:
        for size in [128] if recipe_name == "inpaint" else sizes:  # the context encoder's one size
            for batch in args.batches:
                flops = None
                for variant in variants:
                    row = {"recipe": recipe_name, "size": size, "batch": batch, "variant": variant}
                    try:
                        step = build(recipe_name, VARIANTS[variant], size, batch, device)
                        if flops is None:
                            flops = count_flops(step)  # also the first warm-up call
                        times = time_steps(step, device, iters, warmup)
                    except Exception as e:  # one line per failing combination, keep going
                        row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                        print(f"{recipe_name:10} {size:>5} {batch:>5} {variant:14} skipped: {row['error']}",
                              flush=True)
                        rows.append(row)
                        continue
                    s_per_it = statistics.median(times)
                    achieved = flops / s_per_it
                    row.update(s_per_it=s_per_it, it_per_s=1 / s_per_it, img_per_s=batch / s_per_it,
                               gflop_per_it=flops / 1e9, gflop_per_s=achieved / 1e9, peak_ratio=achieved / peak,
                               times=times)
                    rows.append(row)
                    print(f"{recipe_name:10} {size:>5} {batch:>5} {variant:14} {s_per_it:8.3f} {1 / s_per_it:8.3f} "
                          f"{batch / s_per_it:8.3f} {flops / 1e9:9.2f} {achieved / 1e9:8.1f} "
                          f"{achieved / peak:7.1%}", flush=True)
    for row in rows:
        if (row["recipe"], row["size"], row["batch"], row["variant"]) == ("cyclegan", 256, 1, "fp32") \
                and "s_per_it" in row:
            print(f"# cyclegan 256x256 batch 1 fp32: {row['s_per_it']:.2f} s/it vs the reference "
                  f"implementation's {REFERENCE_CYCLEGAN_S_PER_IT} s/it on the 2-core CPU", flush=True)
    peak_after = matmul_peak(device)
    if peak_after > peak:  # the machine was quieter at the end: rescale the ratios to the higher peak
        for row in rows:
            if "peak_ratio" in row:
                row["peak_ratio"] *= peak / peak_after
        print(f"# matmul peak measured again at the end: {peak_after / 1e9:.1f} GFLOP/s; ratios against it: "
              + ", ".join(f"{r['recipe']}/{r['variant']} {r['peak_ratio']:.1%}" for r in rows if "peak_ratio" in r),
              flush=True)
        header["matmul_peak_gflops"] = round(peak_after / 1e9, 1)
    if args.json:
        from translate.fileio import atomic_write_text

        atomic_write_text(args.json, json.dumps({"machine": header, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
