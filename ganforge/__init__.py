"""ganforge: a plugin-based GAN framework on TensorFlow and Keras 3.

Importing this package is cheap on purpose: it pulls in neither TensorFlow
nor Keras, so that `ganforge --help`, `ganforge plugins` and plugin loading
stay fast. TensorFlow is imported the first time a model is built.

The packages, from the bottom up (the layer table in CONTRIBUTING.md is the
rule, and tests/test_layers.py holds the code to it): ``data`` (specs, batching,
image caches) with ``plugin.contract``, ``plugin`` (hooks, registry), ``recipe``,
``runs`` (the files of a run folder), ``evaluation`` (measuring), ``training``
(assembly, the step, the Trainer), ``trained`` (using a trained run) and ``cli``.
``sinks`` holds the core sinks, a plugin like any other.
"""

import os

__version__ = "0.1.0"

# TensorFlow prints a screenful of C++ start-up notices (oneDNN, CUDA stubs,
# CPU features) that mean nothing to a user. Quiet them unless the user has
# chosen a level; this must happen before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from ganforge import moved  # noqa: E402
from ganforge.plugin.hookspecs import CONTRACT_VERSION, hookimpl  # noqa: E402

moved.install()  # plugins written for 0.1 import modules by their old paths

__all__ = ["CONTRACT_VERSION", "hookimpl", "__version__"]
