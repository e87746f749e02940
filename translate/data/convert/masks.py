"""The ``masks`` conversion: write a numbered set of inpainting masks (255 = hole), each drawn from
the seed and its number (:func:`translate.data.degradations.make_mask`). Torch-free.
"""

from __future__ import annotations

import os

import numpy as np

from translate.data.convert.folders import _prepare_output
from translate.data.convert.outputs import ConvertOptions, ConvertReport, _Outputs, _check_numbers
from translate.data.convert.runner import _Task, _execute
from translate.data.degradations import MASK_KINDS, make_mask
from translate.errors import TranslateError


def masks(out_dir: str | os.PathLike, *, count: int, size: int = 256, kind: str = "centre", seed: int = 0,
          options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """Write ``count`` inpainting masks ``mask_00001.png`` ... (``size`` x ``size``, 255 = hole).

    Mask ``i`` is drawn from ``(seed, i)``, so the same arguments give the same files and a
    larger ``count`` extends the set. See :func:`translate.data.degradations.make_mask`.
    """
    _check_numbers(count=count, size=size, seed=seed)
    if kind not in MASK_KINDS:
        raise TranslateError(f"unknown mask kind '{kind}'; use one of {', '.join(MASK_KINDS)}")
    out = _prepare_output(out_dir, [], options)

    def task(i: int) -> _Task:
        path = out / f"mask_{i:05d}.png"

        def run(outputs: _Outputs) -> None:
            outputs.image(path, make_mask(size, kind, np.random.default_rng([seed, i])))

        return _Task(source=path.name, run=run, outputs=(path,))

    return _execute("masks", out, [task(i) for i in range(1, count + 1)], options)
