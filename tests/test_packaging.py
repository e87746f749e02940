"""The distributions carry the shipped models: pyproject.toml maps the repository's top-level
``weights/`` folder into the package as ``translate._weights``, so a wheel install (not only an
editable one) runs ``translate run facades-label2photo``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "docs" / "samples" / "facade_labels.png"


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _translate_run(python: str | Path, out: Path, cwd: Path, env: dict) -> subprocess.Popen:
    """``python -m translate run facades-label2photo`` on a copy of the sample (on the CPU, so that
    both installs compute alike), writing ``out``."""
    sample = cwd / SAMPLE.name
    if not sample.exists():
        sample.write_bytes(SAMPLE.read_bytes())
    args = [str(python), "-m", "translate", "run", "facades-label2photo", sample.name, "-o", str(out), "--device", "cpu"]
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen) -> None:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, f"{' '.join(process.args)} failed:\n{output}"


def test_pyproject_lists_every_package_of_translate_and_maps_weights():
    """`packages` is listed by hand (a find directive cannot add the mapped weights/ folder): it must
    name every package under translate/ and translate._weights, mapped to weights/."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "translate").rglob("__init__.py")}
    assert sorted(tool["packages"]) == sorted(found | {"translate._weights"})
    assert tool["package-dir"] == {"translate._weights": "weights"}
    assert tool["package-data"]["translate._weights"] == ["*.safetensors"]
    assert (ROOT / "weights" / "__init__.py").is_file()


@pytest.mark.slow
def test_wheel_built_from_the_sdist_carries_and_runs_the_shipped_models(tmp_path):
    for tool in ("pip", "setuptools"):  # found, not imported: setuptools replaces distutils on import
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"{tool} is not installed: no wheel to build")
    assert not tmp_path.resolve().is_relative_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    env.update(TRANSLATE_HOME=str(tmp_path / "home"), PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")

    # The editable install's output, computed while the distributions build.
    editable = tmp_path / "editable"
    editable.mkdir()
    reference = _translate_run(sys.executable, editable / "out.png", editable, env)

    # sdist from the checkout, then the wheel from the sdist (as `python -m build` does), both with
    # the running interpreter's setuptools (no build isolation: nothing is downloaded).
    dist = tmp_path / "dist"
    build_sdist = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    sdist = dist / _run([sys.executable, "-c", build_sdist, dist], cwd=ROOT, env=env).stdout.split()[-1]
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index", "--no-build-isolation",
          "-w", dist, sdist], cwd=tmp_path, env=env)
    (wheel,) = dist.glob("translate_gan-*.whl")

    shipped = sorted(p for p in (ROOT / "weights").iterdir() if p.is_file())
    assert len([p for p in shipped if p.suffix == ".safetensors"]) >= 7
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        in_sdist = set(tar.getnames())
    assert not [p.name for p in shipped if f"{top}/weights/{p.name}" not in in_sdist]
    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
        for p in shipped:
            assert whl.read(f"translate/_weights/{p.name}") == p.read_bytes(), f"{p.name} differs in the wheel"
    sources = [p.relative_to(ROOT).as_posix() for p in (ROOT / "translate").rglob("*")
               if p.suffix in (".py", ".html") and "__pycache__" not in p.parts]
    assert not [s for s in sources if s not in in_wheel], "modules of translate/ missing from the wheel"

    # A fresh virtual environment that reuses this one's packages (a .pth file; the editable
    # install's own .pth is not read from there), with the wheel installed in it, not editable.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], env=env)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=env).stdout.strip())
    here = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))
    (purelib / "_translate_test_deps.pth").write_text("".join(f"{p}\n" for p in here), encoding="utf-8")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile", "--ignore-installed",
          wheel], cwd=tmp_path, env=env)

    outside = tmp_path / "outside"
    outside.mkdir()
    where = _run([python, "-c", "import translate, translate.models.cards as c; print(translate.__file__); "
                  "print(c.SHIPPED_WEIGHTS)"], cwd=outside, env=env).stdout.split("\n")
    assert Path(where[0]).is_relative_to(purelib) and Path(where[1]).is_relative_to(purelib), where
    _finish(_translate_run(python, outside / "out.png", outside, env))
    _finish(reference)
    assert (outside / "out.png").read_bytes() == (editable / "out.png").read_bytes()
