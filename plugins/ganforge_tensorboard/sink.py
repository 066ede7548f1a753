from __future__ import annotations

from pathlib import Path

from ganforge.backend import tensorflow


class TensorBoardSink:
    def __init__(self, run_dir: Path, folder: str):
        try:
            import tensorboard  # noqa: F401  (tf.summary's writers live in this package)
        except ImportError:
            raise ValueError('the tensorboard package is not installed: pip install "ganforge[tensorboard]"') from None
        try:  # tf.summary writes the files, whatever backend trains (a JAX machine may lack TensorFlow)
            self.tf = tensorflow()
        except ImportError:
            raise ValueError(
                "TensorBoard files are written with TensorFlow's tf.summary: pip install tensorflow"
            ) from None
        self.folder = Path(run_dir) / folder
        self.writer = self.tf.summary.create_file_writer(str(self.folder))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        with self.writer.as_default(step=step):
            for key, value in values.items():
                self.tf.summary.scalar(key, value)

    def images(self, step: int, name: str, image) -> None:
        with self.writer.as_default(step=step):
            self.tf.summary.image(f"images/{name}", image[None], max_outputs=1)

    def table(self, step: int, name: str, columns: list[str], rows: list[list]) -> None:
        # TensorBoard's text plugin renders markdown tables
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
        self.text(step, name, "\n".join(lines), preformatted=False)

    def text(self, step: int, name: str, text: str, preformatted: bool = True) -> None:
        body = "```\n" + text + "\n```" if preformatted else text
        with self.writer.as_default(step=step):
            self.tf.summary.text(name, body)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
