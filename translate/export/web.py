"""`translate export MODEL --web DIR`: a static, offline web app that runs one model in the browser.

The folder holds everything the page loads, so it works from ``python -m http.server`` or any
static host with no CDN at run time::

    DIR/index.html, app.js      the page (drop an image, before / after, download the result)
    DIR/config.json             the model file name and the tile sizes the page uses
    DIR/<name>.onnx             the model (exported here, or an existing `translate export` file)
    DIR/runtime/                the JavaScript runtime (the js/ package: card, pipeline, backends)
    DIR/ort/                    onnxruntime-web's module and WASM files, copied from a local install

The runtime (``js/``, installed as the package data ``translate._js``) reads the model card from
the ONNX file and runs the pipeline of `translate run`. onnxruntime-web is not vendored: the files
come from an installed copy (``--ort-web``: an ``onnxruntime-web`` package folder, its ``dist``
folder, or a folder whose ``node_modules`` holds it; by default the repository's ``js/`` install).

Before anything is written, the model is opened and run on one small image by that very
onnxruntime-web in Node.js (``js/check-model.mjs``, WASM backend): an operator the installed
onnxruntime-web lacks (an fp16 or int8 kernel) is reported by onnxruntime-web itself, and the
folder is not written. The folder is assembled next to ``DIR`` and renamed into place.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from translate.errors import TranslateError
from translate.fileio import check_can_create

if TYPE_CHECKING:
    from translate.models.cards import ModelCard

#: onnxruntime-web's files the page needs: the module with the WebGPU and WASM backends, and the
#: WASM build it loads (the threaded SIMD build runs single-threaded without cross-origin isolation).
ORT_WEB_FILES = ("ort.min.mjs", "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm")
#: The Node.js entry of onnxruntime-web, used for the operator check.
ORT_WEB_NODE = "ort.node.min.mjs"
#: The runtime's files (js/) copied into DIR/runtime/.
RUNTIME_FILES = ("index.js", "pipeline.js", "card.js", "index.d.ts", "package.json")
#: The page's files (js/app/) copied into DIR.
PAGE_FILES = ("index.html", "app.js")
#: Seconds the Node.js check may take (a U-Net at 256x256 on WASM takes about one).
CHECK_TIMEOUT = 300


@dataclass
class WebExport:
    """What :func:`export_web` wrote: the folder, its model file, the check's result, notes."""

    folder: Path
    model_file: Path
    ort_web: Path
    check_ms: float
    size_bytes: int
    notes: list[str] = field(default_factory=list)


def runtime_folder() -> Path:
    """The JavaScript runtime's folder: the package data ``translate._js`` (js/ of the repository;
    a checkout imported without being installed reads js/ itself)."""
    try:
        return Path(str(importlib.resources.files("translate._js")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "js"


def find_ort_web(path: str | os.PathLike | None) -> Path:
    """The ``dist`` folder of an installed onnxruntime-web: ``path`` is that folder, the package
    folder, or a folder whose ``node_modules`` holds it; None looks in the runtime's own
    ``node_modules`` (a repository checkout after ``npm ci`` in js/). One-line error when absent."""
    candidates = []
    if path is None:
        candidates.append(runtime_folder() / "node_modules" / "onnxruntime-web" / "dist")
    else:
        base = Path(path)
        candidates += [base, base / "dist", base / "node_modules" / "onnxruntime-web" / "dist"]
    for folder in candidates:
        if all((folder / name).is_file() for name in (*ORT_WEB_FILES, ORT_WEB_NODE)):
            return folder
    where = f"--ort-web {path}" if path is not None else f"no --ort-web given and {candidates[0]}"
    raise TranslateError(f"{where}: no onnxruntime-web files there ({ORT_WEB_FILES[0]} ...); install it with "
                         f"`npm install onnxruntime-web` and pass --ort-web node_modules/onnxruntime-web")


def _check_folder(folder: Path) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise TranslateError(f"--web {folder}: already exists and is not an empty folder; give a new folder")
    check_can_create(folder / "index.html")


def check_in_ort_web(model: Path, dist: Path) -> dict[str, Any]:
    """Open ``model`` with the onnxruntime-web in ``dist`` (Node.js, WASM backend) and run one small
    image through the JavaScript runtime; returns the check's JSON ({"ok", "ms", ...}). Raises
    :class:`TranslateError` when Node.js is missing or the check cannot run at all."""
    node = shutil.which("node")
    if node is None:
        raise TranslateError("--web: Node.js (node) is not on PATH; it is needed to check that onnxruntime-web runs "
                             "the model before the folder is written; install Node.js >= 18")
    script = runtime_folder() / "check-model.mjs"
    try:
        done = subprocess.run([node, str(script), str(dist), str(model)], capture_output=True, text=True,
                              timeout=CHECK_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise TranslateError(f"--web: onnxruntime-web took more than {CHECK_TIMEOUT} s to run {model.name} on a "
                             f"small image; not written") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise TranslateError(f"--web: the onnxruntime-web check did not run ({detail})")
    return json.loads(lines[-1])


def export_web(spec: str, folder: str | os.PathLike, *, ort_web: str | os.PathLike | None = None,
               webgpu_tile: int = 256, wasm_tile: int = 512, tile_overlap: int = 32,
               progress: Callable[[str], None] | None = None, **export_options: Any) -> WebExport:
    """Write the web app folder ``folder`` for ``spec`` (a zoo name or checkpoint, exported with
    :func:`translate.export.onnx.export_model` and ``export_options`` such as fp16 / int8; or an
    existing ``.onnx`` file from `translate export`, copied as it is).

    ``ort_web`` locates onnxruntime-web (:func:`find_ort_web`); the page tiles at ``webgpu_tile``
    px on WebGPU (one tile shape: dynamic shapes defeat WebGPU's buffer reuse) and at ``wasm_tile``
    px on WASM for images over 1024 px. Raises :class:`TranslateError`, writing nothing, when the
    folder exists and is not empty, onnxruntime-web is not found, or it cannot run the model.
    """
    say = progress or (lambda message: None)
    folder = Path(folder)
    _check_folder(folder)
    dist = find_ort_web(ort_web)
    runtime = runtime_folder()
    for name in (*RUNTIME_FILES, "check-model.mjs", *(f"app/{p}" for p in PAGE_FILES)):
        if not (runtime / name).is_file():
            raise TranslateError(f"the JavaScript runtime is incomplete: {runtime / name} is missing; reinstall translate")
    if min(webgpu_tile, wasm_tile) < 16 or not 0 <= tile_overlap <= min(webgpu_tile, wasm_tile) // 2:
        raise TranslateError(f"--web-tile {webgpu_tile}: use at least 16 px with an overlap of at most half a tile")
    parent = folder.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a web folder is for serving
    try:
        if str(spec).lower().endswith(".onnx"):
            if export_options.get("fp16") or export_options.get("int8"):
                raise TranslateError(f"{spec}: is already an ONNX file; --fp16 / --int8 apply when exporting a model")
            if not os.path.isfile(spec):
                raise TranslateError(f"{spec}: no such file")
            exported = staging / "model.onnx"
            shutil.copyfile(spec, exported)
        else:
            from translate.export.onnx import export_model

            exported = staging / "model.onnx"
            export_model(spec, exported, progress=say, **export_options)
        model = staging / f"{_card_of(exported, spec).name.replace('/', '-')}.onnx"
        exported.rename(model)
        say(f"checking that onnxruntime-web ({dist}) runs {model.name} ...")
        check = check_in_ort_web(model, dist)
        if not check.get("ok"):
            precision = "fp16 " if export_options.get("fp16") else "int8 " if export_options.get("int8") else ""
            raise TranslateError(f"--web: the installed onnxruntime-web cannot run this {precision}model, so the folder "
                                 f"was not written: {check.get('error', 'unknown error')[:400]}"
                                 + ("; export without --fp16 / --int8" if precision else ""))
        (staging / "runtime").mkdir()
        (staging / "ort").mkdir()
        for name in RUNTIME_FILES:
            shutil.copyfile(runtime / name, staging / "runtime" / name)
        for name in PAGE_FILES:
            shutil.copyfile(runtime / "app" / name, staging / name)
        for name in ORT_WEB_FILES:
            shutil.copyfile(dist / name, staging / "ort" / name)
        config = {"model": model.name, "webgpuTile": webgpu_tile, "wasmTile": wasm_tile, "tileOverlap": tile_overlap,
                  "ortWeb": json.loads((dist.parent / "package.json").read_text()).get("version")
                  if (dist.parent / "package.json").is_file() else None}
        (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        if folder.exists():
            folder.rmdir()  # checked empty above
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return WebExport(folder=folder, model_file=folder / model.name, ort_web=dist, check_ms=float(check.get("ms", 0)),
                     size_bytes=sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))


def _card_of(model: Path, source: str | os.PathLike) -> ModelCard:
    """The card `translate export` embedded in ``model`` (errors name ``source``)."""
    import onnx

    from translate.models.cards import ONNX_METADATA_KEY, read_onnx_metadata

    try:
        props = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
    except Exception as e:  # noqa: BLE001 - onnx raises DecodeError and others for a file that is not ONNX
        raise TranslateError(f"{source}: not an ONNX model ({type(e).__name__}); export one with `translate export`") from None
    return read_onnx_metadata(props.get(ONNX_METADATA_KEY), source)[1]


__all__ = ["ORT_WEB_FILES", "WebExport", "check_in_ort_web", "export_web", "find_ort_web", "runtime_folder"]
