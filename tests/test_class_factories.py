"""A component's factory may be a class: its parameters come from ``__init__`` exactly as a function's do,
with their types, so a mistyped recipe value is an error naming the key, for every kind of component."""

import types

import numpy as np
import pytest
import tomli_w
import tomllib
from conftest import TINY_RECIPE

from ganforge import hookimpl
from ganforge.data import DataSpec
from ganforge.errors import RecipeError
from ganforge.evaluation.features import build_feature_network
from ganforge.plugin.registry import HOOKS, Registry
from ganforge.recipe import load_recipe


class Generator:
    """Stands for a keras.Model subclass; only its parameters matter here."""

    def __init__(self, spec, latent_dim, width: int = 8):
        self.width = width


class Discriminator:
    def __init__(self, spec, dropout: float = 0.1):
        self.dropout = dropout


class Dataset:
    def __init__(self, size: int = 64, seed=0):  # unannotated: typed by its default
        self.spec, self.size, self.seed = DataSpec(2), size, seed

    def __len__(self):
        return self.size

    def read(self, indices):
        return np.zeros((len(indices), 2), np.float32)


class Loss:
    def __init__(self, a: float = -1.0, b: float = 1.0):
        self.a, self.b = a, b

    def discriminator_loss(self, real_logits, fake_logits): ...
    def generator_loss(self, fake_logits): ...


class Penalty:
    points = "real"

    def __init__(self, weight: float = 1.0, every: int = 1):
        self.weight, self.every = weight, every

    def from_gradients(self, gradients): ...


class Metric:
    def __init__(self, samples: int = 100):
        self.samples = samples

    def evaluate(self, context):
        return {"value": 0.0}


class Features:
    input_shape = (8, 8, 1)

    def __init__(self, dimensions: int = 4):
        self.dimensions = dimensions

    def describe(self):
        return "test"

    def __call__(self, images):
        return np.zeros((len(images), self.dimensions)), None


class Sink:
    def __init__(self, run_dir, file: str = "out.txt"):
        self.file = file


# kind -> (class, the recipe's key and its new value with one mistyped parameter, the key the error names, the type)
CASES = {
    "generator": (Generator, "generator", {"name": "cls_generator", "width": "wide"}, "generator.width", "int"),
    "discriminator": (
        Discriminator,
        "discriminator",
        {"name": "cls_discriminator", "dropout": "x"},
        "discriminator.dropout",
        "float",
    ),
    "dataset": (Dataset, "dataset", {"name": "cls_dataset", "seed": "zero"}, "dataset.seed", "int"),
    "loss": (Loss, "loss", {"name": "cls_loss", "a": "oops"}, "loss.a", "float"),
    "penalty": (Penalty, "penalty", {"name": "cls_penalty", "every": 1.5}, "penalty.every", "int"),
    "metric": (
        Metric,
        "eval",
        {"metrics": [{"name": "cls_metric", "samples": "all"}]},
        "eval.metrics[0].samples",
        "int",
    ),
    "sink": (Sink, "sinks", [{"name": "cls_sink", "file": 3}], "sinks[0].file", "str"),
}
CLASSES = {**{kind: case[0] for kind, case in CASES.items()}, "features": Features}


@pytest.fixture(scope="module")
def registry():
    module = types.ModuleType("class_factories")
    for kind, cls in CLASSES.items():
        setattr(module, HOOKS[kind], hookimpl(lambda register, kind=kind, cls=cls: register(f"cls_{kind}", cls)))
    registry = Registry.from_entry_points()
    plugin = registry.add_plugin("class_factories", lambda: module, package="test-class-factories")
    assert plugin.error is None, plugin.error
    return registry


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_mistyped_value_for_a_class_factory_names_the_key(registry, tmp_path, kind):
    _, section, value, key, _ = CASES[kind]
    recipe = tmp_path / "typed.toml"
    recipe.write_text(tomli_w.dumps({**tomllib.loads(TINY_RECIPE), section: value}), encoding="utf-8")
    with pytest.raises(RecipeError) as error:
        load_recipe(recipe, registry=registry)
    assert error.value.key == key and error.value.file == str(recipe)


def test_a_feature_network_class_is_checked_the_same_way(registry):
    with pytest.raises(ValueError, match=r"features.dimensions: Input should be a valid integer"):
        build_feature_network({"name": "cls_features", "dimensions": "many"}, registry)
    assert build_feature_network({"name": "cls_features", "dimensions": 3}, registry).dimensions == 3


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_plugins_show_gives_a_class_factorys_parameter_types(registry, kind):
    expected = CASES[kind][4] if kind in CASES else "int"
    shown = {row.name: row.type for row in registry.get(kind, f"cls_{kind}").describe_params()}
    assert expected in shown.values() and "Any" not in shown.values(), shown
