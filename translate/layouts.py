"""Dataset layouts that several parts read: one definition each, torch-free.

The paired (pix2pix) layout stores A and B side by side in one image, A on the left; the
training dataset, `translate convert split`, and `translate eval translation` all cut it here.
"""

from __future__ import annotations

import numpy as np

from translate.errors import TranslateError


def split_aligned(image: np.ndarray, source: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` halves of an (H, W, ...) A|B side-by-side image: columns ``[0, W//2)`` and
    ``[W//2, 2*(W//2))`` (an odd last column is dropped). Raises TranslateError naming ``source``
    when the image is narrower than 2 pixels."""
    width = image.shape[1]
    if width < 2:
        raise TranslateError(f"{source}: image is {width} pixel wide; expected A and B side by side")
    half = width // 2
    return image[:, :half], image[:, half:2 * half]
