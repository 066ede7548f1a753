"""TensorFlow start-up: imported quietly, once, only when a model is needed."""

import os
import sys
from functools import lru_cache


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
    """Seed every generator Keras and TensorFlow use; optionally make ops deterministic."""
    tf = tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def out_of_memory(error: BaseException) -> str | None:
    """A short account of ``error`` if it is running out of memory (host or device), else None.

    TensorFlow's ResourceExhaustedError is recognised by name, so callers that
    never built a model need not import TensorFlow to ask.
    """
    if not (isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError"):
        return None
    text = str(error)
    # TensorFlow's text holds "OOM when allocating tensor with shape[...] ... by allocator ..." on some line
    # (the first line of an error from a compiled step is only "Graph execution error:")
    start = text.find("OOM when allocating")
    line = text[start:] if start >= 0 else (text.strip() or type(error).__name__)
    return line.splitlines()[0].split(" by allocator")[0][:200]
