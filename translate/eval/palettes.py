"""Label palettes: the class colours of label-map datasets, and pixels -> classes. No torch.

A label map drawn as an RGB image (facades in pix2pix's A|B files, Cityscapes colour maps) paints
each class in one fixed colour; JPEG compression then blurs the colours at class borders. To score
a translated label map (`translate eval translation`), every pixel of the output and of the ground
truth is mapped to the nearest palette colour (:func:`to_classes`).

The facades palette (:data:`FACADES`) was derived from the training label maps only, with
:func:`derive_palette` (``python tools/ship/derive_palette.py ../shared/data/paired/facades/train
--classes 12 --half B``): the colours of the "flat" pixels (a 5x5 neighbourhood whose channels vary
by at most 12 levels, so no class border and little JPEG ringing), grouped greedily around the
most frequent colours at least 50 levels apart, each group's centre the per-channel median.
Exactly 12 groups exist; they follow the jet colour map in the order of the CMP class ids, which
names them (checked by eye: yellow blinds beside windows, dark-red shops on ground floors). On the
106 test label maps, 99.998% of the flat pixels (37% of all) lie within 30 RGB levels of a palette
colour; of all pixels 72.1% do (84.3% within 60): the rest are JPEG blends along class borders,
which the maps have many of (thin sills, mouldings), and which nearest-colour assignment gives to
the nearer class, as it does for the outputs.

Other palettes come as a JSON file: ``{"name": "...", "classes": [{"name": "sky", "rgb": [70, 130,
180]}, ...]}`` (:func:`load_palette`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from translate.errors import TranslateError

__all__ = ["Palette", "FACADES", "PALETTES", "load_palette", "to_classes", "draw", "derive_palette", "flat_pixels"]


@dataclass(frozen=True)
class Palette:
    """Class names and their RGB colours (``colours``: (K, 3) uint8, row k = class k)."""

    name: str
    classes: tuple[str, ...]
    colours: np.ndarray

    def __post_init__(self) -> None:
        colours = np.asarray(self.colours)
        if colours.ndim != 2 or colours.shape[1] != 3 or colours.shape[0] != len(self.classes):
            raise ValueError(f"palette {self.name}: need one RGB colour per class, got colours of shape "
                             f"{colours.shape} for {len(self.classes)} classes")
        if colours.shape[0] < 2:
            raise ValueError(f"palette {self.name}: needs at least 2 classes")
        object.__setattr__(self, "colours", colours.astype(np.uint8))

    def __len__(self) -> int:
        return len(self.classes)

    def to_json(self) -> str:
        """The palette in the JSON file format :func:`load_palette` reads."""
        return json.dumps({"name": self.name, "classes": [{"name": n, "rgb": [int(v) for v in c]}
                                                           for n, c in zip(self.classes, self.colours)]}, indent=1)


#: CMP facades (pix2pix's facades A|B files): derived from the training label maps (see the module doc).
FACADES = Palette(
    name="facades",
    classes=("background", "facade", "window", "door", "cornice", "sill", "balcony", "blind", "deco", "molding",
             "pillar", "shop"),
    colours=np.array([(0, 0, 222), (0, 48, 255), (0, 128, 255), (1, 207, 255), (32, 255, 224), (112, 254, 142),
                      (192, 255, 63), (255, 240, 1), (255, 159, 0), (255, 80, 0), (253, 1, 0), (174, 0, 1)]),
)

#: Palettes known by name (``--palette facades``).
PALETTES: dict[str, Palette] = {FACADES.name: FACADES}


def load_palette(spec: str | os.PathLike) -> Palette:
    """A palette by name (:data:`PALETTES`) or from a JSON file (format in the module doc).

    Raises :class:`TranslateError` naming the file for a missing file, bad JSON or a wrong shape.
    """
    if str(spec) in PALETTES:
        return PALETTES[str(spec)]
    path = Path(spec)
    if not path.is_file():
        raise TranslateError(f"--palette {spec}: neither a known palette ({', '.join(PALETTES)}) nor a JSON file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        classes = data["classes"]
        names = tuple(str(c["name"]) for c in classes)
        colours = np.array([[int(v) for v in c["rgb"]] for c in classes])
        if colours.size and (colours.min() < 0 or colours.max() > 255):
            raise ValueError("rgb values must be in 0..255")
        return Palette(str(data.get("name", path.stem)), names, colours)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise TranslateError(f"--palette {path}: not a palette file ({type(e).__name__}: {e}); expected "
                             '{"classes": [{"name": "...", "rgb": [R, G, B]}, ...]}') from None


def to_classes(rgb: np.ndarray, palette: Palette) -> np.ndarray:
    """(H, W) int64 class ids of an (H, W, 3) RGB label image: the nearest palette colour of each
    pixel (Euclidean distance in RGB). ``rgb`` is uint8 (0..255) or float in [0, 1]."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"to_classes expects an (H, W, 3) image, got shape {rgb.shape}")
    values = rgb.astype(np.float32) * (255.0 if rgb.dtype.kind == "f" else 1.0)
    colours = palette.colours.astype(np.float32)
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every class, so it is left out.
    scores = values.reshape(-1, 3) @ colours.T * -2.0 + (colours ** 2).sum(1)
    return scores.argmin(1).reshape(rgb.shape[:2])


def draw(classes: np.ndarray, palette: Palette) -> np.ndarray:
    """(H, W, 3) uint8 RGB label image of (H, W) integer class ids."""
    if classes.min(initial=0) < 0 or classes.max(initial=0) >= len(palette):
        raise ValueError(f"class ids must be in 0..{len(palette) - 1}")
    return palette.colours[classes]


def flat_pixels(image: np.ndarray, flat_range: int = 12) -> np.ndarray:
    """(H, W) bool: pixels of an (H, W, 3) uint8 image whose 5x5 neighbourhood varies by at most
    ``flat_range`` levels in every channel (inside a region of one colour, away from its border)."""
    import cv2

    kernel = np.ones((5, 5), np.uint8)
    return (cv2.dilate(image, kernel).astype(np.int16) - cv2.erode(image, kernel)).max(axis=2) <= flat_range


def derive_palette(label_images: list[np.ndarray], classes: int, *, flat_range: int = 12,
                   separation: float = 50.0, radius: float = 30.0) -> np.ndarray:
    """The ``classes`` class colours of RGB uint8 (H, W, 3) label images with blurred borders.

    Keeps the pixels whose 5x5 neighbourhood varies by at most ``flat_range`` levels per channel
    (inside a class region), then takes their most frequent colours greedily, each at least
    ``separation`` from those already taken, and returns for each the per-channel median of the
    flat pixels within ``radius`` of it, as a (classes, 3) uint8 array ordered by frequency.
    Raises ValueError if fewer than ``classes`` separate colours exist.
    """
    pixels = np.concatenate([image[flat_pixels(image, flat_range)] for image in label_images]).astype(np.int64)
    keys, counts = np.unique(pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2], return_counts=True)
    colours = np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1)
    seeds: list[np.ndarray] = []
    for i in np.argsort(-counts, kind="stable"):
        if all(np.linalg.norm(colours[i] - s) >= separation for s in seeds):
            seeds.append(colours[i])
            if len(seeds) == classes:
                break
    if len(seeds) < classes:
        raise ValueError(f"found only {len(seeds)} separate colours, not {classes}")
    centres = []
    for seed in seeds:
        near = np.linalg.norm(colours - seed, axis=1) < radius
        centres.append([np.median(np.repeat(colours[near, c], counts[near])) for c in range(3)])
    return np.round(centres).astype(np.uint8)
