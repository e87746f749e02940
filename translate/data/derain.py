"""De-raining data: real rain / clean pairs and clean images with synthetic rain added on the fly.

``DIR`` is a de-raining layout (:data:`translate.data.layouts.DERAIN`): real pairs in ``DIR/rain``
and ``DIR/norain`` (the Rain100L / Rain100H / RainTrainH layout: ``rain/rain-001.png`` <->
``norain/norain-001.png``, matched by :func:`translate.data.layouts.rain_pair_key`, so same-named
pairs match too), or a folder of clean images that get synthetic rain.
Clean folders (``--synthetic-rain``) give one item per image: a random crop of it with rain
streaks drawn by :func:`translate.data.degradations.add_rain` from
:func:`~translate.data.degradations.random_rain_params` (light and heavy rain). Every item's
crop, flip and rain are drawn from ``(seed, epoch, index)``, so runs repeat and resume exactly.

Items: ``{"A": rainy (3, S, S) in [-1, 1], "B": clean (3, S, S), "A_path": str, "B_path": str}``.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any, Sequence

from translate.data.datasets import _SeededDataset, build_transform, images_in_folders, refuse_empty, to_tensor
from translate.data.degradations import add_rain, random_rain_params
from translate.data.layouts import DERAIN
from translate.errors import TranslateError
from translate.imageio import read_image


class DerainDataset(_SeededDataset):
    """The real pairs of ``data`` (a :data:`~translate.data.layouts.DERAIN` folder, optional; repeated
    ``pair_repeat`` times per epoch), or its clean images, followed by synthetic-rain items from
    the images of ``clean_dirs``.

    ``crop_size`` random crops (images smaller than the crop are reflect-padded), random flips;
    ``light_fraction`` is the share of synthetic items with light rain; ``clean_fraction`` the
    share left dry (input = target), which teaches the network to leave rain-free content,
    such as bright walls and sky, alone. Raises TranslateError when there is no data at all, or
    what :meth:`translate.data.layouts.Layout.find` finds wrong with ``data``.
    """

    def __init__(self, data: str | os.PathLike | None, clean_dirs: Sequence[str | os.PathLike] = (),
                 crop_size: int = 128, flip: bool = True, seed: int = 0, light_fraction: float = 0.5,
                 pair_repeat: int = 1, clean_fraction: float = 0.0):
        super().__init__(seed)
        if pair_repeat < 1:
            raise ValueError(f"pair_repeat must be >= 1, got {pair_repeat}")
        found = DERAIN.find(data).require() if data is not None else None
        self.pairs = found.pairs.get(DERAIN.folders[1], []) if found else []  # (rain/, norain/) files
        refuse_empty([p for pair in self.pairs for p in pair])
        own_clean = refuse_empty(found.files.get("clean", [])) if found else []
        self.pair_repeat = pair_repeat
        self.clean = own_clean + images_in_folders(clean_dirs, "clean images for --synthetic-rain")
        if not self.pairs and not self.clean:
            raise TranslateError("no de-raining data: give --data DIR with rain/ and norain/ and/or "
                                 "--synthetic-rain CLEAN_DIR[,CLEAN_DIR...]")
        self.light_fraction = light_fraction
        self.clean_fraction = clean_fraction
        self.transform = build_transform("crop", crop_size, crop_size, flip, paired=True)

    def __len__(self) -> int:
        return len(self.pairs) * self.pair_repeat + len(self.clean)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self.item_rng(index)
        n_pairs = len(self.pairs) * self.pair_repeat
        if index < n_pairs:
            rain_path, clean_path = self.pairs[index % len(self.pairs)]
            rainy, clean = read_image(rain_path).rgb, read_image(clean_path).rgb
            if rainy.shape != clean.shape:
                raise TranslateError(f"{rain_path} is {rainy.shape[1]}x{rainy.shape[0]} but {clean_path} is "
                                     f"{clean.shape[1]}x{clean.shape[0]}; a pair must have one size")
            self.transform.set_random_seed(self._seed_from(rng))
            out = self.transform(image=rainy, image_b=clean)
            rainy, clean = out["image"], out["image_b"]
        else:
            rain_path = clean_path = self.clean[index - n_pairs]
            self.transform.set_random_seed(self._seed_from(rng))
            clean = self.transform(image=read_image(clean_path).rgb)["image"]
            params = random_rain_params(rng, self.light_fraction)
            streak_seed = self._seed_from(rng)  # drawn for dry items too: the others keep their rain
            if rng.random() < self.clean_fraction:
                rainy = clean
            else:
                rainy, _ = add_rain(clean, **asdict(params), seed=streak_seed)
        return {"A": to_tensor(rainy, 3), "B": to_tensor(clean, 3), "A_path": str(rain_path),
                "B_path": str(clean_path)}
