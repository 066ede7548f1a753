"""Recipes: extends chains, --set overrides, and errors that name file and key."""

from pathlib import Path

import pytest
from conftest import TINY_RECIPE, write

from ganforge.errors import RecipeError
from ganforge.recipe import load_recipe, parse_override


def test_defaults_are_filled_in(tiny_recipe):
    recipe = load_recipe(tiny_recipe)
    assert recipe.name == "tiny"
    assert recipe.data["train"]["d_steps"] == 1
    assert recipe.data["generator_optimizer"]["learning_rate"] == 2e-4
    assert recipe.data["loss"] == {"name": "nonsaturating"}
    assert recipe.data["dataset"] == {"name": "digits", "classes": [0, 1], "pad": 2}


def test_extends_is_relative_to_the_file_and_merges_key_by_key(tmp_path):
    write(tmp_path / "base" / "base.toml", TINY_RECIPE)
    child = write(
        tmp_path / "child.toml",
        """
        extends = "base/base.toml"
        name = "child"
        [train]
        steps = 9
    """,
    )
    recipe = load_recipe(child)
    assert recipe.name == "child"
    assert recipe.data["train"]["steps"] == 9
    assert recipe.data["train"]["batch_size"] == 16  # kept from the base
    assert recipe.data["generator"]["filters"] == [32, 16, 8]


def test_a_component_whose_name_changes_drops_the_old_parameters(tmp_path):
    write(tmp_path / "base.toml", TINY_RECIPE)
    child = write(
        tmp_path / "child.toml",
        """
        extends = "base.toml"
        [loss]
        name = "minimax"
        [dataset]
        name = "digits"
        pad = 0
    """,
    )
    recipe = load_recipe(child)
    assert recipe.data["loss"] == {"name": "minimax"}
    # same component name: parameters merge
    assert recipe.data["dataset"] == {"name": "digits", "classes": [0, 1], "pad": 0}


def test_extends_cycle_is_reported(tmp_path):
    write(tmp_path / "a.toml", 'extends = "b.toml"\n')
    write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(RecipeError, match="cycle") as error:
        load_recipe(tmp_path / "a.toml")
    assert error.value.key == "extends"


def test_extends_missing_file(tmp_path):
    path = write(tmp_path / "a.toml", 'extends = "nowhere.toml"\n')
    with pytest.raises(RecipeError, match="nowhere.toml") as error:
        load_recipe(path)
    assert error.value.file == str(path.resolve()) and error.value.key == "extends"


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("train.steps=200", ["train", "steps"], 200),
        ("generator_optimizer.learning_rate=1e-3", ["generator_optimizer", "learning_rate"], 1e-3),
        ("train.jit_compile=true", ["train", "jit_compile"], True),
        ('generator.preset="article"', ["generator", "preset"], "article"),
        ("generator.preset=article", ["generator", "preset"], "article"),
        ("dataset.classes=[1, 2]", ["dataset", "classes"], [1, 2]),
    ],
)
def test_set_values_are_toml_literals(text, key, value):
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("text", ["train.steps", "=5", "train..steps=1", "dataset.classes=[1,"])
def test_bad_set_is_an_error(text):
    with pytest.raises(RecipeError):
        parse_override(text)


def test_set_overrides_and_is_validated(tiny_recipe):
    recipe = load_recipe(tiny_recipe, ["train.steps=11", "generator.preset=article"])
    assert recipe.data["train"]["steps"] == 11
    assert recipe.data["generator"]["preset"] == "article"
    with pytest.raises(RecipeError) as error:
        load_recipe(tiny_recipe, ["train.steps=-1"])
    assert (error.value.file, error.value.key) == ("--set", "train.steps")


def _error(recipe_path, overrides=()):
    with pytest.raises(RecipeError) as error:
        load_recipe(recipe_path, list(overrides))
    return error.value


def test_unknown_key_suggests_the_closest(tiny_recipe):
    error = _error(tiny_recipe, ["train.step=5"])
    assert error.key == "train.step" and "did you mean 'steps'" in error.message


def test_unknown_component_parameter_names_the_key(tmp_path):
    path = write(
        tmp_path / "r.toml",
        TINY_RECIPE.replace('preset = "radford"\nfilters = [32, 16, 8]', 'preset = "radford"\nfliters = [1]'),
    )
    error = _error(path)
    assert (error.file, error.key) == (str(path.resolve()), "generator.fliters")
    assert "did you mean 'filters'" in error.message


def test_wrong_type_names_file_and_key(tmp_path):
    path = write(tmp_path / "r.toml", TINY_RECIPE.replace("batch_size = 16", 'batch_size = "16"'))
    error = _error(path)
    assert (error.file, error.key) == (str(path.resolve()), "train.batch_size")


def test_negative_steps(tmp_path):
    path = write(tmp_path / "r.toml", TINY_RECIPE.replace("steps = 6", "steps = -6"))
    error = _error(path)
    assert error.key == "train.steps" and "greater than 0" in error.message


def test_error_in_a_base_recipe_names_the_base(tmp_path):
    base = write(tmp_path / "base.toml", TINY_RECIPE.replace("latent_dim = 16", "latent_dim = 0"))
    child = write(tmp_path / "child.toml", 'extends = "base.toml"\nname = "c"\n')
    error = _error(child)
    assert (error.file, error.key) == (str(base.resolve()), "train.latent_dim")


def test_unknown_component_suggests_names(tmp_path):
    path = write(tmp_path / "r.toml", TINY_RECIPE.replace('name = "digits"', 'name = "digit"'))
    error = _error(path)
    assert error.key == "dataset.name" and "did you mean 'digits'" in error.message


def test_the_celeba_recipe_is_exactly_the_article():
    recipe = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "dcgan_celeba.toml")
    data = recipe.data
    assert data["generator"]["preset"] == data["discriminator"]["preset"] == "article"
    assert (data["train"]["batch_size"], data["train"]["steps"], data["train"]["d_steps"]) == (32, 100_000, 1)
    for side in ("generator_optimizer", "discriminator_optimizer"):
        assert (data[side]["learning_rate"], data[side]["beta_1"]) == (2e-4, 0.9)
    assert (data["dataset"]["crop"], data["dataset"]["resolution"], data["dataset"]["split"]) == ("none", 64, "all")
    assert data["loss"]["name"] == "nonsaturating"


def test_missing_file_and_bad_toml(tmp_path):
    assert "no such recipe file" in _error(tmp_path / "absent.toml").message
    broken = write(tmp_path / "broken.toml", "[train\nsteps = 1\n")
    error = _error(broken)
    assert error.file == str(broken.resolve()) and "not valid TOML" in error.message


def test_bundled_recipes_are_found_by_name():
    assert load_recipe("quickstart").name == "quickstart"


def test_resolved_recipe_round_trips(tiny_recipe, tmp_path):
    recipe = load_recipe(tiny_recipe)
    saved = write(tmp_path / "saved.toml", recipe.to_toml())
    assert load_recipe(saved).data == recipe.data


def test_a_missing_path_that_names_a_bundled_recipe_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the checkout: recipes/quickstart.toml is not here
    with pytest.raises(RecipeError, match=r"no such recipe file; .* use 'quickstart' \(ganforge run quickstart\)"):
        load_recipe("recipes/quickstart.toml")
    with pytest.raises(RecipeError, match="did you mean the bundled recipe 'quickstart'"):
        load_recipe("quickstrat")
    with pytest.raises(RecipeError, match=r"no such recipe file$"):
        load_recipe("nothing-like-it.toml")
    assert load_recipe("quickstart").name == "quickstart"
