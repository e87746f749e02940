"""Videos and animated images through the image pipeline, frame by frame; no torch here.

`translate run MODEL clip.mp4` decodes the clip with PyAV (FFmpeg's libraries, shipped inside
its wheels: no ffmpeg program, no subprocess), sends the frames through
:meth:`~translate.run.pipeline.Translator.translate_frames` ``batch`` at a time (so tiling, every
model kind and both backends, PyTorch and the ONNX runtime, work as for images), and encodes
the results as a stream: only one batch of frames and the encoder's own look-ahead are in
memory, whatever the clip's length::

    packets -> decode -> RGB frames [-> upright, as the rotation metadata says] -> batch
      -> translator.translate_frames -> [rotated back] -> encode -> mux    (audio: remuxed as is)

Kept: every frame with its timestamp and duration (so frame count, frame rate, variable frame
rates and GIF / WebP frame delays), the size times the model's scale, the rotation metadata
(the model sees upright frames, the output gets the input's display matrix) and every audio
stream, copied packet by packet without re-encoding when the output container can hold it.
The output is written through :func:`translate.fileio.atomic_writer`: a stopped or failed
run leaves no file under the final name.

Codecs (``--codec`` / ``--crf`` override): H.264 (``libx264``, yuv420p, CRF 18, preset medium)
for .mp4 / .m4v / .mov / .mkv / .avi, VP9 (CRF 30) for .webm, a palette per frame for .gif and
libwebp (quality 90) for animated .webp; GIF and WebP keep transparency. 4:2:0 H.264 / H.265
need even sizes: an odd output side is padded by one repeated pixel row / column (said on
stderr). A lossless ``--codec`` (``ffv1``, ``libx264rgb --crf 0``) keeps RGB frames exactly.
Frames are decoded to 8-bit RGB (higher bit depths are reduced).

Animated WebP is read with Pillow (FFmpeg decodes still WebP only); everything else with PyAV.

Decoding lives in :mod:`translate.run.video_reader`, encoding in :mod:`translate.run.video_writer`
(their shared PyAV helpers in :mod:`translate.run.video_av`); this module drives them and keeps
the names the CLI and apps import from here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from translate.errors import TranslateError, printable
from translate.fileio import atomic_writer, check_not_overwriting
from translate.imageio import Image, to_uint
from translate.run.budget import WorkBudget, check_work
from translate.run.video_av import _av, _format_has_alpha, _reason
from translate.run.video_reader import Frame, _Reader, open_video
from translate.run.video_writer import (CONTAINERS, CRF_DEFAULTS, CRF_RANGES, EncoderChoice, _Writer,
                                        check_video_format, choose_encoder)

# Re-exported from their homes: the CLI and apps import them from here (and translate.video).
__all__ = ["CONTAINERS", "CRF_DEFAULTS", "CRF_RANGES", "VIDEO_EXTENSIONS", "EncoderChoice", "Frame", "Stopped",
           "check_video_format", "choose_encoder", "is_video", "open_video", "translate_video"]

#: Suffixes read as videos (a ``.webp`` is a video when it is animated, see :func:`is_video`).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")

_NO_DISPLAY_MATRIX = ("gif", "webp", "avi")  # muxers without rotation metadata


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` is read as a video: a video suffix (:data:`VIDEO_EXTENSIONS`), or an
    animated ``.webp`` (a still WebP is an image)."""
    suffix = Path(path).suffix.lower()
    return suffix in VIDEO_EXTENSIONS or (suffix == ".webp" and _animated_webp(path))


def _animated_webp(path: str | os.PathLike) -> bool:
    """The animation flag of a WebP file's VP8X header (RIFF....WEBPVP8X, flags byte 20, bit 1)."""
    try:
        with open(path, "rb") as f:
            head = f.read(21)
    except OSError:
        return False
    return len(head) == 21 and head[:4] == b"RIFF" and head[8:16] == b"WEBPVP8X" and bool(head[20] & 0x02)


class Stopped(Exception):
    """A stop was requested (Ctrl-C / SIGTERM) while a video was being written; nothing was kept."""


def _upright(a: np.ndarray, quarter_turns: int) -> np.ndarray:
    """``a`` turned by ``quarter_turns`` x 90 degrees counter-clockwise (as a player shows it)."""
    return np.ascontiguousarray(np.rot90(a, quarter_turns)) if quarter_turns % 4 else a


def translate_video(translator: Any, src: str | os.PathLike, dst: str | os.PathLike, *, tile: int = 0,
                    tile_overlap: int = 32, batch: int = 1, codec: str | None = None, crf: int | None = None,
                    mask: str | os.PathLike | None = None, outscale: float | None = None,
                    stop: Callable[[], bool] = lambda: False, progress: bool = True,
                    note: Callable[[str], None] | None = None, budget: WorkBudget | None = None) -> int:
    """Translate the video ``src`` into ``dst`` frame by frame with ``translator`` (a
    :class:`~translate.run.pipeline.Translator`: PyTorch or ONNX runtime); returns the frame count.

    Frames go through :meth:`~translate.run.pipeline.Translator.translate_frames` ``batch`` at a time
    (tiled as ``tile`` / ``tile_overlap`` say, resized by ``outscale`` as images are); ``mask``
    is the hole of an inpainting model, the same for every frame (of the upright frame's size).
    ``dst``'s suffix picks the container (:data:`CONTAINERS`), ``codec`` / ``crf`` override its
    encoder. ``stop()`` is asked before each batch: when it says True, :class:`Stopped` is raised
    and no ``dst`` is written. ``progress`` shows a bar in frames (with fps and ETA) on a
    terminal; ``note`` receives remarks (audio or alpha not kept, a padded size). ``dst`` may not
    be ``src``, ``mask`` or the model file; a file that is not a readable video raises
    :class:`TranslateError` naming it. With ``budget``, one frame's work (its size from the
    container's header) is checked as an image's is (:func:`translate.run.budget.check_work`)
    before any frame is decoded.
    """
    from tqdm import tqdm

    from translate.run.pipeline import read_mask_file

    av = _av()
    src, dst = Path(src), Path(dst)
    note = note or (lambda text: tqdm.write(printable(f"translate: {text}"), file=sys.stderr))
    if batch < 1:
        raise TranslateError(f"--batch must be >= 1, got {batch}")
    read = (src, mask, translator.model_file)
    choose_encoder(dst.suffix, codec, crf)  # a bad suffix / codec / crf fails before decoding
    check_not_overwriting(dst, read)
    translator.check_tiling(tile, tile_overlap)
    reader = open_video(src)
    try:
        turns = reader.rotation // 90 if reader.rotation % 90 == 0 else 0
        if budget is not None:
            upright = (reader.width, reader.height) if turns % 2 else (reader.height, reader.width)
            check_work(translator.card, upright, tile=tile, tile_overlap=tile_overlap, outscale=outscale,
                       budget=budget, source=f"{src} (each frame)")
        hole = None
        if mask is not None:
            if not os.path.isfile(mask):
                raise TranslateError(f"--mask {mask}: no such file")
            hole = read_mask_file(mask, (reader.width, reader.height) if turns % 2 else (reader.height, reader.width))
        choice = choose_encoder(dst.suffix, codec, crf, alpha=reader.has_alpha)
        if reader.has_alpha and choice.pix_fmt is not None and not _format_has_alpha(av.VideoFormat(choice.pix_fmt)):
            note(f"{dst}: transparency not kept ({choice.codec} in {dst.suffix} has no alpha); write .webp or .gif")
        # A container without rotation metadata gets the frames as a player shows them.
        keep_turns = bool(turns) and choice.muxer not in _NO_DISPLAY_MATRIX
        bar = tqdm(total=reader.count or None, unit="frame", desc=printable(src.name), file=sys.stderr,
                   disable=None if progress else True, leave=False, dynamic_ncols=True)
        with bar, atomic_writer(dst, "wb", protect=read) as file:
            def open_writer(width: int, height: int) -> _Writer:
                if choice.even and (width % 2 or height % 2):
                    note(f"{dst}: {width}x{height} padded to {width + width % 2}x{height + height % 2} ({choice.codec} "
                         f"needs even sizes); use --codec ffv1 (.mkv) for the exact size")
                return _Writer(file, choice, reader, width, height, note, matrix=turns == 0 or keep_turns)

            options = dict(tile=tile, tile_overlap=tile_overlap, hole=hole)
            if outscale is not None:
                options["outscale"] = outscale
            job = _Job(reader, open_writer, translator, turns, -turns if keep_turns else 0, options)
            try:
                frames = job.run(batch, stop, bar)
            except BaseException:
                job.abort()
                raise
    except av.FFmpegError as e:
        raise TranslateError(f"{src}: writing {dst} failed ({_reason(e)}); try another --codec or container") from None
    finally:
        reader.close()
    return frames


class _Job:
    """One video through the model: frames turned by ``turns`` quarter turns before the model and
    ``back`` after it; the writer is opened at the first translated frame (its size is the
    model's), audio packets that come before it wait in memory (the first batch's worth)."""

    def __init__(self, reader: _Reader, open_writer: Callable[[int, int], _Writer], translator: Any, turns: int,
                 back: int, options: dict[str, Any]):
        self.reader, self.open_writer, self.translator = reader, open_writer, translator
        self.turns, self.back, self.options = turns, back, options
        self.writer: _Writer | None = None
        self.early: list[Any] = []

    def run(self, batch: int, stop: Callable[[], bool], bar: Any) -> int:
        """Read, translate and write every frame, ``batch`` at a time; returns the frame count."""
        pending: list[Frame] = []
        done = 0
        for item in self.reader.items():
            if isinstance(item, Frame):
                pending.append(item)
                if len(pending) == batch:
                    done += self._translate(pending, stop, bar)
            elif self.writer is None:
                self.early.append(item)
            else:
                self.writer.copy(item)
        if pending:
            done += self._translate(pending, stop, bar)
        self.writer.close()
        return done

    def _translate(self, pending: list[Frame], stop: Callable[[], bool], bar: Any) -> int:
        if stop():
            raise Stopped
        turns, back = self.turns, self.back
        images = [Image(rgb=_upright(f.rgb, turns).astype(np.float32) / 255.0,
                        alpha=None if f.alpha is None else _upright(f.alpha, turns).astype(np.float32) / 255.0)
                  for f in pending]
        results = self.translator.translate_frames(images, **self.options)
        for frame, (rgb, alpha) in zip(pending, results):
            rgb, alpha = _upright(to_uint(rgb), back), None if alpha is None else _upright(to_uint(alpha), back)
            if self.writer is None:
                self.writer = self.open_writer(rgb.shape[1], rgb.shape[0])
                for packet in self.early:
                    self.writer.copy(packet)
                self.early.clear()
            self.writer.write(rgb, alpha, frame.pts, frame.duration)
        count = len(pending)
        bar.update(count)
        pending.clear()
        return count

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
