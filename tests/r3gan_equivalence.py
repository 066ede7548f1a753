"""ganforge's R3GAN networks against the official PyTorch code's numbers, on the backend Keras runs.

tests/fixtures/r3gan_reference.npz was written by scripts/r3gan_reference.py from the official code
(float64): its state dicts, inputs, outputs, and gradients of D's output, of R1 and R2, and of both
players' losses. :func:`errors` loads that state dict into ganforge's networks through the official-layout
loader, computes the same quantities in float32 with ganforge's own loss and penalty classes, and returns
the relative error of each: ``||ours - theirs|| / ||theirs||`` per tensor. :func:`init_mismatches`
compares a fresh network's initialisation with the official one's, tensor by tensor.

Run as a script it prints the errors as JSON (``python r3gan_equivalence.py [unconditional] [conditional]``,
both by default): test_r3gan.py runs it in a JAX process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np

from ganforge.data import DataSpec
from ganforge.data.labels import LabelSpec
from ganforge_losses.penalties import R1, R2
from ganforge_losses.relativistic import RelativisticPairing
from ganforge_r3gan import networks, official

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "r3gan_reference.npz"


def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as stored:
        return {key: stored[key] for key in stored.files}


def architecture(ref: dict, player: str, prefix: str = "config") -> networks.Architecture:
    rows = (ref[f"{prefix}/{player}/{key}"] for key in ("widths", "groups", "blocks"))
    return networks.Architecture(*(tuple(int(v) for v in row) for row in rows), int(ref["config/expansion"]))


def build(ref: dict, conditional: bool, prefix: str = "config"):
    """G and D as the fixture's configuration makes them (fresh weights)."""
    side = int(ref[f"{prefix}/side"])
    spec = DataSpec(side, side, 3)
    condition = LabelSpec("classes", tuple(f"c{i}" for i in range(int(ref["config/classes"])))) if conditional else None
    noise = int(ref[f"{prefix}/noise"])
    generator = networks.build_generator(spec, noise, architecture(ref, "G", prefix), condition)
    discriminator = networks.build_discriminator(spec, architecture(ref, "D", prefix), condition)
    return generator, discriminator


def loaded(ref: dict, conditional: bool):
    generator, discriminator = build(ref, conditional)
    suffix = "c" if conditional else ""
    for model, player in ((generator, "G"), (discriminator, "D")):
        prefix = f"state/{player}{suffix}/"
        tensors = {key[len(prefix) :]: value for key, value in ref.items() if key.startswith(prefix)}
        official.load(model, tensors, prefix)
    return generator, discriminator


def gradient(function, *arguments):
    """d function(*arguments) / d arguments, on either backend; differentiable again (R1's weights)."""
    if keras.backend.backend() == "jax":
        import jax

        # compiled: op by op, JAX dispatches each of the double backward pass's thousands of operations
        return jax.jit(jax.grad(function, argnums=tuple(range(len(arguments)))))(*arguments)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(arguments)
        value = function(*arguments)
    # an embedding's gradient comes as IndexedSlices: dense, like every other
    return [tf.convert_to_tensor(g) for g in tape.gradient(value, arguments)]


def nhwc(array: np.ndarray) -> np.ndarray:
    return np.transpose(array, (0, 2, 3, 1))


class Players:
    """Both networks as functions of their weights, so that gradients can be taken with respect to them."""

    def __init__(self, generator, discriminator, labels):
        self.generator, self.discriminator, self.labels = generator, discriminator, labels

    def fake(self, g_weights, z):
        inputs = z if self.labels is None else [z, self.labels]
        return self.generator.stateless_call(list(g_weights), [], inputs)[0]

    def logits(self, d_weights, images):
        inputs = images if self.labels is None else [images, self.labels]
        return self.discriminator.stateless_call(list(d_weights), [], inputs)[0]

    def input_gradient(self, d_weights, images):
        return gradient(lambda x: keras.ops.sum(self.logits(d_weights, x)), images)[0]


def errors(ref: dict, conditional: bool) -> dict[str, float]:
    generator, discriminator = loaded(ref, conditional)
    labels = np.argmax(ref["inputs/c"], axis=1).astype("int32") if conditional else None
    players = Players(generator, discriminator, labels)
    g_weights = [keras.ops.convert_to_tensor(np.asarray(v)) for v in generator.trainable_variables]
    d_weights = [keras.ops.convert_to_tensor(np.asarray(v)) for v in discriminator.trainable_variables]
    z, real = keras.ops.convert_to_tensor(ref["inputs/z"]), keras.ops.convert_to_tensor(nhwc(ref["inputs/real"]))
    gamma = float(ref["config/gamma"])
    loss = RelativisticPairing()

    fake = players.fake(g_weights, z)
    ours = {"fake": fake, "d_real": players.logits(d_weights, real), "d_fake": players.logits(d_weights, fake)}
    ours["d_real_input_grad"] = players.input_gradient(d_weights, real)
    ours["r1"] = keras.ops.sum(keras.ops.square(ours["d_real_input_grad"]), axis=(1, 2, 3))
    ours["r2"] = keras.ops.sum(keras.ops.square(players.input_gradient(d_weights, fake)), axis=(1, 2, 3))

    def squared(images):
        return lambda *w: keras.ops.mean(keras.ops.sum(keras.ops.square(players.input_gradient(w, images)), (1, 2, 3)))

    def d_loss(*w):
        adversarial = loss.discriminator_loss(players.logits(w, real), players.logits(w, fake))
        regularisers = R1(gamma).from_gradients(players.input_gradient(w, real))
        return adversarial + regularisers + R2(gamma).from_gradients(players.input_gradient(w, fake))

    def g_loss(*w):
        return loss.generator_loss(players.logits(d_weights, players.fake(w, z)), players.logits(d_weights, real))

    per_weight = {
        "d_weight_grads": (discriminator, gradient(lambda *w: keras.ops.sum(players.logits(w, real)), *d_weights)),
        "r1_weight_grads": (discriminator, gradient(squared(real), *d_weights)),
        "r2_weight_grads": (discriminator, gradient(squared(fake), *d_weights)),
        "d_loss_grads": (discriminator, gradient(d_loss, *d_weights)),
        "g_loss_grads": (generator, gradient(g_loss, *g_weights)),
    }
    prefix = "outc" if conditional else "out"
    found = {
        name: _relative(np.asarray(value), _ours_layout(name, ref[f"{prefix}/{name}"])) for name, value in ours.items()
    }
    for name, (model, grads) in per_weight.items():
        found.update(_weight_errors(model, grads, ref, f"{prefix}/{name}/"))
    return found


def _ours_layout(name: str, theirs: np.ndarray) -> np.ndarray:
    if theirs.ndim == 4:
        return nhwc(theirs)
    return theirs.reshape(-1, 1) if name.startswith("d_") and theirs.ndim == 1 else theirs


def _weight_errors(model, grads, ref: dict, prefix: str) -> dict[str, float]:
    """Each weight's gradient against the official one, converted to Keras's layout as its weight is."""
    position = {id(v): i for i, v in enumerate(model.trainable_variables)}
    found = {}
    for key, (variable, convert) in official.weights(model).items():
        theirs = np.asarray(convert(ref[prefix + key]), np.float64)
        found[prefix + key] = _relative(np.asarray(grads[position[id(variable)]]), theirs)
    return found


def _relative(ours: np.ndarray, theirs: np.ndarray) -> float:
    if ours.shape != theirs.shape:
        return float("inf")
    scale = np.linalg.norm(theirs)
    difference = np.linalg.norm(ours.astype(np.float64) - theirs)
    return float(difference / scale) if scale > 0 else float(difference)


def init_mismatches(ref: dict, player: str, model) -> list[str]:
    """The weights whose fresh values do not look drawn as the official ones: a standard deviation or
    mean outside what sampling explains (6 standard errors), or non-zero where the official is zero."""
    wrong = []
    for key, (variable, _) in official.weights(model).items():
        values = np.asarray(variable, np.float64)
        std, mean, size = (float(ref[f"init/{player}/{key}/{stat}"]) for stat in ("std", "mean", "size"))
        if values.size != size:
            wrong.append(f"{key}: {values.size} values, the official {int(size)}")
        elif std == 0:
            if np.any(values != mean):
                wrong.append(f"{key}: the official starts at {mean}, this one does not")
        elif abs(values.std() / std - 1) > 6 / np.sqrt(2 * size) or abs(values.mean() - mean) > 6 * std / np.sqrt(size):
            wrong.append(
                f"{key}: std {values.std():.4g} and mean {values.mean():.3g}, the official {std:.4g}, {mean:.3g}"
            )
    return wrong


if __name__ == "__main__":
    fixture = reference()
    kinds = sys.argv[1:] or ["unconditional", "conditional"]
    json.dump({kind: errors(fixture, kind == "conditional") for kind in kinds}, sys.stdout)
