"""The R3GAN plugin: equal to the official PyTorch networks (tests/r3gan_equivalence.py, numbers from
scripts/r3gan_reference.py), initialised as they are, the paper's parameter counts, the official-layout
loader, its recipe trained, resumed bit for bit and continued on JAX, and its bad parameters refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import r3gan_equivalence as equivalence
from conftest import assert_user_error, invoke_cli, write
from torch_files import save_state_dict

from ganforge import testing
from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
from ganforge.errors import ParameterError
from ganforge.plugin.registry import get_registry
from ganforge_r3gan import layers, networks, official

HERE = Path(__file__).resolve().parent
DIGITS = HERE.parent / "recipes" / "r3gan_digits.toml"
TOLERANCE = 1e-5  # relative, per tensor: ||ours - official|| / ||official||


@pytest.fixture(scope="module")
def reference():
    return equivalence.reference()


def assert_equal_to_the_official(found: dict[str, float], conditional: bool) -> None:
    worst = max(found, key=found.get)
    assert found[worst] <= TOLERANCE, f"{worst}: relative error {found[worst]:.2e}"
    # every weight's gradient of each of the five quantities was compared, on both networks
    g, d = equivalence.build(equivalence.reference(), conditional)
    assert len(found) == 6 + 4 * len(official.weights(d)) + len(official.weights(g))


def test_outputs_equal_the_official_networks(reference):
    """G's images and D's logits from the official state dict (the fast loop's share of the proof)."""
    generator, discriminator = equivalence.loaded(reference, conditional=False)
    fake = np.asarray(generator(reference["inputs/z"]))
    np.testing.assert_allclose(fake, equivalence.nhwc(reference["out/fake"]), rtol=0, atol=1e-5)
    logits = np.asarray(discriminator(equivalence.nhwc(reference["inputs/real"])))
    np.testing.assert_allclose(logits[:, 0], reference["out/d_real"], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("conditional", [False, True], ids=["unconditional", "conditional"])
def test_outputs_and_gradients_equal_the_official_code_on_tensorflow(reference, conditional):
    assert_equal_to_the_official(equivalence.errors(reference, conditional), conditional)


@pytest.mark.slow
def test_outputs_and_gradients_equal_the_official_code_on_jax():
    """The conditional networks, which hold every layer of the unconditional ones and the label paths
    (both are compared on TensorFlow; ``python tests/r3gan_equivalence.py`` under JAX runs both)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(HERE)}
    script = [sys.executable, str(HERE / "r3gan_equivalence.py"), "conditional"]
    done = subprocess.run(script, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_equal_to_the_official(json.loads(done.stdout)["conditional"], True)


def fresh(reference):
    """Newly initialised networks (any draw: the check allows for sampling, at 6 standard errors)."""
    return equivalence.build(reference, conditional=False, prefix="config/init")


def test_initialisation_is_the_officials(reference):
    """Every tensor drawn with the official code's spread (the fix-up gains, L = total blocks), each block's
    last convolution and every bias at zero, so that each block starts as the identity."""
    generator, discriminator = fresh(reference)
    assert equivalence.init_mismatches(reference, "G", generator) == []
    assert equivalence.init_mismatches(reference, "D", discriminator) == []


@pytest.mark.slow
def test_the_initialisation_check_fails_a_wrong_gain_or_a_missing_zero_init(reference, monkeypatch):
    """Mutations of the initialisation, made the way a porting slip would make them, are caught."""
    with monkeypatch.context() as patch:
        patch.setattr(layers, "ACTIVATION_GAIN", 1.0)  # the leaky ReLU's gain forgotten
        generator, _ = fresh(reference)
        wrong = equivalence.init_mismatches(reference, "G", generator)
        assert wrong and all("LinearLayer1" in key or "LinearLayer2" in key for key in wrong)
    with monkeypatch.context() as patch:
        patch.setattr(
            layers, "msr", lambda gain, fan_in: keras.initializers.RandomNormal(0.0, (gain or 1) / fan_in**0.5)
        )
        _, discriminator = fresh(reference)
        wrong = equivalence.init_mismatches(reference, "D", discriminator)
        assert wrong and all("LinearLayer3" in key for key in wrong)
    with monkeypatch.context() as patch:  # the gain taken per stage (L = 2 here) instead of over all 6 blocks
        patch.setattr(layers.ResidualBlock, "__init__", _blocks_per_stage(layers.ResidualBlock.__init__))
        generator, _ = fresh(reference)
        assert equivalence.init_mismatches(reference, "G", generator)


def _blocks_per_stage(init):
    def mutated(self, groups, expansion, total_blocks, **kwargs):
        init(self, groups, expansion, 2, **kwargs)

    return mutated


def test_a_forward_slip_fails_the_comparison(reference, monkeypatch):
    """The comparison is tight enough to see an upsampling filter with the wrong gain."""
    original = layers.lowpass_kernel
    monkeypatch.setattr(layers, "lowpass_kernel", lambda channels, gain, dtype: original(channels, gain * 0.99, dtype))
    generator, _ = equivalence.loaded(reference, conditional=False)
    fake = np.asarray(generator(reference["inputs/z"]))
    assert equivalence._relative(fake, equivalence.nhwc(reference["out/fake"])) > 100 * TOLERANCE


@pytest.mark.slow
def test_the_presets_have_the_official_parameter_counts(reference):
    classes = LabelSpec("classes", tuple(str(i) for i in range(10)))
    for preset, side, condition, name in [
        ("cifar10", 32, classes, "cifar10_cond"),
        ("ffhq64", 64, None, "ffhq64"),
    ]:
        spec = DataSpec(side, side, 3)
        arch = networks.architecture(spec, preset, None, None, None, 2)
        generator = networks.build_generator(spec, 64, arch, condition)
        assert generator.count_params() == int(reference[f"count/{name}/G"]), name
        discriminator = networks.build_discriminator(spec, arch.reversed(), condition)
        assert discriminator.count_params() == int(reference[f"count/{name}/D"]), name
        del generator, discriminator
        keras.backend.clear_session()


@pytest.mark.slow
def test_the_contract_holds_conditioned_on_classes_and_on_flags():
    registry = get_registry()
    generator = registry.get("generator", "r3gan").load_factory()
    discriminator = registry.get("discriminator", "r3gan").load_factory()
    spec = DataSpec(16, 16, 3)
    for condition in (LabelSpec("classes", ("a", "b", "c")), LabelSpec("attributes", ("x", "y"))):
        testing.check_generator(generator, spec, latent_dim=8, condition=condition, width=8, groups=2)
        testing.check_discriminator(discriminator, spec, condition=condition, width=8, groups=2)


def official_file(tmp_path: Path, reference, player: str, change=None) -> Path:
    prefix = f"state/{player}/"
    tensors = {"Model." + key[len(prefix) :]: value for key, value in reference.items() if key.startswith(prefix)}
    if change:
        change(tensors)
    return save_state_dict(tmp_path / f"{player}.pth", tensors)


def test_official_weights_are_read_from_a_pth_file_without_unpickling_code(reference, tmp_path):
    """A torch.save file of the official state dict (keys with the wrapper's ``Model.``) loads, and the
    plugin's official_weights parameter refuses one made for other blocks than the recipe's, at that key."""
    path = official_file(tmp_path, reference, "G")
    generator, _ = equivalence.build(reference, conditional=False)
    official.load(generator, official.read(path), path.name)
    fake = np.asarray(generator(reference["inputs/z"]))
    np.testing.assert_allclose(fake, equivalence.nhwc(reference["out/fake"]), rtol=0, atol=1e-5)
    factory = get_registry().get("generator", "r3gan").load_factory()
    with pytest.raises(ParameterError, match="not the state dict of this network") as refused:
        factory(
            DataSpec(16, 16, 3), 8, width=32, groups=4, official_weights=str(path)
        )  # 1 block per stage, not 1, 2, 1
    assert refused.value.key == "official_weights"


@pytest.mark.slow
def test_a_file_for_another_network_is_refused_and_nothing_is_loaded(reference, tmp_path):
    generator, _ = equivalence.build(reference, conditional=False)
    before = [np.asarray(v).copy() for v in generator.weights]

    def wrong_shape(tensors):
        tensors["Model.AggregationLayer.Layer.weight"] = np.zeros((3, 8, 1, 1), np.float32)

    def other_filter(tensors):
        tensors["Model.MainLayers.1.Layers.0.Resampler.Kernel"] = np.full((4, 4), 1 / 16, np.float32)

    for change, message in [
        (wrong_shape, "AggregationLayer.Layer.weight has shape (3, 8, 1, 1)"),
        (other_filter, "not the [1, 3, 3, 1] filter"),
        (lambda t: t.pop("Model.MainLayers.2.Layers.1.NonLinearity1.Bias"), "1 it needs missing"),
    ]:
        path = official_file(tmp_path, reference, "G", change)
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            official.load(generator, official.read(path), "G.pth")
        assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, generator.weights))


def test_bad_parameters_are_refused_naming_the_key(tmp_path):
    check = ["recipe", "check", str(DIGITS)]
    result = invoke_cli(*check, "--set", "generator.groups=7", cwd=tmp_path)
    assert_user_error(result, "generator.groups", "groups = 7 does not divide")
    result = invoke_cli(*check, "--set", 'discriminator.preset="ffhq64"', cwd=tmp_path)
    assert_user_error(result, "discriminator.preset", "makes 64x64 images", "32x32")
    missing = tmp_path / "nowhere.pth"
    result = invoke_cli(*check, "--set", f"generator.official_weights={json.dumps(str(missing))}", cwd=tmp_path)
    assert_user_error(result, "generator.official_weights", "nowhere.pth")
    assert_user_error(invoke_cli(*check, "--set", "generator.width=0", cwd=tmp_path), "generator.width")


def test_plugins_show_lists_the_parameters(tmp_path):
    result = invoke_cli("plugins", "--show", "r3gan", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("preset", "width", "groups", "blocks", "expansion", "official_weights", "cifar10", "ffhq64"):
        assert name in result.stdout


TINY = """
extends = "{digits}"
name = "r3gan_tiny"

[dataset]
name = "digits"
limit = 64

[generator]
width = 8
groups = 2

[discriminator]
width = 8
groups = 2

[train]
batch_size = 8
log_every = 1
sample_every = 100
"""


@pytest.mark.slow
def test_the_recipe_trains_resumes_bit_for_bit_and_continues_on_jax(tmp_path):
    """The digits recipe (schedules, ADA's colour group, R1 + R2, EMA as a half-life) at a tiny width:
    4 steps straight, and 2 + 2 with a resume, give the same weights bit for bit; the step-2 checkpoint
    continued on JAX gives the same weights to float tolerance."""
    from test_jax import losses, tensorflow_then_jax, weights

    from ganforge.recipe import load_recipe
    from ganforge.training.trainer import train

    text = TINY.format(digits=DIGITS.as_posix())
    out = tensorflow_then_jax(tmp_path, {"r3gan": []}, then={"r3gan": []}, recipe_text=text)
    straight = tmp_path / "straight"
    straight.mkdir()
    settings = ['sinks=["jsonl"]', "train.checkpoint_every=1", "train.steps=4"]
    train(load_recipe(write(tmp_path / "straight.toml", text), settings), straight)
    resumed, whole = weights(out / "r3gan", 4), weights(straight, 4)
    assert resumed.keys() == whole.keys()
    for key in whole:
        np.testing.assert_array_equal(resumed[key], whole[key], err_msg=key)
    on_jax = weights(out / "r3gan-jax", 4)
    for key in whole:
        np.testing.assert_allclose(on_jax[key], whole[key], rtol=1e-3, atol=1e-5, err_msg=key)
    np.testing.assert_allclose(losses(out / "r3gan-jax")[-2:], losses(straight)[-2:], rtol=2e-4, atol=1e-5)


@pytest.mark.slow
def test_the_cifar10_recipe_trains_on_a_folder_of_class_folders(tmp_path, monkeypatch):
    """The paper's recipe as shipped, smoke-tested on generated 32x32 PNGs in two class folders (CIFAR-10
    cannot be downloaded here), its networks narrowed: every key of it builds and a step trains."""
    from PIL import Image

    from ganforge.recipe import load_recipe
    from ganforge.training.trainer import train

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    for label in ("airplane", "automobile"):
        (tmp_path / "cifar" / label).mkdir(parents=True)
        for index in range(8):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "cifar" / label / f"{index}.png")
    narrow = [
        f"{side}.{key}={value}"
        for side in ("generator", "discriminator")
        for key, value in (("width", 16), ("groups", 2))
    ]
    settings = [
        f"dataset.root={json.dumps(str(tmp_path / 'cifar'))}",
        "train.batch_size=4",
        "train.steps=2",
        "train.log_every=1",
        *narrow,
    ]
    recipe = load_recipe(HERE.parent / "recipes" / "r3gan_cifar10.toml", [*settings, 'sinks=["jsonl"]'])
    (tmp_path / "run").mkdir()
    assert train(recipe, tmp_path / "run").step == 2
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2]
    assert all(np.isfinite([r["loss/discriminator"], r["loss/generator"]]).all() for r in records)
