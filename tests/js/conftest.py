"""Fixtures of the JavaScript runtime tests: the js/ package installed with `npm ci`, and every
shipped model exported to ONNX with `translate export` (once per test session: per pytest-xdist worker)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from filelock import FileLock

JS = Path(__file__).resolve().parents[2] / "js"


def npm_environment() -> dict[str, str]:
    """npm's environment: onnxruntime-node's postinstall (a CUDA download) skipped, offline-first."""
    return {**os.environ, "ONNXRUNTIME_NODE_INSTALL": "skip", "npm_config_prefer_offline": "true",
            "npm_config_audit": "false", "npm_config_fund": "false", "npm_config_update_notifier": "false"}


def _installed_matches_lock() -> bool:
    """Whether js/node_modules holds exactly what package-lock.json pins (npm writes its own copy of
    the resolved tree to node_modules/.package-lock.json), so `npm ci` can be skipped."""
    import json

    installed = JS / "node_modules" / ".package-lock.json"
    if not installed.is_file():
        return False
    want = json.loads((JS / "package-lock.json").read_text())["packages"]
    have = json.loads(installed.read_text())["packages"]
    return all(have.get(name, {}).get("version") == spec.get("version") for name, spec in want.items() if name)


@pytest.fixture(scope="session")
def js_package() -> Path:
    """js/ with its locked dependencies installed (`npm ci`, from npm's cache when it can);
    skips when node or npm is missing."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: the JavaScript runtime tests need Node.js >= 18 and npm")
    # one `npm ci` at a time (pytest-xdist workers, two test runs): npm ci empties node_modules first
    with FileLock(Path(tempfile.gettempdir()) / f"translate-npm-ci-{hashlib.sha1(bytes(JS)).hexdigest()[:12]}.lock"):
        if not _installed_matches_lock():
            done = subprocess.run(["npm", "ci"], cwd=JS, env=npm_environment(), capture_output=True, text=True,
                                  timeout=600, check=False)
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return JS


@pytest.fixture(scope="session")
def shipped_onnx(tmp_path_factory) -> dict[str, Path]:
    """Every shipped model (weights/) exported with `translate export`: name -> .onnx file."""
    from translate.cli import main
    from translate.models.cards import SHIPPED_WEIGHTS, read_card

    folder = tmp_path_factory.mktemp("onnx")
    exported = {}
    for weights in sorted(SHIPPED_WEIGHTS.glob("*.safetensors")):
        card = read_card(weights, optional=True)
        if card is None:
            continue
        path = folder / f"{card.name}.onnx"
        assert main(["export", card.name, "-o", str(path)]) == 0, f"translate export {card.name} failed"
        exported[card.name] = path
    assert exported, f"no shipped models in {SHIPPED_WEIGHTS}"
    return exported
