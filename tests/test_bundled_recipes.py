"""Every recipe shipped in recipes/ validates, and those whose data ships here build."""

from pathlib import Path

import pytest

from ganforge.recipe import load_recipe
from ganforge.training.assembly import build_parts

ROOT = Path(__file__).resolve().parents[1] / "recipes"
RECIPES = sorted(ROOT.glob("**/*.toml"))  # with recipes/leaderboard/


def needs_classifier(path: Path) -> bool:
    """Their metrics use the digits classifier: trained once per test session, slow the first time."""
    return path.stem == "stacked_mnist" or path.parent.name == "leaderboard"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p, id=str(p.relative_to(ROOT).with_suffix("")), marks=[pytest.mark.slow] if needs_classifier(p) else []
        )
        for p in RECIPES
    ],
)
def test_bundled_recipe(path, request):
    if needs_classifier(path):
        request.getfixturevalue("feature_cache")  # the session's classifier, trained once for every worker
    recipe = load_recipe(path)
    # a recipe in a subfolder carries the folder's name in front: leaderboard/dcgan.toml is leaderboard_dcgan
    assert recipe.name == "_".join([*path.relative_to(ROOT).parent.parts, path.stem])
    if recipe.data["dataset"]["name"] == "celeba":
        return  # CelebA is not on this machine; tests/test_datasets.py trains it on a generated tree
    parts = build_parts(recipe)
    assert parts.generator.count_params() > 0
