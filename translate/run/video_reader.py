"""The decoding side of :mod:`translate.run.video`: :func:`open_video` opens a video file as a
reader whose ``items()`` yields its frames as :class:`Frame` (8-bit RGB, alpha when the file has
transparency, timestamp and duration) in presentation order and its audio packets as they come
(to be remuxed). ``_AvReader`` reads every container with PyAV (FFmpeg's libraries: the first
video stream that is no cover picture, the rotation metadata from the first frame, higher bit
depths reduced to 8); ``_WebpReader`` reads animated WebP with Pillow, as FFmpeg decodes still
WebP only. The first frame is decoded on opening, so a file that is not a readable video fails
there. No torch.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from translate.errors import TranslateError
from translate.imageio import PIXEL_LIMIT_ENV, PixelLimitError, pixel_limit
from translate.run.video_av import _INSTALL, _av, _format_has_alpha, _reason, _swscale_flags


@dataclass
class Frame:
    """A decoded frame: ``rgb`` (H, W, 3) uint8, ``alpha`` (H, W) uint8 or None, ``pts`` and
    ``duration`` in the reader's ``time_base`` (duration None when unknown)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    pts: int
    duration: int | None


class _Reader:
    """Frames of a video file (and, for PyAV files, its audio packets, to be remuxed)."""

    width: int
    height: int
    time_base: Fraction
    rate: Fraction
    count: int  # frames, 0 when the file does not say
    rotation: int  # counter-clockwise degrees a player turns the frames by (0, 90, 180, -90)
    matrix: list[int] | None  # the display matrix, as stored
    has_alpha: bool
    audio: list[Any]  # PyAV audio streams to copy

    def items(self) -> Iterator[Frame | Any]:
        """Frames in presentation order and audio packets, as they come in the file."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def _first(iterator: Iterator[Any], path: Path) -> tuple[Any, list[Any]]:
    """The first video frame of ``iterator`` and the audio packets seen before it."""
    before = []
    for item in iterator:
        if isinstance(item, Frame):
            return item, before
        before.append(item)
    raise TranslateError(f"{path}: has no video frames (an audio-only or empty file?)")


class _AvReader(_Reader):
    """A video file read with PyAV."""

    def __init__(self, path: Path):
        av = self._av = _av()
        self.path = path
        try:
            self.container = av.open(str(path), "r")
        except FileNotFoundError:
            raise TranslateError(f"{path}: file not found") from None
        except (av.FFmpegError, OSError, ValueError) as e:
            raise TranslateError(f"{path}: not a readable video ({_reason(e)}); corrupt, truncated or an "
                                 f"unsupported format") from None
        # the first video stream that is not a cover picture (an attached still image)
        streams = [s for s in self.container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not streams:
            self.container.close()
            raise TranslateError(f"{path}: has no video stream")
        self.stream = stream = streams[0]
        # the frame size the stream's header declares, checked before a frame is decoded (as a still
        # image's header is): a tiny file can declare frames of gigapixels
        width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
        if width * height > pixel_limit():
            self.container.close()
            raise PixelLimitError(f"{path}: its video stream declares {width}x{height} frames, more than the limit of "
                                  f"{pixel_limit()} pixels ({PIXEL_LIMIT_ENV}); if they really are that large, set "
                                  f"{PIXEL_LIMIT_ENV} before starting translate")
        stream.thread_type = "AUTO"
        self.audio = [s for s in self.container.streams.audio if s.codec_context is not None]
        self.time_base = stream.time_base or Fraction(1, 1000)
        self.rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        self.count = int(stream.frames or 0)
        if not self.count and stream.duration and self.time_base:
            self.count = round(float(stream.duration * self.time_base * self.rate))
        self._iter = self._items()
        self._first, self._before = _first(self._iter, path)
        self.height, self.width = self._first.rgb.shape[:2]
        self.has_alpha = self._first.alpha is not None

    def items(self) -> Iterator[Frame | Any]:
        yield from self._before
        yield self._first
        yield from self._iter

    def _items(self) -> Iterator[Frame | Any]:
        av, stream = self._av, self.stream
        step = max(1, round(1 / (self.rate * self.time_base))) if self.rate and self.time_base else 1
        last = None
        try:
            for packet in self.container.demux(stream, *self.audio):
                if packet.stream is not stream:
                    if packet.dts is not None and packet.size:
                        yield packet
                    continue
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else (0 if last is None else last + step)
                    if last is not None and pts <= last:  # broken timestamps: keep order, keep every frame
                        pts = last + 1
                    last = pts
                    yield self._frame(frame, pts)
        except av.FFmpegError as e:
            raise TranslateError(f"{self.path}: cannot decode the video ({_reason(e)}); the file is corrupt "
                                 f"or truncated") from None

    def _frame(self, frame: Any, pts: int) -> Frame:
        first = not hasattr(self, "has_alpha")  # set from the first frame
        if first:  # which carries the stream's display matrix
            self.rotation = int(frame.rotation or 0)
            self.matrix = _display_matrix(frame)
        alpha = None
        if _format_has_alpha(frame.format):
            rgba = frame.to_ndarray(format="rgba", interpolation=_swscale_flags(decode=True))
            rgb, alpha = np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
            if first:  # a GIF decodes to BGRA whether or not it uses transparency
                self.has_alpha = bool(alpha.min() < 255)
        else:
            rgb = frame.to_ndarray(format="rgb24", interpolation=_swscale_flags(decode=True))
            if first:
                self.has_alpha = False
        if not self.has_alpha:
            alpha = None
        elif alpha is None:
            alpha = np.full(rgb.shape[:2], 255, np.uint8)
        return Frame(rgb, alpha, pts, int(frame.duration) if frame.duration else None)

    def close(self) -> None:
        self.container.close()


class _WebpReader(_Reader):
    """An animated WebP read with Pillow, one frame at a time."""

    def __init__(self, path: Path):
        try:
            from PIL import Image as PILImage
        except ImportError:
            raise TranslateError(f"{path}: reading animated WebP needs Pillow; {_INSTALL}") from None
        self.path = path
        _check_canvas(path, PILImage)
        try:
            with warnings.catch_warnings():  # Pillow's own bomb check: one line, never a printed warning
                warnings.simplefilter("error", PILImage.DecompressionBombWarning)
                self.image = PILImage.open(path)
            self.count = int(getattr(self.image, "n_frames", 1))
            self.image.seek(0)
            self.image.load()  # sets the frame's duration
            self.has_alpha = self.image.mode in ("RGBA", "LA", "PA") or "transparency" in self.image.info
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as e:  # no VP8X header to check
            raise PixelLimitError(f"{path}: too large to decode ({_reason(e)})") from None
        except (OSError, ValueError, SyntaxError) as e:
            raise TranslateError(f"{path}: not a readable animated WebP ({_reason(e)})") from None
        self.width, self.height = self.image.size
        self.time_base, self.rate = Fraction(1, 1000), Fraction(1000, int(self.image.info.get("duration") or 100))
        self.rotation, self.matrix, self.audio = 0, None, []

    def items(self) -> Iterator[Frame]:
        pts = 0
        try:
            for index in range(self.count):
                self.image.seek(index)
                rgba = np.asarray(self.image.convert("RGBA"))
                duration = int(self.image.info.get("duration") or 100)
                alpha = np.ascontiguousarray(rgba[..., 3]) if self.has_alpha else None
                yield Frame(np.ascontiguousarray(rgba[..., :3]), alpha, pts, duration)
                pts += duration
        except (OSError, ValueError, EOFError) as e:
            raise TranslateError(f"{self.path}: cannot decode the animation ({_reason(e)}); the file is corrupt "
                                 f"or truncated") from None

    def close(self) -> None:
        self.image.close()


def _canvas(path: Path) -> tuple[int, int] | None:
    """The (width, height) of the canvas a WebP file's VP8X header declares (24-bit little-endian
    width - 1 and height - 1 at bytes 24 and 27), read without decoding; None without that header."""
    try:
        with open(path, "rb") as f:
            head = f.read(30)
    except OSError:
        return None
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:16] != b"WEBPVP8X":
        return None
    return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1


def _check_canvas(path: Path, pil: Any) -> None:
    """Raise :class:`PixelLimitError` when the canvas of the animated WebP ``path`` has more pixels
    than may be decoded here, checked on the header before Pillow allocates anything.

    Pillow decodes every frame onto the whole canvas (RGBA), so a 150-byte file declaring
    16383x16383 px costs 1 GB a frame. The limit is the project's, :func:`~translate.imageio.pixel_limit`
    (``$OPENCV_IO_MAX_IMAGE_PIXELS``, as for still images), or Pillow's decompression-bomb limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, 89478485 by default) where that is lower: above it Pillow
    would warn or raise instead, so the line names whichever limit refused the file."""
    size = _canvas(path)
    if size is None:
        return
    width, height = size
    limits = [(pixel_limit(), PIXEL_LIMIT_ENV)]
    if pil.MAX_IMAGE_PIXELS:
        limits.append((int(pil.MAX_IMAGE_PIXELS), "PIL.Image.MAX_IMAGE_PIXELS"))
    limit, source = min(limits)
    if width * height > limit:
        raise PixelLimitError(f"{path}: its canvas is {width}x{height} = {width * height} pixels, more than the limit "
                              f"of {limit} ({source}; damaged, or a decompression bomb)")


def _display_matrix(frame: Any) -> list[int] | None:
    for data in frame.side_data:
        if "DISPLAYMATRIX" in str(getattr(data, "type", "")):
            raw = bytes(data)
            if len(raw) == 36:
                return list(struct.unpack("<9i", raw))
    return None


def open_video(path: str | os.PathLike) -> _Reader:
    """Open a video file for reading (PyAV; Pillow for animated WebP); the first frame is
    decoded, so a file that is not a readable video raises :class:`TranslateError` here."""
    path = Path(path)
    if os.path.isdir(path):
        raise TranslateError(f"{path}: is a folder, not a video")
    if not os.path.isfile(path):
        raise TranslateError(f"{path}: file not found")
    if os.path.getsize(path) == 0:
        raise TranslateError(f"{path}: file is empty (0 bytes); replace it with a valid video")
    return _WebpReader(path) if path.suffix.lower() == ".webp" else _AvReader(path)
