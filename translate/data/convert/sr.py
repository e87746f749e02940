"""The ``sr`` conversion: high-resolution images -> the super-resolution layout, ``HR`` (cropped to
a multiple of the scale) beside ``LR_x<scale>`` (MATLAB-bicubic downscales), whole or cut into
aligned patches. Torch-free.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from translate.data.convert.folders import _existing_dir, _hw, _label, _prepare_output, _read, _require_images
from translate.data.convert.outputs import ConvertOptions, ConvertReport, _Outputs, _check_numbers
from translate.data.convert.runner import _Task, _execute
from translate.data.degradations import imresize_matlab
from translate.data.layouts import SR, lr_folder
from translate.errors import TranslateError
from translate.imageio import to_uint


def _patch_starts(length: int, patch: int, stride: int) -> list[int]:
    """Patch origins along one axis covering it fully (the last patch is flush with the end)."""
    starts = list(range(0, length - patch + 1, stride))
    if starts and starts[-1] != length - patch:
        starts.append(length - patch)
    return starts


def sr(hr_dir: str | os.PathLike, out_dir: str | os.PathLike, *, scale: int = 4, patch: int | None = None,
       stride: int | None = None, options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """HR images -> ``out_dir/HR`` (cropped to a multiple of ``scale``) and ``out_dir/LR_x<scale>``.

    LR images are MATLAB-bicubic downscales (:func:`imresize_matlab`, the convention of the
    published SR benchmarks), rounded to the source bit depth. With ``patch`` both are cut into
    aligned sub-images (HR ``patch`` px every ``stride`` px, LR ``patch / scale`` px), named
    ``<stem>_s001`` ...; ``patch`` and ``stride`` must be multiples of ``scale``.
    """
    _check_numbers(scale=scale, patch=patch, stride=stride)
    if stride is not None and patch is None:
        raise TranslateError("--stride only applies with --patch; give --patch too")
    if patch is not None:
        stride = patch if stride is None else stride
        if patch % scale or stride % scale:
            raise TranslateError(f"--patch ({patch}) and --stride ({stride}) must be positive multiples "
                                 f"of --scale ({scale})")
    root = _existing_dir(hr_dir)
    out = _prepare_output(out_dir, [root], options)
    hr_root, lr_root = out / SR.folders[0], out / lr_folder(scale)  # HR/, LR_x<scale>/

    def task(path: Path) -> _Task:
        rel = path.relative_to(root).parent
        name = path.stem + options.suffix_for([path])
        whole = (hr_root / rel / name, lr_root / rel / name)

        def run(outputs: _Outputs) -> None:
            img = _read(path)
            h, w = (n - n % scale for n in img.size)
            if h == 0 or w == 0:
                raise TranslateError(f"{_hw(img)} is smaller than the scale {scale}")
            peak = 65535.0 if img.bit_depth == 16 else 255.0
            hr = to_uint(img.rgb[:h, :w], img.bit_depth)
            lr = imresize_matlab(hr, 1.0 / scale)  # integer in, MATLAB-rounded integer out
            if patch is None:
                outputs.image(whole[0], hr.astype(np.float32) / peak, img.bit_depth)
                outputs.image(whole[1], lr.astype(np.float32) / peak, img.bit_depth)
                return
            origins = [(y, x) for y in _patch_starts(h, patch, stride) for x in _patch_starts(w, patch, stride)]
            if not origins:
                raise TranslateError(f"{w}x{h} (cropped to a multiple of {scale}) is smaller than --patch {patch}")
            names = [f"{path.stem}_s{k:03d}{options.suffix_for([path])}" for k in range(1, len(origins) + 1)]
            if outputs.done([d / rel / n for n in names for d in (hr_root, lr_root)]):
                return
            lp = patch // scale
            for (y, x), n in zip(origins, names):
                outputs.image(hr_root / rel / n, hr[y:y + patch, x:x + patch].astype(np.float32) / peak, img.bit_depth)
                ly, lx = y // scale, x // scale
                outputs.image(lr_root / rel / n, lr[ly:ly + lp, lx:lx + lp].astype(np.float32) / peak, img.bit_depth)

        if patch is None:
            return _Task(source=_label(root, path), run=run, outputs=whole)
        return _Task(source=_label(root, path), run=run, claims=whole)

    return _execute("sr", out, [task(p) for p in _require_images(root)], options)
