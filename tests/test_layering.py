"""Dependencies inside ``nca_zoo`` point one way: down the layers of :data:`LAYERS`.

Every module of the package is parsed with ``ast``; every ``import`` -- at the top of a file or
inside a function (a delayed import is still an import), relative ones resolved -- must name a
module of the importer's own unit or of a unit in a lower layer.  Units of one layer do not import
each other (the three paper packages stay independent).  A new subpackage or top-level module
must be placed here first.  docs/architecture.md explains the layers.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nca_zoo"

#: the layer order, bottom first: a unit is a subpackage, a top-level module, or "" (the package's
#: ``__init__``: the public API, which registers the models)
LAYERS = (
    ("_lazy", "layers"),          # stdlib / torch only: PEP 562 exports, small shared pieces
    ("data",),                    # datamodules, image files, degradations (may use layers)
    ("cells",),                   # transition functions
    ("automaton",),               # the one rollout loop
    ("_registry",),               # @register_model, create_model
    ("models",),                  # plain nn.Modules, registered variants
    ("_pretrained",),             # pretrained folders: build a registered model, load weights
    ("",),                        # nca_zoo/__init__.py: the public API
    ("compression", "restoration", "diffusion"),  # the papers: formats, maths, metrics
    ("tasks",),                   # LightningModules
    ("drivers",),                 # what runs a task: compress a file, read a checkpoint
    ("cli",),                     # the tools
    ("fit", "compress", "decompress", "restore", "sample"),  # `python -m nca_zoo.<tool>`
)
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    """``nca_zoo/a/b.py`` -> ``nca_zoo.a.b``; ``nca_zoo/a/__init__.py`` -> ``nca_zoo.a``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def unit(module: str) -> str:
    """The unit of ``nca_zoo.<unit>...`` (``""`` for the package itself)."""
    return module.split(".")[1] if "." in module else ""


def imports(module: str) -> list[tuple[str, int]]:
    """``(imported nca_zoo module, line)`` for every import in ``module``, at any depth."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, node.lineno))
    return [(name, line) for name, line in found
            if name == "nca_zoo" or name.startswith("nca_zoo.")]


EDGES = [(m, target, line) for m in MODULES for target, line in imports(m)]


def test_every_unit_has_a_layer():
    missing = sorted({unit(m) for m in MODULES} - set(RANK))
    assert not missing, f"place nca_zoo/{missing[0]} in LAYERS of tests/test_layering.py"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    """No import of a higher layer, nor of another unit of the same layer."""
    here = unit(module)
    for target, line in imports(module):
        there = unit(target)
        if there == here or there not in RANK or here not in RANK:
            continue
        path = MODULES[module]
        where = f"{path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE) else path}"
        assert RANK[there] < RANK[here], (
            f"{where}:{line} imports {target}: layer of {there or 'nca_zoo'!r} is "
            f"{'above' if RANK[there] > RANK[here] else 'beside'} {here or 'nca_zoo'!r} "
            f"(LAYERS in tests/test_layering.py)")


def test_no_cycle_between_units():
    graph: dict[str, set] = {}
    for source, target, _ in EDGES:
        if unit(source) != unit(target):
            graph.setdefault(unit(source), set()).add(unit(target))
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
                via = [f"{s} -> {t}" for s, t, _ in EDGES
                       if (unit(s), unit(t)) == (node, nxt)][:3]
                raise AssertionError(f"import cycle {' -> '.join(cycle)} (e.g. {'; '.join(via)})")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_the_checker_sees_delayed_and_relative_imports(tmp_path, monkeypatch):
    """A function-level relative import of a higher layer is found and resolved."""
    fake = PACKAGE / "compression" / "nca_file.py"
    source = "def f():\n    from ..tasks.compression import GNCACompression\n"
    monkeypatch.setitem(MODULES, "nca_zoo.compression.nca_file", tmp_path / "nca_file.py")
    (tmp_path / "nca_file.py").write_text(source)
    assert fake.exists()
    assert imports("nca_zoo.compression.nca_file") == [("nca_zoo.tasks.compression", 2)]
    with pytest.raises(AssertionError, match=r"nca_file.py:2 imports nca_zoo.tasks.compression"):
        test_imports_point_down("nca_zoo.compression.nca_file")
