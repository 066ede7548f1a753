"""Using a trained generator: sample pictures, latent walks, and files to ship it in.

Nothing here overwrites: every output path must not exist yet, and files
appear complete or not at all (written under a temporary name, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ganforge import backend, streams
from ganforge.data.pixels import make_grid, save_png, to_uint8
from ganforge.errors import DataError
from ganforge.plugin.contract import supports


def _fresh(path: Path) -> Path:
    if path.exists():
        raise DataError(f"{path}: already exists; ganforge does not overwrite (choose another path)")
    if not path.parent.is_dir():
        raise DataError(f"{path.parent}: no such folder")
    return path


def noise(seed: int, count: int, latent_dim: int) -> np.ndarray:
    """The same seed gives the same noise, whatever the count: row i is always the same vector."""
    return streams.generator(seed, streams.SAMPLE_COMMAND).standard_normal((count, latent_dim)).astype(np.float32)


def _pictures(trained, outputs: np.ndarray) -> np.ndarray:
    """Generator outputs as uint8 images; 2-D points are drawn by the dataset when it can."""
    if trained.dataset.spec.is_image:
        return to_uint8(outputs)
    raise DataError(
        f"the generator of {trained.run_dir} makes points of shape {trained.dataset.spec.shape}, not images"
    )


def sample(trained, out: Path, count: int, seed: int, separate: bool, cls=None, attributes=()) -> list[Path]:
    """One grid PNG at ``out``, or ``count`` PNGs in the new folder ``out``; a conditional run's labels are
    drawn from its data, with class ``cls`` or ``attributes`` (``NAME=true``) set."""
    labels = trained.labels(seed, count, cls, attributes)
    _fresh(out)
    outputs = trained.generate(noise(seed, count, trained.latent_dim), labels)
    render = supports("dataset", trained.dataset)["render"]
    if not trained.dataset.spec.is_image and render is not None and not separate:
        save_png(render(outputs), out)  # 2-D points over the true modes
        return [out]
    images = _pictures(trained, outputs)
    if not separate:
        save_png(make_grid(images), out)
        return [out]
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for index, image in enumerate(images):
        save_png(image, partial / f"{index:05d}.png")
    os.replace(partial, out)
    return sorted(out.iterdir())


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation: Gaussian noise keeps its typical length along the way (White 2016)."""
    cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    if angle < 1e-6:
        return a[None] + t[:, None] * (b - a)[None]
    return (np.sin((1 - t) * angle)[:, None] * a + np.sin(t * angle)[:, None] * b) / np.sin(angle)


def walk(latent_dim: int, seeds: list[int], frames: int) -> np.ndarray:
    """(len(seeds) - 1, frames, latent_dim): from each seed's noise to the next, ends included."""
    points = [noise(seed, 1, latent_dim)[0] for seed in seeds]
    t = np.linspace(0.0, 1.0, frames)
    return np.stack([slerp(a, b, t) for a, b in zip(points, points[1:])]).astype(np.float32)


def interpolate(
    trained, grid_out: Path, gif_out: Path, seeds: list[int], frames: int, frame_ms: int, cls=None, attributes=()
) -> None:
    """A grid (one row per leg of the walk) and an animated GIF that loops through every seed and back.

    A conditional run walks with one label throughout (``cls`` or ``attributes`` set, the rest drawn
    from the data with the first seed): only the noise moves."""
    from PIL import Image

    if len(seeds) < 2 or frames < 2:
        raise DataError("interpolate needs at least 2 seeds and 2 frames")
    label = trained.labels(seeds[0], 1, cls, attributes)
    _fresh(grid_out)
    _fresh(gif_out)
    legs = walk(trained.latent_dim, seeds, frames)
    points = legs.reshape(-1, trained.latent_dim)
    labels = None if label is None else np.repeat(label, len(points), axis=0)
    images = _pictures(trained, trained.generate(points, labels))
    save_png(make_grid(images, columns=frames), grid_out)
    # each leg's last frame is the next leg's first: drop the repeats so the animation does not stall
    sequence = [image for leg in images.reshape(len(legs), frames, *images.shape[1:]) for image in leg[:-1]]
    sequence.append(images[-1])
    scale = max(1, 256 // sequence[0].shape[0])  # small images are hard to see: enlarge without blurring
    pictures = [
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).resize(
            (image.shape[1] * scale, image.shape[0] * scale), Image.Resampling.NEAREST
        )
        for image in sequence
    ]
    partial = gif_out.with_name(f".{gif_out.name}.partial")
    pictures[0].save(partial, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0)
    os.replace(partial, gif_out)


def label_input(spec) -> dict:
    """What an exported conditional generator's second input holds, for ``generator.json``."""
    if spec.kind == "classes":
        meaning = "int32 class numbers, shape (batch,): the number of a class is its place in names"
    else:
        meaning = "float32 flags, shape (batch, attributes): 1.0 where the attribute is wanted, 0.0 where not"
    return {"kind": spec.kind, "names": list(spec.names), "input": meaning}


def export(trained, out: Path) -> dict:
    """``out/generator.keras``, ``out/saved_model/`` (serving signature ``serve``) and ``out/generator.json``."""
    _fresh(out)
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    model = trained.generator
    model.save(partial / "generator.keras")
    saved_model = backend.can_use_tensorflow()
    if saved_model:  # from JAX too (Keras converts it with jax2tf), where TensorFlow is installed
        model.export(str(partial / "saved_model"), format="tf_saved_model", verbose=False)
    custom = sorted(
        {type(layer).__module__ for layer in model._flatten_layers() if not type(layer).__module__.startswith("keras")}
    )
    about = {
        "recipe": trained.recipe.name,
        "checkpoint": str(trained.checkpoint),
        "step": trained.step,
        "weights": trained.weights,
        "latent_dim": trained.latent_dim,
        "noise": "standard normal, float32, shape (batch, latent_dim)",
        "output_shape": list(trained.dataset.spec.shape),
        "output_range": [-1.0, 1.0] if trained.dataset.spec.is_image else None,
        "keras_file_needs_modules": custom,
        "saved_model": saved_model,
    }
    if trained.condition is not None:
        about["inputs"] = ["noise", "labels"]  # the models' inputs, in order
        about["labels"] = label_input(trained.condition.spec)
    (partial / "generator.json").write_text(json.dumps(about, indent=2) + "\n")
    os.replace(partial, out)
    return about
