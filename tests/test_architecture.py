"""The shape of the package, checked statically: no import circles, torch-free layers stay torch-free.

Every module under ``translate/`` is parsed with :mod:`ast` (nothing is imported). An import
counts wherever it is written: at module level, inside a function, or under
``if TYPE_CHECKING:`` (a type-only import is still a dependency). Relative imports are resolved
against the importing module's package, and ``from pkg import name`` depends on ``pkg.name``
when that is a module, else on ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "translate"

#: Modules every side imports (the CLI, the ONNX runtime, apps): they may not import torch at
#: import time, directly or through another translate module.
TORCH_FREE = ("translate.architectures", "translate.cards", "translate.holes", "translate.pipeline",
              "translate.runtime", "translate.config", "translate.weights", "translate.recipes")


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
    """The modules of ``modules`` that the parsed module ``name`` imports."""
    package = name if is_package else name.rpartition(".")[0]
    deps: set[str] = set()
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


def test_no_import_circles_in_translate():
    cycle = find_cycle(import_graph(PACKAGE))
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_torch_free_layer_does_not_import_torch():
    graph = import_graph(PACKAGE, top_level_only=True)
    for start in TORCH_FREE:
        assert start in graph, f"{start} is no module of translate/ (update TORCH_FREE)"
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
    assert graph["pkg.sub.b"] == set() and graph["pkg.a"] == {"pkg.sub.b"}


def test_every_row_of_the_architecture_table_builds_its_network():
    """The table names importable factories, and a card's size rules hold for the built network."""
    import torch

    from translate import architectures
    from translate.nets import build_generator

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
