"""Tests of translate.models.weights (cache, downloads with checksums), translate.models.checkpoint (reading
checkpoint files) and the card in a shipped file (translate.models.cards)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import pathlib
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from translate.errors import TranslateError
from translate.models import cards
from translate.models.cards import ModelCard, read_card
from translate.models.checkpoint import as_state_dict, load_state_dict, load_torch_file, save_shipped
from translate.models.weights import cache_dir, cache_path, fetch, is_cached, sha256_file

PAYLOAD = os.urandom(300_000)  # several download chunks' worth of incompressible bytes


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 serving ``folder``; ``stop()`` closes it for good."""

    def __init__(self, folder: Path, handler=None):
        handler = handler or functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()
            self.running = False


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty cache folder set as $TRANSLATE_HOME."""
    home = tmp_path / "home"
    monkeypatch.setenv("TRANSLATE_HOME", str(home))
    return home


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    srv = _Server(folder)
    srv.folder = folder
    yield srv
    srv.stop()


@pytest.fixture(params=["http", "file"])
def source(request, server):
    """(url of PAYLOAD, a function that makes that url unreachable) for an http:// or file:// url."""
    (server.folder / "model.pth").write_bytes(PAYLOAD)
    if request.param == "http":
        return f"{server.url}/model.pth", server.stop
    return (server.folder / "model.pth").as_uri(), (server.folder / "model.pth").unlink


def _card(url: str | None = None, sha256: str | None = None, name: str = "cyclegan/test_model", file=None) -> ModelCard:
    return ModelCard(name=name, task="cyclegan", generator={"arch": "resnet_9blocks", "norm": "instance"},
                     url=url, sha256=sha256, file=file)


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/model.pth"


def test_cache_dir_is_translate_home_or_the_platform_cache(home, monkeypatch):
    import platformdirs

    assert cache_dir() == home
    assert cache_path(_card()) == home / "weights" / "cyclegan" / "test_model.pth"
    monkeypatch.delenv("TRANSLATE_HOME")
    assert cache_dir() == Path(platformdirs.user_cache_dir("translate"))


@pytest.mark.parametrize("name", ["../evil", "/abs/path", "a/../../b", ""])
def test_cache_path_refuses_names_that_leave_the_cache(home, name):
    with pytest.raises(ValueError):
        cache_path(_card(name=name))


def test_first_fetch_downloads_then_works_offline(home, source):
    url, make_unreachable = source
    card = _card(url)
    assert not is_cached(card)

    path = fetch(card, progress=False)

    assert path == home / "weights" / "cyclegan" / "test_model.pth"
    assert path.read_bytes() == PAYLOAD
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    sidecar = path.with_name("test_model.pth.sha256")
    assert sidecar.read_text().split()[0] == digest
    assert _files_under(home) == [path, sidecar]  # no temporary file left behind
    assert is_cached(card)

    make_unreachable()
    assert fetch(card, progress=False) == path
    assert path.read_bytes() == PAYLOAD


def test_download_with_the_right_card_checksum_is_kept(home, source):
    url, _ = source
    path = fetch(_card(url, sha256=hashlib.sha256(PAYLOAD).hexdigest().upper()), progress=False)
    assert path.read_bytes() == PAYLOAD


def test_download_with_a_wrong_checksum_leaves_nothing_in_the_cache(home, source):
    url, _ = source
    card = _card(url, sha256="0" * 64)
    with pytest.raises(TranslateError) as e:
        fetch(card, progress=False)
    message = str(e.value)
    assert "checksum mismatch" in message and url in message
    assert hashlib.sha256(PAYLOAD).hexdigest() in message and "0" * 64 in message
    assert _files_under(home) == []
    assert not is_cached(card)


@pytest.mark.parametrize("card_has_sha256", [False, True], ids=["sidecar", "card-sha256"])
def test_a_cached_file_corrupted_later_is_refused(home, source, card_has_sha256):
    url, make_unreachable = source
    card = _card(url, sha256=hashlib.sha256(PAYLOAD).hexdigest() if card_has_sha256 else None)
    path = fetch(card, progress=False)
    make_unreachable()
    corrupted = bytearray(PAYLOAD)
    corrupted[1000] ^= 0xFF
    path.write_bytes(bytes(corrupted))

    with pytest.raises(TranslateError) as e:
        fetch(card, progress=False)
    assert "corrupt" in str(e.value) and str(path) in str(e.value) and "delete" in str(e.value)
    assert path.read_bytes() == bytes(corrupted)  # reported, not deleted behind the user's back


def test_a_file_placed_by_hand_without_checksum_is_used_offline(home):
    card = _card(_closed_port_url())
    path = cache_path(card)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"placed by hand")
    assert fetch(card, progress=False) == path


def test_an_unreachable_url_names_the_url_and_where_to_put_the_file(home, server):
    url = f"{server.url}/model.pth"
    server.stop()
    for unreachable in (url, _closed_port_url()):
        card = _card(unreachable)
        with pytest.raises(TranslateError) as e:
            fetch(card, progress=False)
        message = str(e.value)
        assert unreachable in message and str(cache_path(card)) in message and "--weights" in message
    assert _files_under(home / "weights") == []


def test_a_missing_file_on_the_server_is_a_clear_error(home, server):
    url = f"{server.url}/absent.pth"
    with pytest.raises(TranslateError, match="HTTP 404") as e:
        fetch(_card(url), progress=False)
    assert url in str(e.value)
    assert _files_under(home / "weights") == []


class _TruncatingHandler(http.server.BaseHTTPRequestHandler):
    """Promises more bytes than it sends, then hangs up: an interrupted download."""

    def do_GET(self):  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD[:5000])
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002
        pass


def test_an_interrupted_download_leaves_no_partial_file(home, tmp_path):
    srv = _Server(tmp_path, handler=_TruncatingHandler)
    try:
        card = _card(f"{srv.url}/model.pth")
        with pytest.raises(TranslateError, match="could not download"):
            fetch(card, progress=False)
    finally:
        srv.stop()
    assert not cache_path(card).exists()
    assert _files_under(home / "weights") == []


def test_weights_option_overrides_the_card(home, tmp_path):
    own = tmp_path / "mine.pth"
    own.write_bytes(b"my weights")
    card = _card(_closed_port_url())
    assert fetch(card, weights=str(own)) == own
    assert own.read_bytes() == b"my weights"
    assert _files_under(home) == []
    with pytest.raises(TranslateError, match="no such file"):
        fetch(card, weights=str(tmp_path / "absent.pth"))


def test_card_without_url_or_cache_says_where_to_put_the_file(home):
    card = _card(None)
    with pytest.raises(TranslateError) as e:
        fetch(card)
    assert str(cache_path(card)) in str(e.value)


def test_shipped_file_resolves_against_the_repository_root(tmp_path, monkeypatch, home):
    monkeypatch.setattr(cards, "SHIPPED_WEIGHTS", tmp_path / "repo" / "weights")
    card = _card(None, name="tiny", file="weights/tiny.safetensors")
    assert not is_cached(card)
    with pytest.raises(TranslateError, match="missing"):
        fetch(card)
    (tmp_path / "repo" / "weights").mkdir(parents=True)
    (tmp_path / "repo" / "weights" / "tiny.safetensors").write_bytes(b"x")
    assert fetch(card) == tmp_path / "repo" / "weights" / "tiny.safetensors"
    assert is_cached(card)


def test_sha256_file_matches_hashlib(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(PAYLOAD)
    assert sha256_file(f) == hashlib.sha256(PAYLOAD).hexdigest()


# --- checkpoint files ---------------------------------------------------------------------------

def _state_dict() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"model.1.weight": torch.randn(4, 3, 3, 3, generator=g), "model.1.bias": torch.randn(4, generator=g),
            "model.2.num_batches_tracked": torch.tensor(7)}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)  # safetensors does not keep insertion order
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k])


def _save(obj, path: Path) -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(obj, path)
    else:
        torch.save(obj, path)
    return path


@pytest.mark.parametrize("name", ["ckpt.pth", "ckpt.safetensors"])
def test_state_dict_round_trip(tmp_path, name):
    sd = _state_dict()
    _assert_same(load_state_dict(_save(sd, tmp_path / name)), sd)


@pytest.mark.parametrize("wrap", [
    lambda sd: {"module." + k: v for k, v in sd.items()},
    lambda sd: {"state_dict": sd, "epoch": 3},
    lambda sd: {"state_dict": {"module." + k: v for k, v in sd.items()}},
    lambda sd: {"params_ema": sd, "params": {k: v + 1 for k, v in sd.items()}},
], ids=["dataparallel", "state_dict", "both", "params_ema"])
def test_wrappers_and_module_prefix_are_removed(tmp_path, wrap):
    sd = _state_dict()
    _assert_same(load_state_dict(_save(wrap(sd), tmp_path / "ckpt.pth")), sd)


def test_safetensors_content_with_a_pth_name_is_read(tmp_path):
    sd = _state_dict()
    _save(sd, tmp_path / "ckpt.safetensors").rename(tmp_path / "renamed.pth")
    _assert_same(load_state_dict(tmp_path / "renamed.pth"), sd)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(tmp_path: Path, name: str) -> Path:
    path = _save(_state_dict(), tmp_path / name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


@pytest.mark.parametrize("make", [
    lambda tmp: _write(tmp / "notes.pth", b"hello, these are not weights\n"),
    lambda tmp: _write(tmp / "empty.pth", b""),
    lambda tmp: _truncated(tmp, "cut.pth"),
    lambda tmp: _truncated(tmp, "cut.safetensors"),
    lambda tmp: _write(tmp / "text.safetensors", b"{}"),
    lambda tmp: _save([torch.zeros(2)], tmp / "list.pth"),
    lambda tmp: _save({"step": 3, "lr": 0.1}, tmp / "no_tensors.pth"),
], ids=["text", "empty", "truncated-pth", "truncated-safetensors", "text-safetensors", "list", "no-tensors"])
def test_files_that_are_not_state_dicts_give_a_one_line_error(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(TranslateError) as e:
        load_state_dict(path)
    message = str(e.value)
    assert message.startswith(f"{path}: not a ") and "\n" not in message and len(message) < 400


class _Payload:
    """Unpickling this runs ``Path.touch(marker)``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_pickled_objects_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pth"
    torch.save({"model.1.weight": torch.zeros(1), "payload": _Payload(marker)}, path)
    with pytest.raises(TranslateError, match="not loaded, for safety") as e:
        load_state_dict(path)
    assert "(builtins.getattr, pathlib.Path, pathlib." in str(e.value) and "\n" not in str(e.value)
    assert not marker.exists()
    # The same file does run code when unpickled without weights_only: the test can fail.
    torch.load(path, weights_only=False)
    assert marker.exists()


def test_load_torch_file_keeps_plain_containers(tmp_path):
    sd = _state_dict()
    ckpt = {"format": "translate-checkpoint", "epoch": 3, "cards": {"G_A": {"name": "x"}}, "nets": {"G_A": sd}}
    loaded = load_torch_file(_save(ckpt, tmp_path / "latest.pt"))
    assert loaded["format"] == "translate-checkpoint" and loaded["epoch"] == 3 and loaded["cards"] == ckpt["cards"]
    _assert_same(as_state_dict(loaded["nets"]["G_A"], "latest.pt"), sd)
    with pytest.raises(TranslateError, match="latest.pt: not a state dict .*epoch"):
        as_state_dict(loaded, "latest.pt")


def test_missing_checkpoint_file(tmp_path):
    for load in (load_state_dict, load_torch_file):
        with pytest.raises(TranslateError, match="no such file"):
            load(tmp_path / "absent.pth")


# --- shipped models -----------------------------------------------------------------------------

def test_save_shipped_and_read_card_round_trip(tmp_path):
    card = ModelCard(name="sat2mask", task="pix2pix", generator={"arch": "unet_128", "ngf": 8, "norm": "batch"},
                     file="weights/sat2mask.safetensors", multiple=128, licence="CC-BY-4.0",
                     extra={"trained_on": "tiny"})
    sd = _state_dict()
    path = tmp_path / "sat2mask.safetensors"
    save_shipped(path, sd, card)
    assert read_card(path) == card
    _assert_same(load_state_dict(path), sd)
    assert [p.name for p in tmp_path.iterdir()] == ["sat2mask.safetensors"]  # atomic: no temp left


@pytest.mark.parametrize("make", [
    lambda tmp: _save(_state_dict(), tmp / "plain.pth"),
    lambda tmp: _save(_state_dict(), tmp / "no_card.safetensors"),
    lambda tmp: _write(tmp / "text.safetensors", b"not a header at all"),
    lambda tmp: _write(tmp / "short.safetensors", b"\x01\x02"),
    lambda tmp: tmp / "absent.safetensors",
], ids=["pth", "no-card", "text", "short", "absent"])
def test_read_card_refuses_files_without_a_card(tmp_path, make):
    with pytest.raises(TranslateError):
        read_card(make(tmp_path))


def test_read_card_refuses_a_broken_card(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "bad.safetensors"
    save_file(_state_dict(), path, metadata={"translate_card": '{"name": "x", "unknown_field": 1}'})
    with pytest.raises(TranslateError, match=str(path)):
        read_card(path)


def test_weights_and_read_card_do_not_import_torch(tmp_path):
    path = tmp_path / "m.safetensors"
    save_shipped(path, _state_dict(), _card(None, name="m", file="weights/m.safetensors"))
    code = (
        "import sys\n"
        "import translate.models.weights, translate.models.checkpoint, translate.models.cards as c\n"
        f"assert c.read_card({str(path)!r}).name == 'm'\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch, server):
    (server.folder / "model.pth").write_bytes(PAYLOAD)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TRANSLATE_HOME", str(blocker))
    with pytest.raises(TranslateError, match="TRANSLATE_HOME"):
        fetch(_card(f"{server.url}/model.pth"), progress=False)
    assert blocker.read_text() == "a file where the cache folder should be"
