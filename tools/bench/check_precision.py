"""How far `translate run --precision bf16|fp16` output is from fp32 output, on real images.

For each shipped model (sr-x4, derain, facades-label2photo) and each precision, the same images
go through ``translate.load(model, precision=...)`` and through the fp32 model on one device; the
figures compare the two float outputs in [0, 1]: largest and mean absolute difference and the
PSNR of the low-precision output against the fp32 one (dB; the larger, the closer). Inputs:
with the shared data folder, Set5 downscaled 4x (sr-x4), Rain100L rainy images (derain) and the
label maps of the facades test split (label2photo); without it (the GPU machine), the samples in
docs/samples. Accuracy does not depend on machine load, so no timing is taken here.

    python tools/bench/check_precision.py --device cpu  --precisions bf16          # CPU (fp16 is GPU-only)
    python tools/bench/check_precision.py --device cuda --precisions fp16 bf16 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from translate import load  # noqa: E402
from translate.imageio import Image, image_from_array, read_image  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
SAMPLES = ROOT / "docs" / "samples"


def _downscaled(path: Path, factor: int = 4) -> Image:
    image = read_image(path)
    h, w = image.size
    small = cv2.resize(image.rgb, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return Image(rgb=np.clip(small, 0, 1), alpha=None, gray=False, bit_depth=8)


def _label_half(path: Path) -> Image:
    """The B half (label map) of a facades A|B test image."""
    rgb = read_image(path).rgb
    return image_from_array((rgb[:, rgb.shape[1] // 2:] * 255 + 0.5).astype(np.uint8))


def inputs(count: int) -> dict[str, list[tuple[str, Image]]]:
    """model name -> [(image name, decoded image)]: real data from the shared folder, else the samples."""
    if SHARED.is_dir():
        return {
            "sr-x4": [(p.name, _downscaled(p)) for p in sorted((SHARED / "sr" / "Set5").glob("*.png"))[:count]],
            "derain": [(p.name, read_image(p)) for p in sorted((SHARED / "derain" / "Rain100L" / "rain").glob("*"))[:count]],
            "facades-label2photo": [(p.name, _label_half(p))
                                    for p in sorted((SHARED / "paired" / "facades" / "test").glob("*"))[:count]],
        }
    return {
        "sr-x4": [("astronaut_lr.png", read_image(SAMPLES / "astronaut_lr.png"))],
        "derain": [("astronaut_hr.png", read_image(SAMPLES / "astronaut_hr.png"))],
        "facades-label2photo": [("facade_labels.png", read_image(SAMPLES / "facade_labels.png"))],
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["bf16"])
    parser.add_argument("--images", type=int, default=5, help="images per model from the shared data (default 5)")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args()
    import torch

    rows = []
    for model, images in inputs(args.images).items():
        reference = load(model, device=args.device)
        for precision in args.precisions:
            translator = load(model, device=args.device, precision=precision)
            worst, means, psnrs = 0.0, [], []
            for _, image in images:
                fp32, _ = reference.translate(image)
                low, _ = translator.translate(image)
                diff = np.abs(low - fp32)
                worst = max(worst, float(diff.max()))
                means.append(float(diff.mean()))
                psnrs.append(psnr(low, fp32))
            rows.append({"model": model, "precision": precision, "images": len(images), "max_abs": worst,
                         "mean_abs": float(np.mean(means)), "psnr_min_db": float(min(psnrs)),
                         "psnr_mean_db": float(np.mean(psnrs))})
            print(f"{model:22s} {precision}: {len(images)} images, max |diff| {worst:.4f}, mean {np.mean(means):.5f}, "
                  f"PSNR vs fp32 min {min(psnrs):.1f} dB, mean {np.mean(psnrs):.1f} dB", flush=True)
    device = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else platform.processor() \
        or platform.machine()
    report = {"device": args.device, "device_name": device, "torch": torch.__version__,
              "data": "shared" if SHARED.is_dir() else "docs/samples", "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
