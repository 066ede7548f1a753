from __future__ import annotations

import json
import logging
import netrc
import os
import secrets
import shutil
from pathlib import Path
from urllib.parse import urlparse

from ganforge.recipe import tomllib
from ganforge.runs.folder import RECIPE_FILE

# under "ganforge", where the ganforge command shows INFO records; a module name outside it would not be shown
logger = logging.getLogger("ganforge.plugins.wandb")
ID_FILE = "wandb-run.json"  # the W&B run id, so that --resume continues the same W&B run; no secrets


def key_configured() -> bool:
    """Whether W&B would find an API key: the environment, or ``wandb login``'s netrc entry."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


class WandbSink:
    def __init__(
        self, run_dir: Path, *, project, entity, group, tags, notes, run_name, mode, init_timeout, log_checkpoints
    ):
        if init_timeout <= 0:
            raise ValueError(f"init_timeout must be > 0 seconds; got {init_timeout}")
        import wandb

        self.wandb = wandb
        self.run_dir = Path(run_dir)
        self.log_checkpoints = log_checkpoints
        saved = self._saved_id()
        if mode == "auto":
            mode = os.environ.get("WANDB_MODE") or ("online" if key_configured() else "offline")
        with open(self.run_dir / RECIPE_FILE, "rb") as file:
            config = tomllib.load(file)
        arguments = dict(
            project=project,
            entity=entity or None,
            group=group or None,
            tags=tags,
            notes=notes or None,
            name=run_name or self.run_dir.name,
            config=config,
            dir=str(self.run_dir),
            id=saved or secrets.token_hex(4),
            resume="allow",
            settings=wandb.Settings(init_timeout=init_timeout, console="off", silent=True),
        )
        self.run, self.mode = self._start(mode, arguments)
        if self.run is None:
            return
        partial = self.run_dir / f".{ID_FILE}.tmp"
        partial.write_text(json.dumps({"id": self.run.id, "project": project, "entity": entity}) + "\n")
        os.replace(partial, self.run_dir / ID_FILE)
        if self.mode == "online":
            logger.info(f"W&B: {'resumed' if saved else 'logging to'} {self.run.url}")

    def _saved_id(self) -> str | None:
        try:
            return json.loads((self.run_dir / ID_FILE).read_text())["id"]
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def _start(self, mode: str, arguments: dict):
        """(run, mode): online, falling back to offline, falling back to none; never an exception that stops training."""
        for attempt in [mode, "offline"] if mode == "online" else [mode]:
            try:
                return self.wandb.init(mode=attempt, **arguments), attempt
            except Exception as error:  # wandb raises many kinds (UsageError, CommError, timeouts)
                reason = " ".join(str(error).split())[:300] or type(error).__name__
                fallback = "going on offline" if attempt == "online" else "going on without W&B"
                logger.warning(f"W&B: could not start {attempt} ({reason}); {fallback}")
                self.wandb.teardown()  # W&B's service still holds the failed run's id; a fresh one does not
        return None, "disabled"

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.run is not None:
            self.run.log(values, step=step)

    def images(self, step: int, name: str, image) -> None:
        if self.run is not None:
            # ganforge sends uint8 pixels, so W&B shows them as they are, with no rescaling guesswork
            self.run.log({f"images/{name}": self.wandb.Image(image, caption=f"step {step}")}, step=step)

    def table(self, step: int, name: str, columns: list[str], rows: list[list]) -> None:
        if self.run is not None:
            self.run.log({f"tables/{name}": self.wandb.Table(columns=columns, data=rows)}, step=step)

    def text(self, step: int, name: str, text: str) -> None:
        if self.run is not None and name == "recipe":  # the config holds it as keys; the file is handier to rerun
            shutil.copyfile(
                self.run_dir / RECIPE_FILE, Path(self.run.dir) / RECIPE_FILE
            )  # files in run.dir are uploaded

    def checkpoint(self, step: int, path: Path) -> None:
        if self.run is not None and self.log_checkpoints:
            artifact = self.wandb.Artifact(f"{self.run.id}-checkpoint", type="model", metadata={"step": step})
            artifact.add_file(str(path))
            self.run.log_artifact(artifact, aliases=["latest", f"step-{step}"])

    def close(self) -> None:
        if self.run is None:
            return
        run_files = Path(self.run.dir).parent
        self.run.finish()
        if self.mode == "offline":
            logger.info(f"W&B: saved offline; to upload: wandb sync {run_files}")
        self.run = None
