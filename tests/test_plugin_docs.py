"""Every example in docs/plugins.md is a working plugin: extracted from the page, registered, checked, used."""

import re
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_RECIPE, write

from ganforge import testing
from ganforge.data import ArrayDataset, DataSpec
from ganforge.plugin.registry import KINDS, Registry
from ganforge.recipe import load_recipe
from ganforge.runs import folder as run_folder
from ganforge.training.trainer import train

PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
# "<!-- example: KIND -->" or "<!-- example: KIND-VARIANT -->" above a python block
EXAMPLES = dict(re.findall(r"<!-- example: ([\w-]+) -->\s*```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S))


def load(example):
    """A registry with the built-ins and the page's ``example`` as one more plugin."""
    module = types.ModuleType(f"docs_plugins_{example.replace('-', '_')}")
    exec(compile(EXAMPLES[example], f"{PAGE}:{example}", "exec"), module.__dict__)
    registry = Registry.from_entry_points()
    plugin = registry.add_plugin(f"docs_{example}", lambda: module, package="docs-example")
    assert plugin.error is None and plugin.contract == 1, plugin.error
    (component,) = plugin.components
    assert component.kind == example.partition("-")[0]
    return registry, component


def test_the_page_has_an_example_for_every_hook():
    assert {example.partition("-")[0] for example in EXAMPLES} == set(KINDS)


def test_the_dataset_example_keeps_the_contract_and_trains(tmp_path):
    registry, component = load("dataset")
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 1), dtype=np.uint8)
    np.savez(tmp_path / "faces.npz", images=images)
    testing.check_dataset(component.load_factory(), path=str(tmp_path / "faces.npz"))
    with pytest.raises(ValueError, match="has no 'images' array"):
        np.savez(tmp_path / "other.npz", pictures=images)
        component.load_factory()(path=str(tmp_path / "other.npz"))
    overrides = [
        f'dataset={{ name = "npz_images", path = "{tmp_path / "faces.npz"}" }}',
        'sinks=["jsonl"]',
        "train.steps=2",
    ]
    recipe = load_recipe(write(tmp_path / "tiny.toml", TINY_RECIPE), overrides, registry=registry)
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    assert train(recipe, run, registry=registry).step == 2


def test_the_generator_and_discriminator_examples_keep_the_contract():
    _, generator = load("generator")
    _, discriminator = load("discriminator")
    testing.check_generator(generator.load_factory(), DataSpec(16, 16, 3), hidden=8)
    testing.check_discriminator(discriminator.load_factory(), DataSpec(16, 16, 3), filters=4)
    assert [row.name for row in generator.describe_params()] == ["hidden"]


def test_the_loss_and_penalty_examples_keep_the_contract():
    testing.check_loss(load("loss")[1].load_factory())
    testing.check_penalty(load("penalty")[1].load_factory(), target=0.5)


def test_the_relativistic_loss_example_keeps_the_contract_and_trains(tmp_path):
    registry, component = load("loss-relativistic")
    testing.check_loss(component.load_factory())
    recipe = load_recipe(
        write(tmp_path / "tiny.toml", TINY_RECIPE),
        ['loss={ name = "ralsgan" }', 'sinks=["jsonl"]', "train.steps=2"],
        registry=registry,
    )
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    assert train(recipe, run, registry=registry).step == 2


def test_the_generator_penalty_example_keeps_the_contract():
    penalty = testing.check_generator_penalty(load("generator_penalty")[1].load_factory(), weight=1.0)
    assert (penalty.every, penalty.batch_shrink, penalty.state) == (4, 2, {"mean": 0.0})


def test_the_metric_and_feature_network_examples_keep_the_contract():
    dataset = ArrayDataset(np.random.default_rng(0).integers(0, 256, (100, 8, 8, 1), dtype=np.uint8))
    results = testing.check_metric(load("metric")[1].load_factory(), dataset, samples=100)
    assert results["distance"] == pytest.approx(0.0)  # the data against itself
    testing.check_feature_network(load("features")[1].load_factory(), dimensions=8)


def test_the_sink_example_writes_its_file(tmp_path):
    testing.check_sink(load("sink")[1].load_factory(), tmp_path)
    assert (tmp_path / "scalars.csv").read_text().splitlines()[0] == "2,loss/generator,0.5"


def test_the_command_example_counts_runs(tmp_path, capsys):
    count = load("command")[1].load_factory()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "recipe.toml").write_text("")
    count(str(tmp_path))
    assert capsys.readouterr().out.strip() == "2"
