"""The core sinks, registered through the same hook as any dashboard plugin.

Records the loop sends: ``scalars(step, values)`` every ``log_every`` steps
(keys like ``loss/discriminator``, ``speed/images_per_s``) and
``images(step, "samples", grid)`` every ``sample_every`` steps.
"""

from ganforge.plugin.hookspecs import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


@hookimpl
def register_sinks(register):
    register("console", "ganforge.sinks.console:ConsoleSink", help="progress bar (a terminal) or log lines (a pipe)")
    register("jsonl", "ganforge.sinks.jsonl:JsonlSink", help="scalars to metrics.jsonl in the run folder")
    register("png", "ganforge.sinks.png:PngSink", help="sample grids to samples/step_NNNNNNNN.png")
