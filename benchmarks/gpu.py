"""The GPU check: ganforge on JAX against a plain Keras-on-JAX step and PyTorch, in one run.

On a machine with JAX's CUDA backend it

1. trains the quickstart recipe on JAX for a few hundred steps (the real loop, from the recipe);
2. times the article's DCGAN (64x64x3) at batch 64 and 256, in float32 and mixed_bfloat16:
   - ganforge: the real training loop on an in-memory dataset, speed read from its own records;
   - plain JAX: a hand-written jitted Keras-on-JAX stateless step (stateless_call, value_and_grad,
     stateless_apply) of the same two models, the real batch already on the device;
   - PyTorch eager and torch.compile: the same architecture written in PyTorch, same optimizers;
3. prints img/s, the ratios to plain JAX, and the fraction of the GPU's matmul peak measured in
   the same run, in the same precision.

TensorFlow is not needed and never imported (the script makes importing it fail). Besides JAX
(``pip install "jax[cuda12]"``) it needs these pure-Python packages, which it names if missing:
keras, pluggy, pydantic, typer, rich, pillow, matplotlib, tomli-w (and Keras' own: namex, optree,
absl-py, h5py, ml-dtypes). PyTorch is optional: without it, its columns are left out. ganforge
itself need not be installed: run from the repository, the script finds its plugins there.

    python benchmarks/gpu.py            # about 5-8 minutes on one GPU
    python benchmarks/gpu.py --quick    # a minute or two on any device: the script runs, numbers mean nothing
    python benchmarks/gpu.py --batch 32 --precision float32 --steps 20 --quickstart-steps 0   # a CPU's figures
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tomllib

os.environ["KERAS_BACKEND"] = "jax"
sys.modules.setdefault("tensorflow", None)  # any import of TensorFlow fails loudly: this check must not need it

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPOSITORY), str(REPOSITORY / "plugins"), str(Path(__file__).resolve().parent)]
from step_throughput import ganforge_images_per_s, layer_flops  # noqa: E402  (the real loop, timed by its records)

NEEDED = {  # module -> pip name
    "keras": "keras",
    "pluggy": "pluggy",
    "pydantic": "pydantic",
    "typer": "typer",
    "rich": "rich",
    "PIL": "pillow",
    "matplotlib": "matplotlib",
    "tomli_w": "tomli-w",
    "namex": "namex",
    "optree": "optree",
    "absl": "absl-py",
    "h5py": "h5py",
    "ml_dtypes": "ml-dtypes",
}
SHAPE = (64, 64, 3)
LATENT = 100
PRECISIONS = ("float32", "mixed_bfloat16")


def missing_packages() -> list[str]:
    return [pip for module, pip in NEEDED.items() if importlib.util.find_spec(module) is None]


# -- ganforge ------------------------------------------------------------------
def registry():
    """The installed plugins, or, where ganforge is not installed, the repository's built-in ones
    (read from pyproject.toml's entry points, as an install would announce them)."""
    from ganforge.plugin.registry import Registry

    found = Registry.from_entry_points()
    if "dcgan" in found.names("generator"):
        return found
    table = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]["entry-points"]["ganforge"]
    for name, module in table.items():
        found.add_plugin(name, lambda module=module: importlib.import_module(module), package="ganforge")
    return found


def train_recipe(text: str, plugins, folder: Path) -> list[dict]:
    """Train a recipe with the real loop; returns its metrics records."""
    from ganforge.recipe import load_recipe
    from ganforge.runs import folder as run_dir
    from ganforge.training.trainer import train

    path = folder / "recipe.toml"
    path.write_text(text)
    recipe = load_recipe(path, registry=plugins)
    run = run_dir.create(folder / "runs", recipe.name, recipe.to_toml())
    train(recipe, run, registry=plugins)
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def quickstart(steps: int, plugins) -> dict:
    text = (REPOSITORY / "recipes" / "quickstart.toml").read_text()
    text = text.replace('name = "quickstart"', 'name = "quickstart"\nbackend = "jax"\nsinks = ["jsonl"]', 1)
    text = text.replace("steps = 2000", f"steps = {steps}").replace(
        "checkpoint_every = 500", f"checkpoint_every = {steps}"
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        records = train_recipe(text, plugins, Path(folder))
        seconds = time.perf_counter() - started
    last = [record for record in records if "loss/generator" in record][-1]
    return {"steps": steps, "seconds": seconds, "d_loss": last["loss/discriminator"], "g_loss": last["loss/generator"]}


# -- plain Keras on JAX --------------------------------------------------------
def plain_jax_images_per_s(batch: int, precision: str, steps: int, warmup: int) -> float:
    """A hand-written stateless step of the same models: the least a Keras-on-JAX GAN step can do."""
    import jax
    import keras

    from ganforge.data import DataSpec
    from ganforge_dcgan.models import build_discriminator, build_generator

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(precision)
    generator = build_generator(DataSpec(*SHAPE), LATENT, preset="article")
    discriminator = build_discriminator(DataSpec(*SHAPE), preset="article")
    keras.config.set_dtype_policy("float32")
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.9), keras.optimizers.Adam(2e-4, beta_1=0.9)
    g_opt.build(generator.trainable_variables)
    d_opt.build(discriminator.trainable_variables)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def d_loss(d_tv, d_ntv, real, fake):
        real_logits, d_ntv = discriminator.stateless_call(d_tv, d_ntv, real, training=True)
        fake_logits, d_ntv = discriminator.stateless_call(d_tv, d_ntv, fake, training=True)
        ones, zeros = jax.numpy.ones((batch, 1)), jax.numpy.zeros((batch, 1))
        return bce(ones, real_logits.astype("float32")) + bce(zeros, fake_logits.astype("float32")), d_ntv

    def g_loss(g_tv, g_ntv, d_tv, d_ntv, noise):
        fake, g_ntv = generator.stateless_call(g_tv, g_ntv, noise, training=True)
        logits, d_ntv = discriminator.stateless_call(d_tv, d_ntv, fake, training=True)
        return bce(jax.numpy.ones((batch, 1)), logits.astype("float32")), (g_ntv, d_ntv)

    @jax.jit
    def step(state, real, key):
        g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov = state
        first, second = jax.random.split(key)
        fake, g_ntv = generator.stateless_call(g_tv, g_ntv, jax.random.normal(first, (batch, LATENT)), training=True)
        (loss_d, d_ntv), grads = jax.value_and_grad(d_loss, has_aux=True)(d_tv, d_ntv, real, fake)
        d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)
        noise = jax.random.normal(second, (batch, LATENT))
        (loss_g, (g_ntv, d_ntv)), grads = jax.value_and_grad(g_loss, has_aux=True)(g_tv, g_ntv, d_tv, d_ntv, noise)
        g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
        return (g_tv, g_ntv, d_tv, d_ntv, g_ov, d_ov), (loss_d, loss_g)

    values = lambda variables: [variable.value for variable in variables]  # noqa: E731
    state = (
        values(generator.trainable_variables),
        values(generator.non_trainable_variables),
        values(discriminator.trainable_variables),
        values(discriminator.non_trainable_variables),
        values(g_opt.variables),
        values(d_opt.variables),
    )
    real = jax.device_put(np.random.default_rng(0).uniform(-1, 1, (batch, *SHAPE)).astype(np.float32))
    key = jax.random.key(0)
    for index in range(warmup):
        state, losses = step(state, real, jax.random.fold_in(key, index))
    jax.block_until_ready(losses)
    started = time.perf_counter()
    for index in range(steps):
        state, losses = step(state, real, jax.random.fold_in(key, warmup + index))
    jax.block_until_ready(losses)
    return steps * batch / (time.perf_counter() - started)


# -- PyTorch -------------------------------------------------------------------
def torch_models(torch):
    """The article's DCGAN in PyTorch: the dcgan plugin's "article" preset, layer for layer."""
    nn = torch.nn

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(LATENT, 4 * 4 * 128)
            self.norm = nn.BatchNorm1d(4 * 4 * 128, eps=1e-3, momentum=0.01)  # Keras' BatchNormalization defaults
            blocks, channels = [], 128
            for filters in (64, 32, 16, 16):  # "same" padding, stride 2: 5x5 kernels double the side
                blocks += [
                    nn.ConvTranspose2d(channels, filters, 5, stride=2, padding=2, output_padding=1),
                    nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01),
                    nn.LeakyReLU(0.3),
                ]
                channels = filters
            self.blocks = nn.Sequential(*blocks, nn.Conv2d(channels, 3, 5, padding=2), nn.Tanh())

        def forward(self, noise):
            return self.blocks(self.norm(self.dense(noise)).view(-1, 128, 4, 4))

    def discriminator():
        layers, channels = [], 3
        for filters in (16, 32, 64, 128):
            layers += [
                nn.Conv2d(channels, filters, 5, padding=2),
                nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01),
                nn.Conv2d(filters, filters, 5, stride=2, padding=2),
                nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01),
                nn.LeakyReLU(0.3),
            ]
            channels = filters
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 1))

    return Generator(), discriminator()


def torch_images_per_s(batch: int, precision: str, steps: int, warmup: int, compiled: bool) -> float:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    generator, discriminator = (model.to(device) for model in torch_models(torch))
    g_opt = torch.optim.Adam(generator.parameters(), 2e-4, betas=(0.9, 0.999), eps=1e-7)
    d_opt = torch.optim.Adam(discriminator.parameters(), 2e-4, betas=(0.9, 0.999), eps=1e-7)
    bce = torch.nn.BCEWithLogitsLoss()
    real = torch.rand(batch, 3, *SHAPE[:2], device=device) * 2 - 1
    ones, zeros = torch.ones(batch, 1, device=device), torch.zeros(batch, 1, device=device)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "mixed_bfloat16")

    def d_update(real):
        with autocast:
            with torch.no_grad():
                fake = generator(torch.randn(batch, LATENT, device=device))
            loss = bce(discriminator(real).float(), ones) + bce(discriminator(fake).float(), zeros)
        d_opt.zero_grad(set_to_none=True)
        loss.backward()
        d_opt.step()
        return loss

    def g_update():
        with autocast:
            loss = bce(discriminator(generator(torch.randn(batch, LATENT, device=device))).float(), ones)
        g_opt.zero_grad(set_to_none=True)
        loss.backward()
        g_opt.step()
        return loss

    if compiled:  # the models' forward and backward compiled; the optimizers' steps stay eager
        generator.compile()
        discriminator.compile()

    def step():
        return d_update(real), g_update()

    synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(warmup):
        step()
    synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize()
    return steps * batch / (time.perf_counter() - started)


# -- the device ------------------------------------------------------------------
def matmul_peak_tflops(dtype: str, size: int) -> float:
    """The best of ten square matmuls, in TFLOP/s: the peak this run holds the step against."""
    import jax
    import jax.numpy as jnp

    keys = jax.random.split(jax.random.key(1))
    a, b = (jax.random.normal(key, (size, size), dtype=dtype) for key in keys)
    matmul = jax.jit(jnp.matmul)
    matmul(a, b).block_until_ready()
    best = float("inf")
    for _ in range(10):
        started = time.perf_counter()
        matmul(a, b).block_until_ready()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e12


def flops_per_image() -> float:
    """One training step's FLOPs per image (2 per multiply-add), as benchmarks/step_throughput.py counts them."""
    import keras

    from ganforge.data import DataSpec
    from ganforge_dcgan.models import build_discriminator, build_generator

    keras.config.set_dtype_policy("float32")
    generator = build_generator(DataSpec(*SHAPE), LATENT, preset="article")
    discriminator = build_discriminator(DataSpec(*SHAPE), preset="article")
    return 4 * layer_flops(generator) + 8 * layer_flops(discriminator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings on any device: checks the script runs")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes to time (default 64 and 256)")
    parser.add_argument("--precision", choices=PRECISIONS, action="append", help="precisions to time (default both)")
    parser.add_argument("--steps", type=int, help="timed steps per measurement (default 200)")
    parser.add_argument("--quickstart-steps", type=int, help="steps of the quickstart run (default 300; 0: skip it)")
    args = parser.parse_args()
    if missing := missing_packages():
        print(f"missing: pip install {' '.join(missing)}", file=sys.stderr)
        raise SystemExit(2)
    import jax

    batches, steps, warmup, quick_steps, size = (
        ((64, 256), 200, 10, 300, 8192) if not args.quick else ((8,), 3, 2, 4, 512)
    )
    batches, precisions = args.batch or batches, args.precision or PRECISIONS
    steps = args.steps or steps
    quick_steps = quick_steps if args.quickstart_steps is None else args.quickstart_steps
    if jax.devices()[0].platform == "cpu":
        size = min(size, 2048)  # a CPU's peak is reached well below the GPU's matrix size
    has_torch = importlib.util.find_spec("torch") is not None
    device = jax.devices()[0]
    print(
        f"device: {device.device_kind} ({device.platform}), JAX {jax.__version__}; PyTorch: {'yes' if has_torch else 'not installed'}"
    )
    plugins = registry()
    if quick_steps:
        run = quickstart(quick_steps, plugins)
        print(
            f"quickstart on JAX: {run['steps']} steps in {run['seconds']:.1f} s (compilation included), "
            f"last losses D {run['d_loss']:.3f} G {run['g_loss']:.3f}"
        )
    dtypes = {"float32": "float32", "mixed_bfloat16": "bfloat16"}
    peaks = {precision: matmul_peak_tflops(dtypes[precision], size) for precision in precisions}
    per_image = flops_per_image()
    print(
        f"article DCGAN 64x64x3: {per_image / 1e9:.3f} GFLOP per image per step; matmul peak measured: "
        + ", ".join(f"{name} {value:.1f} TFLOP/s" for name, value in peaks.items())
    )
    header = f"{'batch':>5} {'precision':<15}{'ganforge':>10}{'plain JAX':>10}{'ratio':>7}"
    header += f"{'torch':>9}{'ratio':>7}{'compile':>9}{'ratio':>7}" if has_torch else ""
    print(header + f"{'TFLOP/s':>9}{'% peak':>8}   (img/s; ratios: ganforge / the other)")
    for batch in batches:
        for precision in precisions:
            ours = ganforge_images_per_s(batch, steps, "auto", precision=precision, backend="jax", plugins=registry)
            plain = plain_jax_images_per_s(batch, precision, steps, warmup)
            line = f"{batch:>5} {precision:<15}{ours:>10.0f}{plain:>10.0f}{ours / plain:>7.2f}"
            if has_torch:
                eager = torch_images_per_s(batch, precision, steps, warmup, compiled=False)
                compiled = torch_images_per_s(batch, precision, steps, warmup, compiled=True)
                line += f"{eager:>9.0f}{ours / eager:>7.2f}{compiled:>9.0f}{ours / compiled:>7.2f}"
            tflops = ours * per_image / 1e12
            print(line + f"{tflops:>9.2f}{100 * tflops / peaks[precision]:>7.1f}%", flush=True)


if __name__ == "__main__":
    main()
