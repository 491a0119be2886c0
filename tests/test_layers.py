"""The layers import one way: core -> features -> models -> scoring -> {training, serving} ->
{benchmarks, compass}; and no two modules import each other, even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# a package may import its own modules and those of every package of a lower rank
RANK = {
    "core": 0,
    "features": 1,
    "models": 2,
    "scoring": 3,
    "training": 4,
    "serving": 4,
    "benchmarks": 5,
    "compass": 6,
}


def modules() -> dict[str, Path]:
    """Every module of the application packages, by dotted name."""
    out = {}
    for package in RANK:
        for path in sorted((REPO / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            out[name] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The application modules ``path`` imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from scoring import store` imports the module scoring.store
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.partition(".")[0] in RANK:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def test_the_tree_has_the_layers() -> None:
    assert {m.partition(".")[0] for m in modules()} == set(RANK)


def test_no_module_imports_a_layer_above_it() -> None:
    offending = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if RANK[target.partition(".")[0]] > RANK[module.partition(".")[0]]
        or (  # training and serving share a rank: neither may import the other
            target.partition(".")[0] != module.partition(".")[0]
            and RANK[target.partition(".")[0]] == RANK[module.partition(".")[0]]
        )
    ]
    assert not offending, offending


def test_nothing_below_serving_imports_serving() -> None:
    offending = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        if module.partition(".")[0] in ("core", "features", "models", "scoring", "training")
        for target in targets
        if target.partition(".")[0] == "serving"
    ]
    assert not offending, offending


def test_no_import_cycle() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(edges):
        if module not in state and (cycle := visit(module)):
            raise AssertionError("import cycle: " + " -> ".join(cycle))


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The graph sees imports inside functions and `from package import module`."""
    code = "def f():\n    from scoring import store\n    import serving.guard\n"
    (tmp_path / "m.py").write_text(code)
    known = {"scoring.store": Path(), "scoring": Path(), "serving.guard": Path()}
    assert imports(tmp_path / "m.py", known) == {"scoring.store", "scoring", "serving.guard"}
