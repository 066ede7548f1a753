"""A run on several devices and machines, whichever engine trains it: the plan read from the
recipe and ``TF_CONFIG``, the cluster, and what the workers agree on.

ganforge adds no distributed runtime of its own: each engine uses its framework's (TensorFlow's
``tf.distribute`` strategies, Keras' ``keras.distribution`` on JAX; see
:mod:`ganforge.training.engines`). What this module adds is the bookkeeping that keeps a
distributed run the same run as on one device: which rows of the global batch each worker
reads, which worker writes files, and a clear stop when a peer is gone.

A :class:`Plan` is read from the recipe and ``TF_CONFIG`` without starting any runtime (so
``recipe check`` can refuse a bad one); :meth:`Plan.start` asks the recipe's engine for a started
:class:`Distribution`. Nothing here names an engine: what differs between them, the plan asks
the engine it gets from :func:`ganforge.training.engines.engine`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ganforge.errors import GanforgeError, RecipeError
from ganforge.training.engines import engine

TF_CONFIG = "TF_CONFIG"
# MultiWorkerMirroredStrategy runs "chief" and "worker" tasks; parameter servers and
# evaluators belong to other strategies.
JOBS = ("chief", "worker")
PEER_EXIT_CODE = 69  # sysexits' EX_UNAVAILABLE: another worker of the cluster is gone
DEVICE_PATTERN = re.compile(r"^/?(?:device:)?(CPU|GPU):(\d+)$", re.IGNORECASE)
PATH_BYTES = 4096  # the longest text `from_chief` can share

logger = logging.getLogger(__name__)


class ClusterError(GanforgeError):
    """``TF_CONFIG`` is missing or wrong, or the workers it lists cannot reach each other."""


@dataclass(frozen=True)
class Cluster:
    """This process's place in the cluster ``TF_CONFIG`` describes."""

    jobs: dict[str, list[str]]
    task_type: str
    task_index: int

    @property
    def workers(self) -> int:
        return sum(len(self.jobs.get(job, [])) for job in JOBS)

    @property
    def rank(self) -> int:
        """This worker's place among all workers, the chief first (as TensorFlow numbers replicas)."""
        if self.task_type == "chief":
            return 0
        return self.task_index + len(self.jobs.get("chief", []))

    @property
    def is_chief(self) -> bool:
        """The chief is the ``chief`` task, or worker 0 when there is none (TensorFlow's rule)."""
        return self.rank == 0

    @property
    def address(self) -> str:
        return self.jobs[self.task_type][self.task_index]

    @property
    def addresses(self) -> list[str]:
        """Every worker's address, in rank order (the chief first)."""
        return [address for job in JOBS for address in self.jobs.get(job, [])]

    @property
    def peers(self) -> list[str]:
        return [address for address in self.addresses if address != self.address]


def read_tf_config(text: str | None) -> Cluster:
    """The cluster in ``TF_CONFIG``'s JSON, every part checked; ClusterError names what is wrong."""
    if not text:
        raise ClusterError(
            f'{TF_CONFIG} is not set: strategy "multi_worker" needs it on every worker, '
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}} '
            "(see docs/distributed.md)"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterError(f"{TF_CONFIG}: not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ClusterError(f"{TF_CONFIG}: must be a JSON object with 'cluster' and 'task'")
    jobs = _jobs(config.get("cluster"))
    return Cluster(jobs, *_task(config.get("task"), jobs))


def _jobs(cluster) -> dict[str, list[str]]:
    if not isinstance(cluster, dict) or not cluster:
        raise ClusterError(f'{TF_CONFIG}: cluster: must list the workers, {{"worker": ["host:port", ...]}}')
    for job, addresses in cluster.items():
        if job not in JOBS:
            raise ClusterError(
                f"{TF_CONFIG}: cluster.{job}: MultiWorkerMirroredStrategy runs only {' and '.join(JOBS)} tasks"
            )
        if not isinstance(addresses, list) or not addresses:
            raise ClusterError(f'{TF_CONFIG}: cluster.{job}: must be a list of "host:port" addresses')
        for address in addresses:
            host, _, port = str(address).rpartition(":")
            if not isinstance(address, str) or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ClusterError(f'{TF_CONFIG}: cluster.{job}: {address!r} is not a "host:port" address')
    if len(cluster.get("chief", [])) > 1:
        raise ClusterError(f"{TF_CONFIG}: cluster.chief: a cluster has at most one chief")
    return cluster


def _task(task, jobs: dict[str, list[str]]) -> tuple[str, int]:
    if not isinstance(task, dict):
        raise ClusterError(f'{TF_CONFIG}: task: must say which task this is, {{"type": "worker", "index": N}}')
    task_type, index = task.get("type"), task.get("index")
    if task_type not in jobs:
        raise ClusterError(f"{TF_CONFIG}: task.type: {task_type!r} is not a job of the cluster ({', '.join(jobs)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[task_type]):
        raise ClusterError(
            f"{TF_CONFIG}: task.index: {index!r} is not one of the {len(jobs[task_type])} {task_type} task(s)"
        )
    return task_type, index


def writes_files(recipe, environ=None) -> bool:
    """Whether this process writes the run's files: yes, unless it is a multi_worker worker other than the chief."""
    if recipe.model.distribute.strategy != "multi_worker":
        return True
    return read_tf_config((os.environ if environ is None else environ).get(TF_CONFIG)).is_chief


class Plan:
    """How a recipe asks to be distributed, checked against this machine and ``TF_CONFIG``."""

    def __init__(self, recipe, environ=None):
        environ = os.environ if environ is None else environ
        self.recipe = recipe
        self.config = recipe.model.distribute
        self.where = recipe.location("distribute")
        self.engine: Engine = engine(recipe.model.backend)
        self.cluster = read_tf_config(environ.get(TF_CONFIG)) if self.strategy == "multi_worker" else None
        if self.cluster is None and environ.get(TF_CONFIG):
            logger.warning(
                f'{TF_CONFIG} is set but distribute.strategy is "{self.strategy}": this process trains '
                'alone (set distribute.strategy = "multi_worker" to train with the cluster)'
            )
        if self.cluster is not None and self.config.devices:
            raise self.where.error(
                "multi_worker trains on every GPU each worker sees (or its CPU): choose them with "
                "CUDA_VISIBLE_DEVICES, not devices",
                "devices",
            )
        self.engine.prepare(self)

    @property
    def strategy(self) -> str:
        return self.config.strategy

    @property
    def workers(self) -> int:
        return self.cluster.workers if self.cluster else 1

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run's files (the only one that does)."""
        return self.cluster is None or self.cluster.is_chief

    def devices(self) -> list[str]:
        """This machine's devices the run trains on, by name (the engine's runtime not started)."""
        return [] if self.strategy == "none" else self.engine.devices(self)

    def chosen(self, available: dict[str, int]) -> list[tuple[str, int]]:
        """``distribute.devices`` as (kind, index) pairs, each checked against ``available`` (how many
        devices of each kind this machine has) and none named twice."""
        chosen = [self._device(name, available) for name in self.config.devices]
        if len(set(chosen)) < len(chosen):
            raise self.where.error(f"{self.config.devices} names a device twice", "devices")
        return chosen

    def _device(self, name: str, available: dict[str, int]) -> tuple[str, int]:
        match = DEVICE_PATTERN.match(name.strip())
        if match is None:
            raise self.where.error(f'{name!r} is not a device name like "GPU:0" or "CPU:1"', "devices")
        kind, index = match.group(1).upper(), int(match.group(2))
        if index >= available[kind]:
            has = f"{available[kind]} {kind} device(s)" + (" (see distribute.cpu_devices)" if kind == "CPU" else "")
            raise self.where.error(f"{name!r} does not exist: this machine has {has}", "devices")
        return kind, index

    def replicas(self) -> int:
        return max(1, len(self.devices())) * self.workers

    def describe(self) -> str:
        """One line for ``recipe check``: where the global batch goes."""
        batch_size = self.recipe.model.train.batch_size
        if self.strategy == "none":
            return f"global batch {batch_size} on one device"
        devices = self.devices()
        replicas = len(devices) * self.workers
        where = ", ".join(name.removeprefix("/device:") for name in devices)
        if self.workers > 1:
            where = f"{self.workers} workers x [{where}]"
        return f"global batch {batch_size} on {replicas} replicas ({self.strategy}: {where}), {batch_size // replicas} each"

    def check_batch(self) -> None:
        """``train.batch_size`` is the global batch: every replica must get an equal share, and the
        engine must be able to train on that many replicas. Where the devices cannot be counted yet
        (a JAX cluster not joined), there is nothing to check: :meth:`start` checks once they can."""
        if not self.engine.can_count_devices(self):
            return
        replicas, batch_size = self.replicas(), self.recipe.model.train.batch_size
        self.engine.check_replicas(self, replicas)
        if batch_size % replicas:
            counted = f"{self.workers} workers x {replicas // self.workers} devices" if self.workers > 1 else "devices"
            raise self.recipe.location("train").error(
                f"the global batch of {batch_size} does not split into equal shares for {replicas} replicas "
                f"({counted}): make it a multiple of {replicas}",
                "batch_size",
            )

    def deterministic(self) -> bool:
        """``train.deterministic``; what "auto" means is the engine's to say (on where it costs little)."""
        setting = self.recipe.model.train.deterministic
        return self.engine.auto_deterministic(self) if setting == "auto" else setting is True

    def start(self) -> Distribution:
        """The engine's runtime started on the plan's devices, for several workers once all are up.

        The batch is checked as soon as the replicas can be counted: before a cluster waits for its
        peers, unless the engine counts a cluster's devices only once it has joined it (JAX)."""
        counted_first = self.engine.can_count_devices(self)
        if counted_first:
            self.check_batch()
        distribution = self.engine.start(self)
        if not counted_first:
            self.check_batch()
        return distribution


def wait_for_peers(cluster: Cluster, timeout: float) -> None:
    """Hold this worker's port open until every peer answers on its own, or stop after ``timeout`` s.

    TensorFlow's own start-up waits for missing workers without a limit (and ignores SIGTERM
    meanwhile), so ganforge meets the peers first. Each worker listens on the port TF_CONFIG
    gives it until it has reached every other; TensorFlow's server takes the port over afterwards.
    """
    port = int(cluster.address.rpartition(":")[2])
    dual = socket.has_dualstack_ipv6()  # IPv4 and IPv6 peers alike, where the system allows
    try:
        listener = socket.create_server(
            ("", port), family=socket.AF_INET6 if dual else socket.AF_INET, reuse_port=False, dualstack_ipv6=dual
        )
    except OSError as error:
        raise ClusterError(f"{TF_CONFIG}: cannot listen on {cluster.address} ({error.strerror})") from None
    deadline, waiting = time.monotonic() + timeout, list(cluster.peers)
    try:
        while waiting and time.monotonic() < deadline:
            waiting = [address for address in waiting if not _answers(address)]
            if waiting:
                time.sleep(0.2)
    finally:
        listener.close()
    if waiting:
        raise ClusterError(
            f"{TF_CONFIG}: no answer from {', '.join(waiting)} within distribute.connect_timeout = {timeout:g} s: "
            "start every worker, and check the addresses, ports and firewalls"
        )


def _answers(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:  # "[::1]:2222" is an IPv6 address in TF_CONFIG's notation
        socket.create_connection((host.strip("[]"), int(port)), timeout=1.0).close()
    except OSError:
        return False
    return True


class Workers:
    """What the workers of a run agree on, on any engine: built on one collective, the sum over the
    workers of a small array (``_sum_over_workers``, which each engine's Distribution provides), and
    the share of each global batch this worker reads."""

    workers: int
    rank: int
    replicas: int
    local_replicas: int

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def rows(self, batch_size: int) -> slice:
        """The rows of a global batch this worker's replicas train on: it reads only those."""
        share = batch_size // self.replicas
        first = self.rank * self.local_replicas * share
        return slice(first, first + self.local_replicas * share)

    def from_chief(self, text: str) -> str:
        """The chief's ``text`` on every worker (the run folder the chief made, say)."""
        if self.workers == 1:
            return text
        encoded = np.zeros(PATH_BYTES, np.int32)
        if self.is_chief:
            data = text.encode()
            if len(data) > PATH_BYTES:
                raise RecipeError(f"{text}: longer than {PATH_BYTES} bytes")
            encoded[: len(data)] = np.frombuffer(data, np.uint8)
        return bytes(self._sum_over_workers(encoded).astype(np.uint8)).rstrip(b"\0").decode()

    def first_signal(self, received: int | None) -> int | None:
        """The stop signal any worker received (SIGTERM before SIGINT), the same answer on every worker,
        so all stop after the same step and the chief's last checkpoint is everyone's."""
        if self.workers == 1:
            return received
        counts = self._sum_over_workers(np.array([received == signal.SIGINT, received == signal.SIGTERM], np.int32))
        return signal.SIGTERM if counts[1] else signal.SIGINT if counts[0] else None

    def barrier(self) -> None:
        """Return once every worker has reached this point."""
        if self.workers > 1:
            self._sum_over_workers(np.zeros(1, np.int32))

    def _sum_over_workers(self, mine: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@runtime_checkable
class Distribution(Protocol):
    """A started engine on the plan's devices, and this worker's share of each global batch: what the
    trainer, the run command and the assembly use, alike on every engine (each engine's
    ``Distribution`` implements it, most of it through :class:`Workers`)."""

    workers: int
    rank: int
    replicas: int  # over every worker
    local_replicas: int  # this worker's
    exit_at_once: bool
    """A stop for a lost peer must leave the process without the runtime's shutdown (which would hang)."""

    @property
    def is_chief(self) -> bool: ...

    def scope(self) -> Any:
        """A context: models, optimizers and every other variable are made inside it."""

    def distribute(self, values: np.ndarray) -> Any:
        """This worker's rows of (d_steps, batch, ...) placed as the step takes them (on one worker,
        the whole batch: a step that makes its own draws places them with this too)."""

    def rows(self, batch_size: int) -> slice: ...

    def from_chief(self, text: str) -> str: ...

    def first_signal(self, received: int | None) -> int | None: ...

    def barrier(self) -> None: ...

    def peer_lost(self, error: BaseException) -> bool:
        """Whether ``error`` says another worker stopped answering (killed, crashed, cut off)."""


@runtime_checkable
class Engine(Protocol):
    """What an engine's package exposes (its ``__init__.py``, listed in
    :data:`ganforge.training.engines.ENGINES`): the step, the distribution and what a :class:`Plan`
    asks of it, in the order a run asks."""

    AdversarialStep: type
    """``AdversarialStep(players, generator_optimizer, discriminator_optimizer, settings,
    distribution=None, lr_scale=None, state=None)``: the compiled step (see ``training/step.py``);
    ``state`` holds the objective's state in variables (``Objective.initial_state``)."""

    Distribution: type
    """Its class implementing the :class:`Distribution` protocol above."""

    def prepare(self, plan: Plan) -> None:
        """What must be set before the engine's runtime starts; refuses what can no longer be set."""

    def can_count_devices(self, plan: Plan) -> bool:
        """Whether the plan's devices can be counted now without keeping ``start`` from setting up."""

    def devices(self, plan: Plan) -> list[str]:
        """The names of this machine's devices the plan trains on (its strategy is not "none")."""

    def check_replicas(self, plan: Plan, replicas: int) -> None:
        """Refuses (a RecipeError) what the recipe asks that the engine cannot do on ``replicas``."""

    def auto_deterministic(self, plan: Plan) -> bool:
        """What ``train.deterministic = "auto"`` means on this engine here."""

    def start(self, plan: Plan) -> Any:
        """The runtime started on the plan's devices, for a cluster once every worker is up: an instance
        of ``Distribution`` (annotated Any, since in this class the name is that member)."""
