"""``digits`` feature network: a small CNN trained once on the embedded digits.

FID, KID and precision/recall need a feature network, and Inception's
weights cannot be downloaded everywhere. This classifier trains on 4,000 of
the 5,000 embedded digits (400 per class), is scored on the other 1,000, and
is cached in ganforge's cache folder with its held-out accuracy. Training
runs in a child process (``python -m ganforge_mnist.classifier FOLDER``) so
that it cannot disturb the random state of a training run that asks for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

VERSION = 1  # bump when the architecture or training changes: old caches are then ignored
SEED = 0
HELD_OUT_PER_CLASS = 100
EPOCHS = 20
INPUT_SHAPE = (32, 32, 1)


def cache_files(folder: Path) -> tuple[Path, Path]:
    stem = folder / f"digits_classifier-v{VERSION}"
    return stem.with_suffix(".weights.h5"), stem.with_suffix(".json")


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


def train_and_save(folder: Path) -> dict:
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
    trainable.fit(train_x, train_y, batch_size=64, epochs=EPOCHS, verbose=0, shuffle=True)
    accuracy = float(np.mean(np.argmax(classifier.predict(test_x, verbose=0), axis=1) == test_y))
    folder.mkdir(parents=True, exist_ok=True)
    weights, report = cache_files(folder)
    partial = folder / f"partial-{os.getpid()}.weights.h5"
    model.save_weights(partial)
    os.replace(partial, weights)
    summary = {
        "version": VERSION,
        "held_out_accuracy": accuracy,
        "held_out": len(test_y),
        "trained_on": len(train_y),
        "epochs": EPOCHS,
    }
    partial_report = report.with_suffix(f".{os.getpid()}.partial")
    partial_report.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(partial_report, report)  # written last: its presence means the weights are complete
    return summary


def ensure_trained(folder: Path) -> dict:
    """The cached report, training first (in a child process) when there is none."""
    from ganforge import backend

    weights, report = cache_files(folder)
    if not (report.is_file() and weights.is_file()):
        print(f"training the digits classifier once (cached in {folder}) ...", file=sys.stderr, flush=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [*sys.path, os.environ.get("PYTHONPATH")]))}
        # trained on TensorFlow wherever it is installed, whatever backend asks: one classifier, one FID scale
        env["KERAS_BACKEND"] = "tensorflow" if backend.can_use_tensorflow() else backend.current()
        done = subprocess.run(
            [sys.executable, "-m", "ganforge_mnist.classifier", str(folder)], env=env, capture_output=True, text=True
        )
        if done.returncode != 0 or not report.is_file():
            raise ValueError(f"training the digits classifier failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(report.read_text())


class DigitsNetwork:
    """The classifier as a feature network: 128-d features before the last layer, 10 class logits."""

    input_shape = INPUT_SHAPE

    def __init__(self, folder: Path):
        self.report = ensure_trained(folder)
        self.model = build_model()
        self.model.load_weights(cache_files(folder)[0])

    def describe(self) -> str:
        return (
            f"digits classifier v{VERSION} (128-d features, "
            f"{100 * self.report['held_out_accuracy']:.1f}% on {self.report['held_out']} held-out digits)"
        )

    def __call__(self, images):
        features, logits = self.model(images, training=False)
        return np.asarray(features), np.asarray(logits)


if __name__ == "__main__":
    print(json.dumps(train_and_save(Path(sys.argv[1]))))
