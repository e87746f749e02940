"""The ``rain`` conversion: clean images -> de-raining pairs ``rain`` + ``norain``, each image with
its own synthetic rain drawn from the seed and its path (:func:`translate.data.degradations.add_rain`).
Torch-free.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from translate.data.convert.folders import _existing_dir, _label, _prepare_output, _read, _require_images
from translate.data.convert.outputs import ConvertOptions, ConvertReport, _Outputs, _check_numbers
from translate.data.convert.runner import _Task, _execute
from translate.data.degradations import RainParams, add_rain, random_rain_params
from translate.data.layouts import DERAIN
from translate.errors import TranslateError


def rain(clean_dir: str | os.PathLike, out_dir: str | os.PathLike, *, seed: int = 0, light_fraction: float = 0.5,
         density: float | None = None, angle: float | None = None, length: int | None = None,
         width: float | None = None, intensity: float | None = None, veil: float | None = None,
         options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """Clean images -> de-raining pairs ``out_dir/rain/<name>`` and ``out_dir/norain/<name>``.

    Each image gets its own random :class:`RainParams` (light with probability
    ``light_fraction``) and streak pattern, drawn from ``seed`` and the image's relative path
    (so adding images does not change the others); parameters given explicitly replace the
    drawn ones for every image. ``norain`` is the clean image as read (RGB, EXIF applied).
    """
    _check_numbers(seed=seed, light_fraction=light_fraction, density=density, angle=angle, length=length, width=width,
                   intensity=intensity, veil=veil)
    root = _existing_dir(clean_dir)
    out = _prepare_output(out_dir, [root], options)
    fixed = {k: v for k, v in dict(density=density, angle=angle, length=length, width=width,
                                   intensity=intensity, veil=veil).items() if v is not None}

    def task(path: Path) -> _Task:
        rel = path.relative_to(root).parent / (path.stem + options.suffix_for([path]))
        rainy_file, clean_file = (out / name / rel for name in DERAIN.folders)  # rain/, norain/
        key = zlib.crc32(path.relative_to(root).as_posix().encode())
        rng = np.random.default_rng([seed, key])
        params = replace(random_rain_params(rng, light_fraction), **fixed)
        streak_seed = int(rng.integers(2 ** 31))

        def run(outputs: _Outputs) -> None:
            img = _read(path)
            rainy, _ = add_rain(img.rgb, **asdict(params), seed=streak_seed)
            outputs.image(rainy_file, rainy)
            outputs.image(clean_file, img.rgb)

        return _Task(source=_label(root, path), run=run, outputs=(rainy_file, clean_file))

    if fixed:  # given values are checked once, up front (drawn ones are always valid)
        try:
            probe = replace(RainParams(density=0.01, angle=0, length=10, width=1, intensity=0.5), **fixed)
            add_rain(np.zeros((8, 8, 3), np.float32), **asdict(probe), seed=0)
        except ValueError as e:
            raise TranslateError(f"bad rain parameters: {e}") from None
    return _execute("rain", out, [task(p) for p in _require_images(root)], options)
