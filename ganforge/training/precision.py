"""Mixed precision: the dtype policy the two models are built with, and what each device can run.

Under ``mixed_bfloat16`` or ``mixed_float16`` the generator and discriminator compute in 16 bits
and keep float32 weights (Keras' dtype policies); D's logits are cast to float32 before any loss,
so every loss and penalty is float32. ``mixed_float16`` also scales each of the two losses
(a ``LossScaleOptimizer`` per optimizer: Keras wraps only a compiled model's one optimizer for
you), since float16 gradients underflow. Metric networks and the commands that use a trained
generator stay float32: the weights are float32 either way.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from ganforge import backend

logger = logging.getLogger(__name__)
FLOAT32 = "float32"
# what each 16-bit type needs to be fast on a CPU (instruction sets as /proc/cpuinfo names them),
# and the GPU compute capability below which it cannot run (bfloat16 arrived with Ampere; float16
# runs on every GPU TensorFlow supports)
CPU_FLAGS = {"mixed_bfloat16": {"avx512_bf16", "amx_bf16"}, "mixed_float16": {"avx512_fp16", "amx_fp16"}}
GPU_CAPABILITY = {"mixed_bfloat16": (8, 0)}
# what was measured on a CPU without the instructions (docs/benchmarks.md)
SLOWER_WITHOUT = {
    "mixed_bfloat16": "the article's step ran 2.6x slower in mixed_bfloat16 on such a CPU",
    "mixed_float16": "the article's step ran about 6x slower in mixed_float16 on a CPU without them",
}


@contextmanager
def policy(name: str):
    """Layers made inside take the dtype policy ``name``; the global policy is restored after."""
    keras = backend.keras()
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def check_precision(recipe, cpuinfo: Path = Path("/proc/cpuinfo")) -> None:
    """Refuse a precision the GPUs cannot run (exit 2); warn when the CPU would run it slowly."""
    precision = recipe.model.train.precision
    if precision == FLOAT32:
        return
    gpus = _gpus()
    if gpus:
        _check_gpus(recipe, precision, gpus)
        return
    flags = cpu_flags(cpuinfo)
    if flags and not flags & CPU_FLAGS[precision]:
        logger.warning(
            f"warning: train.precision = {precision!r} on a CPU without "
            f"{' or '.join(sorted(CPU_FLAGS[precision]))} instructions emulates 16-bit math, slower than float32 "
            f'({SLOWER_WITHOUT[precision]}); "float32" is faster on this CPU'
        )


def _gpus() -> list[tuple[str, tuple[int, int]]]:
    """(name, compute capability) of each GPU the backend sees."""
    if backend.current() == "jax":
        import jax

        try:
            found = jax.local_devices(backend="gpu")
        except RuntimeError:  # no GPU platform
            return []
        return [(str(gpu), _capability(getattr(gpu, "compute_capability", ""))) for gpu in found]
    tf = backend.tensorflow()
    return [
        (gpu.name, tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)))
        for gpu in tf.config.list_physical_devices("GPU")
    ]


def _capability(text: str) -> tuple[int, int]:
    major, _, minor = str(text).partition(".")
    return (int(major), int(minor or 0)) if major.isdigit() else (0, 0)


def _check_gpus(recipe, precision: str, gpus) -> None:
    needed = GPU_CAPABILITY.get(precision)
    for gpu, capability in gpus if needed else []:
        if capability < needed:
            raise recipe.location("train").error(
                f"{precision!r} needs a GPU of compute capability {needed[0]}.{needed[1]} or newer; {gpu} is "
                f'{capability[0]}.{capability[1]} (use "mixed_float16" or "float32")',
                "precision",
            )


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's instruction-set flags (empty where the system does not list them: no warning then)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())
