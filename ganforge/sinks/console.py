"""The console: a rich progress bar on a terminal, plain log lines elsewhere.

The bar shows step/total, it/s, images/s, the D and G losses and the ETA.
When output goes to a file or a CI log a live bar would be noise, so one
line per logged step is printed instead.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ConsoleSink:
    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.console = Console(stderr=True)
        self._progress: Progress | None = None
        self._task = None
        self._total = 0

    def start(self, total_steps: int, first_step: int) -> None:
        self._total = total_steps
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]step"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.fields[speed]}"),
                TextColumn("{task.fields[losses]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._task = self._progress.add_task("train", total=total_steps, completed=first_step, speed="", losses="")
            self._progress.start()

    def progress(self, step: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if "loss/discriminator" not in values:  # an evaluation record: print it once, whole
            shown = "  ".join(f"{key.removeprefix('eval/')} {value:.4g}" for key, value in values.items())
            self.console.print(f"step {step}  {shown}", highlight=False, markup=False)
            return
        speed = f"{values.get('speed/steps_per_s', 0):.1f} it/s {values.get('speed/images_per_s', 0):.0f} img/s"
        losses = (
            f"D {values.get('loss/discriminator', float('nan')):.4f} G {values.get('loss/generator', float('nan')):.4f}"
        )
        if self._progress is not None:
            self._progress.update(self._task, completed=step, speed=speed, losses=losses)
        else:
            print(f"step {step}/{self._total}  {speed}  {losses}", file=sys.stderr, flush=True)

    def images(self, step, name, grid) -> None:
        pass

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
