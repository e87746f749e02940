"""The public data sets of the pix2pix and CycleGAN papers, as `translate data get` fetches them. No torch.

One row per set, from the reference implementation's download scripts
(junyanz/pytorch-CycleGAN-and-pix2pix, ``datasets/download_pix2pix_dataset.sh`` and
``datasets/download_cyclegan_dataset.sh``): the pix2pix sets are ``.tar.gz`` files of A|B pairs
side by side (``train/``, ``val/``, sometimes ``test/``: the ``aligned`` layout of
:mod:`translate.data.layouts`), the CycleGAN sets ``.zip`` files of ``trainA/``, ``trainB/``,
``testA/``, ``testB/`` (the ``unaligned`` layout; the script's ``ae_photos``, not a training set,
is left out). The authors publish no checksums and no sizes,
and the hosts could not be reached when this table was written, so ``sha256`` is empty for every
set: `translate data get` prints the SHA-256 of what it downloaded, for users to pin with
``--sha256``, and records it beside the archive. Fill in ``sha256`` only from a verified download.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from translate.errors import TranslateError

HOST = "http://efrosgans.eecs.berkeley.edu/"
PIX2PIX_URL = HOST + "pix2pix/datasets/{name}.tar.gz"
CYCLEGAN_URL = HOST + "cyclegan/datasets/{name}.zip"
#: An environment variable naming a mirror of the host's folders (``https://mirror.example/gans/`` serving
#: ``pix2pix/datasets/facades.tar.gz`` ...): for sites that cannot reach the host, and for the tests.
MIRROR_ENV = "TRANSLATE_DATA_MIRROR"


@dataclass(frozen=True)
class PublicSet:
    """One downloadable data set.

    ``name``: ``<paper>/<set>`` (``pix2pix/facades``); ``url``: the archive (None: it cannot be
    downloaded, ``note`` says where to get it); ``layout``: the :mod:`translate.data.layouts` name
    the unpacked folder has; ``recipe``: the `translate train` recipe that reads it; ``train_options``:
    the options the paper's run adds (e.g. the direction); ``sha256``: the archive's checksum where
    one was verified, else None; ``about``: one line on what it holds.
    """

    name: str
    url: str | None
    layout: str
    recipe: str
    about: str
    train_options: str = ""
    sha256: str | None = None
    note: str = ""

    def download_url(self) -> str | None:
        """:attr:`url`, on the mirror that ``$TRANSLATE_DATA_MIRROR`` names if it is set."""
        mirror = os.environ.get(MIRROR_ENV)
        if self.url and mirror and self.url.startswith(HOST):
            return mirror.rstrip("/") + "/" + self.url.removeprefix(HOST)
        return self.url

    @property
    def short_name(self) -> str:
        """The set's name without the paper (``facades``)."""
        return self.name.rpartition("/")[2]


def _pix2pix(name: str, about: str, train_options: str = "") -> PublicSet:
    return PublicSet(f"pix2pix/{name}", PIX2PIX_URL.format(name=name), "aligned", "pix2pix", about, train_options)


def _cyclegan(name: str, about: str) -> PublicSet:
    return PublicSet(f"cyclegan/{name}", CYCLEGAN_URL.format(name=name), "unaligned", "cyclegan", about)


_CITYSCAPES_NOTE = ("its licence does not allow redistribution: register at https://www.cityscapes-dataset.com, "
                    "download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip and pair the images with "
                    "`translate convert combine`")

#: Every set by its full name, in the order of the reference scripts.
PUBLIC_SETS: dict[str, PublicSet] = {s.name: s for s in (
    _pix2pix("facades", "CMP Facades: A|B = facade photo | its label map (labels -> photo is BtoA)",
             "--direction BtoA"),
    _pix2pix("maps", "Google Maps: aerial photos and map tiles of the same places"),
    _pix2pix("edges2shoes", "UT Zappos50K: shoe photos and their edge maps"),
    _pix2pix("edges2handbags", "iGAN handbags: handbag photos and their edge maps"),
    _pix2pix("night2day", "Transient Attributes: night and day photos of the same scenes"),
    PublicSet("pix2pix/cityscapes", None, "aligned", "pix2pix", "Cityscapes: street photos and their label maps",
              note=_CITYSCAPES_NOTE),
    _cyclegan("horse2zebra", "ImageNet photos: horses (A), zebras (B)"),
    _cyclegan("apple2orange", "ImageNet photos: apples (A), oranges (B)"),
    _cyclegan("summer2winter_yosemite", "Flickr photos of Yosemite: summer (A), winter (B)"),
    _cyclegan("monet2photo", "Monet paintings (A), landscape photos (B)"),
    _cyclegan("cezanne2photo", "Cezanne paintings (A), landscape photos (B)"),
    _cyclegan("ukiyoe2photo", "Ukiyo-e prints (A), landscape photos (B)"),
    _cyclegan("vangogh2photo", "Van Gogh paintings (A), landscape photos (B)"),
    _cyclegan("maps", "Google Maps, unpaired: aerial photos and map tiles"),
    _cyclegan("facades", "CMP Facades, unpaired: facade photos and label maps"),
    _cyclegan("iphone2dslr_flower", "Flickr flowers: iPhone photos (A), DSLR photos with shallow depth of field (B)"),
    PublicSet("cyclegan/cityscapes", None, "unaligned", "cyclegan", "Cityscapes: street photos and label maps",
              note=_CITYSCAPES_NOTE),
)}


def lookup(name: str) -> PublicSet:
    """The set called ``name``: a full name (``pix2pix/facades``) or a short one that only one set
    has (``horse2zebra``). An unknown or ambiguous name raises :class:`TranslateError` naming the
    candidates."""
    if name in PUBLIC_SETS:
        return PUBLIC_SETS[name]
    same = [s for s in PUBLIC_SETS.values() if s.short_name == name]
    if len(same) == 1:
        return same[0]
    if same:
        raise TranslateError(f"'{name}' is the name of {len(same)} sets: {' and '.join(s.name for s in same)}; "
                             f"give the full name")
    close = difflib.get_close_matches(name, list(PUBLIC_SETS) + [s.short_name for s in PUBLIC_SETS.values()], n=3)
    hint = f"; did you mean {' or '.join(dict.fromkeys(close))}?" if close else ""
    raise TranslateError(f"'{name}' is not a public data set{hint} (see `translate data list`)")
