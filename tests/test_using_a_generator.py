"""`ganforge sample / interpolate / export`: pictures and files from a trained run."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, run_cli, write
from PIL import Image

from ganforge.recipe import load_recipe
from ganforge.runs import folder as run_folder
from ganforge.training.trainer import train

# trains, exports, and starts a fresh interpreter; the commands run in this process (conftest.invoke_cli) but for
# one refusal through the real entry point
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 6-step tiny run that keeps an EMA generator."""
    folder = tmp_path_factory.mktemp("trained")
    recipe = load_recipe(write(folder / "tiny.toml", TINY_RECIPE + "ema_decay = 0.9\n"), ['sinks=["jsonl"]'])
    run = run_folder.create(folder / "runs", recipe.name, recipe.to_toml())
    train(recipe, run)
    return run


def test_sample_writes_a_grid_or_separate_pngs_and_never_overwrites(trained_run, tmp_path):
    grid = tmp_path / "grid.png"
    done = invoke_cli("sample", str(trained_run), "-o", str(grid), "-n", "16", "--seed", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ema weights" in done.stdout
    assert Image.open(grid).size == (4 * 34 + 2, 4 * 34 + 2)  # 16 digits of 32x32 with 2-pixel gaps

    folder = tmp_path / "separate"
    done = invoke_cli(
        "sample", str(trained_run), "-o", str(folder), "-n", "5", "--seed", "3", "--separate", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"{i:05d}.png" for i in range(5)]
    first = np.asarray(Image.open(files[0]))
    assert first.shape == (32, 32)
    np.testing.assert_array_equal(first, np.asarray(Image.open(grid))[2:34, 2:34])  # same seed, same first image

    before = grid.read_bytes()
    assert_user_error(invoke_cli("sample", str(trained_run), "-o", str(grid), cwd=tmp_path), "grid.png: already exists")
    assert grid.read_bytes() == before
    raw = tmp_path / "raw.png"
    assert (
        invoke_cli(
            "sample", str(trained_run), "-o", str(raw), "-n", "16", "--seed", "3", "--raw", cwd=tmp_path
        ).returncode
        == 0
    )
    assert raw.read_bytes() != before  # the raw generator is not the EMA one


def test_interpolate_walks_between_seeds_as_a_grid_and_a_gif(trained_run, tmp_path):
    out = tmp_path / "walk.png"
    done = invoke_cli(
        "interpolate",
        str(trained_run),
        "-o",
        str(out),
        "--seed",
        "1",
        "--seed",
        "2",
        "--seed",
        "5",
        "--frames",
        "4",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (4 * 34 + 2, 2 * 34 + 2)  # 2 legs of 4 frames
    gif = Image.open(tmp_path / "walk.gif")
    total_ms = 0
    for index in range(gif.n_frames):  # Pillow merges identical neighbours, adding up their durations
        gif.seek(index)
        total_ms += gif.info["duration"]
    assert total_ms == (2 * 3 + 1) * 120  # the frame shared by two legs appears once
    assert_user_error(
        invoke_cli("interpolate", str(trained_run), "-o", str(tmp_path / "w2.png"), "--seed", "1", cwd=tmp_path),
        "at least 2 seeds",
    )


def test_an_exported_generator_runs_without_ganforge(trained_run, tmp_path):
    out = tmp_path / "exported"
    done = invoke_cli("export", str(trained_run), "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    about = json.loads((out / "generator.json").read_text())
    assert about["latent_dim"] == 16 and about["output_shape"] == [32, 32, 1] and about["weights"] == "ema"
    noise = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    np.save(tmp_path / "noise.npy", noise)
    # a fresh interpreter in which importing anything named ganforge* fails
    script = textwrap.dedent(f"""
        import sys
        class NoGanforge:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("ganforge"):
                    raise ImportError("ganforge is not installed here")
        sys.meta_path.insert(0, NoGanforge())
        import numpy as np, tensorflow as tf, keras
        noise = np.load({str(tmp_path / "noise.npy")!r})
        model = tf.saved_model.load({str(out / "saved_model")!r})  # kept: its variables live as long as it does
        served = model.serve(noise).numpy()
        loaded = keras.saving.load_model({str(out / "generator.keras")!r})(noise).numpy()
        np.save({str(tmp_path / "served.npy")!r}, served)
        np.save({str(tmp_path / "loaded.npy")!r}, loaded)
        assert not any(name.startswith("ganforge") for name in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    served, loaded = np.load(tmp_path / "served.npy"), np.load(tmp_path / "loaded.npy")
    assert served.shape == (3, 32, 32, 1) and np.abs(served).max() <= 1
    np.testing.assert_allclose(served, loaded, atol=1e-5)

    import ganforge.trained as trained

    np.testing.assert_allclose(trained.load(trained_run).generate(noise), served, atol=1e-5)
    assert_user_error(invoke_cli("export", str(trained_run), "-o", str(out), cwd=tmp_path), "already exists")


def test_a_checkpoint_from_another_recipe_is_refused(trained_run, tmp_path):
    other = tmp_path / "other"
    recipe = load_recipe(write(tmp_path / "other.toml", TINY_RECIPE.replace('name = "tiny"', 'name = "other"')))
    folder = run_folder.create(other, recipe.name, recipe.to_toml())
    (folder / "checkpoints").mkdir()
    stolen = folder / "checkpoints" / "step_00000006.npz"
    stolen.write_bytes((trained_run / "checkpoints" / "step_00000006.npz").read_bytes())
    assert_user_error(  # the real entry point: exit code 2 and one line, no traceback
        run_cli("sample", str(stolen), "-o", str(tmp_path / "x.png"), cwd=tmp_path),
        "saved by recipe 'tiny', not 'other'",
    )
    assert_user_error(
        invoke_cli("sample", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.png"), cwd=tmp_path),
        "no such run folder",
    )
    assert not (tmp_path / "x.png").exists()
