"""The house's shape, checked from the code's own imports: no cycles, arrows one way, no private names
borrowed across modules.

Every import counts, also the ones inside functions (a lazy import is still a dependency), except those
under ``if TYPE_CHECKING:``. A failure names the modules involved, so a new cycle is seen the day it is
written.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: the installed name of each folder at the repository root
PACKAGES = {"curation": "curation", "execution": "execution", "training": "training", "eval": "eval"}

#: which top-level parts may import which (DESIGN.md, "arrows point one way")
ALLOWED = {
    "execution": set(),
    "curation": {"execution"},
    # eval drives teachers through the engine, whose errors are curation's family
    "eval": {"execution", "curation.engine", "curation.errors"},
    # training reads datasets; it takes the published prompt texts from curation's prompt module only
    "training": {"curation.prompts", "curation.training_format"},
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return "thoughtmill." + ".".join(parts)


def product_modules() -> dict[str, Path]:
    found = {}
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found[module_name(path)] = path
    for path in sorted((ROOT / "thoughtmill").glob("*.py")):
        found[module_name(path).replace("thoughtmill.thoughtmill", "thoughtmill")] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skip.update(id(n) for n in ast.walk(child))
    return skip


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: dict[str, Path]) -> dict[str, list[str]]:
    """Modules of the product this one imports -> the names it takes from each."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_nodes(tree)
    out: dict[str, list[str]] = {}

    aliases: dict[str, str] = {}  # local name -> product module it is bound to

    def add(target: str, name: str, bound: str | None = None) -> None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != module:
            out.setdefault(target, []).append(name)
            if bound:
                aliases[bound] = target

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("thoughtmill"):
                    add(alias.name, "", alias.asname)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, path.name == "__init__.py", node)
            if not source.startswith("thoughtmill"):
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in known:  # ``from pkg import module``
                    add(sub, "", alias.asname or alias.name)
                else:
                    add(source, alias.name)
    for node in ast.walk(tree):  # ``module._private`` through a name bound to another product module
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            out.setdefault(aliases[node.value.id], []).append(node.attr)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, list[str]]]:
    known = product_modules()
    return {mod: imports_of(mod, path, known) for mod, path in known.items()}


def strongly_connected(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _is_ancestor(module: str, other: str) -> bool:
    """A package's ``__init__`` re-exporting its own modules is not a cycle with them."""
    return other.startswith(module + ".") or module.startswith(other + ".")


def test_no_import_cycles(graph: dict[str, dict[str, list[str]]]) -> None:
    pruned = {m: {t: n for t, n in deps.items() if not _is_ancestor(m, t)} for m, deps in graph.items()}
    cycles = strongly_connected(pruned)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in cycles)


def _part(module: str) -> str:
    return module.removeprefix("thoughtmill.")


def test_arrows_point_one_way(graph: dict[str, dict[str, list[str]]]) -> None:
    wrong = []
    for module, deps in graph.items():
        top = _part(module).split(".")[0]
        if top not in ALLOWED:
            continue
        for target in deps:
            other = _part(target)
            if other.split(".")[0] == top or other.split(".")[0] not in PACKAGES:
                continue  # inside its own part, or the shared floor (thoughtmill.resources, ...)
            if not any(other == ok or other.startswith(ok + ".") for ok in ALLOWED[top]):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the design's direction:\n" + "\n".join(sorted(wrong))


def test_no_private_names_across_modules(graph: dict[str, dict[str, list[str]]]) -> None:
    borrowed = [
        f"{module} takes {name} from {target}"
        for module, deps in graph.items()
        for target, names in deps.items()
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not borrowed, "private names used across modules:\n" + "\n".join(sorted(borrowed))


def test_the_checker_sees_a_cycle() -> None:
    """The cycle finder itself: a made-up graph with one loop and one chain."""
    fake = {"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}
    assert strongly_connected(fake) == [["a", "b", "c"]]


def test_imports_are_read_from_the_real_tree(graph: dict[str, dict[str, list[str]]]) -> None:
    """Guard against a checker that reads nothing: a known arrow of the house is seen."""
    assert len(graph) > 100
    assert any(t.startswith("thoughtmill.curation.pipeline") for t in graph["thoughtmill.curation.cli"])
