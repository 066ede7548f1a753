"""Every name the docs tell a plugin author to import exists, and 0.1's module paths still import."""

import importlib
import re
import warnings
from pathlib import Path

import pytest

from ganforge.moved import MOVED

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    ROOT / "CONTRIBUTING.md",
    *sorted((ROOT / "docs").rglob("*.md")),
    *sorted((ROOT / "docs" / "examples").rglob("*.py")),
    *sorted((ROOT / "ganforge" / "plugin" / "scaffold" / "templates").glob("*.tmpl")),
]
FROM_IMPORT = re.compile(r"^\s*from (ganforge(?:\.\w+)*) import ([\w, ]+)", re.M)
DOTTED = re.compile(r"`(ganforge(?:\.\w+)+)")
TESTING_CHECK = re.compile(r"`((?:check_\w+)|train_briefly)\(")


def mentioned() -> set[tuple[str, str]]:
    """(module, name) for each ``from ganforge... import name``, each `ganforge.x.Name` in backticks and each
    `check_...(` of ganforge.testing; old 0.1 paths the docs mention as such are left to the test below."""
    found = set()
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for module, names in FROM_IMPORT.findall(text):
            found.update((module, name.strip()) for name in names.split(",") if name.strip())
        for dotted in DOTTED.findall(text):
            if dotted not in MOVED:
                module, _, name = dotted.rpartition(".")
                found.add((module, name))
        found.update(("ganforge.testing", name) for name in TESTING_CHECK.findall(text))
    return found


def resolve(module: str, name: str):
    """``module.name`` as Python finds it: an attribute, or a submodule."""
    try:
        return getattr(importlib.import_module(module), name)
    except AttributeError:
        return importlib.import_module(f"{module}.{name}")


def test_the_docs_mention_public_names():
    names = mentioned()
    assert {("ganforge", "hookimpl"), ("ganforge.data", "DataSpec"), ("ganforge.testing", "check_loss")} <= names
    assert ("ganforge.plugin.contract", "Loss") in names


@pytest.mark.parametrize("module, name", sorted(mentioned()))
def test_each_name_the_docs_mention_imports(module, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the docs teach the current paths, not the moved ones
        assert resolve(module, name) is not None


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_a_module_path_of_0_1_gives_the_module_that_moved(old, new):
    with pytest.warns(DeprecationWarning, match=new):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__spec__.name == new  # the real module's own spec, not the alias's


NAMES_0_1 = {
    # what the 0.1 docs, scaffold and built-in plugins imported, by the paths they used
    "ganforge.hookspecs": ["hookimpl", "CONTRACT_VERSION"],
    "ganforge.registry": ["Registry", "get_registry"],
    "ganforge.features": ["FeaturesParam", "Features", "NetworkSlot", "extract", "to_unit_range"],
    "ganforge.datacache": ["CachedImageDataset", "FolderSource", "ZipSource", "open_zip", "default_cache_root"],
    "ganforge.dataparams": ["CachedImageParams"],
    "ganforge.imagefiles": ["Preprocess", "IMAGE_SUFFIXES"],
    "ganforge.data": ["DataSpec", "ArrayDataset", "BatchSampler", "size_without_preparing", "Dataset"],
    "ganforge.recipe": ["tomllib", "load_recipe"],
    "ganforge.training.loop": ["train"],
}


@pytest.mark.parametrize("module, name", [(module, name) for module, names in NAMES_0_1.items() for name in names])
def test_names_plugins_imported_from_0_1_still_import(module, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert resolve(module, name) is not None
