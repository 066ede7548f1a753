"""``tensorboard`` sink: the run's records as TensorBoard event files.

Needs the ``tensorboard`` package (``pip install "ganforge[tensorboard]"``):
TensorFlow 2.21 no longer installs it, and its ``tf.summary`` functions are
TensorBoard's. Watch with ``tensorboard --logdir runs``.
"""

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


def tensorboard(run_dir, folder: str = "tensorboard"):
    """Event files in ``<run folder>/<folder>``: scalars, sample grids, evaluation tables, the recipe."""
    from ganforge_tensorboard.sink import TensorBoardSink

    return TensorBoardSink(run_dir, folder)


@hookimpl
def register_sinks(register):
    register("tensorboard", tensorboard, help="TensorBoard event files in the run folder (needs tensorboard)")
