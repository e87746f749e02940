"""The JavaScript runtime (js/) on onnxruntime-node gives the pixels `translate run model.onnx` gives,
for every shipped model, on real images: untiled and tiled, RGBA (alpha kept) and gray inputs,
within 1/255. The Python side prepares the cases (exports, inputs, `translate run` outputs, the
tiling rules' values); js/test/parity.test.mjs runs them with `node --test` and writes its outputs,
which are compared here again."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from translate.cli import main
from translate.run.pipeline import blend_window, tile_starts

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"

pytestmark = pytest.mark.slow


def _sample(name: str, height: int, width: int, top: int = 0, left: int = 0) -> np.ndarray:
    """A real (height, width, 3) BGR uint8 crop of docs/samples/``name``, resized first when the file is smaller."""
    image = cv2.imread(str(SAMPLES / name), cv2.IMREAD_COLOR)
    if image.shape[0] < top + height or image.shape[1] < left + width:
        image = cv2.resize(image, (left + width, top + height), interpolation=cv2.INTER_AREA)
    return image[top:top + height, left:left + width]


def _layout(bgr: np.ndarray, kind: str) -> np.ndarray:
    """The file's array (BGR order for cv2) of a crop as ``kind``: rgb, rgb16 (16-bit), rgba (a real alpha
    ramp) or gray."""
    if kind == "rgb16":  # 16-bit: the 8-bit values spread over the range, plus a ramp in the low bits
        ramp = np.arange(bgr.size).reshape(bgr.shape) % 199
        return np.clip(bgr.astype(np.int64) * 257 - ramp, 0, 65535).astype(np.uint16)
    if kind == "gray":
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if kind == "rgba":
        h, w = bgr.shape[:2]
        alpha = np.clip(np.add.outer(np.arange(h) * 3, np.arange(w) * 2) + 40, 0, 255).astype(np.uint8)
        alpha[: h // 4, : w // 4] = 0  # a fully transparent corner
        return np.dstack([bgr, alpha])
    return bgr


def _rgb_order(array: np.ndarray) -> np.ndarray:
    """cv2's BGR(A) array in RGB(A) order (what a JavaScript app's pixel buffer holds)."""
    if array.ndim == 2:
        return array
    return array[..., [2, 1, 0, 3][: array.shape[2]]]


#: model -> cases (name, sample, (H, W), layout, tile, overlap); unet_256 models pad to 256 and tile at 256
CASES = {
    "facades-cyclegan-label2photo": [("untiled-rgba", "facade_labels.png", (53, 70), "rgba", 0, 32),
                                     ("untiled-rgb16", "facade_labels.png", (40, 36), "rgb16", 0, 32),
                                     ("tiled-gray", "facade_labels.png", (90, 100), "gray", 64, 16)],
    "facades-label2photo": [("untiled-rgba", "facade_labels.png", (53, 70), "rgba", 0, 32),
                            ("tiled-gray", "facade_labels.png", (270, 300), "gray", 256, 64)],
    "facades-photo2label": [("untiled-gray", "astronaut_hr.png", (53, 70), "gray", 0, 32),
                            ("tiled-rgba", "astronaut_hr.png", (270, 300), "rgba", 256, 64)],
    "shoes-edges2photo": [("untiled-rgb", "shoe_edges.png", (64, 64), "rgb", 0, 32),
                          ("tiled-rgba", "shoe_edges.png", (270, 260), "rgba", 256, 32)],
    "derain": [("untiled-rgba", "astronaut_hr.png", (53, 70), "rgba", 0, 32),
               ("tiled-gray", "astronaut_hr.png", (90, 100), "gray", 64, 16)],
    "sr-x4": [("untiled-rgba", "astronaut_lr.png", (33, 40), "rgba", 0, 32),
              ("tiled-gray", "astronaut_lr.png", (40, 48), "gray", 24, 8)],
    "inpaint": [("untiled-rgba-two-holes", "astronaut_hr.png", (90, 100), "rgba", 0, 32)],
}


def _mask(height: int, width: int) -> np.ndarray:
    """Two holes shorter than half the inpainting window: a block and a thin bar (white = hole)."""
    mask = np.zeros((height, width), np.uint8)
    mask[20:44, 15:39] = 255
    mask[55:85, 70:78] = 255
    return mask


def _prepare(folder: Path, models: dict[str, Path]) -> Path:
    """Write inputs, `translate run` outputs and the manifest js/test/parity.test.mjs reads."""
    folder.mkdir(exist_ok=True)
    cases = []
    for name, model in models.items():
        assert name in CASES, f"shipped model {name} has no parity case: add one to CASES"
        for case, sample, (h, w), kind, tile, overlap in CASES[name]:
            stem = f"{name}-{case}"
            array = _layout(_sample(sample, h, w, 10, 10), kind)
            src, out = folder / f"{stem}.png", folder / f"{stem}-python.png"
            cv2.imwrite(str(src), array)
            args = ["run", str(model), str(src), "-o", str(out), "--device", "cpu"]
            if tile:
                args += ["--tile", str(tile), "--tile-overlap", str(overlap)]
            mask_file = None
            if name == "inpaint":
                mask_file = f"{stem}-mask.raw"
                cv2.imwrite(str(folder / f"{stem}-mask.png"), _mask(h, w))
                _mask(h, w).tofile(folder / mask_file)
                args += ["--mask", str(folder / f"{stem}-mask.png")]
            assert main(args) == 0, f"translate run {' '.join(args[1:])} failed"
            expected = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
            _rgb_order(array).tofile(folder / f"{stem}.raw")
            _rgb_order(expected).tofile(folder / f"{stem}-python.raw")
            cases.append({
                "name": stem, "model": model.name, "input": f"{stem}.raw", "width": w, "height": h,
                "channels": 1 if array.ndim == 2 else array.shape[2], "bitDepth": 16 if array.dtype == np.uint16 else 8,
                "mask": mask_file,
                "tile": tile, "tileOverlap": overlap, "expected": f"{stem}-python.raw",
                "expectedWidth": expected.shape[1], "expectedHeight": expected.shape[0],
                "expectedChannels": 1 if expected.ndim == 2 else expected.shape[2], "output": f"{stem}-js.raw",
            })
    blend = [{"size": s, "overlap": o, "atStart": a, "atEnd": b, "weights": blend_window(s, o, a, b).tolist()}
             for s, o in ((64, 16), (256, 64), (96, 32), (30, 40), (1024, 128), (100, 7))
             for a, b in ((True, True), (True, False), (False, True))]
    starts = [{"length": n, "tile": t, "overlap": o, "starts": tile_starts(n, t, o)}
              for n, t, o in ((100, 64, 16), (512, 256, 64), (48, 24, 8), (64, 64, 16), (1000, 96, 40))]
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"cases": cases, "blend": blend, "tileStarts": starts}))
    for model in models.values():
        (folder / model.name).write_bytes(model.read_bytes())
    return manifest


def _node_tests(js_package: Path, manifest: Path, backend: str = "cpu") -> None:
    """Run js/test/ with node on the cases of ``manifest`` (backend: onnxruntime-node's cpu, or
    onnxruntime-web's wasm), then compare the outputs node wrote here too."""
    done = subprocess.run(["node", "--test", "--test-reporter=tap", "test/"], cwd=js_package, capture_output=True,
                          text=True, timeout=600, check=False, env={**os.environ, "TRANSLATE_PARITY_MANIFEST": str(manifest),
                                                       "TRANSLATE_PARITY_BACKEND": backend})
    report = done.stdout + done.stderr
    assert done.returncode == 0, f"node --test failed:\n{report[-6000:]}"
    assert re.search(r"^# skip(ped)? 0$", report, re.MULTILINE), f"a node test skipped:\n{report[-3000:]}"
    tmp_path = manifest.parent
    # the outputs node wrote, compared here too: a node test that passed vacuously fails here
    for case in json.loads(manifest.read_text())["cases"]:
        dtype, peak = (np.uint16, 65535) if case["bitDepth"] == 16 else (np.uint8, 255)
        js = np.fromfile(tmp_path / case["output"], dtype).astype(int)
        python = np.fromfile(tmp_path / case["expected"], dtype).astype(int)
        assert js.shape == python.shape, case["name"]
        worst = int(np.abs(js - python).max())
        print(f"{case['name']} ({backend}): max difference JS vs translate run {worst} / {peak}")
        assert worst <= peak / 255, f"{case['name']}: max difference {worst} / {peak}"


def test_js_runtime_matches_translate_run_on_every_shipped_model(js_package, shipped_onnx, tmp_path):
    manifest = _prepare(tmp_path, shipped_onnx)
    cases = json.loads(manifest.read_text())["cases"]
    assert {c["model"] for c in cases} == {p.name for p in shipped_onnx.values()}
    _node_tests(js_package, manifest)


def test_int8_export_matches_translate_run_on_onnxruntime_node_and_web(js_package, tmp_path):
    """An int8 file: onnxruntime-node's default uint8 x int8 kernels saturate on x86 CPUs without VNNI
    (this 2-core EPYC: up to 96/255 off); the runtime opens int8 files with exact arithmetic, as the
    Python runtime does, and onnxruntime-web's WASM kernels give the same pixels."""
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for sample in SAMPLES.glob("*.png"):
        (calibration / sample.name).write_bytes(sample.read_bytes())
    model = tmp_path / "models" / "sr-x4.onnx"
    # the gate is lowered: this test is about the runtimes agreeing on one int8 file, not its quality
    assert main(["export", "sr-x4", "-o", str(model), "--int8", "--calibration", str(calibration),
                 "--int8-gate", "20"]) == 0
    manifest = _prepare(tmp_path / "cases", {"sr-x4": model})
    _node_tests(js_package, manifest, "cpu")
    _node_tests(js_package, manifest, "wasm")
