"""The engine: determinism, exact resume, the run folder, shape checks."""

import json
import shutil
import types

import numpy as np
import pytest
from conftest import TINY_RECIPE, write
from PIL import Image

from ganforge import hookimpl
from ganforge.errors import RecipeError
from ganforge.plugin.registry import Registry
from ganforge.recipe import load_recipe
from ganforge.runs import checkpoint
from ganforge.runs import folder as run_folder
from ganforge.training.assembly import build_parts
from ganforge.training.trainer import train


def start_run(recipe_path, tmp_path, overrides=()):
    recipe = load_recipe(recipe_path, list(overrides))
    folder = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    return recipe, folder


def read_metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def losses(records):
    return [(r["step"], r["loss/discriminator"], r["loss/generator"]) for r in records]


def saved_arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files if key != checkpoint.HEADER_KEY}


def test_same_seed_gives_the_same_losses_at_every_step(tiny_recipe, tiny_run, tmp_path):
    """A second run of the tiny recipe logs the first one's losses, step for step; another seed logs others."""
    again = train(*start_run(tiny_recipe, tmp_path / "b"))
    first_losses = losses(read_metrics(tiny_run))
    assert len(first_losses) == 6
    assert losses(read_metrics(again.run_dir)) == first_losses
    assert len({loss for _, loss, _ in first_losses}) > 1  # it trained: losses moved
    other_seed = train(*start_run(tiny_recipe, tmp_path / "c", ["seed=8"]))
    assert losses(read_metrics(other_seed.run_dir)) != first_losses


def test_resume_continues_exactly_as_an_uninterrupted_run(tiny_run, tmp_path):
    """A copy of the tiny run dies after step 6 was recorded but before its checkpoint was written: resumed
    from step 3, it ends with the uninterrupted run's weights, and its records are the uninterrupted run's."""
    folder = shutil.copytree(tiny_run, tmp_path / "died")
    (folder / run_folder.CHECKPOINTS / "step_00000006.npz").unlink()
    # records past its last checkpoint (steps 4 to 6), and one more the run never reached
    with open(folder / "metrics.jsonl", "a") as file:
        file.write(json.dumps({"step": 7, "loss/discriminator": 99.0}) + "\n")
    start = folder / run_folder.CHECKPOINTS / "step_00000003.npz"
    resumed = train(load_recipe(folder / "recipe.toml"), folder, resume_from=start)

    whole = tiny_run / run_folder.CHECKPOINTS / "step_00000006.npz"
    assert resumed.checkpoint.name == whole.name
    whole_arrays, resumed_arrays = saved_arrays(whole), saved_arrays(resumed.checkpoint)
    assert whole_arrays.keys() == resumed_arrays.keys()
    for key in whole_arrays:
        np.testing.assert_array_equal(whole_arrays[key], resumed_arrays[key], err_msg=key)
    assert losses(read_metrics(folder)) == losses(read_metrics(tiny_run))


def test_the_run_folder_holds_what_a_person_needs(tiny_recipe, tiny_run):
    folder = tiny_run
    assert load_recipe(folder / "recipe.toml").data == load_recipe(tiny_recipe).data
    records = read_metrics(folder)
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert set(records[0]) == {
        "step",
        "loss/discriminator",
        "loss/generator",
        "speed/steps_per_s",
        "speed/images_per_s",
        "lr/generator",
        "lr/discriminator",
    }
    grids = sorted(p.name for p in (folder / "samples").iterdir())
    assert grids == ["step_00000003.png", "step_00000006.png"]
    grid = np.asarray(Image.open(folder / "samples" / grids[-1]))
    assert grid.shape == (2 * 34 + 2, 2 * 34 + 2)  # 4 samples of 32x32, 2-pixel gaps
    assert [step for step, _ in checkpoint.list_checkpoints(folder / "checkpoints")] == [3, 6]
    header = checkpoint.read_header(folder / run_folder.CHECKPOINTS / "step_00000006.npz")
    assert header["step"] == 6 and header["seed"] == 7
    assert set(header["layout"]) == {"generator", "discriminator", "generator_optimizer", "discriminator_optimizer"}
    # the optimizers' step counters are saved with their moments
    assert any("iteration" in path for path, _ in header["layout"]["discriminator_optimizer"])


def test_d_steps_updates_the_discriminator_more_often(scheduled_run):
    """The scheduled run below: 8 steps with train.d_steps=2."""
    end = scheduled_run / run_folder.CHECKPOINTS / "step_00000008.npz"
    arrays = saved_arrays(end)
    header = checkpoint.read_header(end)

    def iterations(group):
        index = next(i for i, (path, _) in enumerate(header["layout"][group]) if path.endswith("iteration"))
        return int(arrays[f"{group}/{index:05d}"])

    assert iterations("discriminator_optimizer") == 16 and iterations("generator_optimizer") == 8


def test_mismatched_shapes_are_caught_before_training(tiny_recipe, tmp_path):
    def small_generator(spec, latent_dim):
        import keras

        noise = keras.Input((latent_dim,))
        images = keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16, activation="tanh")(noise))
        return keras.Model(noise, images)

    module = types.ModuleType("shapes")
    module.register_generators = hookimpl(lambda register: register("small", small_generator))
    registry = Registry.from_entry_points()
    registry.add_plugin("shapes", lambda: module, package="test-shapes")
    recipe = load_recipe(tiny_recipe, ["generator.name=small"], registry=registry)
    with pytest.raises(RecipeError, match=r"makes images of shape \(4, 4, 1\).*\(32, 32, 1\)") as error:
        build_parts(recipe, registry)
    assert error.value.key == "generator"


def test_a_sink_that_raises_is_dropped_and_training_goes_on(tiny_recipe, tmp_path, caplog):
    class BrokenSink:
        def __init__(self, run_dir):
            pass

        def scalars(self, step, values):
            raise OSError("dashboard unreachable")

    module = types.ModuleType("broken_sink")
    module.register_sinks = hookimpl(lambda register: register("broken", BrokenSink))
    registry = Registry.from_entry_points()
    registry.add_plugin("broken_sink", lambda: module, package="test-broken-sink")
    recipe = load_recipe(tiny_recipe, ['sinks=["jsonl", "broken"]'], registry=registry)
    folder = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    result = train(recipe, folder, registry=registry)
    assert result.step == 6 and len(read_metrics(folder)) == 6
    assert "sink 'broken' failed" in caplog.text


def test_the_step_scales_uint8_pixels_to_minus_one_one(tiny_recipe):
    from ganforge.training.assembly import make_optimizer
    from ganforge.training.engines.tensorflow.step import AdversarialStep
    from ganforge.training.step import StepSettings

    recipe = load_recipe(tiny_recipe)
    parts = build_parts(recipe)
    initial = [model.get_weights() for model in (parts.generator, parts.discriminator)]
    pixels = np.random.default_rng(0).integers(0, 256, (1, 16, 32, 32, 1), dtype=np.uint8)
    results = []
    for real in (pixels, pixels.astype(np.float32) / 127.5 - 1.0):
        parts.generator.set_weights(initial[0])
        parts.discriminator.set_weights(initial[1])
        step = AdversarialStep(
            parts,
            make_optimizer(recipe.model.generator_optimizer, 1),
            make_optimizer(recipe.model.discriminator_optimizer, 1),
            StepSettings(batch_size=16, latent_dim=16, seed=0),
        )
        results.append([float(value) for value in step(real, 0)])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5)


def test_learning_rate_schedules_hold_then_decay():
    from ganforge.training.schedules import HoldThenDecay

    linear = HoldThenDecay(1.0, total=100, decay_start=50, final_scale=0.1, shape="linear")
    cosine = HoldThenDecay(1.0, total=100, decay_start=0, final_scale=0.0, shape="cosine")
    rates = {step: float(linear(step)) for step in (0, 50, 75, 100, 150)}
    assert rates == pytest.approx({0: 1.0, 50: 1.0, 75: 0.55, 100: 0.1, 150: 0.1})
    assert float(cosine(50)) == pytest.approx(0.5)
    assert float(cosine(25)) == pytest.approx(0.5 * (1 + np.cos(np.pi / 4)))


SCHEDULED = [
    "train.steps=8",
    "train.checkpoint_every=4",
    "train.log_every=4",
    "train.d_steps=2",
    "generator_optimizer.schedule=linear",
    "generator_optimizer.learning_rate=0.001",
    "discriminator_optimizer.schedule=cosine",
    "discriminator_optimizer.decay_start=0.5",
    "discriminator_optimizer.learning_rate=0.001",
]


@pytest.fixture(scope="module")
def scheduled_run(tmp_path_factory):
    """The tiny recipe with SCHEDULED's rate schedules, 8 steps, checkpoints at 4 and 8: its run folder."""
    root = tmp_path_factory.mktemp("scheduled")
    return train(*start_run(write(root / "tiny.toml", TINY_RECIPE), root, SCHEDULED)).run_dir


def test_a_scheduled_run_logs_its_rates_and_resumes_exactly(tiny_recipe, scheduled_run, tmp_path):
    records = read_metrics(scheduled_run)
    # G: linear from 1e-3 to 0 over 8 updates; D: 16 updates, held for 8, cosine over the last 8
    assert [r["lr/generator"] for r in records] == pytest.approx([0.0005, 0.0])
    assert [r["lr/discriminator"] for r in records] == pytest.approx([0.001, 0.0], abs=1e-9)

    # resume from the whole run's step-4 checkpoint: the schedule picks up from the saved counters
    recipe, folder = start_run(tiny_recipe, tmp_path / "resumed", SCHEDULED)
    resumed = train(recipe, folder, resume_from=scheduled_run / run_folder.CHECKPOINTS / "step_00000004.npz")
    whole_arrays = saved_arrays(scheduled_run / run_folder.CHECKPOINTS / "step_00000008.npz")
    resumed_arrays = saved_arrays(resumed.checkpoint)
    for key in whole_arrays:
        np.testing.assert_array_equal(whole_arrays[key], resumed_arrays[key], err_msg=key)


class SavedValue:
    """What checkpoint.save needs of a variable: a path and numpy()."""

    def __init__(self, path, value):
        self.path, self.value = path, value

    def numpy(self):
        return self.value


def test_a_checkpoint_from_before_scaled_learning_rates_resumes_exactly(tiny_recipe, tiny_run, tmp_path):
    """Older checkpoints hold a constant rate as an optimizer variable ("adam/learning_rate"): it is skipped,
    and a run resumed from one ends where the uninterrupted run ended."""
    new = tiny_run / run_folder.CHECKPOINTS / "step_00000003.npz"
    header = checkpoint.read_header(new)
    with np.load(new) as archive:
        groups = {
            group: [SavedValue(path, archive[f"{group}/{index:05d}"]) for index, (path, _) in enumerate(entries)]
            for group, entries in header["layout"].items()
        }
    for group in ("generator_optimizer", "discriminator_optimizer"):  # the old layout: iteration, learning_rate, slots
        groups[group].insert(1, SavedValue("adam/learning_rate", np.float32(2e-4)))
    old = checkpoint.save(
        tmp_path / "old" / run_folder.CHECKPOINTS, 3, groups, {"seed": header["seed"], "recipe": "tiny"}, keep=3
    )
    assert (
        len(checkpoint.read_header(old)["layout"]["generator_optimizer"])
        == len(header["layout"]["generator_optimizer"]) + 1
    )

    recipe, resumed_folder = start_run(tiny_recipe, tmp_path / "resumed", [])
    resumed = saved_arrays(train(recipe, resumed_folder, resume_from=old).checkpoint)
    whole = saved_arrays(tiny_run / run_folder.CHECKPOINTS / "step_00000006.npz")
    assert whole.keys() == resumed.keys()
    for key in whole:
        np.testing.assert_array_equal(whole[key], resumed[key], err_msg=key)
