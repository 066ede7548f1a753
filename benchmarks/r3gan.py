"""R3GAN's two costs on this machine, each measured side by side in one run.

    python benchmarks/r3gan.py                 # both
    python benchmarks/r3gan.py --only penalties

- ``convolutions``: R1's double backward pass through one grouped 3x3 convolution (a 64 x 32 x 32 x 128
  batch, 8 groups) as Keras computes it (XLA's grouped convolution) and as ganforge_r3gan's
  GroupedConv2D computes it on a CPU (one convolution per group): seconds per call and their ratio.
- ``penalties``: recipes/r3gan_digits.toml trained for --steps steps with R1 + R2 and without
  (``penalty = []``), one ganforge process each: the median images/s of each and their ratio (the
  official repository's users report steps 6-7 times slower with R1 + R2).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def convolutions(repeats: int) -> None:
    import tensorflow as tf
    from keras import ops

    from ganforge_r3gan.layers import GroupedConv2D

    images = tf.random.normal((64, 32, 32, 128))
    layer = GroupedConv2D(128, 3, padding="same", groups=8, use_bias=False)
    layer.build(images.shape)

    def penalty_gradient(convolve):
        @tf.function
        def step(x):
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    inner.watch(x)
                    y = tf.reduce_sum(tf.nn.leaky_relu(convolve(x), 0.2))
                penalty = tf.reduce_sum(tf.square(inner.gradient(y, x)))
            return outer.gradient(penalty, layer.kernel)

        return step

    keras_way = penalty_gradient(lambda x: ops.conv(x, layer.kernel, padding="same"))
    per_group = penalty_gradient(lambda x: layer.convolution_op(x, layer.kernel))
    seconds = {}
    for name, step in (("XLA grouped (Keras)", keras_way), ("one per group (ganforge)", per_group)):
        step(images)  # traced and compiled
        start = time.perf_counter()
        for _ in range(repeats):
            step(images)
        seconds[name] = (time.perf_counter() - start) / repeats
        print(f"{name:26} {seconds[name]:.3f} s per call", flush=True)
    keras_s, ours_s = seconds.values()
    print(f"ratio: one per group is {keras_s / ours_s:.1f}x as fast")


def speed(steps: int, without_penalties: bool, folder: Path) -> float:
    settings = [f"train.steps={steps}", "train.log_every=10", f"train.sample_every={steps}", 'sinks=["jsonl"]']
    settings += [f"output_dir={json.dumps(str(folder))}", f"train.checkpoint_every={steps}"]
    if without_penalties:
        settings.append("penalty=[]")
    command = [sys.executable, "-m", "ganforge", "run", str(ROOT / "recipes" / "r3gan_digits.toml")]
    for setting in settings:
        command += ["--set", setting]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (run,) = folder.iterdir()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    speeds = [r["speed/images_per_s"] for r in records if "speed/images_per_s" in r]
    return statistics.median(speeds[1:])  # the first window holds the tracing


def penalties(steps: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        with_them = speed(steps, False, Path(folder) / "with")
        without = speed(steps, True, Path(folder) / "without")
    print(f"r3gan_digits, {steps} steps: {with_them:.0f} img/s with R1 + R2, {without:.0f} without")
    print(f"ratio: a step with R1 + R2 takes {without / with_them:.2f}x as long")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["convolutions", "penalties"])
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per convolution")
    parser.add_argument("--steps", type=int, default=60, help="training steps per penalty run")
    args = parser.parse_args()
    if args.only in (None, "convolutions"):
        convolutions(args.repeats)
    if args.only in (None, "penalties"):
        penalties(args.steps)


if __name__ == "__main__":
    main()
