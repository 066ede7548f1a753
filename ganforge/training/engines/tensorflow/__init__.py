"""TensorFlow as an engine (:class:`ganforge.training.cluster.Engine`): the step is one
``tf.function`` under a ``tf.distribute`` strategy."""

from ganforge.training.engines.tensorflow.distribution import (
    Distribution,
    auto_deterministic,
    can_count_devices,
    check_replicas,
    devices,
    prepare,
    start,
)
from ganforge.training.engines.tensorflow.step import AdversarialStep

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
