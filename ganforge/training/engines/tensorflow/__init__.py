"""TensorFlow as an engine (:class:`ganforge.training.cluster.Engine`): the step is one
``tf.function`` under a ``tf.distribute`` strategy."""

from ganforge.backend import tensorflow

# TensorFlow imported quietly before anything below imports Keras (the objective imports keras.ops):
# a plain `import keras` would start TensorFlow with its oneDNN and CUDA-stub notices on the console
tensorflow()

from ganforge.training.engines.tensorflow.distribution import (  # noqa: E402
    Distribution,
    auto_deterministic,
    can_count_devices,
    check_replicas,
    devices,
    prepare,
    start,
)
from ganforge.training.engines.tensorflow.step import AdversarialStep  # noqa: E402

__all__ = [
    "AdversarialStep",
    "Distribution",
    "auto_deterministic",
    "can_count_devices",
    "check_replicas",
    "devices",
    "prepare",
    "start",
]
