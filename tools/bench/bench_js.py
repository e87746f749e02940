"""Milliseconds per 256x256 image for each shipped model: the JavaScript runtime (js/) on
onnxruntime-node and on WASM in headless Chromium, and the Python onnxruntime runtime.

Every column is the whole pipeline, pixels in to pixels out (normalisation, padding to the size
multiple, the network, crop, 8-bit output), on the same real 256x256 RGB image (docs/samples,
resized) and the same fp32 ONNX file (`translate export`); the inpainting model fills a centre
48x48 hole (one 128x128 window). Each is run once to warm up, then ``--rounds`` times; the median is
reported. Threads: the Python runtime and onnxruntime-node use onnxruntime's defaults (one per
physical core); WASM in Chromium runs one thread (a page served without cross-origin isolation
headers, as by ``python -m http.server``, gets no WASM threads).

    python tools/bench/bench_js.py                    # exports every shipped model first (minutes)
    python tools/bench/bench_js.py --models DIR       # DIR/<name>.onnx from earlier `translate export`s

Needs node + npm (js/ installed with `npm ci`) and Debian's chromium + chromedriver with selenium.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "js"
SIDE = 256

NODE_BENCH = r"""
import { readFileSync } from 'node:fs';
import { loadModel } from '%(runtime)s';
const [manifest] = process.argv.slice(2);
const { models, image, mask, rounds } = JSON.parse(readFileSync(manifest, 'utf8'));
const pixels = { data: new Uint8Array(readFileSync(image)), width: %(side)d, height: %(side)d, channels: 3 };
const hole = { data: new Uint8Array(readFileSync(mask)), width: %(side)d, height: %(side)d, channels: 1 };
const result = {};
for (const [name, file] of Object.entries(models)) {
  const model = await loadModel(file);
  const options = model.needsMask ? { mask: hole } : {};
  await model.run(pixels, options);
  const times = [];
  for (let r = 0; r < rounds; r++) { const t = performance.now(); await model.run(pixels, options); times.push(performance.now() - t); }
  result[name] = { backend: model.backend, times };
  await model.release();
}
console.log(JSON.stringify(result));
"""

PAGE_BENCH = """
const [names, rounds, imageData, maskData, side, done] = arguments;
(async () => {
  const ort = await import('./ort/ort.min.mjs');
  const { loadModel } = await import('./runtime/index.js');
  ort.env.wasm.numThreads = 1;
  const pixels = { data: Uint8Array.from(imageData), width: side, height: side, channels: 3 };
  const hole = { data: Uint8Array.from(maskData), width: side, height: side, channels: 1 };
  const result = {};
  for (const name of names) {
    const model = await loadModel(name, { ort, backend: 'wasm' });
    const options = model.needsMask ? { mask: hole } : {};
    await model.run(pixels, options);
    const times = [];
    for (let r = 0; r < rounds; r++) { const t = performance.now(); await model.run(pixels, options); times.push(performance.now() - t); }
    result[name] = { backend: model.backend, times };
    await model.release();
  }
  return result;
})().then(done, (e) => done({ error: String(e && e.message || e) }));
"""


def _inputs(folder: Path) -> tuple[np.ndarray, np.ndarray, Path, Path]:
    """The real 256x256 RGB image and the centre-hole mask, as arrays and as raw files."""
    bgr = cv2.resize(cv2.imread(str(ROOT / "docs" / "samples" / "astronaut_hr.png")), (SIDE, SIDE),
                     interpolation=cv2.INTER_AREA)
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[SIDE // 2 - 24:SIDE // 2 + 24, SIDE // 2 - 24:SIDE // 2 + 24] = 255
    rgb.tofile(folder / "image.raw")
    mask.tofile(folder / "mask.raw")
    return rgb, mask, folder / "image.raw", folder / "mask.raw"


def _export(folder: Path) -> dict[str, Path]:
    from translate.cli import main
    from translate.models.cards import SHIPPED_WEIGHTS, read_card

    models = {}
    for weights in sorted(SHIPPED_WEIGHTS.glob("*.safetensors")):
        card = read_card(weights, optional=True)
        if card is not None:
            path = folder / f"{card.name}.onnx"
            if main(["export", card.name, "-o", str(path)]) != 0:
                raise SystemExit(f"translate export {card.name} failed")
            models[card.name] = path
    return models


def bench_python(models: dict[str, Path], rgb: np.ndarray, mask: np.ndarray, rounds: int) -> dict[str, list[float]]:
    from translate.run.runtime import Session

    result = {}
    for name, path in models.items():
        session = Session(path, device="cpu")
        options = {"mask": mask} if session.needs_mask else {}
        session(rgb, **options)
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            session(rgb, **options)
            times.append((time.perf_counter() - start) * 1000)
        result[name] = times
    return result


def bench_node(models: dict[str, Path], image: Path, mask: Path, rounds: int, folder: Path) -> dict[str, list[float]]:
    script = folder / "bench.mjs"
    script.write_text(NODE_BENCH % {"runtime": (JS / "index.js").as_uri(), "side": SIDE})
    manifest = folder / "node.json"
    manifest.write_text(json.dumps({"models": {k: str(v) for k, v in models.items()}, "image": str(image),
                                    "mask": str(mask), "rounds": rounds}))
    done = subprocess.run(["node", str(script), str(manifest)], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(r["backend"] == "cpu" for r in result.values())
    return {name: r["times"] for name, r in result.items()}


def bench_chromium(models: dict[str, Path], rgb: np.ndarray, mask: np.ndarray, rounds: int,
                   folder: Path) -> tuple[dict[str, list[float]], str]:
    from selenium import webdriver

    from translate.export.web import export_web

    site = folder / "site"
    first, *others = models.values()
    export_web(str(first), site)
    for path in others:
        shutil.copyfile(path, site / path.name)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "-b", "127.0.0.1", "-d", str(site)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
    try:
        time.sleep(1)
        browser.set_script_timeout(3600)
        browser.get(f"http://127.0.0.1:{port}/index.html?backend=wasm")
        version = browser.execute_script("return navigator.userAgent")
        names = [p.name for p in models.values()]
        result = browser.execute_async_script(PAGE_BENCH, names, rounds, rgb.ravel().tolist(), mask.ravel().tolist(), SIDE)
    finally:
        browser.quit()
        server.terminate()
    if "error" in result:
        raise SystemExit(f"the page failed: {result['error']}")
    by_file = {p.name: name for name, p in models.items()}
    return {by_file[f]: r["times"] for f, r in result.items()}, version


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, help="folder of <name>.onnx exports (default: export the shipped models)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the timings here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.models:
            models = {p.stem: p for p in sorted(args.models.glob("*.onnx"))}
        else:
            models = _export(folder)
        rgb, mask, image_raw, mask_raw = _inputs(folder)
        python = bench_python(models, rgb, mask, args.rounds)
        node = bench_node(models, image_raw, mask_raw, args.rounds, folder)
        chromium, agent = bench_chromium(models, rgb, mask, args.rounds, folder)
    ort_node = json.loads((JS / "node_modules" / "onnxruntime-node" / "package.json").read_text())["version"]
    import onnxruntime

    print(f"{platform.processor() or platform.machine()}, {subprocess.run(['nproc'], capture_output=True, text=True, check=True).stdout.strip()} "
          f"CPUs; node {subprocess.run(['node', '--version'], capture_output=True, text=True, check=True).stdout.strip()}, "
          f"onnxruntime-node/web {ort_node}, Python onnxruntime {onnxruntime.__version__}; {agent}")
    print(f"ms per {SIDE}x{SIDE} image, median of {args.rounds} after one warm-up\n")
    print("| model | Python onnxruntime (CPU) | JS, onnxruntime-node (CPU) | JS, WASM in Chromium (1 thread) |")
    print("|---|---:|---:|---:|")
    rows = {}
    for name in models:
        row = [statistics.median(t[name]) for t in (python, node, chromium)]
        rows[name] = {"python": python[name], "node": node[name], "chromium_wasm": chromium[name]}
        print(f"| {name} | {row[0]:.0f} | {row[1]:.0f} | {row[2]:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
