"""CelebA and folders of images, on real JPEG/PNG/WebP files the tests write."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke_cli, run_cli
from image_trees import ATTRIBUTES, make_celeba, make_mixed_folder

from ganforge.data.cache import IMAGES, MANIFEST
from ganforge.errors import DataError
from ganforge_celeba.reader import celeba_dataset
from ganforge_images.folder import images_dataset

ARTICLE_RECIPE = str(Path(__file__).resolve().parents[1] / "recipes" / "dcgan_celeba.toml")


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba")
    # 600 images: above the size at which decoding moves to a process pool
    expected = make_celeba(root, count=600, with_zip=True)
    return root, expected


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GANFORGE_CACHE", str(folder))
    return folder


def only_cache_folder(cache_root):
    [folder] = [p for p in cache_root.iterdir() if not p.name.startswith(".")]
    return folder


@pytest.mark.parametrize("split", ["train", "val", "test", "all"])
def test_splits_follow_the_partition_file(celeba, cache, split):
    root, expected = celeba
    dataset = celeba_dataset(root=str(root), split=split)
    assert len(dataset) == expected["splits"][split]
    assert dataset.spec.shape == (64, 64, 3)


def test_attribute_filters(celeba, cache):
    root, expected = celeba
    table = expected["table"]
    smiling, male = ATTRIBUTES.index("Smiling"), ATTRIBUTES.index("Male")
    dataset = celeba_dataset(root=str(root), attributes={"Smiling": True, "Male": False})
    assert len(dataset) == int(np.sum((table[:, smiling] == 1) & (table[:, male] == -1)))
    train_only = celeba_dataset(root=str(root), split="train", attributes={"Smiling": True})
    assert len(train_only) == int(np.sum(table[: expected["splits"]["train"], smiling] == 1))


def test_unknown_attribute_and_empty_filter(celeba, cache):
    root, _ = celeba
    with pytest.raises(ValueError, match="did you mean 'Smiling'"):
        celeba_dataset(root=str(root), attributes={"Smilng": True})
    every = {name: True for name in ATTRIBUTES}
    with pytest.raises(ValueError, match="no image matches"):
        celeba_dataset(root=str(root), attributes=every)


def test_zip_gives_the_same_pixels_as_the_folder(celeba, tmp_path, cache):
    root, _ = celeba
    zip_only = tmp_path / "zip_only"
    zip_only.mkdir()
    for name in ("img_align_celeba.zip", "list_eval_partition.txt", "list_attr_celeba.txt"):
        os.link(root / name, zip_only / name)
    from_folder = celeba_dataset(root=str(root), split="val")
    from_zip = celeba_dataset(root=str(zip_only), split="val")
    indices = np.arange(len(from_folder))
    np.testing.assert_array_equal(from_folder.read(indices), from_zip.read(indices))


@pytest.mark.parametrize(
    "crop, top_green, bottom_green",
    [
        ("none", 0, 255),  # the whole 218-pixel height
        ("center178", 255 * 20 / 217, 255 * 197 / 217),  # rows 20..197 survive
        ("center160", 255 * 29 / 217, 255 * 188 / 217),
        ("center140", 255 * 39 / 217, 255 * 178 / 217),
    ],
)
def test_crops(celeba, cache, crop, top_green, bottom_green):
    root, _ = celeba
    image = celeba_dataset(root=str(root), crop=crop, split="test").read(np.array([0]))[0].astype(float)
    # green grows with y: the first and last rows show which rows the crop kept
    assert image[0, :, 1].mean() == pytest.approx(top_green, abs=6)
    assert image[-1, :, 1].mean() == pytest.approx(bottom_green, abs=6)


def test_cache_is_reused_and_rebuilt_when_a_file_changes(tmp_path, cache):
    root = tmp_path / "small"
    make_celeba(root, count=40)
    first = celeba_dataset(root=str(root))
    first.prepare()
    folder = only_cache_folder(cache)
    built = (folder / IMAGES).stat().st_mtime_ns
    assert isinstance(first.cache.images, np.memmap)  # training reads through a memory map

    again = celeba_dataset(root=str(root))
    again.prepare()
    assert (folder / IMAGES).stat().st_mtime_ns == built  # reused, not rebuilt

    changed = root / "img_align_celeba" / "000007.jpg"
    changed.write_bytes(changed.read_bytes() + b"\0")  # a different size: a different file
    rebuilt = celeba_dataset(root=str(root))
    rebuilt.prepare()
    assert only_cache_folder(cache) == folder and (folder / IMAGES).stat().st_mtime_ns != built

    other = celeba_dataset(root=str(root), resolution=32)
    assert other.read(np.array([0])).shape == (1, 32, 32, 3)
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 2


def test_an_unfinished_cache_is_never_trusted(tmp_path, cache):
    root = tmp_path / "small"
    make_celeba(root, count=30)
    dataset = celeba_dataset(root=str(root))
    dataset.prepare()
    folder = only_cache_folder(cache)
    # what a build killed before its manifest leaves: a folder without one
    (folder / MANIFEST).unlink()
    stale = cache / f".{folder.name}.partial-999999999"
    stale.mkdir()
    rebuilt = celeba_dataset(root=str(root))
    rebuilt.prepare()
    assert (folder / MANIFEST).is_file() and not stale.exists()


def test_a_killed_build_leaves_nothing_trusted(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "many"
    make_celeba(root, count=1500)
    cache_root = tmp_path / "cache"
    code = (
        "from ganforge_celeba.reader import celeba_dataset; "
        f"celeba_dataset(root={str(root)!r}, cache_dir={str(cache_root)!r}).prepare()"
    )
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and not list(cache_root.glob(".*.partial-*/images.npy")):
        time.sleep(0.05)
    time.sleep(0.5)  # let the workers decode a part of it
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not [p for p in cache_root.iterdir() if not p.name.startswith(".")]  # nothing looks finished

    dataset = celeba_dataset(root=str(root), cache_dir=str(cache_root))
    assert len(dataset) == 1500
    assert not list(cache_root.glob(".*.partial-*"))
    # every row was decoded by the complete build: no blank images
    assert dataset.read(np.arange(1500)).reshape(1500, -1).max(axis=1).min() > 0


def test_unreadable_images_are_skipped_and_reported_or_fail(tmp_path, cache, caplog):
    root = tmp_path / "broken"
    make_celeba(root, count=30)
    images = root / "img_align_celeba"
    truncated = images / "000003.jpg"
    truncated.write_bytes(truncated.read_bytes()[:500])
    (images / "000005.jpg").write_text("this is not a jpeg")

    skipping = celeba_dataset(root=str(root), on_error="skip")
    assert len(skipping) == 28
    # reported as a warning of the cache's logger: a library user sees it, the CLI prints it with its "ganforge: "
    (skipped,) = [record for record in caplog.records if "unreadable" in record.getMessage()]
    assert (skipped.name, skipped.levelname) == ("ganforge.data.cache", "WARNING")
    assert skipped.getMessage().startswith("skipped 2 unreadable image(s) of 30: 000003.jpg: ")
    assert "000005.jpg" in skipped.getMessage()

    with pytest.raises(DataError, match="000003.jpg"):
        celeba_dataset(root=str(root), on_error="fail", resolution=32).prepare()
    # the failed build left no cache behind, and the good one is untouched
    assert len([p for p in cache.iterdir() if not p.name.startswith(".")]) == 1


def test_own_images_any_mode_size_and_nesting(tmp_path, cache):
    root = tmp_path / "mine"
    made = make_mixed_folder(root)
    dataset = images_dataset(str(root), resolution=32)
    assert len(dataset) == len(made) == 8
    batch = dataset.read(np.arange(8))
    assert batch.shape == (8, 32, 32, 3) and batch.dtype == np.uint8
    gray = images_dataset(str(root), resolution=16, channels=1)
    assert gray.read(np.arange(8)).shape == (8, 16, 16, 1)


def test_images_from_a_zip(tmp_path, cache):
    root = tmp_path / "mine"
    made = make_mixed_folder(root)
    archive_path = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        for name in made:
            archive.write(root / name, name)
    assert len(images_dataset(str(archive_path), resolution=16)) == len(made)


def test_bad_image_folders(tmp_path, cache):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no image files"):
        images_dataset(str(empty))
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("x")
    with pytest.raises(DataError, match="no image files"):
        images_dataset(str(texts))
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    for i in range(3):
        (fakes / f"{i}.jpg").write_text("not a picture")
    with pytest.raises(DataError, match="none of the 3 files is a readable image"):
        images_dataset(str(fakes)).prepare()
    not_zip = tmp_path / "data.zip"
    not_zip.write_text("plain text")
    with pytest.raises(DataError, match="not a zip file"):
        images_dataset(str(not_zip))
    with pytest.raises(DataError, match="no such folder"):
        images_dataset(str(tmp_path / "nowhere"))


# -- through the command line, as a user meets these (in this process, conftest.invoke_cli, but for one) --
def write_recipe(tmp_path, dataset_lines):
    path = tmp_path / "faces.toml"
    path.write_text(
        'name = "faces"\n[dataset]\n'
        + dataset_lines
        + '\n[generator]\nname = "dcgan"\n[discriminator]\nname = "dcgan"\n'
        "[train]\nsteps = 2\nbatch_size = 8\nlog_every = 1\nsample_every = 2\ncheckpoint_every = 2\nsamples = 4\n"
    )
    return path


@pytest.mark.slow
def test_no_celeba_at_root_says_where_it_looked_and_how_to_get_it(tmp_path):
    recipe = write_recipe(tmp_path, f'name = "celeba"\nroot = "{tmp_path / "nothing"}"')
    result = invoke_cli("recipe", "check", str(recipe), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for fragment in (
        "faces.toml",
        "dataset",
        "CelebA not found",
        "img_align_celeba",
        "list_eval_partition.txt",
        "docs/datasets.md",
    ):
        assert fragment in result.stderr, result.stderr


def test_a_missing_partition_file_is_named(tmp_path, celeba):
    root = tmp_path / "nopartition"
    make_celeba(root, count=10)
    (root / "list_eval_partition.txt").unlink()
    recipe = write_recipe(tmp_path, f'name = "celeba"\nroot = "{root}"\nsplit = "train"')
    # the real entry point (`data prepare` starts without TensorFlow): exit code 2, no traceback
    result = run_cli("data", "prepare", str(recipe), cwd=tmp_path, env={"GANFORGE_CACHE": str(tmp_path / "c")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "list_eval_partition.txt: missing" in result.stderr


def test_unreadable_image_with_on_error_fail_exits_2(tmp_path):
    root = tmp_path / "imgs"
    make_mixed_folder(root)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    recipe = write_recipe(tmp_path, f'name = "images"\nroot = "{root}"\non_error = "fail"\nresolution = 32')
    result = invoke_cli("data", "prepare", str(recipe), cwd=tmp_path, env={"GANFORGE_CACHE": str(tmp_path / "c")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "broken.png" in result.stderr and "on_error" in result.stderr


@pytest.mark.slow
def test_the_article_recipe_trains_on_a_celeba_tree(tmp_path, celeba):
    root, _ = celeba
    env = {"GANFORGE_CACHE": str(tmp_path / "c")}
    prepared = invoke_cli(
        "data", "prepare", ARTICLE_RECIPE, "--set", f"dataset.root={json.dumps(str(root))}", cwd=tmp_path, env=env
    )
    assert prepared.returncode == 0, prepared.stderr
    assert "600 images of 64x64x3" in prepared.stdout
    result = invoke_cli(
        "run",
        ARTICLE_RECIPE,
        "--set",
        f"dataset.root={json.dumps(str(root))}",
        "--set",
        "train.steps=3",
        "--set",
        "train.sample_every=3",
        "--set",
        "train.samples=4",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    [run] = (tmp_path / "runs").iterdir()
    assert (run / "samples" / "step_00000003.png").is_file()
    assert (run / "checkpoints" / "step_00000003.npz").is_file()


def test_stacked_digits_put_three_embedded_digits_in_the_colour_channels():
    from ganforge_mnist.embedded import read_embedded
    from ganforge_mnist.stacked import StackedDigits

    digits, labels = read_embedded()
    stacked = StackedDigits(size=5000, seed=3)
    again = StackedDigits(size=5000, seed=3)
    images = stacked.read(np.array([0, 7, 4999]))
    assert stacked.spec.shape == (32, 32, 3) and images.dtype == np.uint8 and len(stacked) == 5000
    np.testing.assert_array_equal(images, again.read(np.array([0, 7, 4999])))
    for channel in range(3):
        np.testing.assert_array_equal(images[1, 2:30, 2:30, channel], digits[stacked.table[7, channel]])
    triple = [int(labels[stacked.table[7, channel]]) for channel in range(3)]
    assert stacked.modes[7] == 100 * triple[0] + 10 * triple[1] + triple[2]
    assert len(np.unique(stacked.modes)) > 990  # 5,000 draws over 1,000 triples miss about 7 of them
    assert not np.array_equal(StackedDigits(size=5000, seed=4).table, stacked.table)
