"""ganforge: a plugin-based GAN framework on TensorFlow and Keras 3.

Importing this package is cheap on purpose: it pulls in neither TensorFlow
nor Keras, so that `ganforge --help`, `ganforge plugins` and plugin loading
stay fast. TensorFlow is imported the first time a model is built.
"""
import os

__version__ = "0.1.0"

# TensorFlow prints a screenful of C++ start-up notices (oneDNN, CUDA stubs,
# CPU features) that mean nothing to a user. Quiet them unless the user has
# chosen a level; this must happen before TensorFlow is first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from ganforge.hookspecs import CONTRACT_VERSION, hookimpl  # noqa: E402

__all__ = ["CONTRACT_VERSION", "hookimpl", "__version__"]
