"""The Keras backend a run trains on, chosen by the recipe, and its start-up: quiet, once, only
when a model is needed.

Keras binds to a backend when it is first imported (``KERAS_BACKEND``), so ganforge chooses it
from the recipe before anything imports Keras; with ``backend = "jax"`` nothing on the way to
training imports TensorFlow, which need not be installed at all.
"""

import importlib.util
import os
import sys
from contextlib import contextmanager
from functools import lru_cache

DEFAULT = "tensorflow"
# what installs each backend (ganforge's own dependencies bring TensorFlow)
INSTALL = {
    "tensorflow": "pip install tensorflow",
    "jax": 'pip install "ganforge[jax]" (CPU), or pip install "jax[cuda12]" for NVIDIA GPUs',
}


def use(recipe) -> str:
    """Make Keras run on the recipe's backend in this process; returns its name.

    Exit 2 (a RecipeError naming the key) when the backend is not installed, or when Keras
    already runs on another one here (a process has one Keras backend).
    """
    name = recipe.model.backend
    where = recipe.location()
    running = running_backend()
    if running is not None and running != name:
        raise where.error(
            f"Keras already runs on {running} in this process and cannot switch to {name}: "
            f"start a new process (ganforge run does), or set KERAS_BACKEND={name} before importing Keras",
            "backend",
        )
    missing = [module for module in _modules(name) if not _installed(module)]
    if missing:
        raise where.error(f"{name} is not installed here: {INSTALL[name]}", "backend")
    os.environ["KERAS_BACKEND"] = name
    return name


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken install, or one this process has blocked
        return False


def can_use_tensorflow() -> bool:
    """Whether TensorFlow can be imported here (a run on JAX may export a SavedModel with it)."""
    return current() == "tensorflow" or _installed("tensorflow")


def _modules(name: str) -> list[str]:
    return ["jax", "jaxlib"] if name == "jax" else [name]


def running_backend() -> str | None:
    """The backend Keras was imported with in this process, or None before Keras is imported."""
    # (getattr: Keras may be half-way through its own import)
    module = getattr(sys.modules.get("keras"), "backend", None)
    return module.backend() if module is not None else None


def current() -> str:
    """The backend Keras runs on here, or will run on when it is imported."""
    return running_backend() or os.environ.get("KERAS_BACKEND", DEFAULT)


def keras():
    """Import Keras on the chosen backend, quietly (TensorFlow's start-up notices hidden)."""
    if current() == "tensorflow":
        tensorflow()
    import keras

    return keras


@lru_cache(maxsize=1)
def tensorflow():
    """Import TensorFlow (and Keras) with its C++ start-up notices hidden.

    TensorFlow prints oneDNN and CUDA-stub notices through absl before its
    logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them; the
    only way is to point file descriptor 2 elsewhere during the import. A
    user who sets TF_CPP_MIN_LOG_LEVEL below 3 asked for logs and gets them.
    """
    quiet = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") == "3"
    saved = None
    if quiet:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    try:
        import keras  # noqa: F401  (binds Keras to the TensorFlow backend now)
        import tensorflow as tf
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
    if quiet:
        tf.get_logger().setLevel("ERROR")
    return tf


def configure(seed: int, deterministic: bool) -> None:
    """Seed every generator Keras and the backend use; optionally make ops deterministic
    (on JAX, ``use`` asked XLA for deterministic GPU kernels before it started)."""
    if current() != "tensorflow":
        with without_tensorflow():  # Keras seeds TensorFlow too whenever it can import it
            keras().utils.set_random_seed(seed)
        return
    tf = tensorflow()
    keras().utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


@contextmanager
def without_tensorflow():
    """Imports of TensorFlow fail inside (unless it is imported already): another backend's run
    never starts TensorFlow's runtime, installed or not."""
    hidden = "tensorflow" not in sys.modules
    if hidden:
        sys.modules["tensorflow"] = None  # an import of a name mapped to None raises ImportError
    try:
        yield
    finally:
        if hidden:
            del sys.modules["tensorflow"]


def out_of_memory(error: BaseException) -> str | None:
    """A short account of ``error`` if it is running out of memory (host or device), else None.

    TensorFlow's ResourceExhaustedError and XLA's RESOURCE_EXHAUSTED (JAX) are recognised by
    name, so callers that never built a model need not import a backend to ask.
    """
    if type(error).__name__ in ("XlaRuntimeError", "JaxRuntimeError") and "RESOURCE_EXHAUSTED" in str(error):
        return str(error).strip().splitlines()[0][:200]
    if not (isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"):
        return None
    text = str(error)
    # TensorFlow's text holds "OOM when allocating tensor with shape[...] ... by allocator ..." on some line
    # (the first line of an error from a compiled step is only "Graph execution error:")
    start = text.find("OOM when allocating")
    line = text[start:] if start >= 0 else (text.strip() or type(error).__name__)
    return line.splitlines()[0].split(" by allocator")[0][:200]
