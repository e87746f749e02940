"""Inference speed of the generators: PyTorch (eager, channels_last, torch.compile) vs onnxruntime.

For each model family (CycleGAN resnet_9blocks ngf 64 instance norm, pix2pix unet_256 ngf 64
batch norm, random weights: speed does not depend on them; and our shipped sr-x4, derain and
inpaint models with their weights, the context encoder at its one 128x128 input size with a
centre-hole mask), input size and batch size, every
backend runs on the same float32 NCHW numpy batch, round-robin: one call of each backend per
round, so a change of machine load during the run hits all of them alike. Reported: median
milliseconds per image and images per second, and the median over rounds of the per-round
ratio eager / onnxruntime (robust to load drifts). Plus the start-up time (subprocess wall
time) of ``translate run model.onnx img.png`` vs ``translate run model.pth img.png`` (CycleGAN
and pix2pix).

Thread settings for a fair comparison: torch uses ``torch.set_num_threads(physical cores)``,
onnxruntime ``intra_op_num_threads = physical cores`` with ORT_ENABLE_ALL and sequential
execution (the settings of :class:`translate.run.runtime.Session`; ``--ort-variants`` also times
other onnxruntime settings). With a GPU, PyTorch CUDA and onnxruntime CUDA / CUDA fp16 /
TensorRT columns are added.

    python tools/bench/bench_infer.py --quick          # 256x256, batch 1, few rounds (a minute or two)
    python tools/bench/bench_infer.py                  # 256 and 512, batch 1 and 8, all backends

int8 (``--int8``; the shipped models, and CycleGAN / pix2pix with random weights for their speed):
each is also exported with ``translate export --int8``
(calibrated on training material, checked on a test split: :data:`INT8_DATA`) and timed as one more
onnxruntime column, "ort cpu int8", next to fp32 onnxruntime and PyTorch eager in the same
round-robin; the table adds the per-round ratio fp32 / int8 and a second table gives the PSNR of
int8 vs fp32 output that the export's quality gate measured, per model and per calibration method
(``--int8-methods``; only the first method's model is timed: the methods change the scales, not the
graph). A model whose int8 output fails the gate (35 dB) is reported, not timed.

    python tools/bench/bench_infer.py --families sr-x4 derain inpaint --int8 --sizes 256 --batches 1

Memory: sr-x4 and derain at 512x512, batch 8 need over 24 GiB across the backends (sr-x4 makes
2048x2048 outputs, the de-rainer concatenates dense features); on the 24 GiB development machine the
OOM killer ends such a run and a killed run prints nothing: measure them with ``--sizes 512
--batches 1`` there, and use --tile in practice.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from translate.export.quantize import DEFAULT_GATE_DB, DEFAULT_METHOD, METHODS  # noqa: E402

FAMILIES = {
    "cyclegan": {"arch": "resnet_9blocks", "input_nc": 3, "output_nc": 3, "ngf": 64, "norm": "instance",
                 "use_dropout": False, "padding_type": "reflect"},
    "pix2pix": {"arch": "unet_256", "input_nc": 3, "output_nc": 3, "ngf": 64, "norm": "batch", "use_dropout": True},
}
ROOT = Path(__file__).resolve().parents[2]
#: Our shipped models, benchmarked with their trained weights (``weights/<name>.safetensors``); the
#: facades translators once tools/ship/ship_facades.sh has put them there.
SHIPPED = tuple(name for name in ("sr-x4", "derain", "inpaint", "facades-photo2label", "facades-label2photo",
                                  "shoes-edges2photo", "facades-cyclegan-label2photo")
                if (ROOT / "weights" / f"{name}.safetensors").exists())
EAGER = "torch eager"
ORT_CPU = "ort cpu"
ORT_INT8 = "ort cpu int8"
ORT_PLAIN = "ort cpu no rewrites"
#: --int8: (calibration folder, held-out check folder) under --data per shipped model: training
#: material to calibrate on, a test split to check on. Paired A|B folders are cut to the model's
#: input half first (:func:`input_halves`).
INT8_DATA = {
    # Random weights: their int8 speed is real, their PSNR figures only say how a random net fares.
    "cyclegan": ("unpaired/cat2dog/trainA", "unpaired/cat2dog/trainB"),
    "pix2pix": ("paired/facades/train", "paired/facades/test"),
    "sr-x4": ("sr/T91", "sr/Set14"),
    "derain": ("derain/RainTrainH_mini/rain", "derain/Rain100H/rain"),
    "inpaint": ("sr/T91", "sr/B100"),
    "facades-photo2label": ("paired/facades/train", "paired/facades/test"),
    "facades-label2photo": ("paired/facades/train", "paired/facades/test"),
    "shoes-edges2photo": ("paired/edges2shoes/train", "paired/edges2shoes/val"),
    "facades-cyclegan-label2photo": ("paired/facades/train", "paired/facades/test"),
}
#: Paired folders hold hundreds of images; the export uses at most 16 + 8 of them anyway.
MAX_HALVES = 24


def physical_cores() -> int:
    """Physical CPU cores available to this process (hyper-threads not counted; Linux-aware)."""
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    try:
        cores, cpu = set(), None
        physical = "0"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "processor":
                cpu = int(value)
            elif key == "physical id":
                physical = value
            elif key == "core id" and cpu in available:
                cores.add((physical, value))
        if cores:
            return len(cores)
    except (OSError, ValueError):
        pass
    return max(1, len(available))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build(family: str, seed: int = 0):
    """A randomly initialised generator of ``family`` (a shipped model: its trained weights) in
    eval mode, and its card."""
    import torch

    from translate.models.cards import ModelCard
    from translate.models.loading import load_model
    from translate.nets.architectures import size_multiple
    from translate.nets.build import build_generator
    from translate.nets.layers import init_weights

    if family in SHIPPED:
        return load_model(family)
    torch.manual_seed(seed)
    config = FAMILIES[family]
    net = init_weights(build_generator(**config)).eval()
    card = ModelCard(name=f"bench/{family}", task=family, generator=dict(config), multiple=size_multiple(config))
    return net, card


def bench_input(card, batch: int, size: int) -> np.ndarray:
    """A (batch, C, size, size) float32 network input: random pixels in [-1, 1]; an inpainting
    model also gets its mask channel (the 64x64 centre hole of a 128x128 window)."""
    x = np.random.default_rng(size + batch).uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)
    if card.task != "inpaint":
        return x
    mask = np.zeros((batch, 1, size, size), np.float32)
    mask[..., size // 4:size - size // 4, size // 4:size - size // 4] = 1.0
    return np.concatenate([x, mask], 1)


def input_halves(folder: Path, card, out: Path) -> Path:
    """``folder`` itself, or for a paired A|B folder (``paired/...``) a folder ``out`` of the
    model's input halves (A for AtoB, B for BtoA) of at most :data:`MAX_HALVES` images."""
    from translate.data.layouts import split_aligned
    from translate.imageio import list_images, read_image, write_image

    if "paired" not in folder.parts:
        return folder
    files = list_images(folder)
    files = files[::max(1, len(files) // MAX_HALVES)][:MAX_HALVES]
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        a, b = split_aligned(read_image(f).rgb, str(f))
        write_image(out / f"{f.stem}.png", a if card.direction == "AtoB" else b)
    return out


def int8_exports(family: str, net, card, folder: Path, data: Path, methods: list[str],
                 notes: list[str]) -> tuple[Path | None, list[tuple]]:
    """Export ``family`` to int8 with each calibration method; returns the first method's file
    when it passes the gate (else None) and one row per method: (family, method, report or error,
    seconds)."""
    from translate.errors import TranslateError
    from translate.export.onnx import export_onnx

    calibration, check = (input_halves(data / sub, card, folder / f"{family}_{part}")
                          for sub, part in zip(INT8_DATA[family], ("calibration", "check")))
    first, rows = None, []
    for i, method in enumerate(methods):
        start = time.perf_counter()
        try:
            # Gate 0 dB (PSNR of [0, 1] images is never negative): the bench wants the figures of
            # every method; it applies the product's gate itself below.
            result = export_onnx(net, card, folder / f"{family}_int8_{method}.onnx", int8=True, calibration=calibration,
                                 int8_check=check, int8_method=method, int8_gate_db=0.0)
        except TranslateError as e:
            rows.append((family, method, str(e), time.perf_counter() - start))
            continue
        rows.append((family, method, result.int8, time.perf_counter() - start))
        if i == 0 and result.int8.worst >= DEFAULT_GATE_DB:
            first = result.path
        elif i == 0:
            notes.append(f"{family}: int8 ({method}) fails the {DEFAULT_GATE_DB:g} dB gate: not timed")
    return first, rows


def torch_backends(net, card, args, notes: list[str]) -> dict[str, Callable[[np.ndarray], object]]:
    """PyTorch callables on NCHW float32 numpy: eager, channels_last, torch.compile, CUDA."""
    import copy

    import torch

    def run_eager(module, memory_format=None, device="cpu"):
        def call(x: np.ndarray):
            with torch.inference_mode():
                t = torch.from_numpy(x).to(device)
                if memory_format is not None:
                    t = t.contiguous(memory_format=memory_format)
                return module(t).float().cpu().numpy()
        return call

    fns = {EAGER: run_eager(net)}
    last = copy.deepcopy(net).to(memory_format=torch.channels_last)
    fns["torch channels_last"] = run_eager(last, torch.channels_last)
    if args.compile:
        try:
            compiled = torch.compile(copy.deepcopy(net), dynamic=False)
            fns["torch.compile"] = run_eager(compiled)
        except Exception as e:  # noqa: BLE001 - optional backend
            notes.append(f"torch.compile unavailable: {str(e).splitlines()[0][:150]}")
    else:
        notes.append("torch.compile skipped (--quick or --no-compile)")
    if torch.cuda.is_available():
        gpu = copy.deepcopy(net).cuda()
        fns["torch cuda"] = run_eager(gpu, device="cuda")
        half = copy.deepcopy(net).cuda().half()
        fns["torch cuda fp16"] = lambda x: run_eager(half, device="cuda")(x.astype(np.float16))
    return fns


def ort_backends(onnx_fp32: Path, onnx_fp16: Path | None, threads: int, args,
                 notes: list[str]) -> dict[str, Callable[[np.ndarray], object]]:
    """onnxruntime callables through translate.run.runtime (CPU, and CUDA / TensorRT when usable)."""
    import onnxruntime

    from translate.errors import TranslateError
    from translate.run.runtime import Session

    fns = {ORT_CPU: Session(onnx_fp32, device="cpu", threads=threads).backend}
    if args.ort_variants:
        for label, level, mode, n in (
            ("ort cpu default options", None, None, 0),
            ("ort cpu parallel", "ORT_ENABLE_ALL", "ORT_PARALLEL", threads),
            ("ort cpu extended", "ORT_ENABLE_EXTENDED", "ORT_SEQUENTIAL", threads),
        ):
            options = onnxruntime.SessionOptions()
            if level:
                options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
            if mode:
                options.execution_mode = getattr(onnxruntime.ExecutionMode, mode)
            options.intra_op_num_threads = n
            session = onnxruntime.InferenceSession(str(onnx_fp32), options, providers=["CPUExecutionProvider"])
            fns[label] = (lambda s: lambda x: s.run(None, {"image": x})[0])(session)
    probe = Session(onnx_fp32, device="auto")  # quiet: CUDA if onnxruntime can use it here
    if probe.device != "cuda":
        notes.append("no onnxruntime GPU columns: onnxruntime cannot use CUDA on this machine")
        return fns
    fns["ort cuda"] = probe.backend
    for label, path, device in (("ort cuda fp16", onnx_fp16, "cuda"), ("ort tensorrt", onnx_fp32, "tensorrt")):
        if path is None:
            continue
        try:
            fns[label] = Session(path, device=device).backend
        except TranslateError as e:
            notes.append(f"{label} unavailable: {e}")
    return fns


def measure(fns: dict[str, Callable], x: np.ndarray, rounds: int, warmup: int,
            notes: list[str]) -> dict[str, list[float]]:
    """Round-robin timing: ``warmup`` untimed calls each, then ``rounds`` rounds of one timed call each."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for name in list(fns):
        try:
            start = time.perf_counter()
            for _ in range(warmup):
                fns[name](x)
            first = time.perf_counter() - start
            if name == "torch.compile":
                notes.append(f"torch.compile warm-up (compilation) {first:.1f} s for {x.shape}")
        except Exception as e:  # noqa: BLE001 - one failing backend must not end the benchmark
            notes.append(f"{name} failed on {x.shape}: {str(e).splitlines()[0][:150]}")
            del fns[name], times[name]
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(x)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def startup(folder: Path, net, card, onnx_path: Path, repeats: int) -> tuple[float, float]:
    """Median wall time (s) of ``translate run`` on one 256x256 PNG: (.onnx, .pth)."""
    import cv2
    import torch

    image = folder / "startup.png"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8))
    pth = folder / f"{card.task}.pth"
    torch.save(net.state_dict(), pth)
    command = [sys.executable, "-m", "translate", "run"]
    walls: dict[str, list[float]] = {"onnx": [], "pth": []}
    for i in range(repeats):
        for kind, model in (("onnx", onnx_path), ("pth", pth)):
            start = time.perf_counter()
            subprocess.run(command + [str(model), str(image), "-o", str(folder / f"out_{kind}.png"), "--device", "cpu"],
                           check=True, capture_output=True, cwd=Path(__file__).resolve().parents[2])
            walls[kind].append(time.perf_counter() - start)
    return statistics.median(walls["onnx"]), statistics.median(walls["pth"])


def ratio(times: dict[str, list[float]], slow: str, fast: str) -> str:
    """Median over rounds of the per-round time ratio ``slow / fast`` (robust to load drifts), or ''."""
    if slow not in times or fast not in times:
        return ""
    return f"{statistics.median(a / b for a, b in zip(times[slow], times[fast])):.2f}x"


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cell(ms_per_batch: list[float], batch: int) -> str:
    ms = statistics.median(ms_per_batch) / batch
    return f"{ms:.0f} ms ({1000 / ms:.1f}/s; min {min(ms_per_batch) / batch:.0f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="256x256, batch 1, 3 rounds, no torch.compile")
    parser.add_argument("--families", nargs="+", choices=sorted(FAMILIES) + list(SHIPPED),
                        default=sorted(FAMILIES) + list(SHIPPED))
    parser.add_argument("--sizes", nargs="+", type=int, help="input sizes (default 256 512; --quick 256)")
    parser.add_argument("--batches", nargs="+", type=int, help="batch sizes (default 1 8; --quick 1)")
    parser.add_argument("--rounds", type=int, help="timed rounds per setting (default 7; --quick 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per backend first (default 1)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch and onnxruntime (default: physical cores)")
    parser.add_argument("--no-compile", dest="compile", action="store_false", help="skip torch.compile")
    parser.add_argument("--ort-variants", action="store_true", help="also time other onnxruntime session options")
    parser.add_argument("--compare-rewrites", action="store_true",
                        help="also time the fp32 export without translate.export.graph_rewrite's CPU rewrites")
    parser.add_argument("--startup-repeats", type=int, help="runs of each `translate run` (default 5; --quick 3)")
    parser.add_argument("--int8", action="store_true", help="also export the shipped models to int8 and time them")
    parser.add_argument("--int8-methods", nargs="+", choices=METHODS, default=[DEFAULT_METHOD],
                        help=f"calibration methods to export and score (default {DEFAULT_METHOD}; the first is timed)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared data folder (int8 calibration and check images)")
    parser.add_argument("--no-startup", dest="startup", action="store_false",
                        help="skip the `translate run` start-up timing")
    parser.add_argument("--json", help="also write the figures to this JSON file (median ms per image per backend)")
    args = parser.parse_args(argv)
    if args.quick:
        args.compile = False
    sizes = args.sizes or ([256] if args.quick else [256, 512])
    batches = args.batches or ([1] if args.quick else [1, 8])
    rounds = args.rounds or (3 if args.quick else 7)
    startup_repeats = args.startup_repeats or (3 if args.quick else 5)

    import onnxruntime
    import torch

    from translate.export.onnx import export_onnx

    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    print(f"# Inference benchmark\n\n{cpu_name()}, {threads} threads (physical cores {physical_cores()}, "
          f"logical {os.cpu_count()}); torch {torch.__version__}, onnxruntime {onnxruntime.__version__}; "
          f"median of {rounds} round-robin rounds after {args.warmup} warm-up call(s); random weights for "
          f"CycleGAN and pix2pix, trained ones for the shipped models; load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1 / 5 / 15 min) at the start.\n",
          flush=True)
    rows, columns, notes, startups, int8_rows = [], [], [], [], []
    # A SIGTERM (e.g. `timeout`) or Ctrl-C still prints the rows measured so far.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with tempfile.TemporaryDirectory(prefix="bench_infer_") as tmp:
            folder = Path(tmp)
            for family in args.families:
                net, card = build(family)
                start = time.perf_counter()
                onnx_fp32 = export_onnx(net, card, folder / f"{family}.onnx").path
                notes.append(f"{family}: export + verification {time.perf_counter() - start:.1f} s")
                onnx_fp16 = None
                if torch.cuda.is_available() or "CUDAExecutionProvider" in onnxruntime.get_available_providers():
                    try:
                        onnx_fp16 = export_onnx(net, card, folder / f"{family}_fp16.onnx", fp16=True).path
                    except Exception as e:  # noqa: BLE001
                        notes.append(f"{family}: fp16 export failed: {e}")
                fns = {**torch_backends(net, card, args, notes), **ort_backends(onnx_fp32, onnx_fp16, threads, args, notes)}
                if args.compare_rewrites:
                    from translate.run.runtime import Session

                    plain = export_onnx(net, card, folder / f"{family}_plain.onnx", cpu_rewrites=False).path
                    fns[ORT_PLAIN] = Session(plain, device="cpu", threads=threads).backend
                if args.int8 and family in INT8_DATA:
                    from translate.run.runtime import Session

                    int8_path, reports = int8_exports(family, net, card, folder, args.data, args.int8_methods, notes)
                    int8_rows += reports
                    if int8_path is not None:
                        fns[ORT_INT8] = Session(int8_path, device="cpu", threads=threads).backend
                for size in [card.fixed_size] if card.fixed_size else sizes:  # e.g. the context encoder: one size
                    if size % card.multiple:
                        notes.append(f"{family}: size {size} is not a multiple of {card.multiple}; skipped")
                        continue
                    for batch in batches:
                        x = bench_input(card, batch, size)
                        times = measure(dict(fns), x, rounds, args.warmup, notes)
                        for name in times:
                            if name not in columns:
                                columns.append(name)
                        speedup = [ratio(times, EAGER, ORT_CPU)]
                        if args.int8:
                            speedup.append(ratio(times, ORT_CPU, ORT_INT8))
                        if args.compare_rewrites:
                            speedup.append(ratio(times, ORT_PLAIN, ORT_CPU))
                        rows.append((f"{family} {card.arch}", f"{size}x{size}", batch, times, speedup))
                        print(f"  measured {family} {size} batch {batch}: "
                              + ", ".join(f"{n} {statistics.median(t) / batch:.0f} ms/img" for n, t in times.items()),
                              file=sys.stderr, flush=True)
                if args.startup and family in FAMILIES and (family == "cyclegan" or not args.quick):
                    onnx_s, pth_s = startup(folder, net, card, onnx_fp32, startup_repeats)
                    startups.append((family, onnx_s, pth_s))
    except KeyboardInterrupt:
        notes.append("interrupted: the table holds the settings measured before the interruption")
    header = (["model", "input", "batch"] + columns + ["eager / ort cpu"] + (["ort cpu / int8"] if args.int8 else [])
              + (["no rewrites / ort cpu"] if args.compare_rewrites else []))
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for model, size, batch, times, speedup in rows:
        cells = [cell(times[c], batch) if c in times else "-" for c in columns]
        print(f"| {model} | {size} | {batch} | " + " | ".join(cells + speedup) + " |")
    print("\nCells: median ms per image (images per second; fastest round's ms per image). Ratio columns: "
          "median over rounds of the per-round time ratio, > 1 means the second backend is faster.\n")
    if int8_rows:
        print(f"| int8 model | calibration | PSNR int8 vs fp32, calibration images: min / mean | held-out images: "
              f"min / mean | gate >= {DEFAULT_GATE_DB:g} dB | export s |")
        print("|---|---|---|---|---|---|")
        for family, method, report, seconds in int8_rows:
            if isinstance(report, str):
                print(f"| {family} | {method} | failed: {report} | | | {seconds:.0f} |")
                continue
            c, h = report.calibration, report.held_out
            print(f"| {family} | {method} | {c.worst:.1f} / {c.mean:.1f} dB ({len(c.psnr)}) | {h.worst:.1f} / "
                  f"{h.mean:.1f} dB ({len(h.psnr)}) | {'pass' if report.worst >= DEFAULT_GATE_DB else 'FAIL'} | "
                  f"{seconds:.0f} |")
        print()
    if startups:
        print("| start-up: `translate run MODEL img.png` (256x256, cpu) | .onnx (onnxruntime) | .pth (PyTorch) |")
        print("|---|---|---|")
        for family, onnx_s, pth_s in startups:
            print(f"| {family} | {onnx_s:.2f} s | {pth_s:.2f} s |")
        print()
    notes.append(f"load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} (1 / 5 / 15 min)")
    for note in notes:
        print(f"- {note}")
    if args.json:
        write_json(args.json, rows, int8_rows, startups, notes)
    return 0


def write_json(path: str, rows: list, int8_rows: list, startups: list, notes: list[str]) -> None:
    """The tables as JSON: per setting the median ms per image of each backend and the ratios."""
    import json

    import onnxruntime
    import torch

    from translate.fileio import atomic_write_text

    figures = {
        "machine": {"cpu": cpu_name(), "physical_cores": physical_cores(), "torch": torch.__version__,
                    "onnxruntime": onnxruntime.__version__,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "rows": [{"model": model, "input": size, "batch": batch, "ratios": [r for r in speedup if r],
                  "ms_per_image": {name: statistics.median(t) / batch for name, t in times.items()}}
                 for model, size, batch, times, speedup in rows],
        "int8": [{"model": family, "method": method, "export_s": round(seconds, 1),
                  **({"error": report} if isinstance(report, str) else report.to_metadata()["psnr_vs_fp32"])}
                 for family, method, report, seconds in int8_rows],
        "startup_s": [{"model": family, "onnx": onnx_s, "pth": pth_s} for family, onnx_s, pth_s in startups],
        "notes": notes,
    }
    atomic_write_text(path, json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
