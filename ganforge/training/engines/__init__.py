"""The engines a run can train on, one package each: the compiled step and the distribution.

A recipe's ``backend`` picks one here and nowhere else (as Keras' ``model.py`` picks its
``Trainer`` class by backend); everything above this package talks to the engine it gets
through the same names (:class:`ganforge.training.cluster.Engine`). An engine's package is
imported only when asked for, so a run on JAX never imports TensorFlow.
"""

from __future__ import annotations

import importlib
from types import ModuleType

ENGINES = {
    "tensorflow": "ganforge.training.engines.tensorflow",
    "jax": "ganforge.training.engines.jax",
}


def engine(backend: str) -> ModuleType:
    """The engine that trains on ``backend`` (a recipe's ``backend``, checked when it was read): its
    package, which implements :class:`ganforge.training.cluster.Engine`."""
    if backend not in ENGINES:
        raise ValueError(f"no engine for backend {backend!r}: ganforge has {', '.join(ENGINES)}")
    return importlib.import_module(ENGINES[backend])
