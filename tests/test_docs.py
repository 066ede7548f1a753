"""The recipe reference documents every key the recipe schema accepts."""

from pathlib import Path

import pytest

from ganforge.recipe import (
    AugmentConfig,
    ConditionConfig,
    DistributeConfig,
    EvalConfig,
    OptimizerConfig,
    RecipeModel,
    TrainConfig,
)

REFERENCE = (Path(__file__).resolve().parents[1] / "docs" / "recipes.md").read_text()


@pytest.mark.parametrize(
    "model", [RecipeModel, TrainConfig, OptimizerConfig, EvalConfig, DistributeConfig, AugmentConfig, ConditionConfig]
)
def test_every_key_is_in_the_recipe_reference(model):
    missing = [
        name for name in model.model_fields if f"| `{name}` |" not in REFERENCE and f"`[{name}]`" not in REFERENCE
    ]
    assert not missing, f"docs/recipes.md does not document {missing}"


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "page", sorted(p.relative_to(ROOT).as_posix() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
)
def test_every_relative_link_and_image_in_the_docs_exists(page):
    import re

    path = ROOT / page
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text())
    missing = [t for t in targets if "://" not in t and not (path.parent / t).exists()]
    assert not missing, f"{page} links to missing files: {missing}"
