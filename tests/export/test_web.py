"""`translate export MODEL --web DIR`: the offline web app folder, checked by the installed
onnxruntime-web before it is written (the page itself runs in tests/export/test_web_chromium.py)."""

from __future__ import annotations

import json

import onnx
import pytest

from tests.helpers import save_official_generator
from tests.js.conftest import js_package  # noqa: F401 - the fixture: js/ installed by `npm ci`
from translate.cli import main
from translate.export.web import ORT_WEB_FILES

pytestmark = pytest.mark.slow  # exports trace a network; the check starts Node.js


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """A tiny CycleGAN-style ResNet checkpoint and its `translate export` file."""
    folder = tmp_path_factory.mktemp("tiny")
    pth = folder / "tiny_resnet.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance")
    out = folder / "tiny_resnet.onnx"
    assert main(["export", str(pth), "-o", str(out)]) == 0
    return pth, out


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_web_folder_holds_page_runtime_model_and_ort_web(js_package, tiny_onnx, tmp_path, capsys):
    pth, _ = tiny_onnx
    site = tmp_path / "site"
    assert main(["export", str(pth), "--web", str(site), "--web-tile", "128"]) == 0
    out = capsys.readouterr().out
    assert "checked: onnxruntime-web" in out and f"wrote {site}" in out
    config = json.loads((site / "config.json").read_text())
    assert config["webgpuTile"] == 128 and config["ortWeb"] == json.loads(
        (js_package / "node_modules" / "onnxruntime-web" / "package.json").read_text())["version"]
    model = site / config["model"]
    props = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    assert json.loads(props["translate"])["card"]["generator"]["arch"] == "resnet_2blocks"
    for name in ("index.html", "app.js", "runtime/index.js", "runtime/pipeline.js", "runtime/card.js",
                 *(f"ort/{f}" for f in ORT_WEB_FILES)):
        assert (site / name).is_file(), name
    for name in ORT_WEB_FILES:  # copied from the local install, byte for byte
        assert (site / "ort" / name).read_bytes() == (js_package / "node_modules" / "onnxruntime-web" / "dist" / name).read_bytes()
    page = (site / "index.html").read_text() + (site / "app.js").read_text()
    assert "http://" not in page.replace("http://localhost", "") and "https://" not in page  # no CDN
    # an existing .onnx export works too, copied as it is
    again = tmp_path / "again"
    assert main(["export", str(model), "--web", str(again)]) == 0
    assert (again / config["model"]).read_bytes() == model.read_bytes()


def test_refusals_are_one_line_and_write_nothing(js_package, tiny_onnx, tmp_path, capsys):
    pth, onnx_file = tiny_onnx
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["export", str(onnx_file), "--web", str(busy)]) == 2
    assert "already exists and is not an empty folder" in _error(capsys)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    assert main(["export", str(onnx_file), "--web", str(empty), "--ort-web", str(tmp_path)]) == 2
    assert "no onnxruntime-web files there" in _error(capsys) and not empty.exists()
    assert main(["export", str(onnx_file), "--web", str(empty), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "leave out -o" in _error(capsys)
    assert main(["export", str(pth)]) == 2
    assert "-o FILE.onnx" in _error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]  # no staging folder left behind


def test_an_operator_onnxruntime_web_lacks_is_reported_by_it_before_writing(js_package, tiny_onnx, tmp_path, capsys):
    _, onnx_file = tiny_onnx
    model = onnx.load(str(onnx_file))
    # one node of the real export moved to an operator set no onnxruntime build has
    node = next(n for n in model.graph.node if n.op_type == "Relu")
    node.domain = "org.example.unsupported"
    model.opset_import.append(onnx.helper.make_opsetid("org.example.unsupported", 1))
    odd = tmp_path / "odd.onnx"
    onnx.save(model, str(odd))
    site = tmp_path / "site"
    assert main(["export", str(odd), "--web", str(site)]) == 2
    error = _error(capsys)
    assert error.startswith("translate: error: --web: the installed onnxruntime-web cannot run this model") and "Relu" in error
    assert not site.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["odd.onnx"]


def test_fp16_export_runs_in_onnxruntime_web(js_package, tiny_onnx, tmp_path, capsys):
    pth, _ = tiny_onnx
    site = tmp_path / "site"
    code = main(["export", str(pth), "--fp16", "--web", str(site)])
    output = capsys.readouterr()
    assert code == 0, output.err
    metadata = json.loads({p.key: p.value for p in onnx.load(str(next(site.glob("*.onnx")))).metadata_props}["translate"])
    assert metadata["precision"] == "fp16"
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in onnx.load(str(next(site.glob("*.onnx")))).graph.initializer)
