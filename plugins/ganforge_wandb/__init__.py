"""``wandb`` sink: watch a run in Weights & Biases, online or offline.

    sinks = ["console", "jsonl", "png", { name = "wandb", project = "faces", tags = ["dcgan"] }]

``mode = "auto"`` (the default) goes online when an API key is configured
(``WANDB_API_KEY`` or ``wandb login``) and offline otherwise. It never hangs
a run: if W&B cannot be reached within ``init_timeout`` seconds, the run
goes on offline (or without W&B) and one line says so.
"""

from typing import Annotated, Literal, Optional

from pydantic import Field

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


def wandb(
    run_dir,
    project: Annotated[str, Field(min_length=1, description="W&B project")] = "ganforge",
    entity: Annotated[str, Field(description="team or user; empty: your default")] = "",
    group: Annotated[str, Field(description="W&B run group")] = "",
    tags: Annotated[Optional[list[str]], Field(description="W&B run tags")] = None,
    notes: Annotated[str, Field(description="W&B run notes")] = "",
    run_name: Annotated[str, Field(description="W&B display name; empty: the run folder's name")] = "",
    mode: Annotated[
        Literal["auto", "online", "offline", "disabled"],
        Field(description="auto: online with an API key, else offline"),
    ] = "auto",
    init_timeout: Annotated[float, Field(gt=0, description="seconds to wait for W&B before going on offline")] = 30.0,
    log_checkpoints: Annotated[bool, Field(description="upload each checkpoint as a model artifact")] = False,
):
    """Scalars, sample grids, evaluation tables and the recipe to a W&B run (resumed with the ganforge run)."""
    from ganforge_wandb.sink import WandbSink

    return WandbSink(
        run_dir,
        project=project,
        entity=entity,
        group=group,
        tags=tags or [],
        notes=notes,
        run_name=run_name,
        mode=mode,
        init_timeout=init_timeout,
        log_checkpoints=log_checkpoints,
    )


@hookimpl
def register_sinks(register):
    register("wandb", wandb, help="Weights & Biases: online with an API key, else offline (wandb sync later)")
