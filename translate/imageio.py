"""Reading and writing images with OpenCV; no torch here.

Every way of running a model reads through :func:`read_image` and writes through
:func:`write_image`, so grayscale, palette, RGBA, 16-bit and EXIF-rotated files behave the same
in `translate run`, the Python API, the ONNX runtime and `translate convert`.
"""

from __future__ import annotations

import glob as _glob
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from translate.errors import TranslateError
from translate.fileio import atomic_write_bytes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass
class Image:
    """A decoded image: ``rgb`` (H, W, 3) float32 in [0, 1], ``alpha`` (H, W) float32 or None.

    ``gray`` says the file had one colour channel, ``bit_depth`` is 8 or 16 (the file's depth).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    gray: bool = False
    bit_depth: int = 8

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def read_image(path: str | os.PathLike) -> Image:
    """Read any image file OpenCV decodes, with EXIF orientation applied and alpha kept.

    Raises :class:`TranslateError` with a one-line reason for a missing, empty or undecodable
    file (e.g. a text file renamed ``.jpg``).
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise TranslateError(f"{path}: file not found") from None
    except (IsADirectoryError, PermissionError, OSError) as e:
        raise TranslateError(f"{path}: cannot read file ({e.strerror or e})") from None
    if data.size == 0:
        raise TranslateError(f"{path}: file is empty (0 bytes); replace it with a valid image")
    # IMREAD_COLOR applies the EXIF orientation; IMREAD_UNCHANGED keeps alpha and channel count
    # but ignores EXIF, so both are decoded and the alpha plane is oriented to match.
    color = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    if color is None:
        raise TranslateError(
            f"{path}: not a readable image (corrupt or unsupported format); "
            f"use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    gray = raw is not None and raw.ndim == 2
    alpha = None
    if raw is not None and raw.ndim == 3 and raw.shape[2] == 4:
        alpha = _orient_like(raw, color)[..., 3]
    scale = _depth_max(color)
    rgb = cv2.cvtColor(color, cv2.COLOR_BGR2RGB).astype(np.float32) / scale
    if alpha is not None:
        alpha = alpha.astype(np.float32) / _depth_max(alpha)
    return Image(rgb=rgb, alpha=alpha, gray=gray, bit_depth=16 if color.dtype == np.uint16 else 8)


def _depth_max(a: np.ndarray) -> float:
    if a.dtype == np.uint8:
        return 255.0
    if a.dtype == np.uint16:
        return 65535.0
    return 1.0


def _orient_like(raw: np.ndarray, oriented: np.ndarray) -> np.ndarray:
    """Apply to ``raw`` (H, W, 4) the one of the 8 EXIF transforms that makes its colour match."""
    bgr = raw[..., :3]
    candidates = [
        lambda a: a,
        lambda a: a[:, ::-1],
        lambda a: a[::-1, ::-1],
        lambda a: a[::-1, :],
        lambda a: a.transpose(1, 0, 2),
        lambda a: np.rot90(a, -1),
        lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        lambda a: np.rot90(a, 1),
    ]
    for t in candidates:
        c = t(bgr)
        if c.shape == oriented.shape and c.dtype == oriented.dtype and np.array_equal(c, oriented):
            return np.ascontiguousarray(t(raw))
    return raw


def to_uint(a: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Float array in [0, 1] -> rounded uint8 (``bit_depth`` 8) or uint16 (16)."""
    peak, dtype = (65535.0, np.uint16) if bit_depth == 16 else (255.0, np.uint8)
    return (np.clip(a, 0.0, 1.0) * peak + 0.5).astype(dtype)


def encode_image(
    rgb: np.ndarray, ext: str, alpha: np.ndarray | None = None, bit_depth: int = 8,
    quality: int = 95,
) -> bytes:
    """Encode ``rgb`` (H, W, 3) float in [0, 1] or uint8, optional ``alpha`` (H, W), to bytes.

    ``ext`` is the file suffix (``.png``, ``.jpg`` ...). 16-bit is kept only for png / tiff;
    alpha only where the format holds it (png, webp, tiff).
    """
    ext = ext.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise TranslateError(f"cannot write '{ext}' images; use one of {', '.join(IMAGE_EXTENSIONS)}")
    if ext not in (".png", ".tif", ".tiff"):
        bit_depth = 8
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float32) / 255.0
    if alpha is not None and alpha.dtype == np.uint8:
        alpha = alpha.astype(np.float32) / 255.0
    out = cv2.cvtColor(to_uint(rgb, bit_depth), cv2.COLOR_RGB2BGR)
    if alpha is not None and ext in (".png", ".webp", ".tif", ".tiff"):
        out = np.dstack([out, to_uint(alpha, bit_depth)])
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, out, params)
    if not ok:
        raise TranslateError(f"OpenCV could not encode a {ext} image of shape {out.shape}")
    return buf.tobytes()


def write_image(
    path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None,
    bit_depth: int = 8, quality: int = 95,
) -> None:
    """Encode (see :func:`encode_image`) and write atomically to ``path``; folders are created."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(rgb, path.suffix, alpha, bit_depth, quality))


def list_images(spec: str | os.PathLike) -> list[Path]:
    """Expand a file, a folder (its image files, sorted, not recursive) or a glob pattern.

    Files named explicitly or matched by a glob are kept whatever their suffix, so a broken
    file is reported when read rather than silently ignored. Raises :class:`TranslateError`
    when nothing matches.
    """
    p = Path(spec)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise TranslateError(f"{p}: folder has no image files ({', '.join(IMAGE_EXTENSIONS)})")
        return files
    if any(ch in str(spec) for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(str(spec), recursive=True) if Path(f).is_file())
        if not files:
            raise TranslateError(f"no files match the pattern '{spec}'")
        return files
    raise TranslateError(f"{p}: no such file or folder")


def image_from_array(array: np.ndarray) -> Image:
    """Wrap an in-memory image (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or
    uint16, as an :class:`Image`; other shapes or dtypes raise :class:`TranslateError`."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(array).__name__}")
    if array.dtype not in (np.uint8, np.uint16):
        raise TranslateError(f"image array must be uint8 or uint16, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        rgb, alpha, gray = np.repeat(array[..., None], 3, axis=2), None, True
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        rgb, alpha, gray = array[..., :3], (array[..., 3] if array.shape[2] == 4 else None), False
    else:
        raise TranslateError(
            f"image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {array.shape}")
    peak = _depth_max(array)
    return Image(rgb=rgb.astype(np.float32) / peak,
                 alpha=None if alpha is None else alpha.astype(np.float32) / peak,
                 gray=gray, bit_depth=16 if array.dtype == np.uint16 else 8)


def image_to_array(rgb: np.ndarray, alpha: np.ndarray | None = None, bit_depth: int = 8) -> np.ndarray:
    """(H, W, 3) float RGB in [0, 1] (+ optional (H, W) alpha) -> (H, W, 3 or 4) uint8 / uint16."""
    out = to_uint(rgb, bit_depth)
    if alpha is not None:
        out = np.dstack([out, to_uint(alpha, bit_depth)])
    return out
