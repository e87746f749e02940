"""The encoding side of :mod:`translate.run.video`: the containers videos can be written in
(:data:`CONTAINERS`, :func:`check_video_format`), the encoder for an output suffix, ``--codec``
and ``--crf`` (:func:`choose_encoder`, checked before any frame is decoded) and ``_Writer``, which
encodes RGB frames into an open binary file with PyAV at the input's timestamps (a palette per
frame for GIF, padding to even sizes where the codec needs it, the input's display matrix) and
remuxes the input's audio packets; animated WebP is assembled in memory so that its last frame's
duration can be set (:func:`_set_last_webp_duration`). No torch.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from translate.errors import TranslateError
from translate.run.video_av import _av, _format_has_alpha, _swscale_flags

if TYPE_CHECKING:
    from translate.run.video_reader import _Reader

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
_ALPHA_FORMATS = {"libwebp_anim": "yuva420p", "libvpx-vp9": "yuva420p"}


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
