"""Every recipe shipped in recipes/ validates, and those whose data ships here build."""

from pathlib import Path

import pytest

from ganforge.recipe import load_recipe
from ganforge.training.assembly import build_parts

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml"))
SLOW = {"stacked_mnist"}  # its metric trains the digits classifier


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW else []) for p in RECIPES]
)
def test_bundled_recipe(path, request):
    if path.stem in SLOW:
        request.getfixturevalue("feature_cache")  # the session's classifier, trained once for every worker
    recipe = load_recipe(path)
    assert recipe.name == path.stem
    if recipe.data["dataset"]["name"] == "celeba":
        return  # CelebA is not on this machine; tests/test_datasets.py trains it on a generated tree
    parts = build_parts(recipe)
    assert parts.generator.count_params() > 0
