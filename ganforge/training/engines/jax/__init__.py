"""JAX as an engine (:class:`ganforge.training.cluster.Engine`): the step is one jitted, stateless
function under a ``keras.distribution``. Nothing here imports TensorFlow."""

from ganforge.training.engines.jax.distribution import (
    Distribution,
    auto_deterministic,
    can_count_devices,
    check_replicas,
    devices,
    prepare,
    start,
)
from ganforge.training.engines.jax.step import AdversarialStep

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
