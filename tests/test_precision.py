"""Mixed precision: 16-bit compute in G and D, float32 weights, logits and losses; a loss-scale
optimizer for each model under float16; exact resume; a warning on CPUs without the instructions."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from conftest import TINY_RECIPE, run_cli, trained_run, write
from test_engine import saved_arrays

from ganforge.recipe import load_recipe
from ganforge.runs import folder as run_folder
from ganforge.training.precision import check_precision, cpu_flags
from ganforge.training.trainer import Trainer, train


@pytest.fixture(scope="module", params=["mixed_bfloat16", "mixed_float16"])
def mixed_run(request, tmp_path_factory):
    """(precision, its Trainer, its run folder): the tiny recipe in mixed precision with a moving-average
    generator, trained 6 steps with checkpoints at 3 and 6, once per precision for the tests below."""
    precision = request.param
    root = tmp_path_factory.mktemp(precision)
    recipe = load_recipe(
        write(root / "tiny.toml", TINY_RECIPE), [f"train.precision={precision}", "train.ema_decay=0.9"]
    )
    folder = run_folder.create(root / "runs", recipe.name, recipe.to_toml())
    trainer = Trainer(recipe)
    trainer.run(folder)
    return precision, trainer, folder


def test_both_models_compute_in_16_bits_and_keep_float32_weights(mixed_run):
    precision, trainer, _ = mixed_run
    compute = precision.removeprefix("mixed_")
    for model in (trainer.parts.generator, trainer.parts.discriminator, trainer.parts.ema_generator):
        assert model.dtype_policy.name == precision
        assert {variable.dtype for variable in model.weights} == {"float32"}
    assert keras.config.dtype_policy().name == "float32"  # building and training them left the global policy alone
    shape = trainer.parts.dataset.spec.shape
    d_loss, g_loss = trainer.training.step(np.zeros((1, 16, *shape), np.uint8), 0)  # (d_steps, batch, H, W, C)
    assert d_loss.dtype == g_loss.dtype == "float32"
    logits = trainer.parts.discriminator(np.zeros((2, *shape), np.float32))
    assert logits.dtype == compute  # what the step casts to float32 before any loss
    scaled = precision == "mixed_float16"
    for optimizer in (trainer.training.generator_optimizer, trainer.training.discriminator_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == scaled


def test_a_mixed_precision_run_resumes_exactly(mixed_run, tmp_path):
    """Resumed from the run's own step-3 checkpoint in another folder, it ends with the same weights (the
    moving average's included, and under float16 the loss scale)."""
    _, trainer, whole = mixed_run
    resumed_folder = run_folder.create(tmp_path / "runs", trainer.recipe.name, trainer.recipe.to_toml())
    start = whole / run_folder.CHECKPOINTS / "step_00000003.npz"
    resumed = train(trainer.recipe, resumed_folder, resume_from=start)
    whole_arrays = saved_arrays(whole / run_folder.CHECKPOINTS / "step_00000006.npz")
    resumed_arrays = saved_arrays(resumed.checkpoint)
    assert whole_arrays.keys() == resumed_arrays.keys()
    for key in whole_arrays:
        np.testing.assert_array_equal(whole_arrays[key], resumed_arrays[key], err_msg=key)
    # the samples were drawn and saved as images, whatever the models computed in
    assert list((whole / "samples").glob("*.png"))


def precision_warnings(caplog) -> list[str]:
    """What ganforge warned about precision (a backend may log warnings of its own)."""
    return [record.getMessage() for record in caplog.records if record.name == "ganforge.training.precision"]


def test_bfloat16_on_a_cpu_without_its_instructions_is_warned_about(tiny_recipe, tmp_path, caplog):
    without = write(tmp_path / "intel", "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    with_bf16 = write(tmp_path / "amd", "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert "avx512_bf16" in cpu_flags(with_bf16) and "avx512_bf16" not in cpu_flags(without)
    recipe = load_recipe(tiny_recipe, ["train.precision=mixed_bfloat16"])
    check_precision(recipe, cpuinfo=without)
    (warning,) = precision_warnings(caplog)
    assert "mixed_bfloat16" in warning and "avx512_bf16" in warning and "slower" in warning
    caplog.clear()
    check_precision(recipe, cpuinfo=with_bf16)
    check_precision(load_recipe(tiny_recipe), cpuinfo=without)  # float32 asks for nothing
    assert precision_warnings(caplog) == []
    assert cpu_flags(tmp_path / "missing") == set()  # a system without /proc/cpuinfo: no warning


def test_an_unknown_precision_is_refused(tiny_recipe):
    from ganforge.errors import RecipeError

    with pytest.raises(RecipeError, match="train.precision") as raised:
        load_recipe(tiny_recipe, ["train.precision=float8"])
    assert "mixed_bfloat16" in str(raised.value)


@pytest.mark.slow
def test_a_mixed_precision_run_samples_in_float32(tmp_path):
    """`ganforge sample` builds a float32 generator; the run's float32 weights load into it as they are."""
    from PIL import Image

    run = trained_run(tmp_path, "train.precision=mixed_bfloat16")
    grid = tmp_path / "grid.png"
    done = run_cli("sample", str(run), "-o", str(grid), "-n", "4", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    with Image.open(grid) as image:
        pixels = np.asarray(image)
    assert pixels.std() > 0  # a picture, not a blank
