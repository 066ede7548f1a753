"""Sample grids as PNG files: ``samples/step_00000800.png``."""

from pathlib import Path

from ganforge.data.pixels import save_png
from ganforge.runs.folder import SAMPLES


class PngSink:
    def __init__(self, run_dir: Path):
        self.folder = Path(run_dir) / SAMPLES

    def start(self, total_steps: int, first_step: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def scalars(self, step, values) -> None:
        pass

    def images(self, step: int, name: str, grid) -> None:
        prefix = "step" if name == "samples" else name
        save_png(grid, self.folder / f"{prefix}_{step:08d}.png")

    def close(self) -> None:
        pass
