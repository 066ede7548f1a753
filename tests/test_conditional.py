"""Conditional GANs: labels from the data to the step, the sample grids, the commands and the metrics."""

from __future__ import annotations

import json
import shutil
import types

import numpy as np
import pytest
from conftest import TINY_RECIPE, assert_user_error, invoke_cli, write
from image_trees import make_celeba
from PIL import Image
from test_engine import losses, read_metrics, saved_arrays, start_run

from ganforge import hookimpl, streams
from ganforge.errors import DataError, RecipeError
from ganforge.plugin.registry import Registry
from ganforge.recipe import load_recipe
from ganforge.runs import checkpoint
from ganforge.training.assembly import build_parts
from ganforge.training.trainer import train

CONDITIONAL = TINY_RECIPE + "\n[condition]\nlabels = true\n"


PER_CLASS_METRICS = (
    'eval.metrics=[{ name = "class_consistency", samples = 200 }, '
    '{ name = "intra_fid", samples = 200, reference_samples = 200 }]'
)


@pytest.fixture
def conditional_recipe(tmp_path):
    return write(tmp_path / "conditional.toml", CONDITIONAL)


@pytest.fixture(scope="module")
def conditional_run(tmp_path_factory):
    """A finished 6-step conditional run of the tiny recipe on digits 0 and 1, measured by the per-class metrics;
    trained once for the tests that read it (copy it to write into it)."""
    folder = tmp_path_factory.mktemp("conditional")
    recipe = write(folder / "conditional.toml", CONDITIONAL)
    return train(*start_run(recipe, folder, ['sinks=["jsonl"]', PER_CLASS_METRICS])).run_dir


def test_fakes_labels_follow_the_data_and_are_keyed_by_seed_and_step():
    table = np.array([0] * 900 + [1] * 100, np.int32)  # 90% of the data is class 0

    def fake_labels(seed, step):
        return streams.step_draws(seed, step, 2, 4000, 1, 0.0, labels=table).condition

    labels = fake_labels(0, 5)
    assert labels.shape == (3, 4000)  # d_steps + 1 updates
    assert np.mean(labels == 1) == pytest.approx(0.1, abs=0.01)
    np.testing.assert_array_equal(fake_labels(0, 5), labels)  # drawn again identically: resume is exact
    assert not np.array_equal(fake_labels(0, 6), labels)
    assert not np.array_equal(fake_labels(1, 5), labels)
    unconditional = streams.step_draws(0, 5, 2, 16, 1, 0.0)
    assert unconditional.condition.shape == (3, 16, 0)
    # the labels are a stream of their own: a conditional run draws the same noise as an unconditional one
    np.testing.assert_array_equal(streams.step_draws(0, 5, 2, 16, 1, 0.0, labels=table).noise, unconditional.noise)


@pytest.mark.slow  # three short runs
def test_a_conditional_run_resumes_exactly_and_draws_a_row_per_class(conditional_recipe, tmp_path):
    overrides = ["train.d_steps=2", 'penalty = { name = "r1" }', "train.samples=8", 'sinks=["jsonl", "png"]']
    straight = train(*start_run(conditional_recipe, tmp_path / "a", overrides))
    recipe, folder = start_run(conditional_recipe, tmp_path / "b", [*overrides, "train.steps=3"])
    train(recipe, folder)
    resumed = train(
        load_recipe(conditional_recipe, overrides),
        folder,
        resume_from=checkpoint.checkpoint_path(folder / "checkpoints", 3),
    )
    assert losses(read_metrics(resumed.run_dir)) == losses(read_metrics(straight.run_dir))
    expected, found = saved_arrays(straight.checkpoint), saved_arrays(resumed.checkpoint)
    assert any(value.shape == (2, 50) for value in expected.values())  # G's label embedding: trained and saved
    for key in expected:
        np.testing.assert_array_equal(found[key], expected[key], err_msg=key)

    grid = np.asarray(Image.open(straight.run_dir / "samples" / "step_00000006.png"))
    assert grid.shape[:2] == (2 * 34 + 2, 4 * 34 + 2)  # 8 samples of classes [0, 1]: a row of 4 per class


def test_the_sample_grid_gives_each_class_a_row_of_the_same_noise(conditional_recipe):
    from ganforge.training.monitor import Monitor

    parts = build_parts(load_recipe(conditional_recipe))
    monitor = Monitor(
        parts.generator, parts.dataset, [], None, seed=0, latent_dim=16, samples=8, condition=parts.condition
    )
    np.testing.assert_array_equal(monitor.fixed_labels, [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(monitor.fixed_noise[:4], monitor.fixed_noise[4:])
    assert len({tuple(row) for row in monitor.fixed_noise}) == 4
    images = monitor._generate(monitor.fixed_noise, monitor.fixed_labels)
    assert not np.allclose(images[:4], images[4:])  # the same noise, another class: another image


def test_unlabelled_data_and_unconditional_models_are_refused_by_key(tmp_path):
    single = write(tmp_path / "single.toml", CONDITIONAL.replace("classes = [0, 1]", "classes = [3]"))
    done = invoke_cli("run", str(single), cwd=tmp_path)  # one digit is no class to choose: no labels
    assert_user_error(done, "single.toml", "condition.labels", "'digits': this dataset has no labels")
    assert not (tmp_path / "runs").exists()

    def plain_generator(spec, latent_dim):  # a third party's generator that takes no condition
        import keras

        noise = keras.Input((latent_dim,))
        return keras.Model(noise, keras.layers.Reshape(spec.shape)(keras.layers.Dense(int(np.prod(spec.shape)))(noise)))

    module = types.ModuleType("plain_models")
    module.register_generators = hookimpl(lambda register: register("plain", plain_generator))
    registry = Registry.from_entry_points()
    registry.add_plugin("plain_models", lambda: module, package="plain-models")
    recipe = load_recipe(
        write(
            tmp_path / "plain.toml",
            CONDITIONAL.replace('name = "dcgan"\npreset = "radford"\nfilters = [32, 16, 8]', 'name = "plain"'),
        ),
        registry=registry,
    )
    with pytest.raises(
        RecipeError, match=r"generator 'plain' of plugin 'plain_models' \(plain-models\) cannot take a condition"
    ):
        build_parts(recipe, registry)

    with_metric = write(
        tmp_path / "metric.toml", TINY_RECIPE + '\n[eval]\nmetrics = [{ name = "class_consistency", samples = 10 }]\n'
    )
    with pytest.raises(RecipeError, match="measures a conditional generator: set \\[condition\\] labels = true"):
        build_parts(load_recipe(with_metric))


@pytest.mark.slow
def test_sample_interpolate_and_export_take_the_condition(conditional_run, tmp_path):
    import ganforge.trained as trained_runs
    from ganforge.trained import generating

    run = conditional_run
    out = tmp_path / "ones.png"
    done = invoke_cli("sample", str(run), "-o", str(out), "-n", "4", "--class", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (2 * 34 + 2, 2 * 34 + 2)
    trained = trained_runs.load(run)
    np.testing.assert_array_equal(trained.labels(0, 4, "1"), [1, 1, 1, 1])  # what --class 1 draws
    drawn = trained.labels(0, 400)  # without --class: as the data has them, half and half
    assert 0.4 < np.mean(drawn) < 0.6

    # refused before anything is written (the CLI's exit 2 for these is tested on CelebA's attributes below)
    refused = tmp_path / "refused.png"
    with pytest.raises(DataError, match=r"no class '7' \(the dataset has 0, 1\)"):
        generating.sample(trained, refused, 4, 0, False, "7")
    with pytest.raises(DataError, match="labels are classes, not attributes: use --class NAME"):
        generating.interpolate(trained, refused, tmp_path / "refused.gif", [0, 1], 3, 100, None, ["Smiling=true"])
    assert not refused.exists()
    generating.interpolate(trained, tmp_path / "walk.png", tmp_path / "walk.gif", [0, 1], 3, 100, "1")
    assert Image.open(tmp_path / "walk.png").size == (3 * 34 + 2, 34 + 2)

    exported = tmp_path / "exported"
    done = invoke_cli("export", str(run), "-o", str(exported), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    about = json.loads((exported / "generator.json").read_text())
    assert about["inputs"] == ["noise", "labels"]
    assert about["labels"]["kind"] == "classes" and about["labels"]["names"] == ["0", "1"]
    import keras

    model = keras.saving.load_model(exported / "generator.keras")
    noise = np.zeros((2, 16), np.float32)
    images = np.asarray(model([noise, np.array([0, 1], np.int32)]))
    assert images.shape == (2, 32, 32, 1) and not np.array_equal(images[0], images[1])


@pytest.mark.slow
def test_the_per_class_metrics_measure_a_conditional_run(conditional_run, tmp_path):
    run = shutil.copytree(conditional_run, tmp_path / conditional_run.name)  # eval appends to its evaluations
    records = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]
    consistency, intra = (r["results"] for r in records)
    assert 0.0 <= consistency["worst_class"] <= consistency["class_consistency"] <= 1.0
    assert intra["intra_fid"] > 0 and intra["worst_class_fid"] >= intra["intra_fid"]
    done = invoke_cli("eval", str(run), "--metric", "class_consistency", "--samples", "100", cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_class_consistency_reads_each_class_with_the_classifier():
    """Samples that are real digits of the class asked for score as the classifier reads real digits; a
    generator that ignores the label scores about one class in K."""
    from ganforge.evaluation.measure import EvalContext
    from ganforge_metrics.per_class import ClassConsistency
    from ganforge_mnist.embedded import load_digits

    dataset = load_digits([3, 7, 8], 2)
    labels = dataset.labels(np.arange(len(dataset)))
    images = dataset.read(np.arange(len(dataset))).astype(np.float32) / 127.5 - 1

    def real_digits(wanted):
        return np.stack([images[np.flatnonzero(labels == k)[i]] for i, k in enumerate(wanted)])

    def always_threes(wanted):
        return np.stack([images[np.flatnonzero(labels == 0)[i]] for i in range(len(wanted))])

    metric = ClassConsistency("digits", 300, None)
    metric.check(dataset.spec, dataset)
    context = EvalContext(0, dataset.spec, dataset, None, None, dataset.label_spec, real_digits)
    assert metric.evaluate(context)["class_consistency"] >= 0.97
    context = EvalContext(0, dataset.spec, dataset, None, None, dataset.label_spec, always_threes)
    result = metric.evaluate(context)
    assert result["class_consistency"] == pytest.approx(1 / 3, abs=0.03) and result["worst_class"] <= 0.03


@pytest.mark.slow
def test_celeba_attributes_condition_a_smoke_run(tmp_path, monkeypatch):
    import ganforge.trained as trained_runs

    """recipes/conditional_celeba.toml (Smiling, Eyeglasses) on a generated CelebA-shaped tree, small networks:
    two steps, then samples asked for by attribute."""
    root = tmp_path / "celeba"
    make_celeba(root, count=40)
    recipe = write(
        tmp_path / "faces.toml",
        f"""
extends = "conditional_celeba"
name = "faces"
output_dir = "{tmp_path / "runs"}"
[dataset]
root = "{root}"
resolution = 16
[train]
steps = 2
batch_size = 8
samples = 8
[generator]
name = "dcgan"
preset = "radford"
filters = [16, 8]
[discriminator]
name = "dcgan"
preset = "radford"
filters = [8, 16]
""",
    )
    env = {"GANFORGE_CACHE": str(tmp_path / "cache")}
    done = invoke_cli("run", str(recipe), "--set", 'sinks=["jsonl", "png"]', cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "runs").iterdir()
    out = tmp_path / "smiling.png"
    asked = ["--attribute", "Smiling=true", "--attribute", "Eyeglasses=false"]
    done = invoke_cli("sample", str(run), "-o", str(out), "-n", "4", *asked, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    refused = tmp_path / "refused.png"
    done = invoke_cli("sample", str(run), "-o", str(refused), "--attribute", "Smilling=true", cwd=tmp_path, env=env)
    assert_user_error(done, "did you mean 'Smiling'?")
    assert not refused.exists()
    with monkeypatch.context() as patched:
        patched.setenv("GANFORGE_CACHE", env["GANFORGE_CACHE"])
        trained = trained_runs.load(run)
    smiling = trained.labels(0, 50, attributes=["Smiling=true", "Eyeglasses=false"])
    assert (smiling == [1.0, 0.0]).all()
    with pytest.raises(DataError, match="write NAME=true or NAME=false"):
        trained.labels(0, 4, attributes=["Smiling=maybe"])
    with pytest.raises(DataError, match=r"labels are attributes \(Smiling, Eyeglasses\), not classes"):
        trained.labels(0, 4, "Smiling")


def test_the_auxiliary_classifier_loss_is_the_weighted_cross_entropy_of_the_labels():
    from ganforge.data.labels import LabelSpec
    from ganforge.training.condition import Condition
    from ganforge.training.objective import classification

    logits = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], np.float32)
    classes = Condition(LabelSpec("classes", ("a", "b", "c")), np.zeros(1, np.int32), classifier_weight=0.5)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(softmax[[0, 1], [2, 1]]))
    assert float(classification(classes, logits, np.array([2, 1], np.int32))) == pytest.approx(0.5 * expected, rel=1e-5)

    flags = Condition(LabelSpec("attributes", ("x", "y", "z")), np.zeros((1, 3), np.float32), classifier_weight=2.0)
    wanted = np.array([[1, 0, 1], [0, 0, 1]], np.float32)
    probability = 1 / (1 + np.exp(-logits))
    expected = -np.mean(wanted * np.log(probability) + (1 - wanted) * np.log(1 - probability))
    assert float(classification(flags, logits, wanted)) == pytest.approx(2.0 * expected, rel=1e-5)
    assert classification(None, None, wanted) == 0.0  # D predicts nothing: no term


def test_an_auxiliary_classifier_discriminator_is_built_checked_and_refused_by_key(tmp_path):
    recipe = write(tmp_path / "acgan.toml", CONDITIONAL + 'discriminator = "classifier"\n')
    parts = build_parts(load_recipe(recipe))
    assert parts.condition.classifies and len(parts.discriminator.outputs) == 2
    assert tuple(parts.discriminator.outputs[1].shape) == (None, 2)  # classes [0, 1]

    unlabelled = write(tmp_path / "plain.toml", TINY_RECIPE + '\n[condition]\ndiscriminator = "classifier"\n')
    with pytest.raises(RecipeError, match=r"condition\.discriminator.*needs labels = true"):
        build_parts(load_recipe(unlabelled))

    def one_output(spec, classifier):  # claims to classify, returns only the real/fake logit
        import keras

        images = keras.Input(spec.shape)
        return keras.Model(images, keras.layers.Dense(1)(keras.layers.Flatten()(images)))

    module = types.ModuleType("one_output")
    module.register_discriminators = hookimpl(lambda register: register("one_output", one_output))
    registry = Registry.from_entry_points()
    registry.add_plugin("one_output", lambda: module, package="one-output")
    text = CONDITIONAL.replace('name = "dcgan"\npreset = "radford"\nfilters = [8, 16, 32]', 'name = "one_output"')
    recipe = load_recipe(write(tmp_path / "one.toml", text + 'discriminator = "classifier"\n'), registry=registry)
    with pytest.raises(RecipeError, match=r"must return \[logits, class logits \(2, 2\)\]; it returned \(2, 1\)"):
        build_parts(recipe, registry)


def test_a_conditional_recipe_on_a_folder_of_classes_is_checked_without_decoding_it(tmp_path, monkeypatch):
    """``recipe check`` must stay quick: building the models needs the labels' names, not the labels."""
    from test_labels import write_class_tree

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    write_class_tree(tmp_path / "pets", {"dog": 3, "cat": 3})
    text = CONDITIONAL.replace('name = "digits"\nclasses = [0, 1]', f'name = "images"\nroot = "{tmp_path / "pets"}"')
    recipe = load_recipe(write(tmp_path / "pets.toml", text), ["train.batch_size=2", "dataset.resolution=32"])
    parts = build_parts(recipe)
    assert parts.condition.spec.names == ("cat", "dog")
    assert parts.dataset.cache is None  # nothing decoded yet
    np.testing.assert_array_equal(np.sort(parts.condition.table), [0, 0, 0, 1, 1, 1])  # read when first asked
