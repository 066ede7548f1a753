"""The recipe reference documents every key the recipe schema accepts."""
from pathlib import Path

import pytest

from ganforge.recipe import OptimizerConfig, RecipeModel, TrainConfig

REFERENCE = (Path(__file__).resolve().parents[1] / "docs" / "recipes.md").read_text()


@pytest.mark.parametrize("model", [RecipeModel, TrainConfig, OptimizerConfig])
def test_every_key_is_in_the_recipe_reference(model):
    missing = [name for name in model.model_fields if f"| `{name}` |" not in REFERENCE and f"`[{name}]`" not in REFERENCE]
    assert not missing, f"docs/recipes.md does not document {missing}"
