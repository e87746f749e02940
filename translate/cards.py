"""Model cards and the zoo: one table that says how to rebuild, fetch and run every named model.

A :class:`ModelCard` holds everything needed to rebuild a network and run it: the generator
architecture (keyword arguments of :func:`translate.nets.build_generator`), the value range,
the size multiple the network needs, the scale, where the weights come from and their licence.
Checkpoints written by `translate train`, shipped files in ``weights/`` and exported ONNX files
embed the same card as JSON, so a file alone is enough to run it. No torch here.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translate.errors import TranslateError

REPO_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"

TASKS = ("cyclegan", "pix2pix", "sr", "derain", "inpaint")


@dataclass(frozen=True)
class ModelCard:
    """How to rebuild and run one model.

    ``generator`` is the keyword arguments of :func:`translate.nets.build_generator`
    (``arch`` plus e.g. ``ngf``, ``norm``, ``use_dropout``). The network sees
    ``(x - mean) / std`` for RGB ``x`` in [0, 1] and its output ``y`` maps back as
    ``y * std + mean``. Inputs are padded to a multiple of ``multiple``; outputs are ``scale``
    times the input size.
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
    licence: str = "unknown"
    source: str = ""
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (the form embedded in checkpoints and ONNX metadata)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelCard":
        """Rebuild a card from :meth:`to_dict` output; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise TranslateError(f"model card has unknown fields {sorted(unknown)}; written by a newer translate?")
        return cls(**d)

    @property
    def arch(self) -> str:
        return self.generator["arch"]


def size_multiple(generator: dict[str, Any]) -> int:
    """The factor a generator needs H and W to be multiples of (4 for ResNet, 2^n for U-Net)."""
    arch = generator["arch"]
    if arch.startswith("resnet"):
        return 4
    if arch.startswith("unet"):
        # unet_N has log2(N) levels unless num_downs says otherwise (unet_64, unet_32 too)
        return 2 ** int(generator.get("num_downs") or int(arch.split("_")[1]).bit_length() - 1)
    return int(generator.get("multiple", 1))


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
            url=_CYCLEGAN_URL.format(n), multiple=size_multiple(resnet), licence=_OFFICIAL_LICENCE,
            source=_OFFICIAL_SOURCE, description=f"CycleGAN generator {n}, trained on 256x256 crops",
        ))
    for n in PIX2PIX_NAMES:
        cards.append(ModelCard(
            name=f"pix2pix/{n}", task="pix2pix", generator=dict(unet),
            url=_PIX2PIX_URL.format(n), multiple=size_multiple(unet), licence=_OFFICIAL_LICENCE,
            direction="BtoA" if n == "facades_label2photo" else "AtoB",
            source=_OFFICIAL_SOURCE, description=f"pix2pix generator {n}, trained on 256x256 crops",
        ))
    return cards


def _shipped_cards() -> list[ModelCard]:
    """Cards of the models trained by us and committed under ``weights/`` (read from the files)."""
    from translate.weights import read_card  # torch-free reader of the safetensors header

    cards = []
    for f in sorted(REPO_WEIGHTS.glob("*.safetensors")):
        try:
            cards.append(read_card(f))
        except TranslateError:
            continue
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
