"""`ganforge compare`: runs side by side on one self-contained page, and what it refuses."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_user_error, invoke_cli, run_cli

from ganforge.errors import DataError
from ganforge.recipe import find_recipe, load_recipe, tomllib
from ganforge.runs import folder as run_folder
from ganforge.trained import compare as run_compare
from ganforge.training.trainer import train

SHORT = [
    "train.steps=4",
    "train.batch_size=64",
    "train.log_every=1",
    "train.sample_every=2",
    "train.checkpoint_every=4",
    "eval.every=2",
    'sinks=["jsonl", "png"]',
]


def toy_run(tmp_path: Path, recipe: str, *extra: str) -> Path:
    loaded = load_recipe(find_recipe(recipe), [*SHORT, *extra])
    folder = run_folder.create(tmp_path / "runs", loaded.name, loaded.to_toml())
    train(loaded, folder)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Two ring runs that differ in loss and learning rate, and a run on another dataset."""
    tmp_path = tmp_path_factory.mktemp("compare")
    return {
        "ring": toy_run(tmp_path, "ring8"),
        "hinge": toy_run(tmp_path, "ring8_hinge", "discriminator_optimizer.learning_rate=3e-4"),
        "grid": toy_run(tmp_path, "grid25"),
    }


def images_on(page: str) -> list[str]:
    return re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)


def test_two_runs_side_by_side(runs, tmp_path):
    ring, hinge = runs["ring"], runs["hinge"]
    done = invoke_cli("compare", str(ring), str(hinge), "--out", "page.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "page.html").read_text()
    assert "<script" not in page and not re.search(r"(src|href)=\"(https?:|//)", page)  # nothing to fetch
    shown = images_on(page)
    # one overlaid plot per curve, and each run's newest grid (step 4)
    assert {"loss/discriminator", "loss/generator", "speed/images_per_s", "eval/mode_coverage/modes"} <= set(shown)
    assert {f"{ring.name} step 4", f"{hinge.name} step 4"} <= set(shown)
    # the final evaluations are each run's last mode_coverage record
    for run in (ring, hinge):
        last = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()][-1]
        row = re.search(rf"<tr><td>{re.escape(run.name)}</td><td>4</td>(.*?)</tr>", page).group(1)
        assert f"<td>{last['results']['modes']:.4g}</td>" in row
    # the recipe keys that differ, with each run's value, and no others
    differ = re.findall(r"<tr><td>([a-z_.]+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert ("loss.name", "nonsaturating", "hinge") in differ
    ring_rate = tomllib.loads((ring / "recipe.toml").read_text())["discriminator_optimizer"]["learning_rate"]
    assert ring_rate != 3e-4 and ("discriminator_optimizer.learning_rate", f"{ring_rate:.4g}", "0.0003") in differ
    assert not any(key.startswith(("dataset.", "train.")) for key, _, _ in differ)
    assert "different datasets" not in page


def test_runs_of_different_datasets_are_compared_and_said(runs, tmp_path):
    page = run_compare.build([runs["ring"], runs["grid"]])
    assert "These runs trained on different datasets" in page and "ring" in page and "grid" in page


def test_what_compare_refuses_writes_nothing(runs, tmp_path):
    out = tmp_path / "page.html"
    out.write_text("an older page")
    not_a_run = runs["ring"].parent  # the runs/ folder above the runs
    ring, hinge = runs["ring"], runs["hinge"]
    refused = [
        ([ring, not_a_run], out, [str(not_a_run), "not a run folder"]),
        ([ring], out, ["at least two run folders"]),
        ([ring, Path(f"{ring}/")], out, ["given twice"]),
        ([ring, tmp_path / "missing"], out, ["missing", "not a run folder"]),
        ([ring, hinge], tmp_path, ["is a folder"]),
        ([ring, hinge], tmp_path / "no" / "page.html", [str(tmp_path / "no" / "page.html"), "cannot write"]),
    ]
    for folders, target, fragments in refused:  # in-process: the messages; the real command's exit code below
        with pytest.raises(DataError) as refusal:
            run_compare.write(folders, target)
        assert all(fragment in str(refusal.value) for fragment in fragments), refusal.value
    assert_user_error(
        run_cli("compare", str(ring), str(not_a_run), "--out", str(out), cwd=tmp_path), "not a run folder"
    )
    assert out.read_text() == "an older page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no partial page left behind


def test_copies_of_one_run_are_told_apart_and_read_without_their_evaluations_file(runs, tmp_path):
    first, second = tmp_path / "a" / runs["ring"].name, tmp_path / "b" / runs["ring"].name
    shutil.copytree(runs["ring"], first)
    shutil.copytree(runs["ring"], second)
    (second / "evaluations.jsonl").unlink()  # its numbers remain in metrics.jsonl
    page = run_compare.build([first, second])
    a_label, b_label = f"a/{first.name}", f"b/{second.name}"
    rows = {
        label: re.search(rf"<tr><td>{re.escape(label)}</td><td>4</td>(.*?)</tr>", page).group(1)
        for label in (a_label, b_label)
    }
    assert rows[a_label] == rows[b_label]  # the same numbers, from either file
    assert "not measured the same way" not in page  # a run that cannot say how is not a difference
    assert "the runs differ only by chance" in page


def test_the_page_draws_in_a_browser(runs, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        pytest.skip("no Chromium here to draw the page (apt install chromium)")
    done = invoke_cli("compare", str(runs["ring"]), str(runs["hinge"]), "-o", "page.html", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    shot = tmp_path / "page.png"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,2000"]
    subprocess.run([*command, f"--screenshot={shot}", (tmp_path / "page.html").as_uri()], timeout=120, check=False)
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape == (2000, 1200, 3) and pixels.std() > 10  # something was drawn, not a blank page
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    # matplotlib's first two colours, one per run, both drawn in the overlaid plots
    assert np.sum((blue - red > 80) & (blue > 150)) > 200 and np.sum((red - blue > 80) & (green > 100)) > 200
