"""Builders for the hostile-input tests: a tiny ONNX model without torch or an export, lying and
truncated image files, and the checks every hostile case makes (one stderr line, inputs unchanged)."""

import hashlib
import json
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper

from translate.models.cards import ModelCard
from translate.models.cards import ONNX_METADATA_FORMAT as METADATA_FORMAT
from translate.models.cards import ONNX_METADATA_KEY as METADATA_KEY


def write_identity_onnx(path: Path, **card: object) -> Path:
    """An ONNX file whose graph returns its (N, 3, H, W) input unchanged, carrying a translate card
    (x1 ResNet-like, multiple 4) with ``card`` fields overridden (e.g. ``scale=4`` to make it lie)."""
    fields = {"name": "identity", "task": "cyclegan", "generator": {"arch": "resnet_2blocks", "ngf": 8},
              "multiple": 4, **card}
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["output"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    metadata = {"format": METADATA_FORMAT, "card": ModelCard(**fields).to_dict()}
    helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata)})
    onnx.save(model, str(path))
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_lying_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A 60-byte PNG whose header claims ``width`` x ``height`` RGB pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    return path


def write_huge_canvas_webp(path: Path, side: int) -> Path:
    """A ~140-byte animated WebP of two 4x4 frames whose VP8X header declares a ``side`` x ``side``
    canvas (a decompression bomb: every frame is decoded onto the whole canvas). Canvas width - 1
    and height - 1 are 24-bit little-endian at bytes 24 and 27 of the RIFF file."""
    from PIL import Image as PILImage

    frames = [PILImage.new("RGB", (4, 4), (60 * i, 0, 0)) for i in range(2)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"VP8X" and data[20] & 0x02, "Pillow wrote no animated WebP"
    data[24:27] = data[27:30] = (side - 1).to_bytes(3, "little")
    path.write_bytes(bytes(data))
    return path


def write_truncated(path: Path, size: int = 48, seed: int = 0) -> Path:
    """The first half of a valid image file in ``path``'s format (a download cut short)."""
    image = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(path.suffix, image)
    assert ok
    path.write_bytes(buf.tobytes()[: len(buf) // 2])
    return path


def digests(*paths: Path) -> dict[str, str]:
    """SHA-256 of every file under ``paths`` (files or folders, recursively), by path."""
    files = [q for p in paths for q in ([p] if p.is_file() else sorted(p.rglob("*"))) if q.is_file()]
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def one_error_line(err: str) -> str:
    """The single line of a hostile case's stderr; fails on a traceback or more than one line."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def assert_one_error(code: int, err: str, expected_code: int, *needles: str) -> str:
    """A CLI call ended with ``expected_code`` and one ``translate: error:`` line holding every
    one of ``needles``; returns the line."""
    line = one_error_line(err)
    assert code == expected_code, line
    assert line.startswith("translate: error: "), line
    for needle in needles:
        assert needle in line, line
    return line
