"""The plugin contract's hooks: one per kind of component.

Each hook's docstring points at the ``Protocol`` in :mod:`ganforge.plugin.contract`
that says what a factory of that kind is called with and returns, with its
optional members: the contract is written once, there.

A plugin is an importable module announced through the ``ganforge``
entry-point group. It implements any of the hooks below, each marked with
``@hookimpl``; a marked function whose name is not a hook refuses the plugin
at load, naming the hook it was probably meant to be. Each hook receives a
``register`` callable and calls it once per component it provides::

    from ganforge import hookimpl

    @hookimpl
    def register_generators(register):
        register("tiny", build_tiny_generator, help="A two-layer generator")

``register(name, factory, *, params=None, help="")``

- ``name``: what a recipe writes (``[generator] name = "tiny"``). When two
  plugins register one name, a recipe must say ``"plugin:name"``.
- ``factory``: a callable whose typed signature declares the recipe
  parameters: every argument after the ones ganforge passes, with its
  default; ``Annotated[int, Field(ge=1, description=...)]`` adds bounds and
  the text ``ganforge plugins --show NAME`` prints. Registering must stay
  cheap: import no TensorFlow at module level of the plugin (import it
  inside the factory), build nothing here. A ``"module:attribute"`` string
  is imported only when the component is built, and takes no parameters.
- ``params``: still accepted, a pydantic model of the parameters in place
  of the signature; declare them in the signature instead.
- ``help``: one line shown by ``ganforge plugins``.

A factory that cannot work with its parameters or the data's shape raises
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
    """Register generators: see :class:`ganforge.plugin.contract.Generator`."""


@hookspec
def register_discriminators(register):
    """Register discriminators: see :class:`ganforge.plugin.contract.Discriminator`."""


@hookspec
def register_datasets(register):
    """Register datasets: see :class:`ganforge.plugin.contract.Dataset`."""


@hookspec
def register_losses(register):
    """Register adversarial losses: see :class:`ganforge.plugin.contract.Loss`."""


@hookspec
def register_penalties(register):
    """Register penalties on the discriminator's input gradients: see :class:`ganforge.plugin.contract.Penalty`."""


@hookspec
def register_generator_penalties(register):
    """Register regularisers of G on its intermediate latent: see :class:`ganforge.plugin.contract.GeneratorPenalty`."""


@hookspec
def register_metrics(register):
    """Register evaluation metrics: see :class:`ganforge.plugin.contract.Metric`."""


@hookspec
def register_feature_networks(register):
    """Register feature networks: see :class:`ganforge.plugin.contract.FeatureNetwork`."""


@hookspec
def register_sinks(register):
    """Register sinks, places the training loop's records go: see :class:`ganforge.plugin.contract.Sink`."""


@hookspec
def register_commands(register):
    """Register CLI sub-commands.

    ``register(name, callback, help="")`` adds ``ganforge NAME``; the
    callback's typed signature becomes its options, as in typer.
    """
