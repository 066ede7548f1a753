"""The plugin contract as types: what a factory of each kind returns.

One ``Protocol`` per kind of component. Members listed in :data:`OPTIONAL`
may be left out; the core then assumes the value given there. The core asks
what a component supports once, when it is built (:func:`supports`), never
in the training step. :func:`check_returned` checks the required members the
moment a factory returns, naming the plugin; the deeper checks a plugin
author runs in their own tests are in :mod:`ganforge.testing`.

Tensors below are whatever the backend's ops take and return (``keras.ops``
works on all of them); arrays are NumPy arrays.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
from ganforge.errors import PluginError


class Generator(Protocol):
    """A ``keras.Model``: noise ``(batch, latent_dim)`` float32 -> images ``(batch, *spec.shape)`` in [-1, 1].

    Made by ``factory(spec, latent_dim, **params)``: ``spec`` the dataset's :class:`ganforge.data.DataSpec`,
    ``latent_dim`` the recipe's ``train.latent_dim``; a fresh model each call (an EMA run makes two). In a
    conditional run (``[condition] labels = true``) also ``condition=``, the dataset's ``LabelSpec``: the
    model then takes ``[noise, labels]``, class numbers ``(batch,)`` int32 or flags ``(batch, A)`` float32.
    """

    def __call__(self, noise: Any, training: bool = False) -> Any: ...

    # optional: an output not squashed into [-1, 1]
    linear_output: bool
    """True for a generator that ends in a linear layer, as R3GAN's and StyleGAN's do: its images may leave
    [-1, 1] (D sees them as they are), and ganforge clips them to [-1, 1] wherever it makes pixels or features
    (samples, exports' PNGs, metrics), as those models' official code clamps them. Default False: the
    contract check then asks for values in [-1, 1]."""

    # optional: the intermediate latent w, offered as two parts (both or neither)
    mapping: Any
    """A Keras layer or model: the generator's inputs (noise, or ``[noise, labels]``) -> w, ``(batch, w_dim)`` or
    ``(batch, num_ws, w_dim)``. A generator with ``mapping`` and ``synthesis`` promises
    ``generator(inputs) == synthesis(mapping(inputs))``, with the weights shared: G-side regularisers that
    differentiate the images with respect to w (path length) need them."""

    synthesis: Any
    """A Keras layer or model: w (as ``mapping`` returns it) -> images ``(batch, *spec.shape)`` in [-1, 1]."""


class Discriminator(Protocol):
    """A ``keras.Model``: images ``(batch, *spec.shape)`` in [-1, 1] -> logits ``(batch, 1)`` (no sigmoid).

    Made by ``factory(spec, **params)``. In a conditional run also ``condition=`` (a ``LabelSpec``): the model
    takes ``[images, labels]``. With AC-GAN's ``classifier=`` (a ``LabelSpec``) it returns
    ``[logits, class_logits]``. The loss applies the sigmoid, where the maths is numerically stable.
    """

    def __call__(self, images: Any, training: bool = False) -> Any: ...


class Dataset(Protocol):
    """Examples by index; ganforge owns their order (shuffling, batching, resuming).

    Made by ``factory(**params)``: the ``[dataset]`` table but ``name`` and ``limit``, which are ganforge's.
    """

    spec: DataSpec

    def __len__(self) -> int: ...

    def read(self, indices: np.ndarray) -> np.ndarray:
        """``(len(indices), *spec.shape)``: uint8 pixels, or float32 already in the models' range."""

    # optional
    def prepare(self) -> Any:
        """Make reading possible (e.g. decode files into a cache), once, before the first read."""

    listed: int
    """How many examples, known without preparing: the files listed until ``prepare()`` has run."""

    def render(self, examples: np.ndarray) -> np.ndarray:
        """A uint8 picture ``(H, W, 3)`` of examples that are not images (e.g. 2-D points over the true modes)."""

    label_spec: LabelSpec
    """Labelled data: ``LabelSpec("classes", names)`` or ``LabelSpec("attributes", names)`` (ganforge.data.labels)."""

    def labels(self, indices: np.ndarray) -> np.ndarray:
        """With ``label_spec``: class numbers ``(len(indices),)`` or 0/1 flags ``(len(indices), A)``."""


class Loss(Protocol):
    """An adversarial loss computed from logits with ``keras.ops``, inside the compiled step.

    Made by ``factory(**params)``.
    """

    def discriminator_loss(self, real_logits: Any, fake_logits: Any, *targets: Any) -> Any:
        """A scalar. With ``supports_targets``, also ``real_targets, fake_targets`` ((batch, 1) each)."""

    def generator_loss(self, fake_logits: Any, *real_logits: Any) -> Any:
        """A scalar. With ``uses_real_logits``, also ``real_logits``: D's logits on this step's real batch."""

    # optional
    uses_real_logits: bool
    """True: ``generator_loss`` also gets D's logits on the real batch (relativistic losses need them)."""

    supports_targets: bool
    """True: ``discriminator_loss`` takes targets (label smoothing and label noise need them)."""

    accepts_penalty: bool
    """False: a recipe's ``[penalty]`` is refused (the loss keeps D Lipschitz its own way)."""

    penalty: Penalty | None
    """A penalty the loss always adds to D's loss (WGAN-GP's gradient penalty)."""

    def constrain_discriminator(self, discriminator: Any) -> None:
        """Called after every discriminator update (e.g. to clip its weights)."""


class Penalty(Protocol):
    """A penalty on D's input gradients (R1, R2, WGAN-GP's), added to D's loss.

    Made by ``factory(**params)``. ganforge takes the gradients, because differentiating is the backend's.
    """

    points: str
    """Where ganforge takes D's input gradients: ``"real"`` at real images (R1); ``"fake"`` at G's images, held
    constant so that no gradient reaches G (R2); ``"interpolated"`` at random points between real and fake
    (WGAN-GP)."""

    every: int
    """Apply on every Nth discriminator update (>= 1); the value is then scaled by N."""

    def from_gradients(self, gradients: Any) -> Any:
        """A scalar from per-example gradients ``(batch, *spec.shape)``, in ``keras.ops``."""


class GeneratorPenalty(Protocol):
    """A regulariser of G from the gradients of its images with respect to its intermediate latent w (path length).

    Made by ``factory(**params)``. It needs a generator that offers ``mapping`` and ``synthesis``. ganforge takes
    the gradients, because differentiating is the backend's; the penalty turns them into a term added to G's loss,
    in ``keras.ops``. What it keeps between steps (a running mean) is ``state``: ganforge holds it in variables,
    passes it in, writes back ``updated(...)`` after each regularised update and keeps it in checkpoints, so the
    penalty itself stays free of state and resume is exact.
    """

    every: int
    """Apply on every Nth generator update (>= 1): lazy regularisation, the term then scaled by N."""

    batch_shrink: int
    """The term is taken on every ``batch_shrink``-th row of the batch (>= 1; 1: all rows), to save time."""

    state: dict[str, float]
    """The initial value of each number kept between steps, by name (e.g. ``{"mean": 0.0}``)."""

    def from_latent_gradients(self, gradients: Any, state: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """``(term, statistics)``: a scalar and this batch's statistics, one scalar for each key of ``state``.

        ``gradients`` ``(rows, *w_shape)`` are d(sum(images * y))/dw with y ~ N(0, 1) / sqrt(H * W) per pixel,
        one row per example; ``state`` the current values (scalar tensors)."""

    def updated(self, state: dict[str, Any], statistics: dict[str, Any]) -> dict[str, Any]:
        """The state after a regularised update, from ``statistics`` averaged over replicas, in ``keras.ops``."""


class Metric(Protocol):
    """Measures a generator; run every ``[eval] every`` steps, at the end, and by ``ganforge eval``.

    Made by ``factory(**params)``.
    """

    def evaluate(self, context: Any) -> dict[str, float]:
        """Results by plain name; ``context`` is a :class:`ganforge.evaluation.measure.EvalContext`
        (provisional in contract 1: it may gain fields)."""

    # optional
    def check(self, spec: DataSpec, dataset: Dataset) -> None:
        """Raise ``ValueError`` before training when this metric cannot measure this data."""

    def describe(self) -> dict[str, Any]:
        """What the numbers depend on (feature network, resize filter, sample counts): stored with each result."""

    conditional: bool
    """True for a metric of conditional generators: it uses ``context.generate_for(labels)``, and a recipe
    without ``[condition] labels = true`` is refused before training."""


class FeatureNetwork(Protocol):
    """What FID, KID and their kin compare images by.

    Made by ``factory(**params)``, which loads the weights: a missing file is a ``ValueError`` saying what file
    is needed and where to get it. ganforge resizes images and converts channels to ``input_shape`` before
    the call (``ganforge.evaluation.features``), unless it is ``(None, None, C)``.
    """

    input_shape: tuple[int | None, int | None, int]
    """(H, W, C); (None, None, C) for a network that takes any size and resizes images itself."""

    def describe(self) -> str:
        """The weights and layer, for reports."""

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Float32 images of ``input_shape`` in [-1, 1] -> features ``(N, D)`` and logits ``(N, classes)`` or None."""

    # optional
    resize: str | None
    """How a network that takes any size brings images to its input, in words, for records."""

    smallest: int
    """Such a network's smallest image side; smaller images are refused."""

    batch: int
    """Images per call."""

    def record(self) -> dict[str, Any]:
        """What identifies the weights (a file, its checksum), stored with each result."""

    class_names: tuple[str, ...]
    """The classes of the logits, in order, for metrics that read them as a classifier's answer
    (``class_consistency`` maps a dataset's class names onto them)."""


class Sink(Protocol):
    """Where the loop's records go. Every method is optional; a sink that raises is reported once and dropped.

    Made by ``factory(run_dir, **params)``; the run folder holds the resolved ``recipe.toml``. A recipe lists
    a sink by name, or as a table ``{ name = "...", ...params }``.
    """

    def start(self, total_steps: int, first_step: int) -> None:
        """Once, before the first step (``first_step`` > 0 when resuming)."""

    def progress(self, step: int) -> None:
        """After every step: keep it cheap."""

    def scalars(self, step: int, values: dict[str, float]) -> None:
        """Losses, speed, learning rates, evaluation results (keys ``section/name``)."""

    def images(self, step: int, name: str, image: np.ndarray) -> None:
        """Sample grids and metric plots: uint8 ``(H, W, C)``."""

    def table(self, step: int, name: str, columns: list[str], rows: list[list]) -> None: ...

    def text(self, step: int, name: str, text: str) -> None:
        """E.g. the resolved recipe, at the start."""

    def checkpoint(self, step: int, path: Any) -> None:
        """After each checkpoint is written."""

    def rewind(self, step: int) -> None:
        """Training went back to ``step`` (a rollback after a NaN): forget the records after it, if possible."""

    def close(self) -> None:
        """At the end, also after an error or an interruption."""


SINK_METHODS = ("start", "progress", "scalars", "images", "table", "text", "checkpoint", "rewind", "close")

# kind -> its protocol, and what a factory must return, in words
PROTOCOLS: dict[str, tuple[type, str]] = {
    "generator": (Generator, "a keras.Model from noise (batch, latent_dim) to images"),
    "discriminator": (Discriminator, "a keras.Model from images to logits (batch, 1)"),
    "dataset": (Dataset, "an object with spec, __len__ and read(indices)"),
    "loss": (Loss, "an object with discriminator_loss(real_logits, fake_logits) and generator_loss(fake_logits)"),
    "penalty": (Penalty, "an object with points, every and from_gradients(gradients)"),
    "generator_penalty": (
        GeneratorPenalty,
        "an object with every, batch_shrink, state, from_latent_gradients(gradients, state) and updated(state, statistics)",
    ),
    "metric": (Metric, "an object with evaluate(context) -> dict[str, float]"),
    "features": (FeatureNetwork, "an object with input_shape, describe() and __call__(images) -> (features, logits)"),
    "sink": (Sink, "an object with any of the sink methods"),
}

# Optional members, with what the core assumes when a component leaves one out.
OPTIONAL: dict[str, dict[str, Any]] = {
    "generator": {"linear_output": False, "mapping": None, "synthesis": None},
    "dataset": {"prepare": None, "listed": None, "render": None, "label_spec": None, "labels": None},
    "loss": {
        "uses_real_logits": False,
        "supports_targets": False,
        "accepts_penalty": True,
        "penalty": None,
        "constrain_discriminator": None,
    },
    "metric": {"check": None, "describe": None, "conditional": False},
    "features": {"resize": None, "smallest": 1, "batch": 250, "record": None, "class_names": None},
    "sink": dict.fromkeys(SINK_METHODS),
}


def members(protocol: type) -> list[str]:
    """The names a protocol declares: attributes and methods (``__len__`` and ``__call__`` included)."""
    names = list(protocol.__dict__.get("__annotations__", {}))
    for name, value in protocol.__dict__.items():
        if callable(value) and (not name.startswith("_") or name in ("__len__", "__call__")):
            names.append(name)
    return names


def required(kind: str) -> list[str]:
    protocol, _ = PROTOCOLS[kind]
    return [name for name in members(protocol) if name not in OPTIONAL.get(kind, {})]


def supports(kind: str, component: Any) -> dict[str, Any]:
    """Each optional member of ``kind``: the component's own, or the default the core assumes."""
    return {name: getattr(component, name, default) for name, default in OPTIONAL.get(kind, {}).items()}


def describe(value: Any) -> str:
    """A short account of what was returned, for messages."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__module__}.{type(value).__qualname__} {text}" if value is not None else "None"


POINTS = ("real", "fake", "interpolated")  # where a penalty may ask for D's input gradients


def check_returned(kind: str, who: str, value: Any) -> Any:
    """``value`` if it is what a ``kind`` factory must return; else a PluginError naming ``who`` and ``value``.

    ``who`` names the component and its plugin, e.g. ``"generator 'tiny' of plugin 'shapes' (ganforge-shapes)"``.
    """
    if kind not in PROTOCOLS:
        return value
    _, expected = PROTOCOLS[kind]
    if kind in ("generator", "discriminator"):
        import keras

        if not isinstance(value, keras.Model):
            raise PluginError(f"{who} returned {describe(value)}; a {kind} factory must return {expected}")
        if kind == "generator":
            _check_latent_parts(who, value)
        return value
    missing = [name for name in required(kind) if not hasattr(value, name)]
    if missing:
        raise PluginError(
            f"{who} returned {describe(value)}, which has no {', '.join(missing)}; a {kind} factory must return {expected}"
        )
    if kind == "dataset" and not isinstance(value.spec, DataSpec):
        raise PluginError(
            f"{who} returned a dataset whose spec is {describe(value.spec)}; it must be a ganforge.data.DataSpec"
        )
    if kind == "penalty" and value.points not in POINTS:
        raise PluginError(
            f"{who} returned a penalty with points = {value.points!r}; it must be 'real', 'fake' or 'interpolated'"
        )
    if kind == "generator_penalty":
        _check_generator_penalty(who, value)
    return value


LATENT_PARTS = ("mapping", "synthesis")


def _check_latent_parts(who: str, generator: Any) -> None:
    """A generator offers its intermediate latent as both ``mapping`` and ``synthesis``, or not at all."""
    found = {name: part for name, part in supports("generator", generator).items() if name in LATENT_PARTS}
    offered = [name for name, part in found.items() if part is not None]
    if len(offered) == 1:
        (other,) = set(found) - set(offered)
        raise PluginError(
            f"{who} returned a generator with {offered[0]} but no {other}; a generator offers its intermediate "
            "latent w with both (generator(inputs) == synthesis(mapping(inputs))) or neither"
        )


def _positive_int(value: Any) -> bool:
    # bool is an int to Python, but True is no interval
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _check_generator_penalty(who: str, penalty: Any) -> None:
    """``every`` and ``batch_shrink`` are ints >= 1; ``state`` a dict of names to floats."""
    for name in ("every", "batch_shrink"):
        if not _positive_int(getattr(penalty, name)):
            raise PluginError(
                f"{who} returned a generator_penalty with {name} = {getattr(penalty, name)!r}; it must be an int >= 1"
            )
    state = penalty.state
    if not isinstance(state, dict) or not all(
        isinstance(key, str)
        and isinstance(value, (float, int, np.floating, np.integer))
        and not isinstance(value, bool)
        for key, value in state.items()
    ):
        raise PluginError(
            f"{who} returned a generator_penalty with state = {describe(state)}; it must be a dict of names to floats"
        )
