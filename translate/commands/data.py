"""`translate data`: list and fetch the public data sets of the pix2pix and CycleGAN papers (no torch).

`translate data get NAME` downloads the set's archive into ``<cache>/datasets/downloads/`` with
the zoo's download code (:func:`translate.models.weights.fetch_url`: progress bar, resume with HTTP
Range, checksum, atomic rename), unpacks it safely (:mod:`translate.data.archives`) into
``<cache>/datasets/<paper>/<set>`` or ``--to DIR``, checks that the folder has the layout its
recipe reads (:mod:`translate.data.layouts`), and prints the `translate train` command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

from translate.commands import print_table
from translate.data import archives, layouts, public_sets
from translate.data.public_sets import PublicSet
from translate.errors import TranslateError, printable
from translate.models.weights import cache_dir, fetch_url, sha256_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data", help="list and download the public data sets of the pix2pix and CycleGAN papers",
        description="List and download the public data sets of the pix2pix and CycleGAN papers "
                    "(facades, maps, edges2shoes, horse2zebra, ...) into the user cache or a folder of your choice.",
    )
    p.set_defaults(func=_list, json=False)
    data_sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    p_list = data_sub.add_parser("list", help="table of the public data sets (the default)",
                                 description="Print one row per public data set: its layout, the recipe that "
                                             "reads it, where it comes from and whether it is on disk.")
    p_list.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p_list.set_defaults(func=_list)
    p_get = data_sub.add_parser(
        "get", help="download and unpack one data set",
        description="Download NAME's archive (resumed if a previous download was cut), unpack it safely and\n"
                    "print the `translate train` command that reads it. Nothing is downloaded when the\n"
                    "folder already holds the set.",
        epilog="examples:\n  translate data get pix2pix/facades\n"
               "  translate data get horse2zebra --to datasets/horse2zebra\n"
               "  translate data get pix2pix/maps --sha256 <the SHA-256 printed by an earlier download>",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p_get.add_argument("name", metavar="NAME", help="a set of `translate data list`, e.g. facades, horse2zebra, "
                                                   "cyclegan/maps (facades and maps exist for both papers)")
    p_get.add_argument("--to", metavar="DIR", type=Path,
                       help="the folder to unpack into (must not exist or be empty); default: "
                            "<cache>/datasets/<paper>/<set>, <cache> being $TRANSLATE_HOME or the user cache")
    p_get.add_argument("--sha256", metavar="HEX",
                       help="the archive's expected SHA-256 (the authors publish none: pin the one an earlier "
                            "download printed); a mismatch removes the download")
    p_get.add_argument("--keep-archive", action="store_true",
                       help="keep the downloaded archive in the cache after unpacking (default: delete it)")
    p_get.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_get.set_defaults(func=_get)


def default_folder(dataset: PublicSet) -> Path:
    """Where `translate data get` unpacks ``dataset`` without ``--to``: ``<cache>/datasets/<paper>/<set>``."""
    return cache_dir().joinpath("datasets", *dataset.name.split("/"))


def archive_path(dataset: PublicSet) -> Path:
    """Where the archive of ``dataset`` is downloaded to: ``<cache>/datasets/downloads/<paper>-<file name>``."""
    assert dataset.url, dataset.name
    file_name = Path(urlparse(dataset.url).path).name
    return cache_dir() / "datasets" / "downloads" / f"{dataset.name.split('/')[0]}-{file_name}"


def _list(args: argparse.Namespace) -> int:
    rows = []
    for dataset in public_sets.PUBLIC_SETS.values():
        folder = default_folder(dataset)
        rows.append({"name": dataset.name, "layout": dataset.layout, "recipe": dataset.recipe,
                     "source": (urlparse(dataset.url).hostname or "-") if dataset.url else "not downloadable",
                     "on disk": "yes" if _holds(dataset, folder) else "no", "about": dataset.about,
                     "url": dataset.url, "path": str(folder)})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = ("name", "layout", "recipe", "on disk", "about")
    print_table(rows, columns)
    return 0


def _holds(dataset: PublicSet, folder: Path) -> bool:
    return folder.is_dir() and not layouts.layout(dataset.layout).find(folder).errors


def _get(args: argparse.Namespace) -> int:
    dataset = public_sets.lookup(args.name)
    if not dataset.url:
        raise TranslateError(f"{dataset.name} cannot be downloaded: {dataset.note}")
    folder = args.to if args.to is not None else default_folder(dataset)
    if _holds(dataset, folder):
        print(f"{dataset.name} is already in {folder}")
        _print_next_step(dataset, folder)
        return 0
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise TranslateError(f"{folder} already exists and does not hold {dataset.name}; "
                             f"choose another folder with --to or remove it")
    archive = archive_path(dataset)
    expected = args.sha256 or dataset.sha256
    was_there = archive.is_file()
    fetch_url(dataset.download_url(), archive, sha256=expected, desc=dataset.name, progress=not args.no_progress, resume=True,
              hint=" and run the command again")
    digest = sha256_file(archive)
    if expected:
        checked = f"matches the expected SHA-256 {digest}"
    else:
        checked = (f"SHA-256 {digest} (the authors publish no checksum: pass --sha256 {digest} "
                   f"to make later downloads check against this one)")
    source = "found in the cache" if was_there else "downloaded"
    print(printable(f"{dataset.name}: {archive.name} ({archive.stat().st_size / 1e6:.1f} MB) {source}; {checked}"))
    print(printable(f"unpacking into {folder} ..."), file=sys.stderr)
    unpacked = archives.unpack(archive, folder)
    found = layouts.layout(dataset.layout).find(folder)
    if found.errors:
        raise TranslateError(f"{dataset.name} was unpacked into {folder} but is not the {dataset.layout} layout "
                             f"{dataset.recipe} reads ({found.errors[0]}); please report this")
    if not args.keep_archive:
        for path in (archive, archive.with_name(archive.name + ".sha256")):
            path.unlink(missing_ok=True)
    counts = ", ".join(f"{role}/ {len(files)}" for role, files in found.files.items())
    print(printable(f"unpacked {unpacked.files} files ({unpacked.bytes / 1e6:.1f} MB) into {folder}: {counts} images"
                    + ("" if args.keep_archive else "; the archive was deleted")))
    _print_next_step(dataset, folder)
    return 0


def _print_next_step(dataset: PublicSet, folder: Path) -> None:
    layout = layouts.layout(dataset.layout)
    options = f" {dataset.train_options}" if dataset.train_options else ""
    data = str(folder) if " " not in str(folder) else f'"{folder}"'
    out = os.path.join("runs", dataset.short_name)
    print(printable(f"layout: {layout.name} ({layout.summary}); train with:\n"
                    f"  translate train {dataset.recipe} --data {data} --out {out}{options}"))
