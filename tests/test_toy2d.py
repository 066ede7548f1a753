"""The 2-D mixtures, the mode-coverage metric, and losses/options wired through recipes."""

import json

import numpy as np
import pytest
from conftest import TINY_RECIPE, write

from ganforge.errors import RecipeError
from ganforge.recipe import load_recipe
from ganforge.runs import checkpoint
from ganforge.runs import folder as run_folder
from ganforge.training.assembly import build_parts
from ganforge.training.trainer import train
from ganforge_toy2d.coverage import coverage
from ganforge_toy2d.mixtures import grid, grid_modes, ring, ring_modes

TOY = """
name = "toy"
seed = 3
[dataset]
name = "grid"
size = 4096
[generator]
name = "mlp"
hidden = 64
layers = 2
[discriminator]
name = "mlp"
hidden = 64
layers = 2
[train]
steps = 300
batch_size = 128
latent_dim = 4
log_every = 100
sample_every = 300
checkpoint_every = 300
[generator_optimizer]
learning_rate = 1e-3
[discriminator_optimizer]
learning_rate = 1e-3
[eval]
metrics = [{ name = "mode_coverage", samples = 1000 }]
"""


def test_mixtures_are_the_published_ones():
    ring_centres, grid_centres = ring_modes(), grid_modes()
    assert len(ring_centres) == 8 and len(np.unique(ring_centres.round(6), axis=0)) == 8  # endpoint=False
    np.testing.assert_allclose(np.linalg.norm(ring_centres, axis=1), 1.0)
    assert sorted(set(grid_centres[:, 0])) == [-4, -2, 0, 2, 4] and len(grid_centres) == 25
    points = grid(size=50_000).points
    nearest = np.linalg.norm(points[:, None] - grid_centres[None], axis=2).min(axis=1)
    assert np.sqrt(np.mean(nearest**2) / 2) == pytest.approx(0.05, rel=0.05)  # per-axis std
    assert ring(size=10).spec.shape == (2,)


@pytest.mark.parametrize("modes, std", [(grid_modes(), 0.05), (ring_modes(), 0.01)])
def test_coverage_on_hand_placed_samples(modes, std):
    one_each = coverage(modes.copy(), modes, std)
    assert one_each == {"modes": len(modes), "high_quality_percent": 100.0, "reverse_kl": pytest.approx(0.0, abs=1e-12)}
    all_in_one = coverage(np.repeat(modes[:1] + 0.5 * std, 100, axis=0), modes, std)
    assert all_in_one["modes"] == 1 and all_in_one["high_quality_percent"] == 100.0
    assert all_in_one["reverse_kl"] == pytest.approx(np.log(len(modes)))
    far = coverage(np.full((50, 2), 100.0), modes, std)
    assert far["modes"] == 0 and far["high_quality_percent"] == 0.0
    # 3 std is the edge of high quality
    edge = coverage(modes[:1] + np.array([[3.01 * std, 0.0], [2.99 * std, 0.0]]), modes, std)
    assert edge["high_quality_percent"] == 50.0


def _coloured_pixels(image: np.ndarray) -> tuple[int, int]:
    """Pixels drawn mostly blue (samples on a mode) and mostly red (samples off the modes)."""
    red, green, blue = (image[..., i].astype(int) for i in range(3))
    return int(np.sum((blue - red > 40) & (blue - green > 40))), int(np.sum((red - blue > 40) & (red - green > 40)))


def test_the_scatter_shows_how_many_samples_sit_on_the_modes():
    from ganforge_toy2d.scatter import scatter

    rng = np.random.default_rng(0)
    modes, std = ring_modes(), 0.02

    def samples(on_modes: float) -> np.ndarray:
        kept = int(2500 * on_modes)
        close = modes[rng.integers(0, len(modes), kept)] + rng.normal(0.0, std, (kept, 2))
        return np.concatenate([close, rng.uniform(-1.2, 1.2, (2500 - kept, 2))])

    good, poor = scatter(samples(0.96), modes, std), scatter(samples(0.60), modes, std)
    assert good.shape == poor.shape == (480, 480, 3)
    (good_blue, good_red), (_, poor_red) = _coloured_pixels(good), _coloured_pixels(poor)
    assert good_blue > 8 * 100  # every mode shows as a filled blue patch, not a speck
    assert poor_red > 5 * good_red > 0  # the 1,000 stray samples cover far more of the picture than the 100
    one_stray = scatter(np.array([[0.0, 0.0]]), modes, std)  # a single sample between the modes still shows
    assert _coloured_pixels(one_stray)[1] >= 12


def test_a_short_toy_run_covers_more_than_one_mode_and_draws_them(tmp_path):
    recipe = load_recipe(write(tmp_path / "toy.toml", TOY))
    folder = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    train(recipe, folder)
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    final = [r for r in records if "eval/mode_coverage/modes" in r][-1]
    assert final["step"] == 300 and final["eval/mode_coverage/modes"] > 1
    assert (folder / "samples" / "mode_coverage_00000300.png").is_file()
    assert (folder / "samples" / "step_00000300.png").is_file()  # the scatter of the fixed noise


def test_ema_generator_is_trained_saved_and_resumed(tmp_path):
    recipe = load_recipe(
        write(tmp_path / "toy.toml", TOY),
        ["train.ema_decay=0.9", "train.steps=4", "train.checkpoint_every=2", "eval.metrics=[]"],
    )
    folder = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    result = train(recipe, folder)
    header = checkpoint.read_header(result.checkpoint)
    assert "ema_generator" in header["layout"]
    with np.load(result.checkpoint) as saved:
        assert not np.array_equal(saved["ema_generator/00000"], saved["generator/00000"])
    # resuming from its step-2 checkpoint, in another folder, ends where the uninterrupted run ended
    resumed_folder = run_folder.create(tmp_path / "runs2", recipe.name, recipe.to_toml())
    resumed = train(recipe, resumed_folder, resume_from=folder / run_folder.CHECKPOINTS / "step_00000002.npz")
    assert resumed.checkpoint.name == result.checkpoint.name
    with np.load(result.checkpoint) as a, np.load(resumed.checkpoint) as b:
        for key in a.files:
            if key != checkpoint.HEADER_KEY:
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize(
    "loss, penalty, options",
    [
        ("wgan_gp", None, []),
        ("wgan", None, ["train.d_steps=2"]),
        ("hinge", "r1", []),
        ("lsgan", "gradient_penalty", ["train.label_smoothing=0.1", "train.label_noise=0.05"]),
        ("nonsaturating", "r1", ["penalty.every=2", "train.label_noise=0.1"]),
    ],
)
def test_every_loss_trains_a_few_finite_steps(tmp_path, loss, penalty, options):
    text = TOY.replace(
        "[train]", f'[loss]\nname = "{loss}"\n' + (f'[penalty]\nname = "{penalty}"\n' if penalty else "") + "[train]"
    )
    recipe = load_recipe(
        write(tmp_path / "toy.toml", text), ["train.steps=4", "train.log_every=1", "eval.metrics=[]", *options]
    )
    folder = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    train(recipe, folder)
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 4
    assert all(np.isfinite(r["loss/discriminator"]) and np.isfinite(r["loss/generator"]) for r in records)


# -- bad input: each caught by `recipe check`, before training ------------
def check_error(tmp_path, text, overrides=()):
    with pytest.raises(RecipeError) as error:
        build_parts(load_recipe(write(tmp_path / "r.toml", text), list(overrides)))
    return error.value


@pytest.mark.parametrize(
    "override, key",
    [
        ('penalty={name="r1", gamma=-1.0}', "penalty.gamma"),
        ('loss={name="wgan", clip=0.0}', "loss.clip"),
        ("train.ema_decay=1.0", "train.ema_decay"),
        ("train.ema_decay=-0.1", "train.ema_decay"),
    ],
)
def test_parameters_out_of_range(tmp_path, override, key):
    with pytest.raises(RecipeError) as error:
        load_recipe(write(tmp_path / "r.toml", TOY), [override])
    assert error.value.key == key


def test_a_penalty_on_a_loss_that_cannot_take_one(tmp_path):
    error = check_error(tmp_path, TOY, ['loss={name="wgan_gp"}', 'penalty={name="r1"}'])
    assert error.key == "penalty.name" and "gradient penalty of its own" in error.message
    error = check_error(tmp_path, TOY, ['loss={name="wgan"}', 'penalty={name="gradient_penalty"}'])
    assert error.key == "penalty.name"


def test_label_options_on_a_loss_without_labels(tmp_path):
    error = check_error(tmp_path, TOY, ['loss={name="hinge"}', "train.label_smoothing=0.1"])
    assert error.key == "train.label_smoothing"


def test_a_toy_dataset_with_image_networks(tmp_path):
    error = check_error(tmp_path, TOY, ['generator={name="dcgan"}'])
    assert error.key == "generator" and "needs images" in error.message


def test_mode_coverage_on_a_dataset_without_modes(tmp_path):
    error = check_error(tmp_path, TINY_RECIPE + '\n[eval]\nmetrics = [{ name = "mode_coverage" }]\n')
    assert error.key == "eval.metrics[0]" and "known modes" in error.message


def test_the_categorical_code_makes_equally_likely_categories():
    from ganforge.backend import tensorflow

    tensorflow()
    from ganforge_toy2d.mlp import CategoricalCode

    noise = np.random.default_rng(0).standard_normal((100_000, 3)).astype("float32")
    coded = np.asarray(CategoricalCode(10)(noise))
    assert coded.shape == (100_000, 12)
    np.testing.assert_array_equal(coded[:, 10:], noise[:, 1:])  # the rest of the noise passes through
    frequencies = coded[:, :10].sum(axis=0) / len(noise)
    np.testing.assert_allclose(frequencies, 0.1, atol=0.005)
    assert set(np.unique(coded[:, :10].sum(axis=1))) == {1.0}  # one-hot


def test_a_metric_parameter_that_cannot_work_names_the_metric(tmp_path):
    error = check_error(tmp_path, TOY, ['eval.metrics=[{name = "mode_coverage", samples = 0}]'])
    assert error.key == "eval.metrics[0].samples"
