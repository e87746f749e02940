"""The ``unpaired`` conversion: two folders of images -> the CycleGAN layout (``trainA``,
``trainB``, ``testA``, ``testB``), a seeded random part of each folder going to test; files are
copied byte for byte or hard-linked. Torch-free.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from translate.data.convert.folders import _label, _prepare_output, _read, _require_images, _two_inputs
from translate.data.convert.outputs import ConvertOptions, ConvertReport, _Outputs, _check_numbers
from translate.data.convert.runner import _Task, _execute


def _copy_task(src: Path, dst: Path, source: str, link: bool) -> _Task:
    def run(outputs: _Outputs) -> None:
        _read(src)  # a file that does not decode is skipped, not copied
        outputs.copy(src, dst, link)

    return _Task(source=source, run=run, outputs=(dst,))


def unpaired(a_dir: str | os.PathLike, b_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
             test_fraction: float = 0.1, seed: int = 0, link: bool = False,
             options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """Two folders of images -> CycleGAN layout ``trainA, trainB, testA, testB``.

    A random ``test_fraction`` of each folder (drawn with ``seed``; at least one image stays in
    train) goes to test. Files are copied byte for byte (hard-linked with ``link``); images in
    subfolders are flattened as ``sub_name.ext``. Files that do not decode are skipped.
    """
    _check_numbers(test_fraction=test_fraction, seed=seed)
    roots = dict(zip("AB", _two_inputs(a_dir, b_dir)))
    out = _prepare_output(out_dir, roots.values(), options)
    tasks = []
    for index, (side, root) in enumerate(roots.items()):
        files = _require_images(root)
        n_test = min(int(round(len(files) * test_fraction)), len(files) - 1)
        rng = np.random.default_rng([seed, index])
        test = set(rng.permutation(len(files))[:n_test].tolist())
        for i, path in enumerate(files):
            name = "_".join(path.relative_to(root).parts)
            dst = out / f"{'test' if i in test else 'train'}{side}" / name
            tasks.append(_copy_task(path, dst, _label(root, path), link))
    return _execute("unpaired", out, tasks, options)
