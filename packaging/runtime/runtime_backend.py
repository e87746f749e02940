"""In-tree PEP 517 backend of translate-gan-runtime: setuptools' backend, after copying the listed
modules of the checkout's ``translate/`` into ``src/`` (one source: the copy is made at every build
from a checkout and never edited; an unpacked sdist has no checkout and builds from its own copy)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from setuptools import build_meta as _setuptools

# No editable hooks: an editable install of the runtime would point into the staged copy in src/;
# develop against the checkout with `pip install -e .` at its root instead.
__all__ = ["build_sdist", "build_wheel", "get_requires_for_build_sdist", "get_requires_for_build_wheel",
           "prepare_metadata_for_build_wheel"]

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]


def _from_checkout() -> bool:
    # This file sits at packaging/runtime/ of a checkout that has translate/ (not an unpacked sdist).
    return HERE == CHECKOUT / "packaging" / "runtime" and (CHECKOUT / "translate" / "version.py").is_file()


def stage_sources() -> list[str]:
    """Copy the modules named in pyproject.toml's ``[tool.translate-runtime] modules`` from the
    checkout into ``src/`` (replacing what was there), and the checkout's LICENSE beside
    pyproject.toml; return the list.
    Outside a checkout, do nothing (``src/`` came with the sdist)."""
    modules = tomllib.loads((HERE / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["translate-runtime"]["modules"]
    if not _from_checkout():
        return modules
    # the licence of the source the modules come from (pyproject.toml's license-files)
    shutil.copyfile(CHECKOUT / "LICENSE", HERE / "LICENSE")
    shutil.rmtree(HERE / "src", ignore_errors=True)
    for module in modules:
        target = HERE / "src" / module
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CHECKOUT / module, target)
    return modules


def get_requires_for_build_sdist(config_settings=None):
    stage_sources()
    return _setuptools.get_requires_for_build_sdist(config_settings)


def get_requires_for_build_wheel(config_settings=None):
    stage_sources()
    return _setuptools.get_requires_for_build_wheel(config_settings)


def build_sdist(sdist_directory, config_settings=None):
    stage_sources()
    return _setuptools.build_sdist(sdist_directory, config_settings)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    stage_sources()
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    stage_sources()
    return _setuptools.prepare_metadata_for_build_wheel(metadata_directory, config_settings)
