"""``digits`` feature network: a small CNN trained on the embedded digits, shipped with ganforge.

FID, KID and precision/recall need a feature network, and Inception's
weights cannot be downloaded everywhere. This classifier was trained on
4,000 of the 5,000 embedded digits (400 per class) and scored on the other
1,000; its weights and that score ship in this folder, so every machine
measures with the same network and digits FIDs compare across machines
(a network trained on each machine would differ a little from CPU to CPU).

``python -m ganforge_mnist.classifier FOLDER [--epochs N]`` trains it again
from the same seed into FOLDER: how the shipped files were made.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

VERSION = 1  # bump when the architecture or training changes: the shipped files carry it in their names
SEED = 0
HELD_OUT_PER_CLASS = 100
EPOCHS = 20
INPUT_SHAPE = (32, 32, 1)


def weights_files(folder: Path) -> tuple[Path, Path]:
    """(weights, report) in ``folder``: the report is written last and holds the held-out accuracy."""
    stem = folder / f"digits_classifier-v{VERSION}"
    return stem.with_suffix(".weights.h5"), stem.with_suffix(".json")


SHIPPED = Path(__file__).parent  # the files every install measures with


def split() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train, held out) as (images in [-1, 1] (N, 32, 32, 1), labels); the last 100 of each class are held out."""
    from ganforge_mnist.embedded import read_embedded

    images, labels = read_embedded()
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[..., None].astype(np.float32) / 127.5 - 1.0
    held = np.zeros(len(labels), bool)
    for digit in range(10):
        held[np.flatnonzero(labels == digit)[-HELD_OUT_PER_CLASS:]] = True
    return (images[~held], labels[~held]), (images[held], labels[held])


def build_model():
    from ganforge import backend

    keras = backend.keras()  # quietly, on the run's backend
    layers = keras.layers

    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for filters in (32, 64, 128):  # 32 -> 16 -> 8 -> 4 pixels
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    features = layers.Dense(128, activation="relu", name="features")(x)
    logits = layers.Dense(10, name="logits")(layers.Dropout(0.3)(features))
    return keras.Model(inputs, [features, logits], name="digits_classifier")


def train_and_save(folder: Path, epochs: int = EPOCHS) -> dict:
    """Train from a fixed seed, score on the held-out digits, save weights then the report (atomically)."""
    from ganforge.backend import configure

    configure(SEED, deterministic=True)  # starts the backend quietly, and seeds the weights below
    import keras

    (train_x, train_y), (test_x, test_y) = split()
    model = build_model()
    classifier = keras.Model(model.input, model.outputs[1])
    augment = keras.Sequential(
        [keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=-1.0, seed=SEED)]
    )
    trainable = keras.Sequential([keras.Input(INPUT_SHAPE), augment, classifier])
    trainable.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    trainable.fit(train_x, train_y, batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    accuracy = float(np.mean(np.argmax(classifier.predict(test_x, verbose=0), axis=1) == test_y))
    folder.mkdir(parents=True, exist_ok=True)
    weights, report = weights_files(folder)
    partial = folder / f"partial-{os.getpid()}.weights.h5"
    model.save_weights(partial)
    os.replace(partial, weights)
    summary = {
        "version": VERSION,
        "held_out_accuracy": accuracy,
        "held_out": len(test_y),
        "trained_on": len(train_y),
        "epochs": epochs,
    }
    partial_report = report.with_suffix(f".{os.getpid()}.partial")
    partial_report.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(partial_report, report)  # written last: its presence means the weights are complete
    return summary


class DigitsNetwork:
    """The classifier as a feature network: 128-d features before the last layer, 10 class logits."""

    input_shape = INPUT_SHAPE
    class_names = tuple(str(digit) for digit in range(10))  # logit k is digit k

    def __init__(self, folder: Path = SHIPPED):
        weights, report = weights_files(folder)
        if not (weights.is_file() and report.is_file()):
            raise ValueError(f"the digits classifier's files are missing from {folder}: reinstall ganforge")
        self.report = json.loads(report.read_text())
        self.weights = weights
        self.model = build_model()
        self.model.load_weights(weights)

    def record(self) -> dict:
        """Which weights measured: kept with every result, so results from different weights are told apart."""
        from ganforge.evaluation.download import sha256_of

        return {"weights": self.weights.name, "weights_sha256": sha256_of(self.weights)}

    def describe(self) -> str:
        return (
            f"digits classifier v{VERSION} (128-d features, "
            f"{100 * self.report['held_out_accuracy']:.1f}% on {self.report['held_out']} held-out digits)"
        )

    def __call__(self, images):
        features, logits = self.model(images, training=False)
        return np.asarray(features), np.asarray(logits)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ganforge_mnist.classifier", description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="where the weights and their report are written")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"passes over the 4,000 training digits ({EPOCHS})")
    args = parser.parse_args(argv)
    print(json.dumps(train_and_save(args.folder, args.epochs)))


if __name__ == "__main__":
    main()
