"""Peak memory of `translate run` on a large image, whole vs tiled, each in a fresh process.

    python tools/bench/bench_tile_memory.py MODEL [--size 2000] [--tile 256] [--overlap 32] [--limit-gb 12]

Writes a random-texture SIZE x SIZE png, runs `translate run MODEL big.png --device cpu` with and
without `--tile`, and reports each run's peak resident memory (the child's ru_maxrss from
os.wait4), wall time and the largest difference between the two outputs (in 8-bit levels).
Each run is capped at --limit-gb of address space (prlimit), so an untiled run that would need
more fails on its own instead of exhausting the machine; the table then says so.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def run(cmd: list[str], limit_bytes: int) -> tuple[float, float, bool]:
    """Run ``cmd`` under an address-space limit; return (peak RSS MiB, wall seconds, succeeded)."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=cap)
    _, status, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024, time.perf_counter() - start, os.waitstatus_to_exitcode(status) == 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--size", type=int, default=2000)
    p.add_argument("--tile", type=int, default=256)
    p.add_argument("--overlap", type=int, default=32)
    p.add_argument("--limit-gb", type=float, default=12.0, help="address-space cap of each run (GiB)")
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
            rss, wall, ok = run(translate + [str(big), "-o", str(out), "--device", "cpu"] + extra,
                                int(args.limit_gb * 2**30))
            rows.append((label, rss, wall, cv2.imread(str(out)).astype(int) if ok else None))
        both = rows[0][3] is not None and rows[1][3] is not None
        diff = int(np.abs(rows[0][3] - rows[1][3]).max()) if both else None
    print(f"`translate run {args.model}` on a {args.size}x{args.size} image (CPU, {args.limit_gb:g} GiB cap):\n")
    print("| run | peak RSS (MiB) | wall (s) | result |\n|---|---|---|---|")
    for label, rss, wall, out in rows:
        result = "ok" if out is not None else f"failed: needs more than the {args.limit_gb:g} GiB cap"
        print(f"| {label} | {rss:.0f} | {wall:.1f} | {result} |")
    if both:
        print(f"\ntiled / whole peak memory: {rows[1][1] / rows[0][1]:.2f}; "
              f"max output difference: {diff} levels of 255")


if __name__ == "__main__":
    main()
