"""``wandb`` sink: watch a run in Weights & Biases, online or offline.

    sinks = ["console", "jsonl", "png", { name = "wandb", project = "faces", tags = ["dcgan"] }]

``mode = "auto"`` (the default) goes online when an API key is configured
(``WANDB_API_KEY`` or ``wandb login``) and offline otherwise. It never hangs
a run: if W&B cannot be reached within ``init_timeout`` seconds, the run
goes on offline (or without W&B) and one line says so.
"""
from typing import Literal, Optional

from ganforge import hookimpl


def wandb(
    run_dir,
    project: str = "ganforge",
    entity: str = "",
    group: str = "",
    tags: Optional[list[str]] = None,
    notes: str = "",
    run_name: str = "",
    mode: Literal["auto", "online", "offline", "disabled"] = "auto",
    init_timeout: float = 30.0,
    log_checkpoints: bool = False,
):
    """Scalars, sample grids, evaluation tables and the recipe to a W&B run (resumed with the ganforge run)."""
    from ganforge_wandb.sink import WandbSink

    return WandbSink(
        run_dir, project=project, entity=entity, group=group, tags=tags or [], notes=notes, run_name=run_name,
        mode=mode, init_timeout=init_timeout, log_checkpoints=log_checkpoints,
    )


@hookimpl
def register_sinks(register):
    register("wandb", wandb, help="Weights & Biases: online with an API key, else offline (wandb sync later)")
