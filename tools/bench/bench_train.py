"""Training speed per recipe: iterations/s, images/s and achieved FLOP/s vs the matmul peak.

For each recipe (pix2pix and cyclegan by default; srgan, derain and inpaint with ``--recipes``),
size and batch, the recipe is built with its reference defaults (pix2pix: U-Net 256 batch norm,
CycleGAN: ResNet 9 blocks instance norm, ngf = ndf = 64; srgan: the pixel-loss stage, size = the
HR patch; inpaint: its one 128x128 size with centre holes) and trained on random batches (the speed of the math does
not depend on the pixels; data loading is excluded) under each variant: fp32, bf16 (autocast),
channels_last and torch.compile, exactly as `translate train --precision / --channels-last /
--compile` apply them (:func:`translate.precision.speed_up`, :func:`translate.precision.loss_scaler`).

FLOPs of one training iteration (forward + backward + everything the recipe does) are counted
with ``torch.utils.flop_counter.FlopCounterMode`` on the fp32 variant; the achieved FLOP/s is
that count times iterations/s, reported against the measured peak of the machine (the median
FLOP/s of a large fp32 matmul, best of several, measured before and after the runs), so bf16 rows may exceed 100% on CPUs with bf16 units, and on CPU even fp32 rows can: oneDNN's
3x3 convolutions (Winograd / direct kernels) beat torch's sgemm, which the peak is timed with. The load average is printed because a shared machine slows
every number down.

    python tools/bench/bench_train.py --quick      # 256x256, batch 1, 2 timed iterations, no compile
    python tools/bench/bench_train.py              # 256x256, batch 1, all variants
    python tools/bench/bench_train.py --sizes 256 --batches 1 4 --variants fp32 bf16 --json out.json

The synthetic step is a diagnostic, not the product's speed. ``--end-to-end`` times the real
command instead: ``translate train RECIPE --data DIR`` on real images from ``../shared/data``
with every default (data loading workers, progress, losses.jsonl, image sheets, health checks,
checkpoints), once for ``--n1`` and once for ``--n2`` iterations in fresh run folders, and
reports ``(T(n2) - T(n1)) / (n2 - n1)``: start-up, imports and the final save cancel out, while a
slow data loader, logger or checkpoint shows up in the difference. The fp32 synthetic step of
the same recipe is measured in the same run beside it (``--no-synthetic`` skips it). Run it
with other work on the machine stopped; the load average is printed.

    python tools/bench/bench_train.py --end-to-end --recipes cyclegan pix2pix --n1 3 --n2 12

``--compare`` puts unpaired recipes side by side, as the CUT paper's Table 1 does (CycleGAN, CUT,
FastCUT: seconds per iteration and peak memory at 256x256, batch 1, the reference defaults): each
recipe's fp32 synthetic step runs in a fresh process (so each one's peak memory is its own: CUDA
``max_memory_allocated``, or on the CPU the growth of the process's peak resident set from just
before the networks are built), the recipes take turns for ``--rounds`` rounds and the median is
kept, so a change of load on a shared machine hits all of them. ``--set KEY=VALUE`` changes a
config field of every recipe that has it (e.g. the shipped facades size: ``--set ngf=16 --set ndf=32
--sizes 128``).

    python tools/bench/bench_train.py --compare cyclegan cut fastcut --rounds 2 --iters 3

Peer comparison (REFERENCE.md, measured side by side on a quiet 2-core CPU, whole command, 12
minus 3 iterations, 256x256 batch 1 fp32): the reference ``train.py`` 5.81 s/iteration,
``translate train cyclegan`` 5.83 s/iteration.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from translate import precision  # noqa: E402
from translate.train import distributed  # noqa: E402
from translate.train.recipes import get_recipe  # noqa: E402

#: Names --compare / --recipes take that are a recipe under a preset (FastCUT is the cut recipe's other mode).
RECIPE_PRESETS = {"cut": ("cut", {"mode": "cut"}), "fastcut": ("cut", {"mode": "fastcut"})}

VARIANTS = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "channels_last": {"channels_last": True},
    "bf16_channels_last": {"precision": "bf16", "channels_last": True},  # the GPU goal: >= 2x fp32
    "compile": {"compile": True},
}
ROOT = Path(__file__).resolve().parents[2]
#: --end-to-end: the real training images per recipe, under --data (training material only).
END_TO_END_DATA = {
    "pix2pix": "paired/facades",          # train/: 400 A|B pairs
    "cyclegan": "unpaired/cat2dog",       # trainA / trainB: 15 cats, 13 dogs at 512x512
    "srgan": "sr/T91",
    "derain": "derain/RainTrainH_mini",
    "inpaint": "sr/T91",
}


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


def build(recipe_name: str, variant: dict, size: int, batch: int, device: torch.device,
          overrides: dict | None = None):
    """The recipe under ``variant`` with a random batch and the step function the trainer runs;
    ``overrides``: config fields to change where the recipe's config has them."""
    recipe_name, preset = RECIPE_PRESETS.get(recipe_name, (recipe_name, {}))
    recipe_cls = get_recipe(recipe_name)
    extra = {"patch_size": size} if recipe_name == "srgan" else {}
    fields = {f.name for f in dataclasses.fields(recipe_cls.Config)}
    chosen = {k: v for k, v in (overrides or {}).items() if k in fields}
    config = recipe_cls.Config(data="-", out="-", batch_size=batch, load_size=size, crop_size=size,
                               preprocess="crop", device=device.type, **extra, **preset, **chosen, **variant)
    torch.manual_seed(0)
    recipe = recipe_cls(config, device, "bench")
    distributed.prepare_recipe(recipe, config, device, distributed.DistInfo())
    precision.speed_up(recipe.nets, config, device)  # as the trainer: cuDNN autotuning on CUDA
    recipe.scaling = precision.loss_scaler(device, config.precision)
    data = random_batch(recipe_name, config, batch, size, device)
    if config.channels_last:
        data = precision.batch_to_channels_last(data)

    def step() -> dict[str, float]:
        with precision.autocast(device, config.precision):
            losses = recipe.train_step(data)
        recipe.scaling.update()
        return losses

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


def parse_overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` strings -> {key: value}, the value read as JSON when it parses (16, 0.5, true)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set {pair}: expected KEY=VALUE")
        try:
            out[key.replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.replace("-", "_")] = value
    return out


def resident_bytes() -> int:
    """The process's resident set now (Linux /proc; 0 elsewhere)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def measure_one(args: argparse.Namespace, device: torch.device) -> dict:
    """--compare's child process: s/it (median) and peak memory of one recipe's fp32 step."""
    import resource

    size, batch = (args.sizes or [256])[0], args.batches[0]
    get_recipe(RECIPE_PRESETS.get(args.one, (args.one, {}))[0])  # its imports are not the step's memory
    before = resident_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step = build(args.one, VARIANTS["fp32"], size, batch, device, parse_overrides(args.set))
    times = time_steps(step, device, args.iters or 3, 1 if args.warmup is None else args.warmup)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before  # Linux: KiB
    return {"recipe": args.one, "size": size, "batch": batch, "s_per_it": statistics.median(times), "times": times,
            "peak_memory_mb": peak / 2**20}


def compare(args: argparse.Namespace, device: torch.device) -> list[dict]:
    """Each --compare recipe in a fresh process, taking turns for --rounds rounds; medians per recipe."""
    base = [sys.executable, str(Path(__file__).resolve()), "--device", device.type, "--batches", str(args.batches[0]),
            "--sizes", str((args.sizes or [256])[0]), "--iters", str(args.iters or 3)]
    base += ["--warmup", str(args.warmup)] if args.warmup is not None else []
    base += ["--threads", str(args.threads)] if args.threads else []
    for pair in args.set:
        base += ["--set", pair]
    runs: dict[str, list[dict]] = {name: [] for name in args.compare}
    for _ in range(args.rounds):
        for name in args.compare:
            done = subprocess.run([*base, "--one", name], capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                raise SystemExit(f"--compare {name} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{'recipe':10} {'size':>5} {'batch':>5} {'s/it':>8} {'peak MB':>9}  rounds (s/it)", flush=True)
    rows = []
    for name, results in runs.items():
        row = {"recipe": name, "size": results[0]["size"], "batch": results[0]["batch"],
               "s_per_it": statistics.median(r["s_per_it"] for r in results),
               "peak_memory_mb": statistics.median(r["peak_memory_mb"] for r in results),
               "rounds": [r["s_per_it"] for r in results], "overrides": parse_overrides(args.set)}
        rows.append(row)
        print(f"{name:10} {row['size']:>5} {row['batch']:>5} {row['s_per_it']:8.3f} {row['peak_memory_mb']:9.0f}  "
              + " ".join(f"{t:.3f}" for t in row["rounds"]), flush=True)
    return rows


def time_command(recipe_name: str, data: Path, iterations: int, out: Path, extra: list[str]) -> float:
    """Wall seconds of ``translate train RECIPE --data DATA --out OUT --max-iters N [extra]`` in a
    fresh process, all other options at their defaults; a failure raises with its last stderr line."""
    command = [sys.executable, "-m", "translate", "train", recipe_name, "--data", str(data), "--out", str(out),
               "--max-iters", str(iterations), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        raise RuntimeError(f"`{shlex.join(command[1:])}` failed: {lines[-1][:300]}")
    return seconds


def end_to_end(args: argparse.Namespace, device: torch.device) -> list[dict]:
    """The real command for --n1 and --n2 iterations per recipe (median of --repeats each), and
    the synthetic fp32 step beside it; one row per recipe, printed as it is measured."""
    if not 0 < args.n1 < args.n2:
        raise SystemExit(f"--n1 ({args.n1}) must be positive and smaller than --n2 ({args.n2})")
    extra = shlex.split(args.train_args)
    print(f"{'recipe':10} {'T(n1) s':>9} {'T(n2) s':>9} {'s/it real':>10} {'s/it synthetic':>15}  command", flush=True)
    rows = []
    for recipe_name in args.recipes:
        data = args.data / END_TO_END_DATA[recipe_name] if args.data_dir is None else args.data_dir
        row: dict = {"recipe": recipe_name, "data": str(data), "n1": args.n1, "n2": args.n2,
                     "train_args": extra}
        try:
            walls: dict[int, list[float]] = {args.n1: [], args.n2: []}
            with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
                for repeat in range(args.repeats):
                    for n in (args.n1, args.n2):  # alternated, so a load change hits both
                        walls[n].append(time_command(recipe_name, data, n, Path(tmp) / f"run_{n}_{repeat}", extra))
            t1, t2 = statistics.median(walls[args.n1]), statistics.median(walls[args.n2])
            row.update(t_n1=t1, t_n2=t2, walls=walls, s_per_it=(t2 - t1) / (args.n2 - args.n1))
            if args.synthetic:
                step = build(recipe_name, VARIANTS["fp32"], 128 if recipe_name == "inpaint" else 256,
                             16 if recipe_name == "inpaint" else 1, device)
                row["synthetic_s_per_it"] = statistics.median(time_steps(step, device, args.iters or 3, 1))
        except (RuntimeError, ValueError) as e:
            row["error"] = str(e).splitlines()[0]
            print(f"{recipe_name:10} failed: {row['error']}", flush=True)
            rows.append(row)
            continue
        synthetic = f"{row['synthetic_s_per_it']:15.3f}" if "synthetic_s_per_it" in row else f"{'-':>15}"
        print(f"{recipe_name:10} {t1:9.1f} {t2:9.1f} {row['s_per_it']:10.3f} {synthetic}  "
              f"translate train {recipe_name} --data {data} --max-iters N {shlex.join(extra)}".rstrip(), flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 warm-up + 2 timed iterations, "
                        "variants fp32 bf16 channels_last")
    parser.add_argument("--recipes", nargs="+", default=["pix2pix", "cyclegan"],
                        choices=["pix2pix", "cyclegan", "cut", "fastcut", "srgan", "derain", "inpaint"])
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
    parser.add_argument("--compare", nargs="+", metavar="RECIPE", help="side by side, each in a fresh process: "
                        "s/it and peak memory (e.g. cyclegan cut fastcut)")
    parser.add_argument("--rounds", type=int, default=1, help="--compare: turns each recipe takes (median kept)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change a config field of every recipe that has it (repeatable)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # --compare's child process
    e2e = parser.add_argument_group("end to end (the real `translate train` command)")
    e2e.add_argument("--end-to-end", action="store_true", help="time the real command for --n1 and --n2 iterations")
    e2e.add_argument("--n1", type=int, default=3, help="iterations of the short run (default 3)")
    e2e.add_argument("--n2", type=int, default=12, help="iterations of the long run (default 12)")
    e2e.add_argument("--repeats", type=int, default=1, help="runs of each length, median taken (default 1)")
    e2e.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the shared data folder")
    e2e.add_argument("--data-dir", type=Path, help="train on this folder instead of the recipe's shared data")
    e2e.add_argument("--train-args", default="", help="extra options for `translate train`, one string "
                     "(default none: every default)")
    e2e.add_argument("--no-synthetic", dest="synthetic", action="store_false",
                     help="skip the synthetic fp32 step beside the end-to-end figure")
    args = parser.parse_args(argv)
    sizes = args.sizes or [256]
    variants = args.variants or (["fp32", "bf16", "channels_last"] if args.quick else list(VARIANTS))
    iters = args.iters or (2 if args.quick else 5)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))

    if args.one:
        print(json.dumps(measure_one(args, device)))
        return 0
    load = os.getloadavg()
    peak = matmul_peak(device) if not (args.end_to_end or args.compare) else float("nan")  # only the FLOP/s table needs it
    header = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or
              platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
              "torch": torch.__version__, "load_average_1_5_15": [round(x, 2) for x in load],
              "matmul_peak_gflops": round(peak / 1e9, 1)}
    print("# " + ", ".join(f"{k}={v}" for k, v in header.items()), flush=True)
    if load[0] > (os.cpu_count() or 1) * 0.5:
        print(f"# warning: load average {load[0]:.1f} on {os.cpu_count()} CPUs: the machine is busy, "
              f"numbers are pessimistic", flush=True)
    if args.compare:
        rows = compare(args, device)
        header["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        print(f"# load average after: {header['load_average_after']}", flush=True)
        if args.json:
            from translate.fileio import atomic_write_text

            atomic_write_text(args.json, json.dumps({"machine": header, "compare": rows}, indent=2) + "\n")
        return 0
    if args.end_to_end:
        rows = end_to_end(args, device)
        header["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        print(f"# load average after: {header['load_average_after']}", flush=True)
        if args.json:
            from translate.fileio import atomic_write_text

            atomic_write_text(args.json, json.dumps({"machine": header, "end_to_end": rows}, indent=2) + "\n")
        return 0
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
