"""The layer rule of CONTRIBUTING.md holds: no module of ganforge/ imports one of a higher layer.

The table in CONTRIBUTING.md ("How the tree is laid out") is the one source of the layers; this
test reads it and the source (ast only: nothing is imported, so it takes well under a second).
Imports inside functions count too: they are how a seam between layers gets hidden.

Two modules are outside the layers (``EXEMPT`` in scripts/import_layers.py): ``ganforge/__init__.py``,
which Python runs before any module of the package whichever is imported, so importing it orders
nothing; and ``ganforge/moved.py``, whose job is to point 0.1's paths at modules of every layer.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    spec = importlib.util.spec_from_file_location("import_layers", ROOT / "scripts" / "import_layers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


layers = _load_script()
TABLE = layers.layer_table((ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8"))
FIX = (
    "import it from a module in its own layer or below, or move the code to where the table puts it; "
    "if the layering itself should change, change the table in CONTRIBUTING.md in the same commit"
)


@pytest.fixture(scope="module")
def found():
    return layers.imports(ROOT)


def test_the_table_is_read_from_contributing():
    assert layers.layer_of("ganforge.training.trainer", TABLE) > layers.layer_of("ganforge.runs.folder", TABLE)
    assert layers.layer_of("ganforge.plugin.contract", TABLE) < layers.layer_of("ganforge.plugin.registry", TABLE)


def test_each_path_in_the_table_exists():
    known = layers.modules(ROOT)
    stale = [name for name in TABLE if name not in known]
    assert not stale, f"CONTRIBUTING.md's layer table names modules that do not exist: {stale}"


def test_every_module_has_a_layer():
    loose = layers.unplaced(layers.modules(ROOT), TABLE)
    assert not loose, f"no row of CONTRIBUTING.md's layer table covers {loose}: add each to the layer it belongs to"


def test_no_module_imports_a_higher_layer(found):
    bad = [layers.describe(*item) for item in layers.upward(found, TABLE, layers.EXEMPT)]
    assert not bad, f"{len(bad)} import(s) against the layer table ({FIX}):\n" + "\n".join(bad)


@pytest.mark.parametrize("unit", ["modules", "packages"])
def test_no_import_cycles_at_module_level(found, unit):
    # Cycles through imports inside functions are left to the layers: within one layer they are allowed
    # (ganforge/data/ and plugin/contract.py name each other's types), across layers the test above fails.
    edges = layers.module_edges if unit == "modules" else layers.package_edges
    cycles = layers.cycles(edges(found, with_local=False))
    assert not cycles, f"{unit} that import each other when imported: {cycles}"


# -- the checker itself, on a tree made here -------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_imports_inside_functions_relative_ones_and_submodules_are_seen(tmp_path):
    root = _tree(
        tmp_path,
        {
            "ganforge/__init__.py": "",
            "ganforge/low/__init__.py": "from . import helper\n",
            "ganforge/low/helper.py": "def later():\n    from ..high import top\n",
            "ganforge/high/__init__.py": "",
            "ganforge/high/top.py": "from ganforge.low import helper\nimport ganforge.low.helper as h\n",
        },
    )
    table = layers.layer_table("| 0 | `ganforge/low/` |\n| 1 | `ganforge/high/` |\n")
    found = layers.imports(root)
    assert {(i.source, i.target, i.local) for i in found} == {
        ("ganforge.low", "ganforge.low.helper", False),
        ("ganforge.low.helper", "ganforge.high.top", True),
        ("ganforge.high.top", "ganforge.low.helper", False),
    }
    [(imp, mine, theirs)] = layers.upward(found, table)
    message = layers.describe(imp, mine, theirs)
    assert message == (
        "ganforge/low/helper.py:2 (function-local): ganforge.low.helper (layer 0) imports ganforge.high.top (layer 1)"
    )
    assert layers.cycles(layers.module_edges(found, with_local=True)) == [["ganforge.high.top", "ganforge.low.helper"]]
    assert layers.cycles(layers.module_edges(found, with_local=False)) == []


def test_the_longest_path_decides_a_layer():
    table = layers.layer_table("| 1 | `ganforge/plugin/contract.py` |\n| 2 | `ganforge/plugin/` |\n")
    assert layers.layer_of("ganforge.plugin.contract", table) == 1
    assert layers.layer_of("ganforge.plugin.registry", table) == 2
    assert layers.layer_of("ganforge.recipe", table) is None
