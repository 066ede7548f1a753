"""Images/s of ganforge's training loop against a plain GradientTape step.

Both train the article's DCGAN (64x64x3, built by the dcgan plugin) in the
same process, one after the other, at batch 32 and 64:

- plain: a tf.function with two GradientTapes and two Adam optimizers, the
  real batch already a tensor in memory — the least work a Keras 3 /
  TensorFlow step can do;
- ganforge: the real ``train()`` loop on an in-memory dataset — batch
  sampling and scaling, the compiled step, logging — timed by the loop's
  own steps/s over its steady-state windows (compilation excluded).

It also prints the GFLOP/s each reaches and the fraction of this machine's
fp32 matmul peak, measured in the same run. FLOPs are counted from the
layers (2 per multiply-add) with this convention per step:
D update = G forward + D forward and backward on real and fake (3 x 2 D),
G update = G forward and backward (3 G) + D forward and input-gradient (2 D).

Op determinism can only be switched on for a whole process, so the script
runs itself once per setting (``--deterministic off|on``) and prints both.

    python benchmarks/step_throughput.py                       # both settings, ~8 minutes on 2 cores
    python benchmarks/step_throughput.py --steps 10 --rounds 1 # a quick, noisy look
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

SPEC_SHAPE = (64, 64, 3)
LATENT = 100
WARMUP_STEPS = 5


def layer_flops(model) -> float:
    """Forward multiply-add FLOPs for one image through Dense/Conv2D/Conv2DTranspose layers."""
    import keras

    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += 2 * h * w * k * c_in * layer.filters
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, _ = layer.output.shape
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += 2 * h * w * k * layer.input.shape[-1] * layer.filters
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def matmul_peak_gflops(tf, size: int = 2048, repeats: int = 10) -> float:
    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def build_models(seed: int):
    import keras

    from ganforge.data import DataSpec
    from ganforge_dcgan.models import build_discriminator, build_generator

    keras.utils.set_random_seed(seed)
    spec = DataSpec(*SPEC_SHAPE)
    return build_generator(spec, LATENT, preset="article"), build_discriminator(spec, preset="article")


def plain_images_per_s(tf, batch: int, steps: int) -> float:
    """The baseline: a hand-written GradientTape step, nothing around it."""
    import keras

    generator, discriminator = build_models(0)
    g_opt = keras.optimizers.Adam(2e-4, beta_1=0.9)
    d_opt = keras.optimizers.Adam(2e-4, beta_1=0.9)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    real = tf.random.uniform((batch, *SPEC_SHAPE), -1, 1)
    ones, zeros = tf.ones((batch, 1)), tf.zeros((batch, 1))

    @tf.function
    def step(real):
        fake = generator(tf.random.normal((batch, LATENT)), training=True)
        with tf.GradientTape() as tape:
            d_loss = bce(ones, discriminator(real, training=True)) + bce(zeros, discriminator(fake, training=True))
        d_opt.apply_gradients(
            zip(tape.gradient(d_loss, discriminator.trainable_variables), discriminator.trainable_variables)
        )
        with tf.GradientTape() as tape:
            g_loss = bce(
                ones, discriminator(generator(tf.random.normal((batch, LATENT)), training=True), training=True)
            )
        g_opt.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables))
        return d_loss, g_loss

    for _ in range(WARMUP_STEPS):
        step(real)[0].numpy()
    start = time.perf_counter()
    for _ in range(steps):
        losses = step(real)
    losses[0].numpy()
    return steps * batch / (time.perf_counter() - start)


def ganforge_images_per_s(
    batch: int,
    steps: int,
    deterministic: bool | str,
    extra: str = "",
    precision: str = "float32",
    backend: str = "tensorflow",
    plugins=None,
) -> float:
    """The real training loop; speed read from its own metrics records.

    ``deterministic``: the recipe's setting (true, false or "auto"); ``extra``: more recipe
    tables, appended (``benchmarks/scaling.py`` adds a ``[distribute]`` table);
    ``precision``: ``train.precision``; ``backend``: the recipe's (a process runs one: ``benchmarks/backends.py``);
    ``plugins``: makes the registry to add the benchmark's dataset to (the installed plugins if None).
    """
    from ganforge import hookimpl
    from ganforge.data import ArrayDataset
    from ganforge.plugin.registry import Registry
    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_dir
    from ganforge.training.trainer import train

    images = np.random.default_rng(0).integers(0, 256, (1024, *SPEC_SHAPE), dtype=np.uint8)
    plugin = types.ModuleType("benchmark_data")
    plugin.register_datasets = hookimpl(lambda register: register("noise_images", lambda: ArrayDataset(images)))
    registry = plugins() if plugins is not None else Registry.from_entry_points()
    registry.add_plugin("benchmark_data", lambda: plugin, package="benchmark")

    total = WARMUP_STEPS + steps
    with tempfile.TemporaryDirectory() as folder:
        recipe_path = Path(folder) / "bench.toml"
        recipe_path.write_text(f"""
name = "bench"
backend = "{backend}"
sinks = ["jsonl"]
[dataset]
name = "noise_images"
[generator]
name = "dcgan"
preset = "article"
[discriminator]
name = "dcgan"
preset = "article"
[train]
steps = {total}
batch_size = {batch}
log_every = {WARMUP_STEPS}
sample_every = {total}
checkpoint_every = {total}
deterministic = {json.dumps(deterministic)}
precision = "{precision}"
[generator_optimizer]
beta_1 = 0.9
[discriminator_optimizer]
beta_1 = 0.9
{extra}
""")
        recipe = load_recipe(recipe_path, registry=registry)
        run = run_dir.create(Path(folder) / "runs", recipe.name, recipe.to_toml())
        train(recipe, run, registry=registry)
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # the first window holds tf.function tracing; the rest is steady state
    windows = [(r["step"] - p["step"], r["speed/steps_per_s"]) for p, r in zip(records, records[1:])]
    seconds = sum(count / speed for count, speed in windows)
    return sum(count for count, _ in windows) * batch / seconds


def measure(deterministic: bool, steps: int, rounds: int) -> dict:
    from ganforge import backend

    tf = backend.tensorflow()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    generator, discriminator = build_models(0)
    g_flops, d_flops = layer_flops(generator), layer_flops(discriminator)
    step_flops_per_image = 4 * g_flops + 8 * d_flops
    result = {
        "deterministic": deterministic,
        "peak_gflops": matmul_peak_gflops(tf),
        "flops_per_image": step_flops_per_image,
        "rows": [],
    }
    for batch in (32, 64):
        # Alternate the two, round by round, and compare medians, so a
        # change in machine load during the run hits both sides alike.
        plain, ours = [], []
        for _ in range(rounds):
            plain.append(plain_images_per_s(tf, batch, steps))
            ours.append(ganforge_images_per_s(batch, steps, deterministic))
        result["rows"].append({"batch": batch, "plain": plain, "ganforge": ours})
    return result


def report(results: list[dict]) -> None:
    print(f"\nArticle DCGAN 64x64x3 training step, {results[0]['flops_per_image'] / 1e9:.3f} GFLOP per image per step")
    print(f"fp32 matmul peak measured: {results[0]['peak_gflops']:.1f} GFLOP/s")
    print(f"medians of {len(results[0]['rows'][0]['plain'])} alternating rounds (min-max in brackets)\n")
    print(
        f"{'determinism':<12}{'batch':>6}{'plain img/s':>22}{'ganforge img/s':>22}{'ratio':>7}{'GFLOP/s':>9}{'% peak':>8}"
    )
    for result in results:
        for row in result["rows"]:
            plain, ours = statistics.median(row["plain"]), statistics.median(row["ganforge"])
            gflops = ours * result["flops_per_image"] / 1e9
            spread = lambda values: f"[{min(values):.0f}-{max(values):.0f}]"  # noqa: E731
            print(
                f"{'on' if result['deterministic'] else 'off':<12}{row['batch']:>6}"
                f"{plain:>12.1f} {spread(row['plain']):>9}{ours:>12.1f} {spread(row['ganforge']):>9}"
                f"{ours / plain:>7.2f}{gflops:>9.1f}{100 * gflops / result['peak_gflops']:>7.1f}%"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per batch size")
    parser.add_argument("--deterministic", choices=["on", "off"], help="measure one setting in this process (internal)")
    args = parser.parse_args()
    if args.deterministic:
        print(json.dumps(measure(args.deterministic == "on", args.steps, args.rounds)))
        return
    results = []
    for setting in ("off", "on"):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--steps",
                str(args.steps),
                "--rounds",
                str(args.rounds),
                "--deterministic",
                setting,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    report(results)


if __name__ == "__main__":
    main()
