"""Training on several devices and machines on JAX, through Keras' own distribution API.

``mirrored`` is ``keras.distribution.DataParallel`` over this machine's devices; ``multi_worker``
is the same over every process's devices after ``jax.distributed.initialize`` (the call
``keras.distribution.initialize`` makes, with a time limit added) — the cluster read from the same
``TF_CONFIG`` the TensorFlow strategies use, its first worker the coordinator. The step is one
jitted function over the global batch, sharded along the batch axis; each process hands over only
its rows of it. The plan and what the workers agree on are the engines' common part, in
:mod:`ganforge.training.cluster`.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.training.cluster import TF_CONFIG, ClusterError, Workers

AXIS = "batch"  # DataParallel's mesh axis
PEER_LOST_SIGNS = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "heartbeat", "Gloo")


def prepare(plan) -> None:
    """What XLA must be told before JAX starts: how many devices to split the CPU into, and whether
    GPU kernels must be deterministic. Refuses a split JAX cannot make any more."""
    flags = os.environ.get("XLA_FLAGS", "")
    wanted = []
    if plan.config.cpu_devices > 1:
        wanted.append(f"--xla_force_host_platform_device_count={plan.config.cpu_devices}")
    if plan.recipe.model.train.deterministic is True:
        wanted.append("--xla_gpu_deterministic_ops=true")
    missing = [flag for flag in wanted if flag not in flags.split()]
    if not missing:
        return
    if _jax_started():
        raise GanforgeError(
            f"JAX already started in this process, so XLA can no longer take {' '.join(missing)} "
            "(distribute.cpu_devices, train.deterministic): train in a new process"
        )
    os.environ["XLA_FLAGS"] = " ".join([flags, *missing]).strip()


def _jax():
    import jax

    return jax


def _jax_started() -> bool:
    """Whether JAX has made its devices already (flags and device counts are fixed from then on)."""
    import sys

    if "jax" not in sys.modules:
        return False
    from jax._src import xla_bridge  # JAX has no public way to ask (0.10)

    return xla_bridge.backends_are_initialized()


def can_count_devices(plan) -> bool:
    """Alone, always; in a cluster only once joined: ``jax.distributed.initialize`` must come before
    anything asks JAX for its devices."""
    return plan.cluster is None or joined()


def joined() -> bool:
    """Whether this process has joined a ``jax.distributed`` cluster."""
    import sys

    if "jax" not in sys.modules:
        return False
    from jax._src import distributed

    return distributed.global_state.client is not None


def devices(plan) -> list[str]:
    """The names of this machine's devices the run trains on."""
    return [name(device) for device in _devices(plan)]


def _devices(plan) -> list:
    """This machine's devices the run trains on (JAX started; a cluster's, once joined)."""
    if plan.strategy == "none":
        return []
    jax = _jax()
    gpus = _local(jax, "gpu")
    if plan.cluster is not None or not plan.config.devices:
        return gpus or _local(jax, "cpu")
    local = {"GPU": gpus, "CPU": _local(jax, "cpu")}
    return [local[kind][index] for kind, index in plan.chosen({kind: len(found) for kind, found in local.items()})]


def _local(jax, platform: str) -> list:
    try:
        return list(jax.local_devices(backend=platform))
    except RuntimeError:  # no such platform here
        return []


def name(device) -> str:
    return f"{device.platform.upper()}:{device.id}"


def check_replicas(plan, replicas: int) -> None:
    """Nothing JAX cannot do on several replicas: its step is one jitted function on any number."""


def auto_deterministic(plan) -> bool:
    """Off: JAX on a CPU is deterministic anyway, and on GPUs only ``true`` tells XLA (``prepare``)."""
    return False


def start(plan) -> Distribution:
    """Join the cluster (multi_worker) and make the distribution over every process's devices."""
    if plan.strategy == "none":
        return Distribution(None, workers=1, rank=0)
    if plan.cluster is None:
        return Distribution(_devices(plan), workers=1, rank=0)
    join(plan.cluster, plan.config.connect_timeout)
    return Distribution(list(_jax().devices()), workers=plan.cluster.workers, rank=plan.cluster.rank)


def join(cluster, timeout: float) -> None:
    """``jax.distributed.initialize`` with the chief as coordinator, as ``keras.distribution.initialize``
    calls it, but with ganforge's time limit for the others to arrive (Keras' own call waits 300 s)."""
    jax = _jax()
    try:
        jax.distributed.initialize(
            coordinator_address=cluster.addresses[0],
            num_processes=cluster.workers,
            process_id=cluster.rank,
            initialization_timeout=max(1, int(timeout)),
        )
    except Exception as error:  # JAX raises its runtime's errors (a timeout, an address in use) as such
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise ClusterError(
            f"{TF_CONFIG}: the cluster did not assemble within distribute.connect_timeout = {timeout:g} s "
            f"(coordinator {cluster.addresses[0]}: {reason}); start every worker, and check the addresses, "
            "ports and firewalls"
        ) from None


class Distribution(Workers):
    """The devices a run trains on, and this process's share of each global batch
    (:class:`ganforge.training.cluster.Distribution`)."""

    def __init__(self, devices: list | None, workers: int, rank: int):
        self.devices = devices or []
        self.workers = workers
        self.rank = rank
        self.replicas = max(1, len(self.devices))
        self.local_replicas = self.replicas // workers
        # After a peer is lost, JAX's shutdown at exit waits for it at a barrier until its heartbeat times
        # out, then aborts the process: a stop for a lost peer leaves without that shutdown.
        self.exit_at_once = workers > 1
        self._keras = None
        self._sharding = None
        if self.replicas > 1:
            import jax
            import keras

            self._keras = keras.distribution.DataParallel(devices=self.devices)
            mesh = jax.sharding.Mesh(np.array(self.devices), (AXIS,))
            self._sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, AXIS))

    def scope(self):
        """Variables made inside are replicated on every device (DataParallel's layout)."""
        return self._keras.scope() if self._keras is not None else contextlib.nullcontext()

    def distribute(self, values: np.ndarray):
        """This process's rows of (d_steps, batch, ...) as the global array, sharded along axis 1."""
        if self._sharding is None:
            return values
        import jax

        shape = (values.shape[0], values.shape[1] * self.workers, *values.shape[2:])
        return jax.make_array_from_process_local_data(self._sharding, values, shape)

    def _sum_over_workers(self, mine: np.ndarray) -> np.ndarray:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(mine)).sum(axis=0)

    def peer_lost(self, error: BaseException) -> bool:
        """Whether ``error`` says another process stopped answering."""
        if self.workers == 1:
            return False
        import jax

        if not isinstance(error, jax.errors.JaxRuntimeError):
            return False
        # The runtime's error has one type for every status: its code is only the message's first word.
        # A lost peer shows as one of these codes, or (from the coordination service and the CPU
        # collectives) as a missed heartbeat or a failed Gloo transfer under another code.
        return any(sign in str(error) for sign in PEER_LOST_SIGNS)
