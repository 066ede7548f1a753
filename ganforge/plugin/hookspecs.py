"""The plugin contract's hooks: one per kind of component.

What each factory must return is typed in :mod:`ganforge.plugin.contract`
(a ``Protocol`` per kind, with its optional members).

A plugin is an importable module announced through the ``ganforge``
entry-point group. It implements any of the hooks below; each hook receives a
``register`` callable and calls it once per component it provides::

    from ganforge import hookimpl

    @hookimpl
    def register_generators(register):
        register("tiny", build_tiny_generator, help="A two-layer generator")

``register(name, factory, *, params=None, help="")``

- ``name``: what a recipe writes (``[generator] name = "tiny"``). When two
  plugins register one name, a recipe must say ``"plugin:name"``.
- ``factory``: a callable, or a ``"module:attribute"`` string imported only
  when the component is built. Registering must stay cheap: import no
  TensorFlow at module level of the plugin, build nothing here.
- ``params``: a pydantic model describing the factory's keyword parameters.
  Without it they are read from the factory's typed signature (which needs a
  callable, not a string). Recipes are validated against it before any model
  is built, and ``ganforge plugins --show NAME`` prints it.
- ``help``: one line shown by ``ganforge plugins``.

What each factory receives and returns is documented on its hook. A factory
that cannot work with its parameters or the data's shape raises
``ValueError`` with a plain message: ganforge reports it as an error in the
recipe's table for that component (exit code 2, no traceback).

A plugin module says which contract it was written for with a module-level
``GANFORGE_CONTRACT = 1``. The contract version changes only when an
existing factory signature or return value does (new hooks and new optional
methods keep it); ganforge loads plugins for any version in
``SUPPORTED_CONTRACTS`` and refuses the others with a message naming both.
"""

import pluggy

CONTRACT_VERSION = 1
SUPPORTED_CONTRACTS = (1,)

hookspec = pluggy.HookspecMarker("ganforge")
hookimpl = pluggy.HookimplMarker("ganforge")


@hookspec
def register_generators(register):
    """Register generators.

    Factory: ``factory(spec, latent_dim, **params) -> keras.Model`` mapping a
    ``(batch, latent_dim)`` float32 noise tensor to images of shape
    ``(batch, *spec.shape)`` with values in [-1, 1]. ``spec`` is the
    dataset's :class:`ganforge.data.DataSpec`.
    """


@hookspec
def register_discriminators(register):
    """Register discriminators.

    Factory: ``factory(spec, **params) -> keras.Model`` mapping images of
    shape ``(batch, *spec.shape)`` in [-1, 1] to **logits** of shape
    ``(batch, 1)`` — no final sigmoid: the loss applies it, where it is the
    same maths and numerically stable.
    """


@hookspec
def register_datasets(register):
    """Register datasets.

    Factory: ``factory(**params) -> dataset`` where the dataset has
    ``spec`` (a :class:`ganforge.data.DataSpec`), ``__len__`` and
    ``read(indices) -> numpy array (len(indices), *spec.shape)``: uint8 pixels
    (scaled to [-1, 1] by ganforge) or float32 already in the model's range.
    ganforge owns shuffling and batching, so every dataset resumes exactly.
    Optional: ``prepare()``, ``listed`` and ``render(examples)`` (see
    :class:`ganforge.plugin.contract.Dataset`).
    """


@hookspec
def register_losses(register):
    """Register adversarial losses.

    Factory: ``factory(**params) -> loss`` with
    ``discriminator_loss(real_logits, fake_logits)`` and
    ``generator_loss(fake_logits)``, each returning a scalar tensor computed
    with ``keras.ops`` from logits. Optional: ``supports_targets``,
    ``accepts_penalty``, ``penalty`` and ``constrain_discriminator(d)`` (see
    :class:`ganforge.plugin.contract.Loss`).
    """


@hookspec
def register_penalties(register):
    """Register penalties on the discriminator's input gradients (R1, WGAN-GP's).

    Factory: ``factory(**params) -> penalty`` with ``points`` ("real" or
    "interpolated": where ganforge takes the gradient of D's output with
    respect to its input), ``every`` (apply every N discriminator updates)
    and ``from_gradients(gradients) -> scalar`` in keras.ops, given the
    per-example gradients of shape ``(batch, *spec.shape)``.
    """


@hookspec
def register_metrics(register):
    """Register evaluation metrics, run every ``[eval] every`` steps.

    Factory: ``factory(**params) -> metric`` with
    ``evaluate(context) -> dict[str, float]``. ``context`` has ``step``,
    ``spec``, ``dataset``, ``generate(count) -> numpy array`` (samples of
    the generator, its EMA when one is kept) and
    ``save_image(name, uint8 array (H, W, C))``. Provisional in contract
    version 1: the context may gain fields. Optional: ``check(spec, dataset)``
    and ``describe()`` (see :class:`ganforge.plugin.contract.Metric`).
    """


@hookspec
def register_feature_networks(register):
    """Register feature networks: what FID, KID and their kin compare images by.

    Factory: ``factory(**params) -> network`` with ``input_shape`` (H, W, C),
    ``describe() -> str`` (the weights and layer, for reports) and
    ``__call__(images) -> (features, logits)``: ``images`` float32 in
    [-1, 1] of ``input_shape``, batch first; ``features`` (N, D);
    ``logits`` (N, classes), or None when the network has no classifier.
    ganforge resizes and converts channels before the call (see
    ``ganforge.evaluation.features``), unless ``input_shape`` is
    ``(None, None, C)``: the network then takes images of any size and
    resizes them itself, as its reference code does, and says how in
    ``resize``. Optional: ``resize``, ``smallest``, ``batch``, ``record()``
    (see :class:`ganforge.plugin.contract.FeatureNetwork`). Loading weights
    happens in the factory; a missing file is a ``ValueError`` that says
    what file is needed and where to get it.
    """


@hookspec
def register_sinks(register):
    """Register sinks: places the training loop's records go.

    Factory: ``factory(run_dir, **params) -> sink``; the run folder holds
    the resolved ``recipe.toml``. A recipe lists a sink by name, or as a
    table ``{ name = "...", ...params }``. Every method is optional:

    - ``start(total_steps, first_step)``: once, before the first step
      (``first_step`` > 0 when resuming);
    - ``progress(step)``: after every step (keep it cheap);
    - ``scalars(step, values: dict[str, float])``: losses, speed, learning
      rates, evaluation results (keys ``section/name``);
    - ``images(step, name, image: uint8 array (H, W, C))``: sample grids,
      metric plots;
    - ``table(step, name, columns: list[str], rows: list[list])``;
    - ``text(step, name, text)``: e.g. the resolved recipe, at the start;
    - ``checkpoint(step, path)``: after each checkpoint is written;
    - ``rewind(step)``: training went back to ``step`` (a rollback after a
      NaN); forget the records after it, if the sink can;
    - ``close()``: at the end, also after an error or interruption.

    A sink that raises is reported once and dropped; training goes on.
    """


@hookspec
def register_commands(register):
    """Register CLI sub-commands.

    ``register(name, callback, help="")`` adds ``ganforge NAME``; the
    callback's typed signature becomes its options, as in typer.
    """
