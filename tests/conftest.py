"""Session set-up of the test suite: the shared real-image fixture, and what running the tests in
parallel needs (pytest-xdist: pyproject.toml's addopts start 2 workers; ``-n 0`` runs them in one
process): each worker's share of the CPUs, and the tests that share an expensive module fixture kept
on one worker."""

import os
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: the thread-count variables of the OpenMP / MKL / OpenBLAS pools (torch's, and those of the
#: `translate` commands the tests start as child processes, which inherit the worker's environment)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pytest_addoption(parser, pluginmanager):
    """Without pytest-xdist (not installed, or ``-p no:xdist``) the ``--numprocesses`` / ``--dist``
    of pyproject.toml's addopts are still understood, and the tests run in one process."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "parallel runs (pytest-xdist is not active: one process)")
    group.addoption("--numprocesses", dest="numprocesses", default=None, help="ignored: pytest-xdist is not active")
    group.addoption("--dist", dest="dist", default="no", help="ignored: pytest-xdist is not active")


def _loadgroup_ignores_groups(config) -> bool:
    """Whether this run's xdist groups would be ignored: pytest-xdist (3.8 and before) groups a test by
    a ``@group`` suffix it writes into the node id, which pytest 9.2's node ids no longer take
    (pytest-xdist issue #1386); the builds of tests/test_packaging.py would then run at once."""
    if not config.pluginmanager.has_plugin("xdist") or config.getoption("dist") != "loadgroup":
        return False
    return Version(version("pytest")) >= Version("9.2") and Version(version("pytest-xdist")) < Version("3.9")


def pytest_configure(config):
    """Refuse a run whose xdist groups would be ignored; in an xdist worker, give torch and the child
    processes the worker's share of the CPUs (2 workers on 2 cores: 1 thread each), so that the workers
    do not fight over the cores (a thread count set in the environment is kept)."""
    if _loadgroup_ignores_groups(config):
        raise pytest.UsageError(
            f"pytest-xdist {version('pytest-xdist')} ignores xdist_group marks under pytest {pytest.__version__} "
            "(pytest-xdist issue #1386): install the dev extra's pytest (pip install -e '.[dev]'), or run "
            "the tests in one process with -n 0")
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not os.environ.get("PYTEST_XDIST_WORKER") or not workers:
        return
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = str(max(1, cpus // int(workers)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, threads)
    if "torch" in sys.modules:  # imported before this hook (by a plugin): its pool is already sized
        sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns the marks into work units
def pytest_collection_modifyitems(config, items):
    """Under ``--dist loadgroup``, the tests of a module that use one of its module- or class-scoped
    fixtures (an exported model, a built site, a short training run) form one xdist group, so that
    the fixture is computed once rather than on each worker. A test that names its own group keeps it."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if any(d[-1].scope in ("class", "module") for d in definitions.values() if d):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (real images); tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-image folder {SHARED_DATA} not present")
    return SHARED_DATA
