"""Every recipe shipped in recipes/ validates, and those whose data ships here build."""

from pathlib import Path

import pytest

from ganforge.plugin import params
from ganforge.plugin.build import find
from ganforge.plugin.registry import get_registry
from ganforge.recipe import load_recipe
from ganforge.training.assembly import build_parts

ROOT = Path(__file__).resolve().parents[1] / "recipes"
RECIPES = sorted(ROOT.glob("**/*.toml"))  # with recipes/leaderboard/


def is_leaderboard_variant(path: Path) -> bool:
    """A leaderboard row that changes components of leaderboard/dcgan.toml (built in full) and nothing else."""
    return path.parent.name == "leaderboard" and path.stem != "dcgan"


def validate_components(recipe) -> None:
    """Every component's parameters checked as a build would, without building the networks."""
    registry = get_registry()
    for kind in ("dataset", "generator", "discriminator", "loss"):
        values = {key: value for key, value in recipe.data[kind].items() if key not in ("name", "limit")}
        component = find(registry, kind, recipe.data[kind]["name"], recipe.location(kind))
        params.validate(component.params, values, recipe.location(kind))


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(ROOT).with_suffix("")) for p in RECIPES])
def test_bundled_recipe(path):
    recipe = load_recipe(path)
    # a recipe in a subfolder carries the folder's name in front: leaderboard/dcgan.toml is leaderboard_dcgan
    assert recipe.name == "_".join([*path.relative_to(ROOT).parent.parts, path.stem])
    if recipe.data["dataset"]["name"] == "celeba":
        return  # CelebA is not on this machine; tests/test_datasets.py trains it on a generated tree
    if recipe.data["dataset"]["name"] == "images":
        return validate_components(recipe)  # a folder of the user's: test_r3gan.py trains one it generates
    if is_leaderboard_variant(path):
        return validate_components(recipe)  # what they change trains in their own tests (sngan, augment, models)
    parts = build_parts(recipe)
    assert parts.generator.count_params() > 0
