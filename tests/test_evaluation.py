"""Evaluation in the loop, the best checkpoint, and `ganforge eval` on runs and folders."""

import json

import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, run_cli, write
from PIL import Image

from ganforge.errors import RecipeError
from ganforge.recipe import load_recipe
from ganforge.runs import checkpoint
from ganforge.runs import folder as run_folder
from ganforge.training.trainer import train

# trains with evaluations; `ganforge eval` runs in this process (conftest.invoke_cli), and once as a real process
pytestmark = pytest.mark.slow

SMALL_FID = '{ name = "fid", samples = 200, reference_samples = 200 }'
EVALUATED = (
    TINY_RECIPE
    + f"""
[eval]
every = 2
metrics = [{SMALL_FID}, {{ name = "precision_recall", samples = 200, reference_samples = 200 }}]
best = "fid/fid"
"""
)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluated")
    recipe = load_recipe(write(folder / "tiny.toml", EVALUATED), ['sinks=["jsonl"]'])
    run = run_folder.create(folder / "runs", recipe.name, recipe.to_toml())
    train(recipe, run)
    return run


def test_each_evaluation_is_recorded_with_what_it_depended_on(evaluated_run):
    records = read_jsonl(evaluated_run / "evaluations.jsonl")
    assert [(r["step"], r["metric"]) for r in records] == [
        (step, metric) for step in (2, 4, 6) for metric in ("fid", "precision_recall")
    ]
    fid = records[0]
    assert fid["samples"] == fid["reference_samples"] == 200
    assert fid["resize"] == "bilinear" and "digits classifier" in fid["features"]
    assert fid["network"]["name"] == "digits" and fid["reference"].startswith("dataset 'digits'")
    assert fid["results"]["fid"] > 0
    assert set(records[1]["results"]) == {"precision", "recall"}
    scalars = [r for r in read_jsonl(evaluated_run / "metrics.jsonl") if "eval/fid/fid" in r]
    assert [r["eval/fid/fid"] for r in scalars] == [r["results"]["fid"] for r in records if r["metric"] == "fid"]


def test_the_best_checkpoint_is_kept_beside_the_latest(evaluated_run):
    fids = {
        r["step"]: r["results"]["fid"] for r in read_jsonl(evaluated_run / "evaluations.jsonl") if r["metric"] == "fid"
    }
    best_step = min(fids, key=fids.get)
    header = checkpoint.read_header(evaluated_run / "checkpoints" / checkpoint.BEST)
    assert header["step"] == best_step
    assert header["best"] == {"key": "fid/fid", "mode": "min", "value": fids[best_step]}
    assert (evaluated_run / "checkpoints" / "step_00000006.npz").is_file()


def test_eval_measures_a_run_and_appends_its_results(evaluated_run, tmp_path):
    before = read_jsonl(evaluated_run / "evaluations.jsonl")
    done = invoke_cli(
        "eval", str(evaluated_run), "--metric", "kid", "--samples", "300", "--reference-samples", "300", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "kid" in done.stdout and "samples: 300" in done.stdout
    after = read_jsonl(evaluated_run / "evaluations.jsonl")
    assert after[: len(before)] == before  # appended, nothing rewritten
    record = after[-1]
    assert record["metric"] == "kid" and record["source"] == "ganforge eval" and record["weights"] == "raw"
    assert record["samples"] == 300 and record["checkpoint"].endswith("step_00000006.npz")
    assert "kid_std" in record["results"] and record["subset_size"] == 300

    # the recipe's own metrics when none is named; the best checkpoint on request
    done = invoke_cli("eval", str(evaluated_run), "--best", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [r["checkpoint"].endswith("best.npz") for r in read_jsonl(evaluated_run / "evaluations.jsonl")[-2:]] == [
        True,
        True,
    ]


def test_eval_refuses_what_it_cannot_measure(evaluated_run, tmp_path):
    before = (evaluated_run / "evaluations.jsonl").read_bytes()
    assert_user_error(  # the real entry point: exit code 2 and one line, no traceback
        run_cli("eval", str(evaluated_run), "--metric", "fid", "--reference-samples", "5000", cwd=tmp_path),
        "reference_samples = 5000, but the dataset holds only 1000 images",
    )
    assert_user_error(
        invoke_cli("eval", str(evaluated_run), "--metric", "fid", "--samples", "1", cwd=tmp_path),
        "samples: this metric needs at least 2 samples; got 1",
    )
    assert_user_error(invoke_cli("eval", str(evaluated_run), "--metric", "fidd", cwd=tmp_path), "did you mean 'fid'")
    assert_user_error(
        invoke_cli(
            "eval",
            str(evaluated_run),
            "--metric",
            "fid",
            "--features",
            "inception_v3",
            cwd=tmp_path,
            env={"GANFORGE_INCEPTION_WEIGHTS": ""},
        ),
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    )
    assert (evaluated_run / "evaluations.jsonl").read_bytes() == before


def write_digit_folder(folder, images):
    folder.mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{index:04d}.png")


def test_eval_compares_two_folders_of_images(tmp_path):
    from ganforge_mnist.embedded import read_embedded

    images, labels = read_embedded()
    write_digit_folder(tmp_path / "ones", images[labels == 1][:300])
    write_digit_folder(tmp_path / "sevens", images[labels == 7][:300])
    write_digit_folder(tmp_path / "more_ones", images[labels == 1][300:500])
    out = tmp_path / "fid.json"
    args = ["--metric", "fid", "--samples", "200", "--reference-samples", "200"]
    done = invoke_cli(
        "eval", str(tmp_path / "more_ones"), "--against", str(tmp_path / "ones"), *args, "--out", str(out), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    same_class = json.loads(out.read_text())[0]["results"]["fid"]
    done = invoke_cli(
        "eval",
        str(tmp_path / "sevens"),
        "--against",
        str(tmp_path / "ones"),
        *args,
        "--out",
        str(tmp_path / "b.json"),
        cwd=tmp_path,
    )
    other_class = json.loads((tmp_path / "b.json").read_text())[0]["results"]["fid"]
    assert other_class > 5 * same_class
    assert_user_error(
        invoke_cli(
            "eval",
            str(tmp_path / "sevens"),
            "--against",
            str(tmp_path / "ones"),
            *args,
            "--out",
            str(out),
            cwd=tmp_path,
        ),
        "fid.json: already exists",
    )
    assert_user_error(invoke_cli("eval", str(tmp_path / "sevens"), *args, cwd=tmp_path), "add --against")
    assert_user_error(
        invoke_cli(
            "eval",
            str(tmp_path / "more_ones"),
            "--against",
            str(tmp_path / "ones"),
            "--metric",
            "fid",
            "--samples",
            "250",
            "--reference-samples",
            "200",
            cwd=tmp_path,
        ),
        "needs 250 generated images",
        "holds 200",
    )


@pytest.mark.parametrize(
    "eval_table, fragment",
    [
        (f'metrics = [{SMALL_FID}]\nbest = "kid/kid"', "eval.best"),
        (f'metrics = [{SMALL_FID}]\nbest = "fid"', "eval.best"),
        (
            'metrics = [{ name = "fid", reference_samples = 5000 }]',
            "reference_samples = 5000, but the dataset holds only 1000",
        ),
        ('metrics = [{ name = "kid", subsets = 0 }]', "eval.metrics[0].subsets"),
        ('metrics = [{ name = "fid", features = "digitz" }]', "'digitz'"),
        ('metrics = [{ name = "fid", resize = "cubic" }]', "eval.metrics[0].resize"),
        (
            'metrics = [{ name = "fid", features = { name = "keras_file", path = "nowhere.keras", layer = "x" } }]',
            "features 'keras_file': path: no such file",
        ),
    ],
)
def test_bad_evaluation_settings_fail_before_training(tmp_path, eval_table, fragment):
    recipe = write(tmp_path / "tiny.toml", TINY_RECIPE + "\n[eval]\n" + eval_table + "\n")
    with pytest.raises(RecipeError, match=None) as caught:
        from ganforge.training.assembly import build_parts

        build_parts(load_recipe(recipe))
    assert fragment in str(caught.value)


def test_fid_on_points_is_refused(tmp_path):
    from ganforge.training.assembly import build_parts

    recipe = load_recipe("recipes/ring8.toml", ['eval.metrics=[{ name = "fid" }]'])
    with pytest.raises(RecipeError, match="needs images"):
        build_parts(recipe)


def test_eval_against_another_split_of_the_recipes_dataset(evaluated_run, tmp_path):
    args = ["--metric", "fid", "--samples", "200", "--reference-samples", "200"]
    done = invoke_cli("eval", str(evaluated_run), *args, "--reference-set", "classes=[7]", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = read_jsonl(evaluated_run / "evaluations.jsonl")[-1]
    assert record["reference"].startswith("dataset 'digits' (") and "classes=[7]" in record["reference"]
    assert_user_error(
        invoke_cli("eval", str(evaluated_run), *args, "--reference-set", "clases=[7]", cwd=tmp_path),
        "dataset.clases",
        "did you mean 'classes'",
    )


def test_a_best_value_the_metric_does_not_report_is_said_once(tmp_path, caplog):
    recipe = load_recipe(
        write(tmp_path / "tiny.toml", EVALUATED.replace('best = "fid/fid"', 'best = "fid/fdi"')), ['sinks=["jsonl"]']
    )
    run = run_folder.create(tmp_path / "runs", recipe.name, recipe.to_toml())
    train(recipe, run)
    assert caplog.text.count("best = 'fid/fdi', but the metric reported fid/fid") == 1
    assert not (run / "checkpoints" / checkpoint.BEST).exists()


def test_checking_fid_on_an_image_folder_does_not_decode_it(tmp_path):
    from image_trees import gradient_face

    from ganforge.training.assembly import build_parts

    (tmp_path / "faces").mkdir()
    for index in range(20):
        gradient_face(index).save(tmp_path / "faces" / f"{index}.jpg")
    recipe_text = TINY_RECIPE.replace(
        'name = "digits"\nclasses = [0, 1]',
        f'name = "images"\nroot = "{tmp_path / "faces"}"\n'
        f'resolution = 32\nchannels = 1\ncache_dir = "{tmp_path / "cache"}"',
    )
    recipe_text += '\n[eval]\nmetrics = [{ name = "fid", reference_samples = 50 }]\n'
    with pytest.raises(RecipeError, match="reference_samples = 50, but the dataset holds only 20 images"):
        build_parts(load_recipe(write(tmp_path / "faces.toml", recipe_text)))
    assert not list((tmp_path / "cache").rglob("images.npy"))  # counted from the listing, nothing decoded
