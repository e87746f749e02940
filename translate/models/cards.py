"""Model cards, every way a card travels inside a file, and the zoo of named models.

A :class:`ModelCard` holds everything needed to rebuild a network and run it: the generator
architecture (keyword arguments of :func:`translate.nets.build.build_generator`), the value range,
the size multiple the network needs, its inputs and fixed input size, the scale, where the
weights come from and their licence. Every file translate writes embeds the same card as JSON,
so a file alone is enough to run it; this module is the one home of each embedding:

* a `translate train` checkpoint: ``ckpt["cards"] = {net name: card dict}``
  (:func:`checkpoint_cards` reads it; the rest of the format is :mod:`translate.models.checkpoint`);
* a shipped safetensors file: the header metadata entry :data:`CARD_METADATA_KEY`
  (:func:`safetensors_metadata` writes it, :func:`read_card` reads it from the header alone);
* an exported ONNX file: the ``metadata_props`` entry :data:`ONNX_METADATA_KEY`, a JSON object
  whose ``"card"`` is the card (:func:`onnx_metadata` builds it, :func:`read_onnx_metadata`
  reads it back).

No torch here.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translate.errors import TranslateError
from translate.nets import architectures


def _shipped_folder() -> Path:
    # The repository's top-level weights/ folder is the package translate._weights (pyproject.toml's
    # package-dir): the package's copy in a wheel install, weights/ itself in an editable install.
    # A checkout imported without being installed (PYTHONPATH) has no such package: its weights/.
    try:
        return Path(str(importlib.resources.files("translate._weights")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "weights"


#: The folder of the shipped models (``<name>.safetensors``); the one place that says where it is.
SHIPPED_WEIGHTS = _shipped_folder()

#: The safetensors header metadata entry holding a shipped model's card (JSON).
CARD_METADATA_KEY = "translate_card"
#: The ONNX ``metadata_props`` entry holding `translate export`'s JSON object, and its format version.
ONNX_METADATA_KEY = "translate"
ONNX_METADATA_FORMAT = 1
# A safetensors header is a few kB per hundred tensors; anything this large is not one.
MAX_SAFETENSORS_HEADER = 100 << 20


@dataclass(frozen=True)
class ModelCard:
    """How to rebuild and run one model.

    ``generator`` is the keyword arguments of :func:`translate.nets.build.build_generator`
    (``arch`` plus e.g. ``ngf``, ``norm``, ``use_dropout``). The network sees
    ``(x - mean) / std`` for RGB ``x`` in [0, 1] and its output ``y`` maps back as
    ``y * std + mean``. Inputs are padded to a multiple of ``multiple``; outputs are ``scale``
    times the input size.

    ``inputs`` names the planes the network is given, in channel order: ``("image",)``, or
    ``("image", "mask")`` for a network that fills the holes of a mask (the pipeline then asks
    for a mask and appends it as one more channel). ``fixed_size`` is the one square side the
    network accepts (e.g. the context encoder's 128; the pipeline then runs it on windows of
    that size), None when any multiple of ``multiple`` works. Both default to what the
    architecture table (:mod:`translate.nets.architectures`) says for ``generator["arch"]``.
    """

    name: str
    task: str
    generator: dict[str, Any]
    url: str | None = None
    sha256: str | None = None
    file: str | None = None
    direction: str = "AtoB"
    mean: float = 0.5
    std: float = 0.5
    multiple: int = 4
    scale: int = 1
    inputs: tuple[str, ...] = ()
    fixed_size: int | None = None
    licence: str = "unknown"
    source: str = ""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Unset inputs / fixed size come from the architecture table (the one home of those rules).
        # Cards written before the field existed kept the fixed size as extra["image_size"]: it
        # moves to the field, so old shipped files, checkpoints and ONNX exports still run.
        arch = self.generator.get("arch", "") if isinstance(self.generator, dict) else ""
        object.__setattr__(self, "inputs", tuple(self.inputs) or architectures.inputs(arch))
        if self.inputs[:1] != ("image",) or not all(isinstance(i, str) for i in self.inputs):
            raise TypeError(f"inputs must be a list of plane names starting with 'image', got {list(self.inputs)}")
        if isinstance(self.extra, dict) and "image_size" in self.extra:
            extra = dict(self.extra)
            size = extra.pop("image_size")
            object.__setattr__(self, "extra", extra)
            if self.fixed_size is None:
                object.__setattr__(self, "fixed_size", int(size))
        if self.fixed_size is None:
            object.__setattr__(self, "fixed_size", architectures.fixed_size(arch))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the form embedded in checkpoints and ONNX metadata)."""
        d = dataclasses.asdict(self)
        d["inputs"] = list(self.inputs)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelCard":
        """Rebuild a card from :meth:`to_dict` output (of this or an older translate); unknown
        keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise TranslateError(f"model card has unknown fields {sorted(unknown)}; written by a newer translate?")
        if isinstance(d.get("inputs"), list):
            d = {**d, "inputs": tuple(d["inputs"])}
        return cls(**d)

    @property
    def arch(self) -> str:
        return self.generator["arch"]


# ---------------------------------------------------------------------------- cards inside files

def checkpoint_cards(ckpt: dict[str, Any], path: str | os.PathLike) -> dict[str, ModelCard]:
    """The cards of a `translate train` checkpoint dict (``ckpt["cards"]``: net name -> card
    dict), in the order saved; a damaged entry is a one-line :class:`TranslateError` naming ``path``."""
    entries = ckpt.get("cards")
    if not isinstance(entries, dict) or not entries:
        raise TranslateError(f"{path}: damaged translate training checkpoint (no model cards)")
    try:
        return {str(name): ModelCard.from_dict(card) for name, card in entries.items()}
    except TypeError as e:
        raise TranslateError(f"{path}: invalid model card in the checkpoint ({e})") from None
    except TranslateError as e:
        raise TranslateError(f"{path}: {e}") from None


def safetensors_metadata(card: ModelCard) -> dict[str, str]:
    """The safetensors header metadata of a shipped model: its card under :data:`CARD_METADATA_KEY`."""
    return {CARD_METADATA_KEY: card.to_json(), "format": "pt"}


def read_card(path: str | os.PathLike, *, optional: bool = False) -> ModelCard | None:
    """The :class:`ModelCard` embedded in a safetensors file by :func:`translate.models.checkpoint.save_shipped`.

    Reads only the header (8-byte little-endian length, then JSON), so it is fast and imports
    no torch. A file that is not safetensors or carries no valid card raises TranslateError;
    with ``optional`` a valid safetensors file without a card (e.g. a community model) gives None.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            if not 0 < size <= min(MAX_SAFETENSORS_HEADER, path.stat().st_size - 8):
                raise TranslateError(f"{path}: not a safetensors file (no valid header)")
            header = json.loads(f.read(size))
    except FileNotFoundError:
        raise TranslateError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise TranslateError(f"{path}: not a safetensors file (header is not JSON)") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    text = metadata.get(CARD_METADATA_KEY) if isinstance(metadata, dict) else None
    if not isinstance(text, str):
        if optional:
            return None
        raise TranslateError(f"{path}: safetensors file without a translate model card (not written by translate)")
    try:
        fields = json.loads(text)
        if not isinstance(fields, dict):
            raise TypeError("not an object")
        return ModelCard.from_dict(fields)
    except (json.JSONDecodeError, TypeError) as e:
        raise TranslateError(f"{path}: invalid translate model card ({e})") from None
    except TranslateError as e:
        raise TranslateError(f"{path}: {e}") from None


def onnx_metadata(card: ModelCard, **details: Any) -> dict[str, Any]:
    """The JSON object of an exported ONNX file (stored under :data:`ONNX_METADATA_KEY`): the
    format version, ``details`` (what a reader without translate needs: names, value range ...)
    and the full card under ``"card"``."""
    return {"format": ONNX_METADATA_FORMAT, **details, "card": card.to_dict()}


def read_onnx_metadata(text: str | None, path: str | os.PathLike = "model") -> tuple[dict[str, Any], ModelCard]:
    """The metadata object and card in the :data:`ONNX_METADATA_KEY` entry ``text`` of an ONNX file.

    Raises :class:`TranslateError` when the file has none (not exported by translate), when it
    is not valid JSON or carries no valid model card, or when it is of a newer format.
    """
    if text is None:
        raise TranslateError(f"{path}: not a translate ONNX model (no '{ONNX_METADATA_KEY}' metadata); "
                             f"export it with `translate export`")
    damaged = TranslateError(f"{path}: the '{ONNX_METADATA_KEY}' metadata is damaged (no model card); export it again")
    try:
        metadata = json.loads(text)
        card, version = metadata["card"], int(metadata.get("format", 0))
    except (json.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError):
        raise damaged from None
    if version > ONNX_METADATA_FORMAT:
        raise TranslateError(f"{path}: exported by a newer translate (metadata format {version}); upgrade translate")
    if not isinstance(card, dict):
        raise damaged
    try:
        return metadata, ModelCard.from_dict(card)
    except TypeError as e:
        raise TranslateError(f"{path}: invalid model card in the metadata ({e})") from None


# ---------------------------------------------------------------------------- the zoo

# The official pretrained models of the reference CycleGAN / pix2pix implementation.
_CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{}.pth"
_PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{}.pth"
_OFFICIAL_SOURCE = "junyanz/pytorch-CycleGAN-and-pix2pix (official pretrained)"
_OFFICIAL_LICENCE = "BSD-2-Clause (reference code); weights for research use"

CYCLEGAN_NAMES = (
    "apple2orange", "orange2apple", "summer2winter_yosemite", "winter2summer_yosemite",
    "horse2zebra", "zebra2horse", "monet2photo", "style_monet", "style_cezanne", "style_ukiyoe",
    "style_vangogh", "sat2map", "map2sat", "cityscapes_photo2label", "cityscapes_label2photo",
    "facades_photo2label", "facades_label2photo", "iphone2dslr_flower",
)
PIX2PIX_NAMES = ("edges2shoes", "sat2map", "map2sat", "facades_label2photo", "day2night")


def _official_cards() -> list[ModelCard]:
    cards = []
    resnet = {"arch": "resnet_9blocks", "input_nc": 3, "output_nc": 3, "ngf": 64,
              "norm": "instance", "use_dropout": False, "padding_type": "reflect"}
    unet = {"arch": "unet_256", "input_nc": 3, "output_nc": 3, "ngf": 64,
            "norm": "batch", "use_dropout": True}
    for n in CYCLEGAN_NAMES:
        cards.append(ModelCard(
            name=f"cyclegan/{n}", task="cyclegan", generator=dict(resnet),
            url=_CYCLEGAN_URL.format(n), multiple=architectures.size_multiple(resnet), licence=_OFFICIAL_LICENCE,
            source=_OFFICIAL_SOURCE, description=f"CycleGAN generator {n}, trained on 256x256 crops",
        ))
    for n in PIX2PIX_NAMES:
        cards.append(ModelCard(
            name=f"pix2pix/{n}", task="pix2pix", generator=dict(unet),
            url=_PIX2PIX_URL.format(n), multiple=architectures.size_multiple(unet), licence=_OFFICIAL_LICENCE,
            direction="BtoA" if n == "facades_label2photo" else "AtoB",
            source=_OFFICIAL_SOURCE, description=f"pix2pix generator {n}, trained on 256x256 crops",
        ))
    return cards


def _shipped_cards() -> list[ModelCard]:
    """Cards of the models trained by us and committed under ``weights/`` (read from the files in
    :data:`SHIPPED_WEIGHTS`)."""
    cards = []
    for f in sorted(SHIPPED_WEIGHTS.glob("*.safetensors")):
        try:
            card = read_card(f)
        except TranslateError:
            continue
        if card is not None:
            cards.append(card)
    return cards


_ZOO: dict[str, ModelCard] | None = None


def zoo() -> dict[str, ModelCard]:
    """Every named model: official ``cyclegan/*`` and ``pix2pix/*`` plus shipped models."""
    global _ZOO
    if _ZOO is None:
        _ZOO = {c.name: c for c in _official_cards() + _shipped_cards()}
    return _ZOO


def aliases() -> dict[str, list[str]]:
    """Short name -> full names (``horse2zebra`` -> ``cyclegan/horse2zebra``)."""
    out: dict[str, list[str]] = {}
    for full in zoo():
        out.setdefault(full.split("/")[-1], []).append(full)
    return out


def lookup(name: str) -> ModelCard | None:
    """The card for a zoo name or unambiguous short name; None if it is not a zoo name.

    An ambiguous short name (``sat2map`` is both a CycleGAN and a pix2pix model) raises
    :class:`TranslateError` listing the full names to choose from.
    """
    table = zoo()
    if name in table:
        return table[name]
    full = aliases().get(name)
    if not full:
        return None
    if len(full) > 1:
        raise TranslateError(f"'{name}' is ambiguous: use one of {', '.join(sorted(full))}")
    return table[full[0]]


def model_tag(spec: str) -> str:
    """Short, filename-safe name of a MODEL spec (``horse2zebra`` for ``cyclegan/horse2zebra``,
    ``latest`` for ``run/checkpoints/latest.pt``, ``m`` for ``m.onnx``): the name `translate run`
    puts in output file names and `translate serve` serves the model under."""
    p = Path(spec)
    tag = p.name if os.path.isdir(p) else (p.stem if p.suffix else spec.split("/")[-1])
    return re.sub(r"[^A-Za-z0-9._-]+", "_", tag) or "out"
