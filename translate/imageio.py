"""Reading and writing images with OpenCV; no torch here.

Every way of running a model reads through :func:`read_image` and writes through
:func:`write_image`, so grayscale, palette, RGBA, 16-bit and EXIF-rotated files behave the same
in `translate run`, the Python API, the ONNX runtime and `translate convert`.
"""

from __future__ import annotations

import contextlib
import glob as _glob
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from translate.errors import TranslateError
from translate.fileio import atomic_write_bytes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")

#: OpenCV's own limit on the pixels an image header may declare (its default is 2**30); a file
#: claiming more is refused before anything is allocated. Read by OpenCV once, at start-up.
PIXEL_LIMIT_ENV = "OPENCV_IO_MAX_IMAGE_PIXELS"


def pixel_limit() -> int:
    """The most pixels an image may have here: ``$OPENCV_IO_MAX_IMAGE_PIXELS``, else OpenCV's 2**30."""
    return int(os.environ.get(PIXEL_LIMIT_ENV, str(2 ** 30)))

# Lines the image libraries print straight to the process's stderr (fd 2) while decoding or
# encoding: libpng's "libpng warning/error: ...", libjpeg's "Corrupt JPEG data ..." / "Premature
# end of JPEG file", libtiff's "TIFFReadDirectory: Warning, ...", OpenCV's "[ WARN:0@0.1] ..."
# and "[ERROR:0@0.1] ..." (followed by blank lines).
_CODEC_NOISE = re.compile(
    rb"^(libpng (warning|error)|\[ ?(WARN|ERROR|INFO)|Corrupt JPEG|Premature end of JPEG|Invalid (SOS|JPEG)|"
    rb"Unsupported (marker|JPEG)|Bogus |Not a JPEG|JPEG|TIFF|[A-Za-z]+: (Warning|Error),|libtiff|Warning: |\s*$)")


class _QuietCodecs:
    """While any thread decodes or encodes, fd 2 goes to a temp file; when the last one ends, what
    was written there is replayed to the real stderr minus the image libraries' own lines.

    The libraries write with C stdio on fd 2, past Python's sys.stderr, so only a redirection
    of the descriptor silences them. It is shared and counted rather than locked, so decoding
    threads (`translate convert --workers`) keep running in parallel, and replayed rather than
    discarded, so what other threads print meanwhile (progress bars, messages) is delayed, not
    lost.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved_fd = -1
        self._sink: tempfile._TemporaryFileWrapper | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._start()
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._stop()

    def _start(self) -> None:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        try:
            sink = tempfile.TemporaryFile()
            saved = os.dup(2)
        except OSError:  # no stderr at all, or no temp space: decode without silencing
            return
        os.dup2(sink.fileno(), 2)
        self._sink, self._saved_fd = sink, saved

    def _stop(self) -> None:
        if self._sink is None:
            return
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        sink, self._sink, self._saved_fd = self._sink, None, -1
        with sink:
            sink.seek(0)
            kept = b"".join(line for line in sink.read().splitlines(keepends=True)
                            if not _CODEC_NOISE.match(line))
        if kept:
            with contextlib.suppress(OSError):
                os.write(2, kept)


_quiet_codecs = _QuietCodecs()


class PixelLimitError(TranslateError):
    """An image whose header claims more pixels than the decoder may allocate (OpenCV's
    ``$OPENCV_IO_MAX_IMAGE_PIXELS``): too large, rather than unreadable."""


class DecodeMemoryError(TranslateError):
    """The decoder could not allocate the image: a user error about that file (too large for
    this machine), which `translate serve` answers 503 like any other lack of memory."""


def _decode(data: np.ndarray, flags: int, path: str | os.PathLike) -> np.ndarray | None:
    """cv2.imdecode with the libraries' stderr lines hidden and their exceptions as one-line
    :class:`TranslateError` about ``path``; None when OpenCV cannot decode the data."""
    try:
        with _quiet_codecs():
            return cv2.imdecode(data, flags)
    except cv2.error as e:
        text = str(e)
        if "CV_IO_MAX_IMAGE_PIXELS" in text or "validateInputImageSize" in text:
            raise PixelLimitError(
                f"{path}: its header claims more pixels than the limit of {pixel_limit()} (damaged, or a decompression "
                f"bomb); if it really is that large, set {PIXEL_LIMIT_ENV} to its pixel count before starting "
                f"translate (and use --tile)") from None
        if "Insufficient memory" in text or "Failed to allocate" in text:
            raise DecodeMemoryError(f"{path}: not enough memory to decode it (its header claims a huge image)") from None
        reason = text.strip().splitlines()[-1] if text.strip() else "decoder error"
        raise TranslateError(f"{path}: not a readable image (OpenCV: {reason[:200]})") from None


@dataclass
class Image:
    """A decoded image: ``rgb`` (H, W, 3) float32 in [0, 1], ``alpha`` (H, W) float32 or None.

    ``gray`` says the file had one colour channel (gray, or gray + alpha: then ``alpha`` is set;
    ``rgb`` holds the gray plane three times either way), ``bit_depth`` is 8 or 16 (the file's depth).
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
    file (e.g. a text file renamed ``.jpg``, a truncated file, a header claiming more pixels
    than ``$OPENCV_IO_MAX_IMAGE_PIXELS``); the decoders' own stderr lines are hidden.
    """
    path = Path(path)
    return decode_image(read_bytes(path), path)


def read_bytes(path: str | os.PathLike) -> np.ndarray:
    """The bytes of an image file, (N,) uint8, undecoded (for a size check before decoding); a
    missing or unreadable file raises :class:`TranslateError` as :func:`read_image` does."""
    path = Path(path)
    try:
        return np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise TranslateError(f"{path}: file not found") from None
    except (IsADirectoryError, PermissionError, OSError) as e:
        raise TranslateError(f"{path}: cannot read file ({e.strerror or e})") from None
    except ValueError as e:  # a NUL byte in a name handed to the Python API
        raise TranslateError(f"{path}: not a valid file name ({e})") from None


_pillow_header_lock = threading.Lock()


def declared_size(data: bytes | np.ndarray, source: str | os.PathLike = "image") -> tuple[int, int] | None:
    """The (height, width) an image file's header declares, read without decoding the pixels
    (Pillow parses the header only); None when Pillow is not installed or does not know the format.

    Lets a caller refuse a huge image (a small file can declare gigapixels) before
    :func:`decode_image` allocates it: OpenCV's own limit is read once, when cv2 is imported.
    A header over Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS`` x 2) raises
    :class:`PixelLimitError`.
    """
    try:
        import io
        import warnings

        from PIL import Image as PILImage
        from PIL import ImageFile
    except ImportError:
        return None
    try:
        # A damaged ancillary PNG chunk (a tEXt with a bad CRC) makes Pillow give up on the header while
        # libpng only warns and decodes: Pillow skips those CRCs when truncated images are allowed.
        # That switch is global, so it is set under a lock and only for the header parse.
        with _pillow_header_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning and the plugins' own warnings
            allowed, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, True
            try:
                with PILImage.open(io.BytesIO(data)) as header:
                    width, height = header.size
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = allowed
    except PILImage.DecompressionBombError:
        raise PixelLimitError(f"{source}: its header claims more than {2 * (PILImage.MAX_IMAGE_PIXELS or 0)} "
                              f"pixels (damaged, or a decompression bomb)") from None
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - not a format Pillow knows (or damaged): decode_image will say
        return None
    return height, width


def decode_image(data: bytes | np.ndarray, source: str | os.PathLike = "image") -> Image:
    """Decode the bytes of an image file (e.g. an upload to `translate serve`) exactly as
    :func:`read_image` decodes a file; errors are one line naming ``source``.

    Raises :class:`PixelLimitError` for a header claiming more than ``$OPENCV_IO_MAX_IMAGE_PIXELS``
    pixels and :class:`TranslateError` for empty or undecodable data.
    """
    path = source
    if not isinstance(data, np.ndarray):
        data = np.frombuffer(data, dtype=np.uint8)
    if data.size == 0:
        raise TranslateError(f"{path}: file is empty (0 bytes); replace it with a valid image")
    # IMREAD_COLOR applies the EXIF orientation; IMREAD_UNCHANGED keeps alpha and channel count
    # but ignores EXIF, so both are decoded and the alpha plane is oriented to match.
    color = _decode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH, path)
    if color is None:
        raise TranslateError(
            f"{path}: not a readable image (corrupt, truncated or unsupported format); "
            f"use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    raw = _decode(data, cv2.IMREAD_UNCHANGED, path)
    gray = raw is not None and raw.ndim == 2
    alpha = None
    if raw is not None and raw.ndim == 3 and raw.shape[2] == 4:
        alpha = _orient_like(raw, color)[..., 3]
        # OpenCV decodes gray + alpha as BGRA; only the file's own colour type tells it from RGBA
        gray = bool((raw[..., 0] == raw[..., 1]).all() and (raw[..., 0] == raw[..., 2]).all()) and \
            _stored_gray_alpha(data)
    scale = _depth_max(color)
    rgb = cv2.cvtColor(color, cv2.COLOR_BGR2RGB).astype(np.float32) / scale
    if alpha is not None:
        alpha = alpha.astype(np.float32) / _depth_max(alpha)
    return Image(rgb=rgb, alpha=alpha, gray=gray, bit_depth=16 if color.dtype == np.uint16 else 8)


#: Pillow's modes of gray + alpha images (LA 8-bit; La premultiplied; 16-bit gray + alpha PNGs open as LA too).
_GRAY_ALPHA_MODES = ("LA", "La")


def _stored_gray_alpha(data: np.ndarray) -> bool:
    """Whether image file bytes are stored as gray + alpha (e.g. a PNG of colour type 4), read
    from the header by Pillow (no pixels decoded); False when Pillow cannot tell."""
    try:
        import io
        import warnings

        from PIL import Image as PILImage

        with warnings.catch_warnings():  # a large image's DecompressionBombWarning: OpenCV decoded it already
            warnings.simplefilter("ignore")
            with PILImage.open(io.BytesIO(data.tobytes())) as header:
                return header.mode in _GRAY_ALPHA_MODES
    except Exception:  # noqa: BLE001 - no Pillow, or a format it does not know: treated as RGBA
        return False


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


def check_format(ext: str) -> str:
    """The lower-case suffix ``ext`` (``.png``, ``png``) if images can be written in it, else a
    :class:`TranslateError` naming the formats that can."""
    ext = ext.lower() if ext.startswith(".") else "." + ext.lower()
    if ext not in IMAGE_EXTENSIONS:
        what = f"'{ext}' images" if ext != "." else "a file name without a suffix"
        raise TranslateError(f"cannot write {what}; use one of {', '.join(IMAGE_EXTENSIONS)}")
    return ext


def encode_image(
    rgb: np.ndarray, ext: str, alpha: np.ndarray | None = None, bit_depth: int = 8,
    quality: int = 95,
) -> bytes:
    """Encode ``rgb`` (H, W, 3) float in [0, 1] or uint8, optional ``alpha`` (H, W), to bytes.

    ``ext`` is the file suffix (``.png``, ``.jpg`` ...). 16-bit is kept only for png / tiff;
    alpha only where the format holds it (png, webp, tiff). A gray ``rgb`` ((H, W) or (H, W, 1))
    is written as a 1-channel image; with alpha, as gray + alpha in an 8-bit png (Pillow: OpenCV
    writes no 2-channel images), else as RGBA with three equal colour channels.
    """
    ext = check_format(ext)
    if ext not in (".png", ".tif", ".tiff"):
        bit_depth = 8
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float32) / 255.0
    if alpha is not None and alpha.dtype == np.uint8:
        alpha = alpha.astype(np.float32) / 255.0
    keeps_alpha = alpha is not None and ext in (".png", ".webp", ".tif", ".tiff")
    gray = rgb.ndim == 2 or rgb.shape[2] == 1
    if gray and keeps_alpha and ext == ".png" and bit_depth == 8:
        return _encode_gray_alpha_png(to_uint(rgb.reshape(rgb.shape[:2]), 8), to_uint(alpha, 8))
    if gray:
        out = to_uint(rgb.reshape(rgb.shape[:2]), bit_depth)
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR) if keeps_alpha else out
    else:
        out = cv2.cvtColor(to_uint(rgb, bit_depth), cv2.COLOR_RGB2BGR)
    if keeps_alpha:
        out = np.dstack([out, to_uint(alpha, bit_depth)])
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if ext in (".jpg", ".jpeg") else []
    try:
        with _quiet_codecs():
            ok, buf = cv2.imencode(ext, out, params)
    except cv2.error as e:  # e.g. wider than the format allows (JPEG and WebP: 65535 / 16383 px)
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else "encoder error"
        raise TranslateError(f"OpenCV could not encode a {ext} image of {out.shape[1]}x{out.shape[0]} px "
                             f"({reason[:160]}); write .png or .tif instead") from None
    if not ok:
        raise TranslateError(f"OpenCV could not encode a {ext} image of {out.shape[1]}x{out.shape[0]} px; "
                             f"write .png or .tif instead")
    return buf.tobytes()


def _encode_gray_alpha_png(gray: np.ndarray, alpha: np.ndarray) -> bytes:
    """An 8-bit gray + alpha png (colour type 4) of (H, W) uint8 planes, encoded by Pillow."""
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.fromarray(np.dstack([gray, alpha])).save(buffer, "PNG")  # (H, W, 2) uint8 is mode LA
    return buffer.getvalue()


def write_image(
    path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None,
    bit_depth: int = 8, quality: int = 95, *, protect: Iterable[str | os.PathLike | None] = (),
) -> None:
    """Encode (see :func:`encode_image`) and write atomically to ``path``; folders are created.

    ``path`` may not be one of the ``protect`` files (what the caller read); see
    :func:`translate.fileio.atomic_writer`, which also turns OS errors into one-line errors."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(rgb, path.suffix, alpha, bit_depth, quality), protect=protect)


def list_images(spec: str | os.PathLike, extensions: Iterable[str] = IMAGE_EXTENSIONS,
                what: str = "image files") -> list[Path]:
    """Expand a file, a folder (its files with one of ``extensions``, sorted, not recursive) or a
    glob pattern; ``what`` names those files in the error for a folder without any.

    Files named explicitly or matched by a glob are kept whatever their suffix, so a broken
    file is reported when read rather than silently ignored. Raises :class:`TranslateError`
    when nothing matches.
    """
    p = Path(spec)
    if os.path.isfile(p):
        return [p]
    if os.path.isdir(p):
        try:
            files = sorted(f for f in p.iterdir() if os.path.isfile(f) and f.suffix.lower() in extensions)
        except OSError as e:
            raise TranslateError(f"{p}: cannot list the folder ({e.strerror or e})") from None
        if not files:
            raise TranslateError(f"{p}: folder has no {what} ({', '.join(extensions)})")
        return files
    if any(ch in str(spec) for ch in "*?["):
        files = sorted(Path(f) for f in _glob.glob(str(spec), recursive=True) if os.path.isfile(f))
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
    if array.size == 0:
        raise TranslateError(f"image array is empty (shape {array.shape}); an image needs at least 1x1 pixels")
    peak = _depth_max(array)
    return Image(rgb=rgb.astype(np.float32) / peak,
                 alpha=None if alpha is None else alpha.astype(np.float32) / peak,
                 gray=gray, bit_depth=16 if array.dtype == np.uint16 else 8)


def image_to_array(rgb: np.ndarray, alpha: np.ndarray | None = None, bit_depth: int = 8) -> np.ndarray:
    """(H, W, 3) float RGB in [0, 1] (+ optional (H, W) alpha) -> (H, W, 3 or 4) uint8 / uint16;
    a gray (H, W, 1) ``rgb`` gives (H, W), or (H, W, 2) gray + alpha."""
    out = to_uint(rgb[..., 0] if rgb.ndim == 3 and rgb.shape[2] == 1 else rgb, bit_depth)
    if alpha is not None:
        out = np.dstack([out, to_uint(alpha, bit_depth)])
    return out
