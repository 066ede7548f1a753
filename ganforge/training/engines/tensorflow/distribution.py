"""Training on several devices and machines on TensorFlow, through its own strategies.

``mirrored`` is ``tf.distribute.MirroredStrategy`` over one machine's devices, ``multi_worker``
is ``MultiWorkerMirroredStrategy`` over the machines ``TF_CONFIG`` lists, and ``none`` is
TensorFlow's default strategy, so one step function serves all three. The plan and what the
workers agree on are the engines' common part, in :mod:`ganforge.training.cluster`.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ganforge.backend import tensorflow
from ganforge.errors import GanforgeError
from ganforge.training.cluster import Workers, wait_for_peers


def prepare(plan) -> None:
    """Nothing to set before TensorFlow starts: the CPU is split in ``start``, still before it."""


def can_count_devices(plan) -> bool:
    """Always: TensorFlow lists its devices without starting its runtime."""
    return True


def devices(plan) -> list[str]:
    """This machine's devices the run trains on (TensorFlow imported, its runtime not started)."""
    gpus = len(tensorflow().config.list_physical_devices("GPU"))
    if plan.cluster is not None:
        return [f"/device:GPU:{index}" for index in range(gpus)] or ["/device:CPU:0"]
    if not plan.config.devices:
        kind, count = ("GPU", gpus) if gpus else ("CPU", plan.config.cpu_devices)
        return [f"/device:{kind}:{index}" for index in range(count)]
    return [f"/device:{kind}:{index}" for kind, index in plan.chosen({"GPU": gpus, "CPU": plan.config.cpu_devices})]


def check_replicas(plan, replicas: int) -> None:
    """XLA cannot compile a step that runs on several devices: TensorFlow would refuse it mid-trace."""
    if replicas > 1 and plan.recipe.model.train.jit_compile:
        raise plan.recipe.location("train").error(
            f"XLA cannot compile a step that runs on {replicas} replicas (a TensorFlow limit): "
            "set jit_compile = false, or train on one device",
            "jit_compile",
        )


def auto_deterministic(plan) -> bool:
    """On for CPUs (it costs nothing measured there), off on GPUs, where deterministic kernels are
    slower and some ops have none."""
    return not tensorflow().config.list_physical_devices("GPU")


def start(plan) -> Distribution:
    """Make the strategy: split the CPU first if asked, and for several workers wait until all are up."""
    tf = tensorflow()
    if plan.config.cpu_devices > 1:
        _split_cpu(tf, plan.config.cpu_devices)
    if plan.strategy == "none":
        return Distribution(tf.distribute.get_strategy(), workers=1, rank=0)
    if plan.strategy == "mirrored":
        return Distribution(_mirrored(tuple(plan.devices())), workers=1, rank=0)
    wait_for_peers(plan.cluster, plan.config.connect_timeout)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    return Distribution(strategy, workers=plan.cluster.workers, rank=plan.cluster.rank)


@cache
def _mirrored(devices: tuple[str, ...]):
    """One MirroredStrategy per set of devices and process: a second one over the same devices
    numbers its collective ops as the first did, and their all-reduces collide (a notebook or a
    test that trains twice would stop with "Shape mismatch in the collective instance")."""
    return tensorflow().distribute.MirroredStrategy(list(devices))


def _split_cpu(tf, count: int) -> None:
    """The host CPU as ``count`` logical devices: only possible before the runtime starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:
        raise GanforgeError(
            f"distribute.cpu_devices = {count}: TensorFlow already started in this process with "
            f"{len(current or [cpu])} CPU device(s); split the CPU in a new process"
        ) from None


class Distribution(Workers):
    """A started strategy, and this worker's share of each global batch
    (:class:`ganforge.training.cluster.Distribution`). The step runs under ``strategy``."""

    exit_at_once = False  # TensorFlow's runtime shuts down cleanly after a peer is lost

    def __init__(self, strategy, workers: int, rank: int):
        self.strategy = strategy
        self.workers = workers
        self.rank = rank
        self.replicas = strategy.num_replicas_in_sync
        self.local_replicas = self.replicas // workers

    def scope(self):
        """Models, optimizers and every other variable are made inside it (keras#23085: optimizers too)."""
        return self.strategy.scope()

    def distribute(self, values: np.ndarray):
        """This worker's rows of (d_steps, batch, ...) as each local replica's slice of axis 1."""
        if self.replicas == 1:
            return tensorflow().convert_to_tensor(values)
        share = values.shape[1] // self.local_replicas

        def piece(context):
            local = context.replica_id_in_sync_group - self.rank * self.local_replicas
            return values[:, local * share : (local + 1) * share]

        return self.strategy.experimental_distribute_values_from_function(piece)

    def _sum_over_workers(self, mine: np.ndarray) -> np.ndarray:
        """The sum of each worker's ``mine`` (a collective: every worker must call it at the same point)."""
        tf = tensorflow()

        def value(context):
            first_here = context.replica_id_in_sync_group == self.rank * self.local_replicas
            return tf.constant(mine if first_here else np.zeros_like(mine))

        values = self.strategy.experimental_distribute_values_from_function(value)
        return np.asarray(self.strategy.reduce("SUM", values, axis=None))

    def peer_lost(self, error: BaseException) -> bool:
        """Whether ``error`` says another worker stopped answering (killed, crashed, cut off)."""
        if self.workers == 1:
            return False
        errors = tensorflow().errors
        if isinstance(error, (errors.UnavailableError, errors.DeadlineExceededError, errors.CancelledError)):
            return True
        # Once one collective fails, TensorFlow aborts the others with the first failure's own status
        # code, whatever it was (a closed socket can come as INTERNAL): only the message says so.
        return isinstance(error, errors.OpError) and "Collective ops is aborted" in error.message
