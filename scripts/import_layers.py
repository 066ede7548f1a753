"""The import graph of ganforge/, read from the source (no module is imported), checked against
the layer table in CONTRIBUTING.md.

    python scripts/import_layers.py                  # cycles and upward imports, today
    python scripts/import_layers.py --table FILE     # against another table (a markdown file)
    python scripts/import_layers.py --root DIR       # the ganforge/ of another checkout

tests/test_layers.py loads this file and fails on what it finds; run it by hand for the numbers.
Every import counts, the ones inside functions too: a function-local import is how a seam
between layers gets hidden, not how it gets fixed.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ganforge"
# Outside the layers, on purpose: the package's __init__ runs before any of its modules, whichever
# is imported, so importing it adds no order (it imports moved.py and the hook marker, both from
# below every layer); moved.py maps 0.1's paths to modules of every layer, as its job is.
EXEMPT = (PACKAGE, f"{PACKAGE}.moved")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported ganforge module, dotted
    path: Path
    line: int
    local: bool  # inside a function, or under `if TYPE_CHECKING:`: not run at import time


# -- the modules and their imports ------------------------------------------------------------


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package (a package is its __init__.py)."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _resolve(node: ast.ImportFrom, source: str, is_package: bool) -> str:
    """The absolute module a ``from X import`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = source.split(".") if is_package else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.Import | ast.ImportFrom, source: str, is_package: bool, known) -> list[str]:
    """The ganforge modules one import statement names; ``from pkg import sub`` names the submodule."""
    if isinstance(node, ast.Import):
        return [_known_prefix(alias.name, known) for alias in node.names]
    base = _resolve(node, source, is_package)
    return [
        base + "." + alias.name if base + "." + alias.name in known else _known_prefix(base, known)
        for alias in node.names
    ]


def _known_prefix(name: str, known) -> str:
    # `import ganforge.x.y` or `from ganforge.x.y import Name`: the longest part that is a module
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, local: bool):
    """(import node, local) for every import under node; local once inside a def or TYPE_CHECKING (a class
    body runs at import time, so its imports are module level)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, local
        inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
        inner = inner or (isinstance(child, ast.If) and _type_checking(child))
        yield from _walk(child, inner)


def imports(root: Path = ROOT) -> list[Import]:
    known = modules(root)
    found = set()  # `from m import a, b` names m once
    for source, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, local in _walk(tree, local=False):
            for target in _targets(node, source, is_package, known):
                if target.startswith(PACKAGE) and target != source:
                    found.add(Import(source, target, path.relative_to(root), node.lineno, local))
    return sorted(found, key=lambda i: (str(i.path), i.line, i.target))


# -- cycles -----------------------------------------------------------------------------------


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm), each sorted."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def package_of(module: str) -> str:
    """ganforge.training.engines.jax.step -> ganforge.training; ganforge.errors -> ganforge.errors."""
    return ".".join(module.split(".")[:2])


def module_edges(found: list[Import], with_local: bool) -> set[tuple[str, str]]:
    """Who imports whom; the EXEMPT modules left out, as everything imports the package's __init__."""
    edges = {(i.source, i.target) for i in found if with_local or not i.local}
    return {(a, b) for a, b in edges if a not in EXEMPT and b not in EXEMPT}


def package_edges(found: list[Import], with_local: bool) -> set[tuple[str, str]]:
    edges = {(package_of(a), package_of(b)) for a, b in module_edges(found, with_local)}
    return {(a, b) for a, b in edges if a != b}


# -- the layer table --------------------------------------------------------------------------

_ROW = re.compile(r"^\|\s*(\d+)\s*\|([^|]*)\|")
_PATH = re.compile(r"`(ganforge/[\w/]*?)(?:\.py)?/?`")


def layer_table(markdown: str) -> dict[str, int]:
    """Module -> layer, from the rows of the markdown table whose first cell is a number.

    The second cell lists paths in backticks, ``ganforge/training/`` or ``ganforge/recipe.py``;
    a path covers its module and every module under it, and the longest path that covers a
    module decides its layer.
    """
    table = {}
    for line in markdown.splitlines():
        row = _ROW.match(line.strip())
        if row:
            for path in _PATH.findall(row.group(2)):
                table[path.strip("/").replace("/", ".")] = int(row.group(1))
    return table


def layer_of(module: str, table: dict[str, int]) -> int | None:
    name = module
    while name:
        if name in table:
            return table[name]
        name = name.rpartition(".")[0]
    return None


def unplaced(known, table: dict[str, int]) -> list[str]:
    """Modules no row of the table covers, EXEMPT aside."""
    return sorted(m for m in known if m not in EXEMPT and layer_of(m, table) is None)


def upward(found: list[Import], table: dict[str, int], exempt=()) -> list[tuple[Import, int, int]]:
    """(import, its layer, the imported layer) for each import of a higher layer."""
    bad = []
    for imp in found:
        if imp.source in exempt or imp.target in exempt:
            continue
        mine, theirs = layer_of(imp.source, table), layer_of(imp.target, table)
        if mine is not None and theirs is not None and theirs > mine:
            bad.append((imp, mine, theirs))
    return bad


def describe(imp: Import, mine: int, theirs: int) -> str:
    kind = " (function-local)" if imp.local else ""
    return f"{imp.path}:{imp.line}{kind}: {imp.source} (layer {mine}) imports {imp.target} (layer {theirs})"


# -- the report -------------------------------------------------------------------------------


def report(table_file: Path, root: Path = ROOT) -> int:
    found = imports(root)
    table = layer_table(table_file.read_text(encoding="utf-8"))
    for title, with_local in (("module level only", False), ("function-local included", True)):
        for unit, edges in (("modules", module_edges), ("packages", package_edges)):
            found_cycles = cycles(edges(found, with_local))
            print(f"cycles between {unit}, {title}: {len(found_cycles)}")
            for cycle in found_cycles:
                print("   ", " <-> ".join(cycle))
    bad = upward(found, table, EXEMPT)
    print(f"upward imports: {len(bad)} ({sum(i.local for i, _, _ in bad)} of them function-local)")
    for item in bad:
        print("   ", describe(*item))
    loose = unplaced(modules(root), table)
    print(f"modules in no layer: {len(loose)}", *loose, sep="\n    ")
    return 1 if bad or loose else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=ROOT / "CONTRIBUTING.md")
    parser.add_argument("--root", type=Path, default=ROOT, help="a checkout whose ganforge/ to read (another commit's)")
    arguments = parser.parse_args()
    sys.exit(report(arguments.table, arguments.root))
