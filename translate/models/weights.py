"""Where weights live: the per-user cache, downloads with checksums, shipped files. No torch.

Zoo weights are downloaded once into ``<cache>/weights/<card name>.pth`` (``<cache>`` is
``$TRANSLATE_HOME`` or the platform's user cache folder). A download streams into a temporary
file in the same folder while its SHA-256 is computed, and is renamed into place only when
complete and, where the card gives a checksum, correct; the checksum is recorded beside the file
(``<file>.sha256``) and checked on every later use, which needs no network. Large files (data
set archives, `translate data get`) are downloaded with ``resume``: a cut transfer keeps
``<file>.part`` and the next call continues it with an HTTP Range request. Shipped models are
files under ``weights/`` named by their card, installed with the package
(:data:`translate.models.cards.SHIPPED_WEIGHTS`). Reading the files is :mod:`translate.models.checkpoint`'s
job (tensors) and :mod:`translate.models.cards`' (the card in a file's header).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from translate.errors import TranslateError
from translate.fileio import atomic_write_text
from translate.models import cards
from translate.models.cards import ModelCard

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The per-user cache folder: ``$TRANSLATE_HOME`` if set, else the platform's cache folder.

    On Linux the default is ``~/.cache/translate``. The folder is not created here.
    """
    home = os.environ.get("TRANSLATE_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("translate"))


def cache_path(card: ModelCard) -> Path:
    """Where the downloaded weights of ``card`` live: ``<cache>/weights/<card.name>.pth``.

    Card names such as ``cyclegan/horse2zebra`` become a subfolder. A name that would leave
    the cache folder (absolute, ``..``) raises ValueError.
    """
    parts = PurePosixPath(card.name).parts
    if not parts or card.name.startswith("/") or any(p in ("..", ".") for p in parts) or "\\" in card.name:
        raise ValueError(f"model card name {card.name!r} is not a relative path of plain names")
    return cache_dir().joinpath("weights", *parts[:-1], parts[-1] + ".pth")


def shipped_path(card: ModelCard) -> Path:
    """The file of a shipped model: ``card.file``, its path in the repository (``weights/<name>.safetensors``),
    resolved against :data:`translate.models.cards.SHIPPED_WEIGHTS` (the repository's ``weights/`` in an
    editable install, the package's copy of it in a wheel install).

    A ``card.file`` that is not a relative path under ``weights/`` raises ValueError.
    """
    if not card.file:
        raise ValueError(f"model card {card.name!r} has no shipped file")
    parts = PurePosixPath(card.file).parts
    if len(parts) < 2 or parts[0] != "weights" or any(p in ("..", ".") for p in parts) or "\\" in card.file:
        raise ValueError(f"model card {card.name!r}: shipped file {card.file!r} is not a path under weights/")
    return cards.SHIPPED_WEIGHTS.joinpath(*parts[1:])


def is_cached(card: ModelCard) -> bool:
    """True if the weights of ``card`` are on disk: its shipped file, or its file in the cache.

    Only checks that the file exists; :func:`fetch` verifies the checksum.
    """
    return (shipped_path(card) if card.file else cache_path(card)).is_file()


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes as 64 lowercase hex digits (read in chunks)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fetch(card: ModelCard, *, weights: str | os.PathLike | None = None, progress: bool = True) -> Path:
    """A local file holding the weights of ``card``, downloading them into the cache if needed.

    ``weights`` (the ``--weights FILE`` option) overrides everything and must exist. A shipped
    card (``card.file``) resolves against the folder of shipped models (:func:`shipped_path`). A
    cached file is checked against ``card.sha256``, or the checksum recorded when it was
    downloaded, without any network access. Otherwise ``card.url`` (http, https or file) is
    downloaded with a progress bar on stderr (``progress=False`` hides it). Every failure raises
    :class:`TranslateError` saying what to do.
    """
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise TranslateError(f"--weights {weights}: no such file")
        return path
    if card.file:
        path = shipped_path(card)
        if not path.is_file():
            raise TranslateError(
                f"shipped model {card.name}: {path} is missing; restore it from the repository "
                f"(git checkout -- {card.file}) or reinstall translate-gan, or pass --weights FILE"
            )
        return path
    return fetch_url(card.url, cache_path(card), sha256=card.sha256, desc=card.name, progress=progress)


def fetch_url(url: str | None, path: Path, *, sha256: str | None = None, desc: str, progress: bool = True,
              hint: str = " or pass --weights FILE", resume: bool = False) -> Path:
    """``path``, downloaded from ``url`` first unless it is already there (the cache logic of
    :func:`fetch` for any file, e.g. the Inception weights of FID).

    A file already at ``path`` is checked against ``sha256`` (a full digest or a prefix of one, as
    torch hub file names carry) or the digest recorded at download, without network access; a file
    placed there by hand with neither is taken as is. ``desc`` names the file in messages and the
    progress bar; ``hint`` ends the "place the file by hand" advice. With ``resume`` (large files,
    e.g. data set archives) an interrupted download keeps what it received in ``<path>.part`` and the
    next call continues from there with an HTTP Range request (a server that ignores the range sends
    the whole file again, which is then started over).
    """
    if path.is_file():
        _verify_cached(path, desc, sha256)
        return path
    if not url:
        raise TranslateError(f"{desc} has no download URL; place the file at {path}{hint}")
    _download(url, path, expected_sha256=sha256, progress=progress, desc=desc, hint=hint, resume=resume)
    return path


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _verify_cached(path: Path, desc: str, expected: str | None) -> None:
    # A file placed by hand, without a sidecar, for a card without a checksum is taken as is.
    if not expected and _sidecar(path).is_file():
        recorded = _sidecar(path).read_text(encoding="utf-8").split()
        expected = recorded[0] if recorded else None
    if not expected:
        return
    actual = sha256_file(path)
    if not actual.startswith(expected.lower()):
        raise TranslateError(
            f"the cached download of {desc} is corrupt: {path} has SHA-256 {actual}, expected {expected}; "
            f"delete it to download it again"
        )


def _download(url: str, dest: Path, *, expected_sha256: str | None, progress: bool, desc: str,
              hint: str = " or pass --weights FILE", resume: bool = False) -> None:
    """Stream ``url`` into a temporary file beside ``dest``; rename it to ``dest`` when complete.

    Without ``resume`` the temporary file is removed on any failure (including Ctrl-C), so ``dest``
    is either the whole verified file or absent. With ``resume`` it is ``<dest>.part``, kept after
    a failed transfer (not after a checksum mismatch) and continued by the next call. The checksum
    is written to the sidecar before the rename.
    """
    from tqdm import tqdm

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            tmp = dest.with_name(dest.name + ".part")
            tmp.touch()
        else:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            os.close(fd)
            tmp = Path(tmp_name)
    except OSError as e:
        raise TranslateError(
            f"cannot write to the cache folder {dest.parent} ({e.strerror or e}); "
            f"set TRANSLATE_HOME to a writable folder{hint}"
        ) from e
    keep_partial = resume
    try:
        digest = hashlib.sha256()
        offset = tmp.stat().st_size if resume else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
        try:
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
                length = response.headers.get("Content-Length")
                remaining = int(length) if length and length.isdigit() else None
                if offset and not _continues_at(response, offset):
                    offset = 0  # the server sent the whole file: start over
                with open(tmp, "r+b" if offset else "wb") as out:
                    while offset and (chunk := out.read(_CHUNK)):  # the bytes kept from before
                        digest.update(chunk)
                    out.seek(offset)
                    out.truncate()
                    total = None if remaining is None else offset + remaining
                    received = offset
                    with tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                              file=sys.stderr, disable=None if progress else True, leave=False) as bar:
                        while chunk := response.read(_CHUNK):
                            out.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
                    if total is not None and received != total:
                        raise http.client.IncompleteRead(b"", total - received)
                    out.flush()
                    os.fsync(out.fileno())
        except (OSError, http.client.HTTPException, ValueError) as e:
            if offset and isinstance(e, urllib.error.HTTPError) and e.code == 416:
                # The kept part is not a beginning of the file on the server (it is whole, or the file
                # changed there): start over once, without a range.
                tmp.unlink()
                keep_partial = True  # the call below owns the file now
                return _download(url, dest, expected_sha256=expected_sha256, progress=progress, desc=desc,
                                 hint=hint, resume=resume)
            kept = tmp.stat().st_size if keep_partial and tmp.exists() else 0
            again = (f"; {kept} bytes are kept in {tmp}: run the command again to resume" if kept
                     else f"; place the file by hand at {dest}{hint}")
            raise TranslateError(f"could not download {url} ({_reason(e)}){again}") from e
        keep_partial = False
        actual = digest.hexdigest()
        if expected_sha256 and not actual.startswith(expected_sha256.lower()):
            raise TranslateError(
                f"checksum mismatch for {url}: expected {expected_sha256}, got {actual}; the file was removed"
            )
        atomic_write_text(_sidecar(dest), f"{actual}  {dest.name}\n")
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            if not keep_partial or tmp.stat().st_size == 0:
                tmp.unlink()


def _continues_at(response, offset: int) -> bool:
    # A 206 answer whose Content-Range starts where the partial file ends continues it; anything
    # else (200: a server or a file:// URL that ignores Range) is the whole file.
    if getattr(response, "status", None) != 206:
        return False
    content_range = response.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        if isinstance(e.reason, socket.gaierror):  # no name resolution: most often no network at all
            return f"cannot resolve the host name: offline? ({e.reason})"
        return str(e.reason)
    if isinstance(e, http.client.IncompleteRead):
        return f"connection closed with {e.expected} bytes missing"
    return str(e) or type(e).__name__
