"""The distributions carry the shipped models: pyproject.toml maps the repository's top-level
``weights/`` folder into the package as ``translate._weights``, so a wheel install (not only an
editable one) runs ``translate run facades-label2photo``."""

from __future__ import annotations

import ast
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
#: the tests that build from the checkout: setuptools writes translate_gan.egg-info into it, and
#: packaging/runtime's backend replaces its src/ copy at each build, so two builds at once (pytest-xdist
#: workers) would read each other's half-written files: they run on one worker, one after the other
BUILDS_IN_THE_CHECKOUT = pytest.mark.xdist_group("builds-in-the-checkout")


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
    assert sorted(tool["packages"]) == sorted(found | {"translate._weights", "translate._js"})
    assert tool["package-dir"] == {"translate._weights": "weights", "translate._js": "js"}
    assert tool["package-data"]["translate._weights"] == ["*.safetensors"]
    assert (ROOT / "weights" / "__init__.py").is_file()
    assert (ROOT / "js" / "__init__.py").is_file()  # the JavaScript runtime, for `translate export --web`


@pytest.mark.slow
@BUILDS_IN_THE_CHECKOUT
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


# --- the version's one home, the release workflow, the torch-free runtime distribution ---------------

RUNTIME = ROOT / "packaging" / "runtime"


def _load_tag_checker():
    spec = importlib.util.spec_from_file_location("check_release_tag", ROOT / "packaging" / "check_release_tag.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_version_has_one_home_and_a_release_tag_must_name_it(tmp_path):
    """pyproject.toml (both distributions) reads the version from translate/version.py; the release
    workflow's tag check accepts exactly ``v<that version>``."""
    import translate

    for pyproject in (ROOT / "pyproject.toml", RUNTIME / "pyproject.toml"):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        assert "version" not in data["project"] and data["project"]["dynamic"] == ["version"], pyproject
        assert data["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "translate.version.__version__"}
    checker = _load_tag_checker()
    version = checker.read_version()
    assert version == translate.__version__
    assert checker.tag_problem(f"v{version}", version) is None
    for wrong in (version, f"v{version}.1", f"v{version}rc1", "v0.0.0"):
        assert checker.tag_problem(wrong, version), wrong
    script = ROOT / "packaging" / "check_release_tag.py"
    ok = subprocess.run([sys.executable, script, f"v{version}"], capture_output=True, text=True, check=False)
    bad = subprocess.run([sys.executable, script, "v99.0.0"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1 and "v99.0.0" in bad.stderr and "Traceback" not in bad.stderr
    other = tmp_path / "version.py"
    other.write_text('"""x"""\n__version__ = "2.3.4"\n', encoding="utf-8")
    assert checker.read_version(other) == "2.3.4"


def test_release_workflow_checks_the_tag_and_publishes_only_tags_through_trusted_publishing():
    import yaml

    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["tags"] == ["v*"]
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    build_steps = " ".join(str(s.get("run", "")) for s in jobs["build"]["steps"])
    assert "packaging/check_release_tag.py" in build_steps and "twine check --strict" in build_steps
    assert "packaging/runtime" in build_steps
    publish = jobs["publish"]
    assert publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert publish["permissions"] == {"id-token": "write"} and publish["environment"]["name"] == "pypi"
    assert set(publish["needs"]) == {"build", "test-wheels"}
    assert [s["uses"] for s in publish["steps"] if "uses" in s][-1] == "pypa/gh-action-pypi-publish@release/v1"
    # only the publish job may mint an OIDC token
    assert [name for name, job in jobs.items() if "id-token" in job.get("permissions", {})] == ["publish"]


def _runtime_closure() -> set[str]:
    """The modules translate.runtime imports (anywhere in a module, not only at import time), itself
    included, and the packages above them (what they import at import time), as paths relative to
    the repository."""
    from tests.test_architecture import PACKAGE, import_graph

    graph, at_import = import_graph(PACKAGE), import_graph(PACKAGE, top_level_only=True)
    seen, todo = {"translate.runtime"}, ["translate.runtime"]
    while todo:
        module = todo.pop()
        # A package's __init__ runs on import of any module below it: what it imports at import time
        # counts (translate.load, which imports the torch side when called, is not the runtime's API).
        is_package = (ROOT / Path(*module.split(".")) / "__init__.py").is_file()
        deps = {d for d in at_import[module] if d in graph} if is_package else graph[module]
        parents = {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}
        for dep in deps | parents:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    paths = set()
    for module in seen:
        parts = module.split(".")
        paths.update("/".join(parts[:i] + ["__init__.py"]) for i in range(1, len(parts)))
        is_package = (ROOT / Path(*parts) / "__init__.py").is_file()
        paths.add("/".join(parts) + ("/__init__.py" if is_package else ".py"))
    return paths


def test_runtime_distribution_lists_exactly_what_translate_runtime_imports():
    """packaging/runtime's module list is translate.runtime's import closure (a new import there
    fails here, not in a user's app), and no module in it imports torch."""
    data = tomllib.loads((RUNTIME / "pyproject.toml").read_text(encoding="utf-8"))
    listed = data["tool"]["translate-runtime"]["modules"]
    assert len(listed) == len(set(listed))
    assert set(listed) == _runtime_closure()
    packages = {str(Path(m).parent).replace("/", ".") for m in listed if m.endswith("/__init__.py")}
    assert sorted(data["tool"]["setuptools"]["packages"]) == sorted(packages)
    assert not [d for d in data["project"]["dependencies"] if d.split(">")[0].split("=")[0] in ("torch", "torchvision")]
    for module in listed:  # no import of torch anywhere in these files (function bodies included)
        tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level]
        assert not [n for n in names if n.split(".")[0] in ("torch", "torchvision", "kornia")], module


def _clean_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(TRANSLATE_HOME=str(tmp_path / "home"), PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


@pytest.mark.slow
@BUILDS_IN_THE_CHECKOUT
def test_python_build_and_twine_check_pass_for_both_distributions(tmp_path):
    """`python -m build` (sdist, then the wheel from the sdist) and `twine check --strict` for
    translate-gan and translate-gan-runtime; both carry translate/version.py's version."""
    for tool in ("build", "twine", "setuptools"):
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"{tool} is not installed (pip install -e '.[dev]')")
    import translate

    env = _clean_env(tmp_path)
    dist = tmp_path / "dist"
    for project in (ROOT, RUNTIME):  # no build isolation: the running setuptools, nothing downloaded
        _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, project], cwd=tmp_path, env=env)
    built = sorted(p.name for p in dist.iterdir())
    v = translate.__version__
    assert built == sorted([f"translate_gan-{v}-py3-none-any.whl", f"translate_gan-{v}.tar.gz",
                            f"translate_gan_runtime-{v}-py3-none-any.whl", f"translate_gan_runtime-{v}.tar.gz"])
    check = _run([sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir())], cwd=tmp_path, env=env)
    assert check.stdout.count("PASSED") == 4, check.stdout
    (runtime_wheel,) = dist.glob("translate_gan_runtime-*.whl")
    for wheel in dist.glob("*.whl"):  # both carry the licence
        with zipfile.ZipFile(wheel) as whl:
            assert any(n.endswith(".dist-info/licenses/LICENSE") for n in whl.namelist()), wheel.name
    with zipfile.ZipFile(runtime_wheel) as whl:
        modules = sorted(n for n in whl.namelist() if n.startswith("translate/"))
        metadata = whl.read(f"translate_gan_runtime-{v}.dist-info/METADATA").decode()
    listed = tomllib.loads((RUNTIME / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["translate-runtime"]["modules"]
    assert modules == sorted(listed)
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if r.startswith(("torch", "onnxruntime-gpu"))], requires
    assert any(r.startswith("onnxruntime") for r in requires), requires


@pytest.mark.slow
@BUILDS_IN_THE_CHECKOUT
def test_runtime_wheel_runs_an_exported_model_in_a_fresh_venv_without_torch(tmp_path):
    """The documented torch-free install: a fresh virtual environment (no system site packages),
    ``pip install`` of the built translate-gan-runtime wheel (its dependencies from the package
    index), then an exported shipped model translates a real image through translate.runtime, matches
    the dev environment's ONNX output, and ``import torch`` fails there."""
    for tool in ("build", "setuptools"):
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"{tool} is not installed (pip install -e '.[dev]')")
    env = _clean_env(tmp_path)
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", dist, RUNTIME], cwd=tmp_path, env=env)
    (wheel,) = dist.glob("translate_gan_runtime-*.whl")

    # The ONNX file, exported with the dev environment (torch), and its output there.
    model = tmp_path / "facades.onnx"
    _run([sys.executable, "-m", "translate", "export", "facades-label2photo", "-o", model], cwd=tmp_path, env=env)
    sample = tmp_path / SAMPLE.name
    sample.write_bytes(SAMPLE.read_bytes())
    translate_file = ("import sys; from translate.runtime import Session; "
                      "Session(sys.argv[1], device='cpu').translate_file(sys.argv[2], sys.argv[3])")
    _run([sys.executable, "-c", translate_file, model, sample, tmp_path / "dev.png"], cwd=tmp_path, env=env)

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], env=env)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    install = _run([python, "-m", "pip", "install", "-q", wheel], cwd=tmp_path, env=env, timeout=900)
    outside = tmp_path / "outside"
    outside.mkdir()
    no_torch = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True, cwd=outside, env=env,
                              check=False)
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr, install.stdout
    where = _run([python, "-c", "import translate; print(translate.__file__)"], cwd=outside, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    _run([python, "-c", translate_file, model, sample, outside / "out.png"], cwd=outside, env=env)
    import cv2
    import numpy as np

    out, dev = cv2.imread(str(outside / "out.png")), cv2.imread(str(tmp_path / "dev.png"))
    assert out is not None and out.shape == dev.shape
    # onnxruntime (CPU build) here, onnxruntime-gpu's CPU provider there: the same kernels, allow a rounding step
    assert np.abs(out.astype(int) - dev.astype(int)).max() <= 1
