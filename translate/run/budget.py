"""The work one image may cause, bounded before the work starts; numpy only, never torch.

`translate run` (per file) and `translate serve` (per request) ask :func:`check_work` the same
question once they know an image's size from its header, before it is decoded: how many input
pixels, output pixels (input x the model's scale^2 x ``outscale``^2), tiles (network calls) and
bytes of memory at the peak will this take? Each has a bound in a :class:`WorkBudget`, and the
first one exceeded is refused with one line naming the bound and the option that sets it
(:class:`OverBudget`). :func:`decode_within` reads the size from the decoder's header parse
(:func:`translate.imageio.declared_size`), never from a full decode; data whose header gives no
size is decoded only when it is too small to hold more than the pixel bound.

The memory figure is an estimate for convolutional networks (the pipeline's own float32 buffers
plus a network working set per output pixel of one call, measured on the zoo models), not a
guarantee: a transformer (SwinIR, HAT) needs more, and tiling is how to bound it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from translate.errors import TranslateError
from translate.imageio import Image, PixelLimitError, declared_size, decode_image, pixel_limit, read_bytes
from translate.models.cards import ModelCard
from translate.run.pipeline import call_shape, check_tiling, min_side, outscale_size, tile_count

#: Bytes the pipeline holds per pixel, all float32 RGB: per input pixel the decoded image, the
#: normalised and the padded network input (with the decoder's integer copies); per pixel at the
#: model's scale the network output, its crop and its clipped copy (tiled: the blend sums and
#: weights); per final pixel (after ``outscale``) the resized result and its encoded copy.
INPUT_BYTES_PER_PIXEL = 48
MODEL_OUTPUT_BYTES_PER_PIXEL = 48
FINAL_BYTES_PER_PIXEL = 24

#: A network's working set per output pixel of one call, per feature channel of its first layers
#: (the card's ``ngf`` / ``num_feat``, 64 when it names none): 16 bytes = four float32 activations
#: live at once. Measured peak RSS growth per output pixel (2-core AMD EPYC Zen 3 VM, PyTorch CPU,
#: whole images of 256 and 512 px, 64 to 256 px for sr-x4): sr-x4 (32 features) ~290 B against an
#: estimate of ~590 B, facades-label2photo (U-Net, 16) ~180 B against ~380 B,
#: facades-cyclegan-label2photo (ResNet, 16) ~310 B against ~380 B.
NETWORK_BYTES_PER_FEATURE_PIXEL = 16

#: The most pixels one byte of image data can decode to in the formats OpenCV reads: deflate's
#: maximum ratio (1032:1) times 8 pixels per byte of a 1-bit PNG. Data whose header gives no
#: size is decoded under a pixel bound only when ``bytes x this`` is within it.
MAX_PIXELS_PER_BYTE = 1032 * 8


@dataclass(frozen=True)
class WorkBudget:
    """The bounds on one image's work, and the option (or variable) that sets each, named in
    refusals: ``max_pixels`` decoded input pixels, ``max_output_pixels`` result pixels,
    ``max_memory_bytes`` the estimated peak (:func:`estimate_work`). The tile count is bounded by
    :data:`translate.run.pipeline.MAX_TILES` through :func:`~translate.run.pipeline.check_tiling`."""

    max_pixels: int
    max_output_pixels: int
    max_memory_bytes: int
    pixels_flag: str
    output_flag: str
    memory_flag: str
    tile_flag: str = "--tile"
    outscale_flag: str | None = "--outscale"  # None where results cannot be resized (translate serve)


@dataclass(frozen=True)
class Work:
    """What one image asks: its (H, W) ``size``, the result's (H, W) ``output_size``, ``tiles``
    network calls and ``memory_bytes`` at the peak (an estimate)."""

    size: tuple[int, int]
    output_size: tuple[int, int]
    tiles: int
    memory_bytes: int


class OverBudget(TranslateError):
    """An image asks more than a :class:`WorkBudget` allows. ``bound`` says which (``pixels``,
    ``output pixels``, ``tiles``, ``memory``); ``status`` is the HTTP answer `translate serve`
    gives (413 too large, 422 an option that does not fit the image)."""

    def __init__(self, message: str, bound: str, status: int = 413):
        super().__init__(message)
        self.bound = bound
        self.status = status


def machine_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def run_budget(max_memory_bytes: int | None = None) -> WorkBudget:
    """The budget of `translate run`: OpenCV's own pixel limit (``$OPENCV_IO_MAX_IMAGE_PIXELS``)
    for input and output, and ``max_memory_bytes`` (default: this machine's memory) for the peak."""
    limit = pixel_limit()
    memory = max_memory_bytes or machine_memory() or 1 << 62
    return WorkBudget(limit, limit, memory, "OPENCV_IO_MAX_IMAGE_PIXELS", "OPENCV_IO_MAX_IMAGE_PIXELS",
                      "translate run --max-memory-mb", tile_flag="--tile")


def _features(card: ModelCard) -> int:
    generator = card.generator or {}
    for key in ("ngf", "num_feat", "nf", "embed_dim"):
        value = generator.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return 64


def estimate_work(card: ModelCard, size: tuple[int, int], *, tile: int = 0, tile_overlap: int = 32,
                  outscale: float | None = None) -> Work:
    """The work of translating an image of (H, W) ``size`` with ``card``'s model, tiled or not,
    resized by ``outscale``: counted from the sizes alone (nothing is allocated). An ``outscale``
    result over OpenCV's pixel limit raises :class:`TranslateError` (:func:`outscale_size`)."""
    height, width = size
    scale = card.scale
    model_pixels = height * width * scale * scale
    output_size = (height * scale, width * scale) if outscale is None else outscale_size(size, outscale)
    multiple, smallest = card.multiple, min_side(card)
    tiles = tile_count(size, tile, tile_overlap, multiple, smallest) if tile else 1
    call_h, call_w = call_shape(size, tile, multiple, smallest)
    call_pixels = call_h * call_w
    network = call_pixels * scale * scale * _features(card) * NETWORK_BYTES_PER_FEATURE_PIXEL
    memory = (height * width * INPUT_BYTES_PER_PIXEL + model_pixels * MODEL_OUTPUT_BYTES_PER_PIXEL
              + output_size[0] * output_size[1] * FINAL_BYTES_PER_PIXEL + network)
    return Work(size, output_size, tiles, memory)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def check_input_pixels(size: tuple[int, int], source: str, budget: WorkBudget) -> None:
    """Raise :class:`OverBudget` (``pixels``) when an image of (H, W) ``size`` exceeds the budget's
    input pixels; ``source`` names it."""
    if size[0] * size[1] > budget.max_pixels:
        raise OverBudget(f"{source}: {size[1]}x{size[0]} is {size[0] * size[1]} pixels, more than the limit of "
                         f"{budget.max_pixels} ({budget.pixels_flag}); use a smaller image", "pixels")


def check_work(card: ModelCard, size: tuple[int, int], *, tile: int = 0, tile_overlap: int = 32,
               outscale: float | None = None, budget: WorkBudget, source: str = "the image") -> Work:
    """:func:`estimate_work`, refused with :class:`OverBudget` naming the first bound exceeded and its
    option: input pixels, tiles (422: the tiling does not fit the image), output pixels, memory
    (both say to tile when tiling would fit); ``source`` names the image. The one work rule of
    `translate run` and `translate serve`."""
    check_input_pixels(size, source, budget)
    try:
        check_tiling(tile, tile_overlap, card.multiple, min_side(card), size)
    except ValueError as e:
        raise OverBudget(f"{source}: {e}", "tiles", 422) from None
    work = estimate_work(card, size, tile=tile, tile_overlap=tile_overlap, outscale=outscale)
    out_h, out_w = work.output_size
    if out_h * out_w > budget.max_output_pixels:
        raise OverBudget(f"{source}: the result would be {out_w}x{out_h} = {out_h * out_w} pixels, more than the limit "
                         f"of {budget.max_output_pixels} ({budget.output_flag}); use a smaller image"
                         f"{f' or {budget.outscale_flag}' if budget.outscale_flag and card.scale > 1 else ''}",
                         "output pixels")
    if work.memory_bytes > budget.max_memory_bytes:
        if _fixed_memory(card, size, work) > budget.max_memory_bytes:  # tiles would not bring it within
            hint = "a smaller image"
        else:
            hint = f"a smaller {budget.tile_flag}" if tile else f"{budget.tile_flag} 512 (or a smaller image)"
        raise OverBudget(f"{source}: would need about {_mb(work.memory_bytes)} of memory, more than the limit of "
                         f"{_mb(budget.max_memory_bytes)} ({budget.memory_flag}); use {hint}", "memory")
    return work


def _fixed_memory(card: ModelCard, size: tuple[int, int], work: Work) -> int:
    """The part of ``work``'s memory that tiling cannot lower (the whole-image buffers)."""
    return (size[0] * size[1] * (INPUT_BYTES_PER_PIXEL + card.scale ** 2 * MODEL_OUTPUT_BYTES_PER_PIXEL)
            + work.output_size[0] * work.output_size[1] * FINAL_BYTES_PER_PIXEL)


_RADIANCE_SIZE = re.compile(rb"[-+]([XY]) (\d{1,10}) [-+]([XY]) (\d{1,10})")


def header_size(data: bytes | np.ndarray, source: str = "image") -> tuple[int, int] | None:
    """The (H, W) an image's header declares, without decoding: Pillow's header parse
    (:func:`~translate.imageio.declared_size`), else the resolution line of a Radiance ``.hdr``
    (a format Pillow does not read); None when neither gives one."""
    size = declared_size(data, source)
    head = bytes(memoryview(data)[:1 << 16])
    if size is not None or not head.startswith((b"#?RADIANCE", b"#?RGBE")):
        return size
    end = head.find(b"\n\n")  # the header ends at a blank line; the resolution line follows
    match = _RADIANCE_SIZE.match(head, end + 2) if end >= 0 else None
    if match is None or match.group(1) == match.group(3):
        return None
    first, second = int(match.group(2)), int(match.group(4))
    return (first, second) if match.group(1) == b"Y" else (second, first)


def decode_within(data: bytes | np.ndarray, source: str, budget: WorkBudget, card: ModelCard | None = None, *,
                  tile: int = 0, tile_overlap: int = 32, outscale: float | None = None) -> Image:
    """Decode an image's bytes (:func:`~translate.imageio.decode_image`) only once its header says it
    is within ``budget``: its pixels, and with ``card`` the whole :func:`check_work` of translating
    it with these options; :class:`OverBudget` otherwise, before any pixel is allocated.

    Data whose header gives no size (:func:`header_size`) is decoded when OpenCV's own limit is
    the pixel bound, or when it is too small to decode to more than the bound
    (:data:`MAX_PIXELS_PER_BYTE`); otherwise it is refused. Once decoded, the real size is checked
    again. A header over OpenCV's own limit raises :class:`PixelLimitError`.
    """
    def check(size: tuple[int, int]) -> None:
        if card is None:
            check_input_pixels(size, source, budget)
        else:
            check_work(card, size, tile=tile, tile_overlap=tile_overlap, outscale=outscale, budget=budget,
                       source=source)

    guarded = budget.max_pixels >= pixel_limit()  # OpenCV's own header check is the bound
    try:
        size = header_size(data, source)
    except PixelLimitError:  # over Pillow's bomb limit, which can be lower than OpenCV's
        if not guarded:
            raise OverBudget(f"{source}: its header claims more pixels than the limit of {budget.max_pixels} "
                             f"({budget.pixels_flag}); use a smaller image", "pixels") from None
        size = None
    if size is not None:
        check(size)
    elif not guarded and len(data) * MAX_PIXELS_PER_BYTE > budget.max_pixels:
        raise OverBudget(f"{source}: not a readable image within the limit of {budget.max_pixels} pixels "
                         f"({budget.pixels_flag}): its header gives no size (not an image, damaged, or a format whose "
                         f"header is not read here) and {len(data)} bytes could decode to more; convert it to PNG "
                         f"or JPEG", "pixels", 415)
    image = decode_image(data, source)
    check(image.size)
    return image


def read_within(path: str | os.PathLike, budget: WorkBudget, card: ModelCard | None = None, *, tile: int = 0,
                tile_overlap: int = 32, outscale: float | None = None) -> Image:
    """:func:`decode_within` of an image file (read as :func:`~translate.imageio.read_image` reads it)."""
    return decode_within(read_bytes(path), str(path), budget, card, tile=tile, tile_overlap=tile_overlap,
                         outscale=outscale)


__all__ = ["MAX_PIXELS_PER_BYTE", "OverBudget", "PixelLimitError", "Work", "WorkBudget", "check_input_pixels",
           "check_work", "decode_within", "estimate_work", "header_size", "machine_memory", "read_within", "run_budget"]
