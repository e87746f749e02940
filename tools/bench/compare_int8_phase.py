"""int8 with and without the transposed-convolution phase rewrite, side by side in one run.

    python tools/bench/compare_int8_phase.py MODEL SIZE [--rounds N]
    python tools/bench/compare_int8_phase.py inpaint 128

Exports MODEL (a family or shipped name of tools/bench/bench_infer.py) three times: fp32, int8 as
`translate export --int8` writes it (transposed convolutions as four integer phase convolutions,
translate.export.graph_rewrite), and int8 with that rewrite switched off (the previous export: float
ConvTranspose between DequantizeLinear / QuantizeLinear). Each int8 file is calibrated and gated
as the export does (tools/bench/bench_infer.py's INT8_DATA folders). Then times the three onnxruntime
CPU sessions round-robin on one SIZE x SIZE input and prints the gate figures and median ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_infer  # noqa: E402

import translate.export.graph_rewrite as graph_rewrite  # noqa: E402
from translate.export.onnx import export_onnx  # noqa: E402
from translate.run.runtime import Session  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=sorted(bench_infer.INT8_DATA))
    p.add_argument("size", type=int)
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--data", type=Path, default=bench_infer.ROOT.parent / "shared" / "data")
    args = p.parse_args()
    net, card = bench_infer.build(args.model)
    with tempfile.TemporaryDirectory(prefix="int8_phase_") as tmp:
        folder = Path(tmp)
        calibration, check = (bench_infer.input_halves(args.data / sub, card, folder / name)
                              for sub, name in zip(bench_infer.INT8_DATA[args.model], ("calibration", "check")))
        phase = export_onnx(net, card, folder / "phase.onnx", int8=True, calibration=calibration, int8_check=check)
        rewrite = graph_rewrite.phase_split_transposed_convolutions
        graph_rewrite.phase_split_transposed_convolutions = lambda model: []  # the export before the rewrite
        try:
            plain = export_onnx(net, card, folder / "plain.onnx", int8=True, calibration=calibration,
                                int8_check=check)
        finally:
            graph_rewrite.phase_split_transposed_convolutions = rewrite
        fp32 = export_onnx(net, card, folder / "fp32.onnx")
        print(f"{args.model}, load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} at the start")
        print(f"int8, phase convolutions: {phase.int8.summary()}")
        print(f"int8, float ConvTranspose: {plain.int8.summary()}")
        runs = {name: Session(result.path, device="cpu").backend
                for name, result in (("fp32", fp32), ("int8 float ConvTranspose", plain), ("int8 phase", phase))}
        x = bench_infer.bench_input(card, 1, args.size)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for run in runs.values():
            run(x)
        for _ in range(args.rounds):
            for name, run in runs.items():
                start = time.perf_counter()
                run(x)
                times[name].append(time.perf_counter() - start)
        for name, t in times.items():
            print(f"{name}: {statistics.median(t) * 1000:.2f} ms (median of {args.rounds})")
        print(f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")


if __name__ == "__main__":
    main()
