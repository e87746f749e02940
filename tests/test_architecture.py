"""The shape of the package, checked statically: subpackages in layers whose imports point down,
no import circles, torch-free modules stay torch-free.

Every module under ``translate/`` is parsed with :mod:`ast` (nothing is imported). An import
counts wherever it is written: at module level, inside a function, or under
``if TYPE_CHECKING:`` (a type-only import is still a dependency). Relative imports are resolved
against the importing module's package, and ``from pkg import name`` depends on ``pkg.name``
when that is a module, else on ``pkg``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "translate"

#: Modules every side imports (the CLI, the ONNX runtime, apps): they may not import torch at
#: import time, directly or through another translate module.
TORCH_FREE = ("translate", "translate.cli", "translate.nets.architectures", "translate.models.cards",
              "translate.models.weights", "translate.run.budget", "translate.run.holes", "translate.run.pipeline",
              "translate.run.runtime",
              "translate.run.video", "translate.run.video_av", "translate.run.video_reader",
              "translate.run.video_writer", "translate.train.config", "translate.train.recipes",
              "translate.data.layouts", "translate.data.convert")
#: Packages whose every module is torch-free (a package of :data:`TORCH_FREE` not listed here,
#: such as translate.train.recipes, has a torch-free ``__init__`` and modules that use torch).
TORCH_FREE_PACKAGES = ("translate.data.convert",)

#: The layers, top to bottom: a module may import its own layer's modules (within one subpackage
#: or the ground floor) and any layer below, never a layer above, and never a sibling subpackage
#: of its own layer (run / train, export / eval, data / models stay apart: what both sides need
#: moves down). The top layer holds the CLI and the public import paths (``translate``,
#: ``translate.runtime`` ...); every module of the package must belong to one layer.
LAYERS = (
    ("translate", "translate.__main__", "translate.cli", "translate.commands", "translate.runtime",
     "translate.video", "translate.serve"),
    ("translate.export", "translate.eval"),
    ("translate.run", "translate.train"),
    ("translate.data", "translate.models"),
    ("translate.nets",),
    ("translate.errors", "translate.fileio", "translate.imageio", "translate.metrics", "translate.precision",
     "translate.device", "translate.resilience", "translate.version"),
)


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package ``__init__``) for every ``.py`` file under ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _run_at_import(tree: ast.AST):
    """The statements that run when the module is imported: the module and class bodies, and the
    branches of ``if`` / ``try`` / ``with`` in them, but no function body and no ``if TYPE_CHECKING:``."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                todo.extend(getattr(node, field, []))
        elif isinstance(node, ast.ExceptHandler):
            todo.extend(node.body)


def _imports(tree: ast.AST, name: str, is_package: bool, modules: dict, top_level_only: bool = False) -> set[str]:
    """The modules of ``modules`` that the parsed module ``name`` imports. With ``top_level_only``
    the packages above ``name`` count too: importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``."""
    package = name if is_package else name.rpartition(".")[0]
    deps: set[str] = set()
    if top_level_only:
        parts = name.split(".")
        deps.update(".".join(parts[:i]) for i in range(1, len(parts)))
    for node in _run_at_import(tree) if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            deps.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                deps.add(sub if sub in modules else target)
    deps.discard(name)
    return deps


def import_graph(root: Path, top_level_only: bool = False) -> dict[str, set[str]]:
    """Module -> the modules it imports, for the package at ``root``. With ``top_level_only`` only
    the statements run at import time (module body) count, and outside modules are kept too."""
    modules = _modules(root)
    graph = {}
    for name, (path, is_package) in modules.items():
        deps = _imports(ast.parse(path.read_text(encoding="utf-8"), str(path)), name, is_package, modules,
                        top_level_only)
        graph[name] = deps if top_level_only else {d for d in deps if d in modules}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle ``[a, b, ..., a]`` of ``graph``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer_of(module: str) -> tuple[int, str]:
    """(index in :data:`LAYERS`, the entry of that layer that ``module`` falls under)."""
    best = None
    for index, layer in enumerate(LAYERS):
        for entry in layer:
            if (module == entry or module.startswith(entry + ".")) and (best is None or len(entry) > len(best[1])):
                best = (index, entry)
    assert best is not None, f"{module} belongs to no layer of LAYERS (add it where it belongs)"
    return best


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of ``graph`` that points up a layer or sideways to a sibling subpackage."""
    found = []
    for module, deps in sorted(graph.items()):
        level, entry = layer_of(module)
        for dep in sorted(deps):
            dep_level, dep_entry = layer_of(dep)
            if dep_level < level:
                found.append(f"{module} imports {dep}: up from {entry} to {dep_entry}")
            elif dep_level == level and dep_entry != entry and level not in (0, len(LAYERS) - 1):
                found.append(f"{module} imports {dep}: sideways from {entry} to its sibling {dep_entry}")
    return found


def test_imports_point_down_the_layers():
    violations = layer_violations(import_graph(PACKAGE))
    assert not violations, "\n".join(violations)


def test_the_layer_check_finds_upward_and_sideways_imports():
    graph = {"translate.run.pipeline": {"translate.train.trainer", "translate.errors"},
             "translate.nets.build": {"translate.models.cards"},
             "translate.cli": {"translate.run.inference"},
             "translate.metrics": {"translate.errors"}}
    assert layer_violations(graph) == [
        "translate.nets.build imports translate.models.cards: up from translate.nets to translate.models",
        "translate.run.pipeline imports translate.train.trainer: sideways from translate.run to its sibling "
        "translate.train"]


def test_no_import_circles_in_translate():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_torch_free_layer_does_not_import_torch():
    graph = import_graph(PACKAGE, top_level_only=True)
    for entry in TORCH_FREE:
        assert entry in graph, f"{entry} is no module of translate/ (update TORCH_FREE)"
    starts = set(TORCH_FREE) | {m for m in graph if m.startswith(tuple(p + "." for p in TORCH_FREE_PACKAGES))}
    for start in sorted(starts):
        seen, todo, via = {start}, [start], {start: [start]}
        while todo:
            module = todo.pop()
            for dep in graph.get(module, ()):
                chain = via[module] + [dep]
                assert dep.split(".")[0] != "torch", f"{start} imports torch at import time: {' -> '.join(chain)}"
                if dep in graph and dep not in seen:
                    seen.add(dep)
                    via[dep] = chain
                    todo.append(dep)


def test_the_checker_finds_circles(tmp_path):
    """Function-level, type-only and relative imports all close a circle (the checker is no no-op)."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .c import g\n")
    (pkg / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n")
    assert find_cycle(import_graph(pkg)) == ["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a"]
    (pkg / "sub" / "c.py").write_text("import pkg.sub\n")
    assert find_cycle(import_graph(pkg)) is None
    graph = import_graph(pkg, top_level_only=True)
    # a function-level import does not run at import; the packages above a module do
    assert graph["pkg.sub.b"] == {"pkg", "pkg.sub"} and graph["pkg.a"] == {"pkg", "pkg.sub.b"}


def test_every_row_of_the_architecture_table_builds_its_network():
    """The table names importable factories, and a card's size rules hold for the built network."""
    import torch

    from translate.nets import architectures
    from translate.nets.build import build_generator

    small = {"resnet_2blocks": {"ngf": 4}, "unet_32": {"ngf": 4}, "srresnet": {"num_blocks": 1, "num_feat": 4},
             "derain": {"ngf": 4, "growth": 4}, "context_encoder": {"ngf": 4, "max_channels": 8, "bottleneck": 8,
                                                                  "bottleneck_groups": 2}}
    assert {architectures.lookup(name)[0].family for name in small} == set(architectures.GENERATORS)
    for name, kwargs in small.items():
        generator = {"arch": name, **kwargs}
        net = build_generator(**generator).eval()
        side = architectures.fixed_size(name) or 2 * architectures.size_multiple(generator)
        channels = 3 + len(architectures.inputs(name)) - 1
        with torch.no_grad():
            out = net(torch.zeros(1, channels, side, side))
        assert out.shape[-1] % side == 0, name


def test_documented_import_paths_are_the_moved_modules():
    """``translate.runtime`` / ``video`` / ``serve`` (README, apps) are the modules of translate.run, not copies."""
    import importlib

    import translate

    for name in ("runtime", "video", "serve"):
        assert importlib.import_module(f"translate.{name}") is importlib.import_module(f"translate.run.{name}")
    from translate.runtime import Session
    from translate.serve import Limits, create_app, load_models
    from translate.video import translate_video

    assert all(callable(f) for f in (Session, Limits, create_app, load_models, translate_video, translate.load))
    from translate.run.pipeline import Translator

    assert translate.Translator is Translator and issubclass(Session, translate.Translator)


def test_importing_translate_stays_light():
    """The CLI's first import (``translate``, for its version) pulls in neither torch nor numpy / OpenCV."""
    code = "import sys, translate; print(sorted({'torch', 'numpy', 'cv2'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
