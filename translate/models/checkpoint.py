"""Torch checkpoint files: the `translate train` checkpoint format and the one reader of each kind.

Three kinds of file hold weights, and each has one reader here:

* a `translate train` checkpoint (``checkpoints/latest.pt``, ``best.pt``, ``epoch_N.pt``): a
  ``torch.save`` dict with ``"format": CHECKPOINT_FORMAT`` and ``"version": CHECKPOINT_VERSION``,
  the run's ``recipe`` and ``config``, progress counters, ``nets`` / ``optimizers`` /
  ``schedulers`` state, ``rng``, and ``cards`` (one model card per generator, see
  :func:`translate.models.cards.checkpoint_cards`); read by :func:`read_checkpoint` (resume, the recipe
  of a run folder, the best score so far) and recognised by :func:`as_checkpoint` after a
  generic read (``translate run`` on any file);
* a bare state dict (``.pth`` / ``.pt`` of other projects, safetensors): :func:`load_state_dict`;
* a shipped model, safetensors with its model card in the header: :func:`save_shipped` writes
  it (the card's header entry is defined in :mod:`translate.models.cards`).

Everything is read with ``torch.load(..., weights_only=True)`` or safetensors, never by
unpickling arbitrary objects; every failure is a one-line :class:`TranslateError` naming the
file. Torch and safetensors are imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from translate.errors import TranslateError, few
from translate.fileio import atomic_write_bytes
from translate.models.cards import MAX_SAFETENSORS_HEADER, ModelCard, safetensors_metadata

if TYPE_CHECKING:
    import torch

CHECKPOINT_FORMAT = "translate-checkpoint"
CHECKPOINT_VERSION = 1
# Wrappers that common training code puts around a state dict, most specific first.
STATE_DICT_WRAPPER_KEYS = ("params_ema", "params", "state_dict")

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "is_checkpoint", "as_checkpoint", "read_checkpoint",
           "load_torch_file", "load_state_dict", "as_state_dict", "save_shipped"]


# ---------------------------------------------------------------------------- translate train checkpoints

def is_checkpoint(obj: Any) -> bool:
    """Whether a loaded object claims to be a `translate train` checkpoint (its ``format`` entry)."""
    return isinstance(obj, dict) and obj.get("format") == CHECKPOINT_FORMAT


def as_checkpoint(obj: Any, path: str | os.PathLike) -> dict[str, Any]:
    """``obj`` (what ``path`` holds) checked to be a `translate train` checkpoint of the version
    this translate reads; anything else is a one-line :class:`TranslateError` naming ``path``."""
    if not is_checkpoint(obj):
        raise TranslateError(f"{path}: not a translate training checkpoint")
    if obj.get("version") != CHECKPOINT_VERSION:
        raise TranslateError(f"{path}: checkpoint version {obj.get('version')} is not supported "
                             f"(this translate reads version {CHECKPOINT_VERSION})")
    for key in ("recipe", "config", "nets", "cards"):
        if key not in obj:
            raise TranslateError(f"{path}: damaged translate training checkpoint (no '{key}' entry)")
    return obj


def read_checkpoint(path: str | os.PathLike, *, mmap: bool = False,
                    map_location: "str | torch.device" = "cpu") -> dict[str, Any]:
    """The `translate train` checkpoint in ``path``, checked by :func:`as_checkpoint`.

    ``mmap=True`` maps the file instead of reading it, for callers that only look at the small
    entries (``recipe``, ``val``): the tensors are then read only if touched.
    """
    return as_checkpoint(load_torch_file(path, mmap=mmap, map_location=map_location), path)


# ---------------------------------------------------------------------------- any torch file / state dict

def load_torch_file(path: str | os.PathLike, *, mmap: bool = False,
                    map_location: "str | torch.device" = "cpu") -> Any:
    """Whatever a ``torch.save`` file holds, read safely: ``torch.load(weights_only=True)``.

    Only tensors and plain containers (dict, list, str, numbers) are unpickled; a file holding
    other Python objects (a whole pickled model, custom classes) or that is not a checkpoint at
    all raises a one-line :class:`TranslateError` and no code from the file runs. ``mmap``
    maps the file (files older than torch 1.6 cannot be mapped and are read whole).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise TranslateError(f"{path}: no such file")
    with warnings.catch_warnings():
        # a pickle of protocol > 2 (pickle.dump's default) is refused below in one line, without
        # torch's warning about it first
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        if mmap:
            try:
                return torch.load(path, map_location=map_location, weights_only=True, mmap=True)
            except Exception:  # noqa: BLE001 - not mappable or damaged: the plain read explains which
                pass
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e:  # noqa: BLE001 - torch raises many types for a bad file
            error = e
    refused = _refused_objects(path, error)
    if refused:
        raise TranslateError(
            f"{path}: not loaded, for safety: it holds Python objects other than tensors ({few(refused, width=60)}), "
            f"which could run code when unpickled; if you trust its source, convert it once in a trusted environment: "
            f"model = torch.load(path, weights_only=False), then torch.save(model.state_dict(), 'weights.pth') "
            f"(or save the state dict as .safetensors) and run that file") from error
    raise TranslateError(f"{path}: not a PyTorch checkpoint ({_torch_load_reason(path, error)})") from error


def load_state_dict(path: str | os.PathLike) -> dict[str, "torch.Tensor"]:
    """Read a state dict (name -> tensor, on the CPU) from a ``.pth``/``.pt`` or safetensors file.

    Pickled files are read with :func:`load_torch_file`, so a file holding arbitrary Python
    objects is refused rather than executed. A state dict wrapped as ``{"state_dict": ...}``
    (or ``params`` / ``params_ema``) is unwrapped and a ``module.`` prefix (DataParallel) is
    stripped. Anything else raises a one-line :class:`TranslateError`.
    """
    path = Path(path)
    if not path.is_file():
        raise TranslateError(f"{path}: no such file")
    if path.suffix == ".safetensors" or _looks_like_safetensors(path):
        from safetensors.torch import load_file

        try:
            obj: Any = load_file(path, device="cpu")
        except Exception as e:  # noqa: BLE001 - any failure to parse a user's file is a user error
            raise TranslateError(f"{path}: not a safetensors checkpoint ({_first_sentence(str(e))})") from e
    else:
        obj = load_torch_file(path)
    return as_state_dict(obj, path)


def as_state_dict(obj: Any, path: str | os.PathLike) -> dict[str, "torch.Tensor"]:
    """The state dict (name -> tensor) inside a loaded checkpoint object ``obj`` read from ``path``.

    Unwraps ``{"params_ema": ...}``, ``{"params": ...}`` or ``{"state_dict": ...}`` (first found)
    and strips a ``module.`` prefix present on every key (DataParallel). ``path`` is only used in
    the :class:`TranslateError` raised when ``obj`` is not a non-empty dict of tensors.
    """
    import torch

    if not isinstance(obj, dict):
        raise TranslateError(f"{path}: not a PyTorch checkpoint (holds a {type(obj).__name__}, not a state dict)")
    for key in STATE_DICT_WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not obj or not_tensors:
        detail = f"entries that are not tensors: {few(not_tensors)}" if not_tensors else "empty"
        raise TranslateError(f"{path}: not a state dict ({detail})")
    prefix = "module."
    if all(k.startswith(prefix) for k in obj):
        return {k[len(prefix):]: v for k, v in obj.items()}
    return dict(obj)


def save_shipped(path: str | os.PathLike, state_dict: dict[str, "torch.Tensor"], card: ModelCard) -> None:
    """Write a shipped model: ``state_dict`` as safetensors with ``card`` in the header metadata
    (:func:`translate.models.cards.safetensors_metadata`; :func:`translate.models.cards.read_card` reads it back).

    ``card.file`` should be the path of the file relative to the repository root (e.g.
    ``"weights/sat2mask.safetensors"``) and ``card.name`` its zoo name. Written atomically.
    """
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    atomic_write_bytes(path, save(tensors, metadata=safetensors_metadata(card)))


def _looks_like_safetensors(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and 0 < struct.unpack("<Q", head[:8])[0] <= MAX_SAFETENSORS_HEADER


def _refused_objects(path: Path, e: Exception) -> list[str]:
    """The Python objects other than tensors (pickle globals: ``posix.system``, ``builtins.eval``,
    a custom class) for which ``torch.load(path, weights_only=True)`` refused the file with ``e``;
    [] when that is not why it failed (damaged, not a torch file).

    Told by what the file holds, not by torch's wording: the pickle is disassembled (nothing of it
    runs) and its globals compared with those torch allows. torch raises ``pickle.UnpicklingError``
    for a refusal (and for a damaged pickle); when the pickle cannot be read here, the names in
    such an error's message ("GLOBAL posix.system") are the fallback.
    """
    import pickle

    names = _unsafe_globals(path)
    if not names and isinstance(e, pickle.UnpicklingError):
        names = list(dict.fromkeys(re.findall(r"\bGLOBAL ([\w.]+)", str(e))))
    return names


_MAX_PICKLE_SCAN = 64 * 2**20  # bytes of a pickle disassembled to name the objects it holds


def _unsafe_globals(path: Path) -> list[str]:
    """The globals (``module.name``) of the pickle in a torch file that torch's weights-only
    unpickler does not allow, found by :func:`pickletools.genops` (which runs nothing); [] when
    there are none or the pickle cannot be read (damaged, not a torch file)."""
    import io
    import pickletools
    import zipfile

    found: list[str] = []
    try:
        if zipfile.is_zipfile(path):  # torch >= 1.6: the object's pickle is <archive>/data.pkl
            with zipfile.ZipFile(path) as archive:
                infos = [i for i in archive.infolist() if i.filename.rsplit("/", 1)[-1] == "data.pkl"]
                if len(infos) != 1 or infos[0].file_size > _MAX_PICKLE_SCAN:
                    return []
                stream = io.BytesIO(archive.read(infos[0]))
        else:  # older torch: magic number, protocol, sys info and the object, pickled one after another
            with open(path, "rb") as f:
                stream = io.BytesIO(f.read(_MAX_PICKLE_SCAN))
        for _ in range(4):
            _pickle_globals(pickletools.genops(stream), found)
    except Exception:  # noqa: BLE001 - damaged, or the storages after the pickles: keep what was read
        pass
    allowed = _allowed_globals()
    return list(dict.fromkeys(g for g in found if g not in allowed))


_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def _pickle_globals(ops: Any, names: list[str]) -> None:
    """Append to ``names`` the ``module.name`` of every global a pickle's opcodes
    (:func:`pickletools.genops`) import, as they are read: GLOBAL and INST, and protocol 4's
    STACK_GLOBAL, whose two strings may come from the memo."""
    from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING  # what pickle and torch's unpickler apply

    strings: list[str] = []
    memo: dict[Any, Any] = {}
    pushed: Any = None  # what the previous opcode pushed, when a string (for the memo)
    for opcode, arg, _ in ops:
        op = opcode.name
        if op in ("GLOBAL", "INST"):  # protocol 2 (torch.save's) names Python 2 modules: __builtin__.eval
            module, _, name = str(arg).partition(" ")
            module, name = NAME_MAPPING.get((module, name), (IMPORT_MAPPING.get(module, module), name))
            names.append(f"{module}.{name}")
        elif op == "STACK_GLOBAL" and len(strings) >= 2:
            names.append(f"{strings[-2]}.{strings[-1]}")
        elif op in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
            memo[len(memo) if op == "MEMOIZE" else arg] = pushed
            continue  # memoizing leaves the stack as it was
        if op in ("BINGET", "LONG_BINGET", "GET"):
            arg = memo.get(arg)
        pushed = str(arg) if op in _STRING_OPS or (op.endswith("GET") and isinstance(arg, str)) else None
        if pushed is not None:
            strings.append(pushed)


def _allowed_globals() -> set[str]:
    """The globals torch's weights-only unpickler allows: its own list and ``add_safe_globals``."""
    try:
        from torch import _weights_only_unpickler as unpickler

        return set(unpickler._get_allowed_globals()) | set(unpickler._get_user_allowed_globals())
    except Exception:  # noqa: BLE001 - a private API: without it, what torch.save writes for tensors
        return {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
                "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage", "torch.DoubleStorage",
                "torch.LongStorage", "torch.IntStorage", "torch.ByteStorage", "torch.BoolStorage", "torch.Size"}


def _torch_load_reason(path: Path, e: Exception) -> str:
    message = str(e)
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        return "empty file"
    # torch.save writes a zip archive (PK..); files from torch < 1.6 are a raw pickle (0x80 ..).
    if not head.startswith(b"PK") and head[:1] != b"\x80":
        return f"unknown format, starts with {head!r}"
    return f"truncated or corrupt: {_first_sentence(message) or type(e).__name__}"


def _first_sentence(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    sentence = line.split(". ", 1)[0].rstrip(".")
    return sentence[:200]
