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
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import numpy as np

from translate.errors import TranslateError, printable
from translate.fileio import atomic_writer, check_not_overwriting
from translate.imageio import Image, to_uint

#: Suffixes read as videos (a ``.webp`` is a video when it is animated, see :func:`is_video`).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif")

#: suffix -> (FFmpeg muxer, default video codec)
CONTAINERS = {
    ".mp4": ("mp4", "libx264"), ".m4v": ("mp4", "libx264"), ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"), ".avi": ("avi", "libx264"), ".webm": ("webm", "libvpx-vp9"),
    ".gif": ("gif", "gif"), ".webp": ("webp", "libwebp_anim"),
}

#: Codecs with a constant-quality (CRF) mode and the default CRF of each (H.264 18 is visually
#: lossless for most footage; the others are set to a similar quality).
CRF_DEFAULTS = {"libx264": 18, "libx264rgb": 18, "libx265": 20, "libvpx-vp9": 30, "libsvtav1": 30}
# The CRF scale of each (x264 / x265: 0-51, VP9 / SVT-AV1: 0-63); encoders clamp or refuse values outside it.
CRF_RANGES = {"libx264": 51, "libx264rgb": 51, "libx265": 51, "libvpx-vp9": 63, "libsvtav1": 63}
_CODEC_OPTIONS = {"libx264": {"preset": "medium"}, "libx264rgb": {"preset": "medium"},
                  "libx265": {"preset": "medium", "x265-params": "log-level=error"},
                  "libvpx-vp9": {"b": "0", "row-mt": "1"}, "libwebp_anim": {"quality": "90"}}
# Encoders that refuse odd sizes in 4:2:0 / 4:2:2.
_EVEN_SIZES = ("libx264", "libx265", "libsvtav1", "mpeg4", "libxvid", "h264_nvenc", "hevc_nvenc")
_NO_DISPLAY_MATRIX = ("gif", "webp", "avi")  # muxers without rotation metadata
_ALPHA_FORMATS = {"libwebp_anim": "yuva420p", "libvpx-vp9": "yuva420p"}
_INSTALL = "install the video extra: pip install 'translate-gan[video]'"


def _av() -> Any:
    """PyAV, or a one-line error saying how to install it."""
    try:
        import av
    except ImportError:
        raise TranslateError(f"reading and writing videos needs PyAV; {_INSTALL}") from None
    return av


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


def check_video_format(suffix: str) -> str:
    """The lower-case ``suffix`` if videos can be written in it, else a :class:`TranslateError`."""
    suffix = suffix.lower() if suffix.startswith(".") else "." + suffix.lower()
    if suffix not in CONTAINERS:
        what = f"'{suffix}'" if suffix != "." else "a file name without a suffix"
        raise TranslateError(f"cannot write a video as {what}; use one of {', '.join(CONTAINERS)}")
    return suffix


@dataclass
class EncoderChoice:
    """What a video is written with: ``muxer`` (FFmpeg format name), ``codec``, ``pix_fmt``
    (``None`` for GIF, which gets a palette per frame), ``options`` (codec options) and
    ``even`` (whether sizes must be even)."""

    muxer: str
    codec: str
    pix_fmt: str | None
    options: dict[str, str]
    even: bool


def choose_encoder(suffix: str, codec: str | None = None, crf: int | None = None,
                   alpha: bool = False) -> EncoderChoice:
    """The encoder for an output ``suffix``: its default codec (:data:`CONTAINERS`) or ``codec``,
    at CRF ``crf`` (default :data:`CRF_DEFAULTS`), with an alpha format when ``alpha`` and the
    codec has one. A codec that this PyAV lacks, that the container cannot hold or that has no
    CRF when ``crf`` is given raises :class:`TranslateError` (before any frame is decoded)."""
    av = _av()
    suffix = check_video_format(suffix)
    muxer, default = CONTAINERS[suffix]
    name = codec or default
    try:
        found = av.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        raise TranslateError(f"--codec {name}: not a video encoder of this PyAV build; try "
                             f"{', '.join(sorted({c for _, c in CONTAINERS.values()}))} or ffv1") from None
    if found.type != "video":
        raise TranslateError(f"--codec {name}: is a {found.type} codec, not a video codec")
    if suffix in (".gif", ".webp") and name != default:
        raise TranslateError(f"--codec {name}: {suffix} files are written with {default} only")
    probe = av.open(io.BytesIO(), "w", format=muxer)
    supported = probe.supported_codecs
    probe.close()
    if name not in supported:
        raise TranslateError(f"--codec {name}: a {suffix} file cannot hold it; write .mkv (or pick another --codec)")
    if crf is not None and name not in CRF_DEFAULTS:
        raise TranslateError(f"--crf applies to {', '.join(CRF_DEFAULTS)}; {name} has no CRF (drop --crf)")
    if crf is not None and not 0 <= crf <= CRF_RANGES[name]:
        raise TranslateError(f"--crf {crf}: {name} takes 0 (best) to {CRF_RANGES[name]} (smallest); "
                             f"its default is {CRF_DEFAULTS[name]}")
    formats = [f.name for f in found.video_formats or ()]
    if name == "gif":
        pix_fmt = None
    elif alpha and name in _ALPHA_FORMATS:
        pix_fmt = _ALPHA_FORMATS[name]
    else:
        # Lossless-only codecs (ffv1) keep RGB; the others get 4:2:0, what every player plays.
        order = ("rgb24", "bgr24", "bgr0", "gbrp", "yuv444p") if not found.lossy else ("yuv420p", "rgb24", "bgr0")
        pix_fmt = next((f for f in order if f in formats), formats[0] if formats else "yuv420p")
    options = dict(_CODEC_OPTIONS.get(name, {}))
    if name in CRF_DEFAULTS:
        options["crf"] = str(CRF_DEFAULTS[name] if crf is None else crf)
    even = name in _EVEN_SIZES and pix_fmt is not None and pix_fmt.startswith(("yuv420", "yuv422", "nv"))
    return EncoderChoice(muxer, name, pix_fmt, options, even)


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
        try:
            self.image = PILImage.open(path)
            self.count = int(getattr(self.image, "n_frames", 1))
            self.image.seek(0)
            self.image.load()  # sets the frame's duration
            self.has_alpha = self.image.mode in ("RGBA", "LA", "PA") or "transparency" in self.image.info
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


def _swscale_flags(decode: bool) -> int:
    """FFmpeg's ``-sws_flags bicubic+accurate_rnd+full_chroma_int`` (decoding to RGB) /
    ``+full_chroma_inp`` (encoding from RGB): swscale's defaults make a 4:2:0 round trip about
    1.3 levels darker and 6 dB worse (43.7 vs 50.8 dB PSNR on a BSD200 photo)."""
    from av.video.reformatter import Interpolation as flag

    chroma = flag.FULL_CHR_H_INT if decode else flag.FULL_CHR_H_INP
    return int(flag.BICUBIC | flag.ACCURATE_RND | chroma)


def _format_has_alpha(video_format: Any) -> bool:
    """Whether a PyAV VideoFormat holds transparency (an alpha component or a palette)."""
    return len(video_format.components) in (2, 4) or bool(video_format.has_palette)


def _reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return text.strip().splitlines()[0][:160]


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


class _Writer:
    """Encodes frames into an open binary file with PyAV and remuxes audio packets."""

    def __init__(self, file: IO[bytes], choice: EncoderChoice, reader: _Reader, width: int, height: int,
                 note: Callable[[str], None], matrix: bool = True):
        av = self._av = _av()
        self.choice, self.note = choice, note
        # libwebp gives the last frame of an animation the mean duration: the file is assembled in
        # memory (as libwebp does anyway) and that frame's duration set right before writing.
        self.file, self.buffer = file, io.BytesIO() if choice.muxer == "webp" else None
        self.container = av.open(self.buffer or file, "w", format=choice.muxer)
        self.last_ms: int | None = None
        self.pad = (height % 2, width % 2) if choice.even else (0, 0)
        self.width, self.height = width + self.pad[1], height + self.pad[0]
        stream = self.container.add_stream(choice.codec, rate=reader.rate, options=choice.options)
        stream.width, stream.height = self.width, self.height
        # AVI counts frames (time base 1 / frame rate); the others keep the input's timestamps.
        self.source_base = reader.time_base
        self.time_base = 1 / Fraction(reader.rate) if choice.muxer == "avi" else reader.time_base
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        self.last_pts: int | None = None
        stream.pix_fmt = choice.pix_fmt or "pal8"
        self.alpha = reader.has_alpha and _format_has_alpha(av.VideoFormat(stream.pix_fmt))
        if matrix and reader.matrix is not None:
            stream.set_display_matrix(reader.matrix)
        self.stream = stream
        self.graph = self._palette_graph(reader) if choice.pix_fmt is None else None
        self.audio: dict[int, Any] = {}
        supported = self.container.supported_codecs
        for index, source in enumerate(reader.audio):
            name = source.codec_context.name
            if choice.muxer in ("gif", "webp"):
                note(f"audio not kept: a {choice.muxer.upper()} file holds no sound")
                break
            if name not in supported:
                note(f"audio stream {index} ({name}) not kept: {choice.muxer} files cannot hold it; write .mkv")
                continue
            self.audio[source.index] = self.container.add_stream_from_template(source)
        self.durations: dict[int, int] = {}

    def _palette_graph(self, reader: _Reader) -> Any:
        """split -> palettegen (one palette per frame) -> paletteuse: a GIF frame with up to 255
        colours fitted to it (and a transparent one for an RGBA input)."""
        graph = self._av.filter.Graph()
        source = graph.add_buffer(width=self.width, height=self.height, format="rgba" if self.alpha else "rgb24",
                                  time_base=self.time_base)
        split = graph.add("split")
        palette = graph.add("palettegen", "stats_mode=single")
        use = graph.add("paletteuse", "new=1")
        sink = graph.add("buffersink")
        source.link_to(split)
        split.link_to(palette, 0, 0)
        split.link_to(use, 1, 0)
        palette.link_to(use, 0, 1)
        use.link_to(sink)
        graph.configure()
        return graph

    def write(self, rgb: np.ndarray, alpha: np.ndarray | None, pts: int, duration: int | None) -> None:
        """Encode one (H, W, 3) uint8 frame (alpha (H, W) uint8 or None) at ``pts``."""
        av = self._av
        if self.pad != (0, 0):
            rgb = np.pad(rgb, ((0, self.pad[0]), (0, self.pad[1]), (0, 0)), mode="edge")
            alpha = None if alpha is None else np.pad(alpha, ((0, self.pad[0]), (0, self.pad[1])), mode="edge")
        if self.alpha:
            full = np.full(rgb.shape[:2], 255, np.uint8) if alpha is None else alpha
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.dstack([rgb, full])), format="rgba")
        else:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        if self.time_base != self.source_base:
            pts = round(pts * self.source_base / self.time_base)
            duration = max(1, round(duration * self.source_base / self.time_base)) if duration else None
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1
        self.last_pts = pts
        frame.pts, frame.time_base = pts, self.time_base
        if duration:
            frame.duration = duration
            self.durations[pts] = duration
        self.last_ms = round(duration * self.time_base * 1000) if duration else None
        if self.graph is None:
            self._encode(frame.reformat(format=self.choice.pix_fmt, interpolation=_swscale_flags(decode=False)))
        else:
            self.graph.push(frame)
            self._drain_graph()

    def _drain_graph(self) -> None:
        av = self._av
        while True:
            try:
                out = self.graph.pull()
            except (av.BlockingIOError, av.EOFError):
                return
            self._encode(out)

    def _encode(self, frame: Any) -> None:
        for packet in self.stream.encode(frame):
            self._mux(packet)

    def _mux(self, packet: Any) -> None:
        if not packet.duration and packet.pts in self.durations:  # e.g. the last GIF frame's delay
            packet.duration = self.durations[packet.pts]
        self.durations.pop(packet.pts, None)
        self.container.mux(packet)

    def copy(self, packet: Any) -> None:
        """Remux an audio packet of the input unchanged (dropped when its stream is not kept)."""
        out = self.audio.get(packet.stream.index)
        if out is not None:
            packet.stream = out
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and write the container's trailer."""
        if self.graph is not None:
            self.graph.push(None)
            self._drain_graph()
        self._encode(None)
        self.container.close()
        if self.buffer is not None:
            self.file.write(_set_last_webp_duration(self.buffer.getvalue(), self.last_ms))

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()


def _set_last_webp_duration(data: bytes, ms: int | None) -> bytes:
    """An animated WebP file with its last frame's duration (24-bit ms in the last ANMF chunk,
    at byte 12 of its payload) set to ``ms``; unchanged when ``ms`` is None or out of range."""
    if not ms or not 0 < ms < 1 << 24:
        return data
    buf, pos, last = bytearray(data), 12, None  # after "RIFF" <size> "WEBP"
    while pos + 8 <= len(buf):
        size = int.from_bytes(buf[pos + 4:pos + 8], "little")
        if buf[pos:pos + 4] == b"ANMF" and size >= 16:
            last = pos + 8
        pos += 8 + size + (size & 1)
    if last is not None:
        buf[last + 12:last + 15] = ms.to_bytes(3, "little")
    return bytes(buf)


class Stopped(Exception):
    """A stop was requested (Ctrl-C / SIGTERM) while a video was being written; nothing was kept."""


def _upright(a: np.ndarray, quarter_turns: int) -> np.ndarray:
    """``a`` turned by ``quarter_turns`` x 90 degrees counter-clockwise (as a player shows it)."""
    return np.ascontiguousarray(np.rot90(a, quarter_turns)) if quarter_turns % 4 else a


def translate_video(translator: Any, src: str | os.PathLike, dst: str | os.PathLike, *, tile: int = 0,
                    tile_overlap: int = 32, batch: int = 1, codec: str | None = None, crf: int | None = None,
                    mask: str | os.PathLike | None = None, outscale: float | None = None,
                    stop: Callable[[], bool] = lambda: False, progress: bool = True,
                    note: Callable[[str], None] | None = None) -> int:
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
    :class:`TranslateError` naming it.
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
