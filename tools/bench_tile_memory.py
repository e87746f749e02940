"""Peak memory of `translate run` on a large image, whole vs tiled, each in a fresh process.

    python tools/bench_tile_memory.py MODEL [--size 2000] [--tile 256] [--overlap 32]

Writes a random-texture SIZE x SIZE png, runs `translate run MODEL big.png --device cpu` with and
without `--tile`, and reports each run's peak resident memory (the child's ru_maxrss from
os.wait4), wall time and the largest difference between the two outputs (in 8-bit levels).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def run(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (peak RSS in MiB, wall seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode()}")
    return usage.ru_maxrss / 1024, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--size", type=int, default=2000)
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--overlap", type=int, default=32)
    args = p.parse_args()
    translate = [sys.executable, "-m", "translate", "run", args.model]
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.png"
        rng = np.random.default_rng(0)
        image = cv2.resize(rng.integers(0, 256, (args.size // 8, args.size // 8, 3), dtype=np.uint8),
                           (args.size, args.size), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(big), image)
        rows = []
        for label, extra in (("whole image", []), (f"--tile {args.tile} --tile-overlap {args.overlap}",
                                                   ["--tile", str(args.tile), "--tile-overlap", str(args.overlap)])):
            out = Path(tmp) / f"out_{len(rows)}.png"
            rss, wall = run(translate + [str(big), "-o", str(out), "--device", "cpu"] + extra)
            rows.append((label, rss, wall, cv2.imread(str(out)).astype(int)))
        diff = int(np.abs(rows[0][3] - rows[1][3]).max())
    print(f"`translate run {args.model}` on a {args.size}x{args.size} image (CPU):\n")
    print("| run | peak RSS (MiB) | wall (s) |\n|---|---|---|")
    for label, rss, wall, _ in rows:
        print(f"| {label} | {rss:.0f} | {wall:.1f} |")
    print(f"\ntiled / whole peak memory: {rows[1][1] / rows[0][1]:.2f}; max output difference: {diff} levels of 255")


if __name__ == "__main__":
    main()
