"""The one-way architecture (docs/design.md §4a), read from the source's imports.

Data flows one way: the ground (``lela.config``, ``lela.data``,
``lela.contract``, ``lela.protocol``, ``lela.tools``) -> ``lela.golden_model``
-> ``lela.rtl`` -> ``lela.sim`` -> ``lela.boards`` (gateware) -> the host
software and the build (``lela.host``, ``lela.build``) -> the bench and the sweeps
(``lela.bench``, ``lela.sweep``) -> the commands (``lela.cli``). A module may import from its own layer or below,
never from above, and no two modules import each other, directly or round a
longer cycle. Every import counts, the ones inside functions too.
"""

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Layers from the ground up: a module is in the first layer whose prefix it has.
LAYERS = (
    ("lela", "lela.config", "lela.data", "lela.contract", "lela.protocol", "lela.tools"),
    ("lela.golden_model",),
    ("lela.rtl",),
    ("lela.sim",),
    ("lela.boards",),
    ("lela.host", "lela.build"),
    ("lela.bench", "lela.sweep"),
    ("lela.cli",),
)


def package_dirs(root):
    """``{package: folder}`` as pyproject.toml maps them."""
    with (root / "pyproject.toml").open("rb") as f:
        dirs = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {pkg: root / d for pkg, d in dirs.items()}


def modules(root):
    """``{module name: path}`` of every Python module of the project."""
    out = {}
    for pkg, folder in package_dirs(root).items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            # a sub-package with its own mapping (lela.rtl) is not part of lela
            name = ".".join([pkg, *parts])
            if not any(name.startswith(other + ".") or name == other
                       for other in package_dirs(root) if len(other) > len(pkg)
                       and other.startswith(pkg + ".")):
                out[name] = path
    return out


def imports(name, path, known):
    """The project modules that module ``name`` (file ``path``) imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            # "from pkg import module" imports a module; "from module import name" a name
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def layer_of(name):
    best = None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            inside = name == prefix or name.startswith(prefix + ".")
            if inside and (best is None or len(prefix) > len(best[1])):
                best = (i, prefix)
    if best is None:
        raise AssertionError(f"module {name} is in no layer of LAYERS")
    return best[0]


def violations(root):
    """Back-edges and cycles, one line each, naming both files."""
    known = modules(root)
    graph = {name: imports(name, path, known) for name, path in known.items()}
    rel = {name: path.relative_to(root) for name, path in known.items()}
    problems = []
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            if layer_of(target) > layer_of(name):
                problems.append(f"back-edge: {rel[name]} imports {rel[target]} "
                                f"(a layer above it)")
    # cycles: depth-first search, each cycle reported once from its smallest module
    seen_cycles = set()

    def visit(start, node, trail):
        for target in sorted(graph[node]):
            if target == start:
                cycle = trail + [start]
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    problems.append("cycle: " + " -> ".join(str(rel[m]) for m in cycle))
            elif target > start and target not in trail:
                visit(start, target, trail + [target])

    for start in sorted(graph):
        visit(start, start, [start])
    return problems


def test_data_flows_one_way():
    problems = violations(ROOT)
    assert not problems, "\n".join(problems)


def test_every_module_is_in_a_layer():
    for name in modules(ROOT):
        layer_of(name)


def _tree(tmp_path, files):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackage-dir = {"lela" = "lela", "lela.rtl" = "rtl", '
        '"lela.sim" = "sim", "lela.boards" = "boards", "lela.host" = "host"}\n')
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_back_edge_is_named_with_both_files(tmp_path):
    root = _tree(tmp_path, {
        "lela/__init__.py": "", "lela/config.py": "",
        "rtl/__init__.py": "", "rtl/top.py": "from lela.config import x\n",
        # a block reaching up into the simulation layer, inside a function
        "rtl/layer.py": "def f():\n    from lela.sim.runner import build\n",
        "sim/__init__.py": "", "sim/runner.py": "from lela.rtl import top\n",
    })
    assert violations(root) == [
        "back-edge: rtl/layer.py imports sim/runner.py (a layer above it)"]


def test_gateware_using_host_software_is_a_back_edge(tmp_path):
    """The board gateware sits below the host software and the build."""
    root = _tree(tmp_path, {
        "lela/__init__.py": "", "lela/protocol.py": "", "lela/build.py": "",
        "boards/__init__.py": "", "host/__init__.py": "",
        "boards/hostlink.py": "from lela import protocol\nfrom lela.host.driver import Board\n",
        "boards/ulx3s.py": "from lela.build import build\n",
        "host/driver.py": "from lela import protocol\n",
    })
    assert violations(root) == [
        "back-edge: boards/hostlink.py imports host/driver.py (a layer above it)",
        "back-edge: boards/ulx3s.py imports lela/build.py (a layer above it)"]


def test_a_cycle_is_named_with_every_file(tmp_path):
    root = _tree(tmp_path, {
        "lela/__init__.py": "", "rtl/__init__.py": "",
        "rtl/a.py": "from . import b\n", "rtl/b.py": "from .c import thing\n",
        "rtl/c.py": "from lela.rtl.a import other\n",
    })
    assert violations(root) == ["cycle: rtl/a.py -> rtl/b.py -> rtl/c.py -> rtl/a.py"]


@pytest.mark.parametrize("module", ["lela.contract", "lela.tools", "lela.config"])
def test_the_ground_needs_no_amaranth(module):
    """The contract and the ground are pure Python: they import no Amaranth."""
    path = modules(ROOT)[module]
    tree = ast.parse(path.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
    names |= {node.module for node in ast.walk(tree)
              if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(n.split(".")[0] == "amaranth" for n in names), f"{path}: {sorted(names)}"
