"""translate.models.checkpoint against hostile pickles: every variant is refused by the installed
torch (its real error, whatever its wording), runs no code, and gives our one line saying why
(objects other than tensors, not loaded for safety) and how to convert a trusted file."""

from __future__ import annotations

import os
import pickle
import shlex
import warnings

import pytest
import torch

from translate.errors import TranslateError
from translate.models import checkpoint
from translate.models.checkpoint import as_state_dict, load_state_dict, load_torch_file

SAFETY = "not loaded, for safety: it holds Python objects other than tensors"
CONVERT = "torch.load(path, weights_only=False), then torch.save(model.state_dict(), 'weights.pth')"


class _System:
    """Unpickling this runs ``os.system("touch MARKER")``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


class _Eval:
    """Unpickling this runs ``eval(...)``, which creates the marker."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w').close()",))


class _Custom:
    """A plain custom class: its global is refused (unpickling it would import any module)."""

    def __init__(self, marker):
        self.marker = str(marker)


def _legacy(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def _plain_pickle(obj, path):  # pickle.dump's own protocol (5): STACK_GLOBAL, not GLOBAL
    path.write_bytes(pickle.dumps(obj))


# (name, the object, how it is written, the refused global our line names)
VARIANTS = [
    ("os-system", lambda m: _System(m), torch.save, "posix.system" if os.name == "posix" else "nt.system"),
    ("eval", lambda m: _Eval(m), torch.save, "builtins.eval"),
    ("custom-class", lambda m: {"w": torch.zeros(2), "extra": _Custom(m)}, torch.save, f"{__name__}._Custom"),
    ("nested", lambda m: {"model.1.weight": torch.zeros(2), "meta": {"inner": [1, _System(m)]}}, torch.save,
     "posix.system" if os.name == "posix" else "nt.system"),
    ("legacy-format", lambda m: {"w": torch.zeros(2), "x": _Eval(m)}, _legacy, "builtins.eval"),
    ("plain-pickle", lambda m: _System(m), _plain_pickle, "posix.system" if os.name == "posix" else "nt.system"),
]


def _write(tmp_path, variant):
    name, make, save, _ = variant
    marker = tmp_path / "code_ran"
    path = tmp_path / f"{name}.pth"
    save(make(marker), path)
    return path, marker


@pytest.mark.parametrize("variant", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_hostile_pickles_are_refused_with_the_reason_and_run_nothing(tmp_path, variant):
    path, marker = _write(tmp_path, variant)
    with pytest.raises(Exception) as raw, warnings.catch_warnings():  # the installed torch's own refusal
        warnings.simplefilter("ignore")
        torch.load(path, weights_only=True)
    assert not isinstance(raw.value, TranslateError)
    for load in (load_torch_file, load_state_dict):
        with pytest.raises(TranslateError) as e, warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("always")
            load(path)
        assert not shown, [str(w.message) for w in shown]  # e.g. torch's about the pickle protocol
        line = str(e.value)
        assert line.startswith(f"{path}: {SAFETY} ({variant[3]}"), line
        assert CONVERT in line and "safetensors" in line and "\n" not in line and len(line) < 500 + len(str(path))
        assert "truncated" not in line and "corrupt" not in line
    assert not marker.exists()


def test_the_hostile_files_do_run_code_without_weights_only(tmp_path):
    """The variants are real: unpickled without weights_only, each creates its marker."""
    for variant in VARIANTS:
        if variant[0] == "custom-class":
            continue  # a plain class runs no code of its own; its global is what weights_only refuses
        folder = tmp_path / variant[0]
        folder.mkdir()
        path, marker = _write(folder, variant)
        try:
            torch.load(path, weights_only=False)
        except RuntimeError:  # a plain pickle: its code ran while torch read it as the magic number
            pass
        assert marker.exists(), variant[0]


@pytest.mark.parametrize("error", [
    pickle.UnpicklingError("Refused: module 'posix' is not on the allowlist"),
    RuntimeError("weights-only loading stopped at an untrusted callable"),
], ids=["unpickling-error", "other-type"])
def test_a_newer_torch_wording_still_gives_our_line(tmp_path, monkeypatch, error):
    """The refusal is told by what the file holds, not by torch's words (nor only its type)."""
    path, marker = _write(tmp_path, VARIANTS[0])
    real_load = torch.load

    def load(f, *args, **kwargs):
        if kwargs.get("weights_only"):
            raise error
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", load)
    with pytest.raises(TranslateError) as e:
        load_torch_file(path)
    assert str(e.value).startswith(f"{path}: {SAFETY} ({VARIANTS[0][3]})") and CONVERT in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("variant", VARIANTS[:3], ids=[v[0] for v in VARIANTS[:3]])
def test_torch_s_real_message_names_the_objects_when_the_pickle_cannot_be_read_here(tmp_path, monkeypatch, variant):
    """The fallback (a pickle too large to disassemble here): the names in the installed torch's
    own UnpicklingError, not a string this test expects."""
    monkeypatch.setattr(checkpoint, "_unsafe_globals", lambda path: [])
    path, marker = _write(tmp_path, variant)
    with pytest.raises(TranslateError) as e:
        load_torch_file(path)
    line = str(e.value)
    assert line.startswith(f"{path}: {SAFETY} (") and CONVERT in line, line
    assert variant[3].rsplit(".", 1)[-1] in line and not marker.exists()


def test_damaged_files_are_still_called_damaged(tmp_path):
    """A damaged pickle also makes torch raise UnpicklingError: it is not called hostile."""
    good = tmp_path / "good.pth"
    torch.save({"w": torch.zeros(3)}, good)
    data = good.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x80\x02garbage" * 30)
    for path in (cut, garbage):
        with pytest.raises(TranslateError) as e:
            load_torch_file(path)
        assert str(e.value).startswith(f"{path}: not a PyTorch checkpoint (truncated or corrupt"), str(e.value)


def test_a_whole_pickled_model_names_its_classes_in_a_bounded_line(tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1), torch.nn.ReLU()), path)
    with pytest.raises(TranslateError) as e:
        load_torch_file(path)
    line = str(e.value)
    assert line.startswith(f"{path}: {SAFETY} (torch.nn.modules.") and CONVERT in line, line
    assert "more)" in line or line.count("torch.nn.modules.") >= 2


def test_a_long_key_is_quoted_short(tmp_path):
    """User-controlled keys in an error line are cut: one line of bounded length."""
    state = {"model.1.weight": torch.zeros(1)} | {f"{i}" + "k" * 100_000: [i] for i in range(10)}
    with pytest.raises(TranslateError) as e:
        as_state_dict(state, "long.pth")
    line = str(e.value)
    assert line.startswith("long.pth: not a state dict (entries that are not tensors: 0kkk") and "\n" not in line
    assert "..., 1kkk" in line and "... and 7 more)" in line and len(line) < 400, line
