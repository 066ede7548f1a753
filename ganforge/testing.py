"""Contract checks for plugin authors, to call from your own pytest suite.

Each check builds the component the way ganforge will, calls it the way
training will, and raises :class:`ContractError` (an ``AssertionError``, so
pytest shows it as a failed test) saying what the component returned and
what the contract asks for::

    from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
    from ganforge.testing import check_generator

    def test_my_generator_keeps_the_contract():
        check_generator(build_my_generator, DataSpec(32, 32, 3), latent_dim=64, width=16)

ganforge's own plugins are tested with these same checks
(``tests/test_plugin_contract.py``). :func:`train_briefly` runs a recipe for a
few steps through the real training loop.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganforge.backend import tensorflow
from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
from ganforge.errors import PluginError
from ganforge.plugin.contract import check_returned, describe, supports
from ganforge.runs.folder import CHECKPOINTS

__all__ = [
    "ContractError",
    "check_generator",
    "check_discriminator",
    "check_dataset",
    "check_loss",
    "check_penalty",
    "check_generator_penalty",
    "check_metric",
    "check_feature_network",
    "check_sink",
    "check_save_and_load",
    "train_briefly",
]


class ContractError(AssertionError):
    """A component does not do what its kind of component must."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ContractError(message)


def _returned(kind: str, factory: Callable[..., Any], *args: Any, **params: Any) -> Any:
    name = getattr(factory, "__qualname__", repr(factory))
    try:
        return check_returned(kind, f"{kind} factory {name}", factory(*args, **params))
    except PluginError as error:
        raise ContractError(str(error)) from None


def _finite(array: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(array)
    _require(not bad.any(), f"{what} holds {int(bad.sum())} NaN or infinite value(s)")


def _noise(batch: int, latent_dim: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((batch, latent_dim)).astype(np.float32)


def _labels(condition: LabelSpec, size: int, seed: int = 0) -> np.ndarray:
    """Labels as a conditional model takes them: class numbers in turn, or random 0/1 attribute flags."""
    if condition.kind == "classes":
        return (np.arange(size) + seed) % len(condition)
    return np.random.default_rng(seed).integers(0, 2, (size, len(condition))).astype(np.float32)


def _given(condition: LabelSpec | None) -> dict:
    return {} if condition is None else {"condition": condition}


def _call(model, inputs, labels):
    from ganforge.training.condition import model_inputs

    return np.asarray(model(model_inputs(inputs, labels), training=False))


def _takes_the_condition(model, inputs, condition: LabelSpec, what: str) -> None:
    """Other labels with the same inputs give another output: the model reads its condition."""
    first, other = _labels(condition, len(inputs)), _labels(condition, len(inputs), seed=1)
    _require(
        not np.allclose(_call(model, inputs, first), _call(model, inputs, other)),
        f"the {what} gives the same output whatever the labels: it ignores its condition",
    )


def check_generator(
    factory: Callable[..., Any],
    spec: DataSpec,
    *,
    latent_dim: int = 16,
    batch: int = 3,
    condition: LabelSpec | None = None,
    **params: Any,
):
    """``factory(spec, latent_dim, **params)`` returns a keras.Model: noise -> float32 images in [-1, 1] (points: any
    range); returns the model. With ``condition`` (a LabelSpec) the factory also gets ``condition=`` and the
    model takes ``[noise, labels]``, and other labels must give other images."""
    tensorflow()
    model = _returned("generator", factory, spec, latent_dim, **params, **_given(condition))
    for size in (batch, 1):
        labels = None if condition is None else _labels(condition, size)
        images = _call(model, _noise(size, latent_dim), labels)
        _require(
            images.shape == (size, *spec.shape),
            f"the generator made shape {images.shape} from noise ({size}, {latent_dim}); expected {(size, *spec.shape)}",
        )
        _require(images.dtype == np.float32, f"the generator made {images.dtype} values; expected float32")
        _finite(images, "the generator's output")
        if not spec.is_image:
            continue  # points (a 2-D mixture, say) may use any range the data has, as check_dataset allows
        if getattr(model, "linear_output", False):
            continue  # it says so: ganforge clips its images where it makes pixels or features
        low, high = float(images.min()), float(images.max())
        _require(
            low >= -1 - 1e-5 and high <= 1 + 1e-5,
            f"the generator's values span [{low:.3g}, {high:.3g}]; they must lie in [-1, 1] (end with tanh, or set "
            "model.linear_output = True if ganforge should clip them)",
        )
    if condition is not None:
        _takes_the_condition(model, _noise(batch, latent_dim), condition, "generator")
    _check_latent_parts(model, latent_dim, batch, condition)
    return model


def _check_latent_parts(model, latent_dim: int, batch: int, condition: LabelSpec | None) -> None:
    """A generator offering ``mapping`` and ``synthesis`` (check_returned saw both or neither) makes w of shape
    (batch, w_dim) or (batch, num_ws, w_dim), and synthesis(mapping(inputs)) is generator(inputs)."""
    from ganforge.training.condition import model_inputs

    found = supports("generator", model)
    if found["mapping"] is None:
        return
    inputs = model_inputs(_noise(batch, latent_dim), None if condition is None else _labels(condition, batch))
    latent = found["mapping"](inputs, training=False)
    shape = tuple(latent.shape)
    _require(
        len(shape) in (2, 3) and shape[0] == batch,
        f"mapping made w of shape {shape} from {batch} inputs; expected ({batch}, w_dim) or ({batch}, num_ws, w_dim)",
    )
    through = np.asarray(found["synthesis"](latent, training=False))
    whole = np.asarray(model(inputs, training=False))
    gap = float(np.abs(through - whole).max())
    _require(
        np.allclose(through, whole, atol=1e-5),
        f"synthesis(mapping(inputs)) differs from generator(inputs) by up to {gap:.3g}; "
        "they must be the same function, sharing their weights",
    )


def check_discriminator(
    factory: Callable[..., Any], spec: DataSpec, *, batch: int = 3, condition: LabelSpec | None = None, **params: Any
):
    """``factory(spec, **params)`` returns a keras.Model: images in [-1, 1] -> one finite logit each; returns the model.
    With ``condition`` the factory also gets ``condition=``, the model takes ``[images, labels]``, and other
    labels must give other logits."""
    tensorflow()
    model = _returned("discriminator", factory, spec, **params, **_given(condition))
    images = np.random.default_rng(1).uniform(-1, 1, (batch, *spec.shape)).astype(np.float32)
    logits = _call(model, images, None if condition is None else _labels(condition, batch))
    _require(
        logits.shape in ((batch, 1), (batch,)),
        f"the discriminator returned shape {logits.shape} for {batch} images; expected one logit each, ({batch}, 1)",
    )
    _finite(logits, "the discriminator's logits")
    activation = getattr(model.layers[-1], "activation", None)
    _require(
        getattr(activation, "__name__", "") != "sigmoid",
        "the discriminator ends with a sigmoid: return logits, the loss applies the sigmoid where it is stable",
    )
    if condition is not None:
        _takes_the_condition(model, images, condition, "discriminator")
    return model


def check_dataset(factory: Callable[..., Any], *, batch: int = 8, **params: Any):
    """``factory(**params)`` returns a dataset that reads the same examples every time; returns it.

    Checks ``spec``, ``len``, and ``read(indices)``: shape ``(n, *spec.shape)``,
    uint8, or float32 (images in [-1, 1]), the same values for the same indices (in any
    order, and from a second dataset built with the same parameters).
    """
    dataset = _returned("dataset", factory, **params)
    if (prepare := supports("dataset", dataset)["prepare"]) is not None:
        prepare()
    size = len(dataset)
    _require(size > 0, "the dataset is empty")
    indices = np.unique(np.r_[np.arange(min(batch, size)), size - 1])
    examples = np.asarray(dataset.read(indices))
    _require(
        examples.shape == (len(indices), *dataset.spec.shape),
        f"read({len(indices)} indices) returned shape {examples.shape}; expected {(len(indices), *dataset.spec.shape)}",
    )
    _require(
        examples.dtype in (np.uint8, np.float32), f"read() returned {examples.dtype}; expected uint8 pixels or float32"
    )
    if examples.dtype == np.float32:
        _finite(examples, "the dataset's examples")
        if dataset.spec.is_image:  # points (a 2-D mixture, say) may use any range the models are built for
            _require(
                float(np.abs(examples).max()) <= 1 + 1e-5, "float32 images must lie in [-1, 1] (or return uint8 pixels)"
            )
    again = np.asarray(dataset.read(indices[::-1]))[::-1]
    _require(np.array_equal(examples, again), "read() returned other values for the same indices in another order")
    twin = factory(**params)
    if (prepare := supports("dataset", twin)["prepare"]) is not None:
        prepare()
    _require(
        len(twin) == size and np.array_equal(np.asarray(twin.read(indices)), examples),
        "a second dataset built with the same parameters holds other examples: seed everything random",
    )
    _check_optional_dataset_members(dataset, examples)
    return dataset


def _check_optional_dataset_members(dataset, examples: np.ndarray) -> None:
    found = supports("dataset", dataset)
    if found["listed"] is not None:
        _require(
            dataset.listed == len(dataset),
            f"listed is {dataset.listed!r} once prepared, but len() is {len(dataset)}; they must agree",
        )
    _check_labels(dataset, found, len(examples))
    if found["render"] is not None and not dataset.spec.is_image:
        picture = np.asarray(found["render"](examples.astype(np.float32)))
        _require(
            picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[-1] in (1, 3, 4),
            f"render() returned {picture.dtype} {picture.shape}; expected a uint8 picture (H, W, 3)",
        )


def _check_labels(dataset, found: dict, count: int) -> None:
    """A dataset with a ``label_spec`` answers ``labels(indices)`` as the spec says (without one it is
    unlabelled, whatever methods it has: a class may serve labelled and unlabelled data alike)."""
    from ganforge.data.labels import LabelSpec

    if found["label_spec"] is None:
        return
    _require(
        found["labels"] is not None, "a labelled dataset has both label_spec and labels(indices); this has no labels"
    )
    spec = dataset.label_spec
    _require(isinstance(spec, LabelSpec), f"label_spec is a {type(spec).__name__}; expected ganforge.data.LabelSpec")
    size = len(dataset)
    indices = np.unique(np.r_[np.arange(min(count, size)), size - 1])
    try:
        labels = spec.check(dataset.labels(indices), len(indices))
    except ValueError as error:
        raise ContractError(f"labels(): {error}") from None
    again = spec.check(dataset.labels(indices[::-1]), len(indices))[::-1]
    _require(np.array_equal(labels, again), "labels() returned other values for the same indices in another order")


def _logits(batch: int, seed: int, scale: float = 3.0) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal((batch, 1))).astype(np.float32)


def check_loss(factory: Callable[..., Any], **params: Any):
    """``factory(**params)`` returns a loss whose two terms are finite scalars with finite, non-zero gradients.

    A loss with ``uses_real_logits`` gets the real logits in ``generator_loss`` too; its gradient is checked
    with respect to the fake logits, the ones G moves."""
    tf = tensorflow()
    loss = _returned("loss", factory, **params)
    compares = supports("loss", loss)["uses_real_logits"]
    for scale in (3.0, 40.0):  # ordinary logits, and the saturated ones a failing D produces
        real, fake = tf.Variable(_logits(8, 2, scale)), tf.Variable(_logits(8, 3, scale))
        with tf.GradientTape(persistent=True) as tape:
            d_loss = loss.discriminator_loss(real, fake)
            g_loss = loss.generator_loss(fake, real) if compares else loss.generator_loss(fake)
        for name, value, sources in (("discriminator_loss", d_loss, [real, fake]), ("generator_loss", g_loss, [fake])):
            value_np = np.asarray(value)
            _require(value_np.shape == (), f"{name} returned shape {value_np.shape}; expected a scalar")
            _finite(value_np, f"{name} at logits of scale {scale}")
            gradients = tape.gradient(value, sources)
            _require(
                all(g is not None for g in gradients), f"{name} is not differentiable in the logits (use keras.ops)"
            )
            for gradient in gradients:
                _finite(np.asarray(gradient), f"the gradient of {name} at logits of scale {scale}")
            if scale == 3.0:
                _require(
                    any(np.abs(np.asarray(g)).max() > 0 for g in gradients), f"{name}'s gradient is zero everywhere"
                )
    _check_optional_loss_members(loss)
    return loss


def _check_optional_loss_members(loss) -> None:
    found = supports("loss", loss)
    if found["supports_targets"]:
        real, fake = _logits(8, 2), _logits(8, 3)
        plain = float(np.asarray(loss.discriminator_loss(real, fake)))
        ones, zeros = np.ones((8, 1), np.float32), np.zeros((8, 1), np.float32)
        targeted = float(np.asarray(loss.discriminator_loss(real, fake, ones, zeros)))
        _require(
            np.isclose(plain, targeted, rtol=1e-5),
            f"supports_targets: discriminator_loss with targets 1 and 0 gives {targeted}, without them {plain}; "
            "they must agree",
        )
        smoothed = np.asarray(loss.discriminator_loss(real, fake, ones * 0.9, zeros + 0.1))
        _finite(smoothed, "discriminator_loss with smoothed targets")
    if found["penalty"] is not None:
        check_returned("penalty", "the loss's own penalty", found["penalty"])
    if found["constrain_discriminator"] is not None:
        _require(callable(found["constrain_discriminator"]), "constrain_discriminator must be a method")


def check_penalty(factory: Callable[..., Any], spec: DataSpec = DataSpec(8, 8, 1), **params: Any):
    """``factory(**params)`` returns a penalty: valid ``points`` and ``every``, a finite scalar from gradients."""
    tf = tensorflow()
    penalty = _returned("penalty", factory, **params)
    _require(isinstance(penalty.every, int) and penalty.every >= 1, f"every = {penalty.every!r}; expected an int >= 1")
    gradients = tf.Variable(np.random.default_rng(4).standard_normal((4, *spec.shape)).astype(np.float32))
    with tf.GradientTape() as tape:
        value = penalty.from_gradients(gradients)
    value_np = np.asarray(value)
    _require(value_np.shape == (), f"from_gradients returned shape {value_np.shape}; expected a scalar")
    _finite(value_np, "the penalty")
    _require(
        tape.gradient(value, gradients) is not None,
        "the penalty is not differentiable in the gradients (use keras.ops)",
    )
    return penalty


def _scalar(value, what: str) -> np.ndarray:
    array = np.asarray(value)
    _require(array.shape == (), f"{what} has shape {array.shape}; expected a scalar")
    _finite(array, what)
    return array


def check_generator_penalty(factory: Callable[..., Any], **params: Any):
    """``factory(**params)`` returns a generator penalty: ``every`` and ``batch_shrink`` ints >= 1, ``state`` a dict of
    floats; ``from_latent_gradients`` gives a finite, differentiable scalar and one finite statistic per state key,
    for w of shape (rows, w_dim) and (rows, num_ws, w_dim); ``updated`` gives finite values for the same keys."""
    tf = tensorflow()
    penalty = _returned("generator_penalty", factory, **params)
    state = {name: tf.constant(value, tf.float32) for name, value in penalty.state.items()}
    for shape in ((4, 8), (4, 3, 8)):
        gradients = tf.Variable(np.random.default_rng(6).standard_normal(shape).astype(np.float32))
        with tf.GradientTape() as tape:
            term, statistics = penalty.from_latent_gradients(gradients, state)
        _scalar(term, f"the term from gradients {shape}")
        _require(
            tape.gradient(term, gradients) is not None,
            "the term is not differentiable in the gradients (use keras.ops)",
        )
        _same_keys(statistics, state, "from_latent_gradients' statistics")
        for name, value in statistics.items():
            _scalar(value, f"statistic {name!r}")
        after = penalty.updated(state, statistics)
        _same_keys(after, state, "updated(state, statistics)")
        for name, value in after.items():
            _scalar(value, f"the updated {name!r}")
    return penalty


def _same_keys(found: Any, state: dict, what: str) -> None:
    _require(
        isinstance(found, dict) and set(found) == set(state),
        f"{what} returned {describe(found)}; expected a dict with the keys of state, {sorted(state)}",
    )


def check_metric(
    factory: Callable[..., Any], dataset, generate: Callable[[int], np.ndarray] | None = None, **params: Any
) -> dict:
    """``factory(**params)`` returns a metric whose ``evaluate`` gives finite floats by name; returns them.

    ``generate(count)`` stands in for the generator (default: the dataset's own
    examples scaled to [-1, 1], a perfect generator).
    """
    from ganforge.data.pixels import to_unit_range
    from ganforge.evaluation.measure import EvalContext

    metric = _returned("metric", factory, **params)
    if (check := supports("metric", metric)["check"]) is not None:
        check(dataset.spec, dataset)
    if generate is None:

        def generate(count):
            return to_unit_range(np.asarray(dataset.read(np.arange(count) % len(dataset))))

    images: dict[str, np.ndarray] = {}
    context = EvalContext(
        step=1,
        spec=dataset.spec,
        dataset=dataset,
        generate=generate,
        save_image=lambda name, image: images.setdefault(name, image),
    )
    if (describe_metric := supports("metric", metric)["describe"]) is not None:
        described = describe_metric()
        _require(isinstance(described, dict), f"describe() returned {describe(described)}; expected a dict")
    results = metric.evaluate(context)
    _require(
        isinstance(results, dict) and results,
        f"evaluate returned {describe(results)}; expected a dict of name -> float",
    )
    for name, value in results.items():
        _require(
            isinstance(name, str) and "/" not in name,
            f"result name {name!r}: use plain names (ganforge adds the metric's)",
        )
        _require(
            isinstance(value, (int, float, np.floating, np.integer)),
            f"result {name!r} is {describe(value)}; expected a float",
        )
    for name, image in images.items():
        _require(
            image.dtype == np.uint8 and image.ndim == 3,
            f"save_image({name!r}) got {image.dtype} {image.shape}; expected uint8 (H, W, C)",
        )
    return results


def check_feature_network(factory: Callable[..., Any], *, batch: int = 3, **params: Any):
    """``factory(**params)`` returns a network: images of ``input_shape`` -> features (N, D), logits (N, C) or None."""
    network = _returned("features", factory, **params)
    shape = tuple(network.input_shape)
    _require(len(shape) == 3, f"input_shape is {shape}; expected (height, width, channels)")
    _require(isinstance(network.describe(), str), "describe() must return a string")
    if shape[0] is None:  # takes any size: try one that is not square
        _require(isinstance(getattr(network, "resize", None), str), "a network of any input size must say its resize")
        side = max(getattr(network, "smallest", 1), 24)
        shape = (side, side + 8, shape[2])
    images = np.random.default_rng(5).uniform(-1, 1, (batch, *shape)).astype(np.float32)
    features, logits = network(images)
    features = np.asarray(features)
    _require(
        features.ndim == 2 and features.shape[0] == batch,
        f"features have shape {features.shape}; expected ({batch}, D)",
    )
    _finite(features, "the features")
    if logits is not None:
        logits = np.asarray(logits)
        _require(
            logits.ndim == 2 and logits.shape[0] == batch,
            f"logits have shape {logits.shape}; expected ({batch}, classes)",
        )
    return network


def check_sink(factory: Callable[..., Any], run_dir: Path, **params: Any):
    """``factory(run_dir, **params)`` returns a sink that takes one of every record the loop sends; returns it."""
    sink = factory(Path(run_dir), **params)
    grid = np.zeros((8, 8, 3), np.uint8)
    calls = [
        ("start", 4, 0),
        ("progress", 1),
        ("scalars", 2, {"loss/generator": 0.5, "speed/images_per_s": 10.0}),
        ("images", 2, "samples", grid),
        ("table", 2, "evaluation", ["metric", "value"], [["fid", 1.0]]),
        ("text", 0, "recipe", 'name = "x"\n'),
        ("checkpoint", 4, Path(run_dir) / CHECKPOINTS / "step_00000004.npz"),
        ("close",),
    ]
    for method, *args in calls:
        handler = getattr(sink, method, None)
        if handler is None:
            continue  # every method is optional
        try:
            handler(*args)
        except Exception as error:
            raise ContractError(f"the sink's {method}() raised {type(error).__name__}: {error}") from error
    return sink


def check_save_and_load(model, example_input: np.ndarray) -> None:
    """A Keras model survives ``model.save`` and a safe-mode ``load_model``, computing the same outputs."""
    tensorflow()
    import keras

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        try:
            loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as error:
            raise ContractError(
                f"the saved model does not load back ({type(error).__name__}: {error}); custom layers need "
                "@keras.saving.register_keras_serializable() and a get_config()"
            ) from None
    before = np.asarray(model(example_input, training=False))
    after = np.asarray(loaded(example_input, training=False))
    _require(np.allclose(before, after, atol=1e-6), "the loaded model computes other outputs than the saved one")


def train_briefly(
    recipe: str | Path,
    run_root: Path,
    *,
    steps: int = 2,
    overrides: list[str] = (),
    sinks: list[str | dict] | None = None,
) -> Path:
    """Train ``recipe`` for ``steps`` steps through the real loop, under ``run_root``; returns the run folder.

    The recipe's own sinks take the records (a sink plugin's test sees its sink run in the loop), unless
    ``sinks`` replaces them, e.g. ``sinks=["jsonl"]`` for a quiet run.
    """
    import tomli_w

    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_dir
    from ganforge.training.trainer import train

    settings = [f"train.steps={steps}", f'output_dir="{Path(run_root).as_posix()}"', *overrides]
    if sinks is not None:
        settings.append("sinks=" + tomli_w.dumps({"sinks": list(sinks)}).partition("=")[2].strip())
    loaded = load_recipe(recipe, settings)
    folder = run_dir.create(Path(loaded.model.output_dir), loaded.name, loaded.to_toml())
    train(loaded, folder)
    return folder
