"""Numbers from the official R3GAN networks (PyTorch), for ganforge's tests of its Keras port.

    python scripts/r3gan_reference.py --official /tmp/R3GAN --out tests/fixtures/r3gan_reference.npz

Run by hand with a Python that has torch and numpy (and what the official code imports on the way:
requests, and setuptools < 81 for pkg_resources), never by the test suite. --official is a checkout
of github brownvc/R3GAN; nothing of it is copied here: it is put on sys.path and its own
``R3GAN.Networks.Generator`` / ``Discriminator`` (the raw classes, float32, no bfloat16 stage) and
``R3GAN.Trainer.AdversarialTraining`` are called. On the CPU its upfirdn2d and bias_act ops take
their reference PyTorch paths; the script checks that no CUDA plugin was compiled.

Everything is seeded (torch.manual_seed and seeded generators), so a rerun writes the same numbers.
Layouts are PyTorch's: images NCHW, convolution weights OIHW, Linear weights (out, in).

The file (np.savez_compressed, numbers only):

config/...                 int arrays describing the small networks every state/ and out/ array is for:
                           config/side (16: stages at 4, 8, 16 px), config/noise (8), config/expansion (2),
                           config/G/{widths,groups,blocks} = [32 32 16] [4 4 2] [1 2 1],
                           config/D/{widths,groups,blocks} = [16 32 32] [2 4 4] [1 2 1],
                           config/classes (3), config/G_embedding (8, the noise width, as train.py sets it),
                           config/D_embedding (32, G's first width, as train.py sets it);
                           config/gamma (float, 0.7): the Gamma given to the discriminator's loss.
state/{G,D,Gc,Dc}/<key>    float32 state dicts of the unconditional (G, D) and conditional (Gc, Dc) pairs,
                           keyed exactly as the official ``state_dict()`` names them, buffers included (the
                           resamplers' ``Resampler.Kernel``, the 4x4 filter). The official init leaves every
                           block's last convolution at zero and every bias at zero; here every parameter is
                           redrawn at random (weights normal / sqrt(fan-in), G's 4x4 basis standard normal,
                           biases normal * 0.1) so that every path of the networks carries signal.
inputs/z                   (4, 8) noise, standard normal.
inputs/c                   (4, 3) one-hot classes 0, 2, 1, 2 (used by the conditional pair only).
inputs/real                (4, 3, 16, 16) standard normal * 0.5: the "real" images.

out/... (unconditional pair) and outc/... (conditional pair, every call given inputs/c), computed in
float64 from the float32 states above (the models cast to float64), so they are more exact than a
float32 port under test:
  fake                     G(z) images (4, 3, 16, 16).
  d_real, d_fake           D's logits (4,) on inputs/real and on fake.
  d_real_input_grad        d sum(D(real)) / d real (4, 3, 16, 16).
  r1, r2                   the official per-sample zero-centred gradient penalty
                           (AdversarialTraining.ZeroCenteredGradientPenalty: squared norm of the gradient
                           of sum(D) wrt the input) on real and on fake (G's output, detached), (4,).
  d_weight_grads/<D key>   d sum(D(real)) / d every D parameter.
  r1_weight_grads/<D key>  d mean(r1) / d every D parameter (double backprop); r2_weight_grads likewise for
                           mean(r2). Bias gradients here are exactly zero: leaky ReLU's slope does not depend
                           on the bias except through which side of zero a pre-activation falls.
  d_loss_grads/<D key>     D's parameter gradients left by the official
                           AccumulateDiscriminatorGradients(z, real, c, Gamma=0.7, Scale=1):
                           mean over the batch of softplus(-(D(real) - D(fake))) + Gamma / 2 * (r1 + r2).
  d_adv_loss, d_r1, d_r2   the per-sample pieces that call returns: softplus(-(D(real) - D(fake))), r1, r2.
  g_loss_grads/<G key>     G's parameter gradients left by the official
                           AccumulateGeneratorGradients(z, real, c, Scale=1):
                           mean over the batch of softplus(-(D(G(z)) - D(real))).
  g_adv_loss               the per-sample loss that call returns.
  The *_grads arrays are stored as float32 (computed in float64) to keep the file small; the rest is float64.

init/{G,D}/<key>/{mean,std,size}
                           statistics of the official initialisation itself (no redraw) of a wider pair, for
                           tests of the init's scales rather than its values: mean and population std
                           (float64) and the element count (int) of every parameter. The pair is
                           config/init/side (16), config/init/noise (64),
                           config/init/G/{widths,groups,blocks} = [64 64 64] [8 8 8] [2 2 2], and
                           config/init/D/... the same lists reversed.
count/<preset>/{G,D}       parameters (requires_grad, element count) of the official networks at the
                           paper's presets, built as train.py builds them (through training.networks):
                           cifar10 (unconditional), cifar10_cond (--cond=1, 10 classes) and ffhq64.
"""

from __future__ import annotations

import argparse
import math
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import torch

SIDE = 16
NOISE = 8
EXPANSION = 2
CLASSES = 3
GAMMA = 0.7
BATCH_CLASSES = [0, 2, 1, 2]
SMALL_G = {"widths": [32, 32, 16], "groups": [4, 4, 2], "blocks": [1, 2, 1]}
SMALL_D = {"widths": [16, 32, 32], "groups": [2, 4, 4], "blocks": [1, 2, 1]}
# As train.py: G's class embedding is as wide as the noise, D's as G's first stage.
G_EMBEDDING = NOISE
D_EMBEDDING = SMALL_G["widths"][0]

INIT_NOISE = 64
INIT_G = {"widths": [64, 64, 64], "groups": [8, 8, 8], "blocks": [2, 2, 2]}
INIT_D = {key: value[::-1] for key, value in INIT_G.items()}


def load_official(checkout: Path) -> types.SimpleNamespace:
    """Import the official modules from a checkout (the code is run, not copied)."""
    sys.path.insert(0, str(checkout.resolve()))
    with warnings.catch_warnings():
        # torch_utils imports pkg_resources and distutils, which warn about their own deprecation
        warnings.simplefilter("ignore")
        import R3GAN.Networks
        import R3GAN.Trainer
        import torch_utils.ops.bias_act
        import torch_utils.ops.upfirdn2d
        import training.networks
    return types.SimpleNamespace(
        Generator=R3GAN.Networks.Generator,
        Discriminator=R3GAN.Networks.Discriminator,
        AdversarialTraining=R3GAN.Trainer.AdversarialTraining,
        wrappers=training.networks,
        cuda_ops=[torch_utils.ops.upfirdn2d, torch_utils.ops.bias_act],
    )


# -- the small networks --------------------------------------------------------------------------


def build_pair(official, seed: int, conditional: bool) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(seed)
    g_condition = {"ConditionDimension": CLASSES, "ConditionEmbeddingDimension": G_EMBEDDING} if conditional else {}
    d_condition = {"ConditionDimension": CLASSES, "ConditionEmbeddingDimension": D_EMBEDDING} if conditional else {}
    generator = official.Generator(
        NOISE, SMALL_G["widths"], SMALL_G["groups"], SMALL_G["blocks"], EXPANSION, **g_condition
    )
    discriminator = official.Discriminator(
        SMALL_D["widths"], SMALL_D["groups"], SMALL_D["blocks"], EXPANSION, **d_condition
    )
    return generator, discriminator


def redraw_scale(parameter: torch.Tensor) -> float:
    if parameter.ndim == 1:  # the biases of the biased activations
        return 0.1
    if parameter.ndim == 3:  # G's learned (C, 4, 4) constant, standard normal in the official init too
        return 1.0
    # fan-in as the official MSRInitializer counts it: input channels per group times the kernel's area
    return 1.0 / math.sqrt(parameter[0].numel())


def redraw(model: torch.nn.Module, seed: int) -> None:
    """Every parameter to random values, so no residual branch starts as the official zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.copy_(noise * redraw_scale(parameter))


def as_float64(model: torch.nn.Module) -> None:
    """Compute in float64 from the float32 values already stored.

    Each stage casts its input to its own DataType (the official bfloat16 switch), so .double() alone
    would still run the stages in float32. The resampling kernels stay float32 buffers: upfirdn2d
    asserts a float32 filter and casts it to the input's dtype itself.
    """
    for parameter in model.parameters():
        parameter.data = parameter.data.double()
    for stage in model.MainLayers:
        stage.DataType = torch.float64


def state_arrays(model: torch.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}/{key}": value.detach().numpy().copy() for key, value in model.state_dict().items()}


def make_inputs(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(4, NOISE, generator=generator)
    real = 0.5 * torch.randn(4, 3, SIDE, SIDE, generator=generator)
    c = torch.nn.functional.one_hot(torch.tensor(BATCH_CLASSES), CLASSES).float()
    return {"z": z, "c": c, "real": real}


# -- what the pair computes -----------------------------------------------------------------------


def parameter_grads(model: torch.nn.Module, scalar: torch.Tensor) -> dict[str, torch.Tensor]:
    names, parameters = zip(*model.named_parameters())
    # strict: a parameter with no path to the scalar is an error here, never a silent zero (the biases'
    # R1 gradients are zero through leaky ReLU's zero second derivative, but they are reached)
    grads = torch.autograd.grad(scalar, parameters)
    return dict(zip(names, grads))


def left_grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}


def penalty(official, discriminator, images, c) -> torch.Tensor:
    images = images.detach().requires_grad_(True)
    return official.AdversarialTraining.ZeroCenteredGradientPenalty(images, discriminator(images, c))


def forward_outputs(official, generator, discriminator, z, real, c) -> dict:
    fake = generator(z, c).detach()
    probe = real.clone().requires_grad_(True)
    (input_grad,) = torch.autograd.grad(discriminator(probe, c).sum(), probe)
    r1 = penalty(official, discriminator, real, c)
    r2 = penalty(official, discriminator, fake, c)
    return {
        "fake": fake,
        "d_real": discriminator(real, c).detach(),
        "d_fake": discriminator(fake, c).detach(),
        "d_real_input_grad": input_grad,
        "r1": r1.detach(),
        "r2": r2.detach(),
        "d_weight_grads": parameter_grads(discriminator, discriminator(real, c).sum()),
        "r1_weight_grads": parameter_grads(discriminator, r1.mean()),
        "r2_weight_grads": parameter_grads(discriminator, r2.mean()),
    }


def training_outputs(official, generator, discriminator, z, real, c) -> dict:
    """The official training steps themselves, their gradients read from .grad."""
    trainer = official.AdversarialTraining(generator, discriminator)
    generator.zero_grad(set_to_none=False)
    discriminator.zero_grad(set_to_none=False)
    d_adv, _, d_r1, d_r2 = trainer.AccumulateDiscriminatorGradients(z, real, c, Gamma=GAMMA, Scale=1)
    d_grads = left_grads(discriminator)
    # the generator's step also leaves gradients on D (train.py switches them off); only G's are read
    generator.zero_grad(set_to_none=False)
    g_adv, _ = trainer.AccumulateGeneratorGradients(z, real, c, Scale=1)
    return {
        "d_adv_loss": d_adv,
        "d_r1": d_r1,
        "d_r2": d_r2,
        "d_loss_grads": d_grads,
        "g_adv_loss": g_adv,
        "g_loss_grads": left_grads(generator),
    }


def flatten(outputs: dict, prefix: str) -> dict[str, np.ndarray]:
    arrays = {}
    for name, value in outputs.items():
        if isinstance(value, dict):  # parameter gradients: float32 is plenty for a float32 port's check
            arrays.update({f"{prefix}/{name}/{key}": grad.numpy().astype(np.float32) for key, grad in value.items()})
        else:
            arrays[f"{prefix}/{name}"] = value.numpy()
    return arrays


def pair_arrays(official, seed: int, conditional: bool, inputs: dict) -> dict[str, np.ndarray]:
    generator, discriminator = build_pair(official, seed, conditional)
    redraw(generator, seed + 1)
    redraw(discriminator, seed + 2)
    g_name, d_name, out_name = ("Gc", "Dc", "outc") if conditional else ("G", "D", "out")
    arrays = {**state_arrays(generator, f"state/{g_name}"), **state_arrays(discriminator, f"state/{d_name}")}
    as_float64(generator)
    as_float64(discriminator)
    z, real = inputs["z"].double(), inputs["real"].double()
    c = inputs["c"].double() if conditional else None
    outputs = forward_outputs(official, generator, discriminator, z, real, c)
    outputs.update(training_outputs(official, generator, discriminator, z, real, c))
    arrays.update(flatten(outputs, out_name))
    return arrays


def config_arrays() -> dict[str, np.ndarray]:
    arrays = {
        "config/side": SIDE,
        "config/noise": NOISE,
        "config/expansion": EXPANSION,
        "config/classes": CLASSES,
        "config/G_embedding": G_EMBEDDING,
        "config/D_embedding": D_EMBEDDING,
        "config/init/side": SIDE,
        "config/init/noise": INIT_NOISE,
    }
    for prefix, lists in [
        ("config/G", SMALL_G),
        ("config/D", SMALL_D),
        ("config/init/G", INIT_G),
        ("config/init/D", INIT_D),
    ]:
        arrays.update({f"{prefix}/{key}": value for key, value in lists.items()})
    arrays = {key: np.asarray(value, dtype=np.int64) for key, value in arrays.items()}
    arrays["config/gamma"] = np.asarray(GAMMA, dtype=np.float64)
    return arrays


# -- the official initialisation, and the presets' sizes ------------------------------------------


def init_arrays(official, seed: int) -> dict[str, np.ndarray]:
    torch.manual_seed(seed)
    generator = official.Generator(INIT_NOISE, INIT_G["widths"], INIT_G["groups"], INIT_G["blocks"], EXPANSION)
    discriminator = official.Discriminator(INIT_D["widths"], INIT_D["groups"], INIT_D["blocks"], EXPANSION)
    arrays = {}
    for prefix, model in [("init/G", generator), ("init/D", discriminator)]:
        for key, parameter in model.named_parameters():
            values = parameter.detach().double().numpy()
            arrays[f"{prefix}/{key}/mean"] = np.asarray(values.mean())
            arrays[f"{prefix}/{key}/std"] = np.asarray(values.std())
            arrays[f"{prefix}/{key}/size"] = np.asarray(values.size, dtype=np.int64)
    return arrays


# train.py's --preset values: widths are 3/4 of 1024 (512 for FFHQ-64's last), 2 blocks a stage,
# 3 * 32 groups (3 * 16), noise 64; D takes the lists reversed.
PRESETS = {
    "cifar10": {"widths": [768] * 4, "groups": [96] * 4, "fp16": [-1, -2, -3], "side": 32, "classes": 0},
    "cifar10_cond": {"widths": [768] * 4, "groups": [96] * 4, "fp16": [-1, -2, -3], "side": 32, "classes": 10},
    "ffhq64": {
        "widths": [768] * 4 + [384],
        "groups": [96] * 4 + [48],
        "fp16": [-1, -2, -3, -4],
        "side": 64,
        "classes": 0,
    },
}


def preset_kwargs(preset: dict) -> tuple[dict, dict]:
    """G's and D's keyword arguments as train.py hands them to training.networks."""
    widths, groups, blocks = preset["widths"], preset["groups"], [2] * len(preset["widths"])
    common = {"ExpansionFactor": 2, "c_dim": preset["classes"], "img_resolution": preset["side"]}
    g_kwargs = {"NoiseDimension": 64, "WidthPerStage": widths, "CardinalityPerStage": groups}
    g_kwargs.update(BlocksPerStage=blocks, FP16Stages=preset["fp16"], **common)
    d_kwargs = {"WidthPerStage": widths[::-1], "CardinalityPerStage": groups[::-1], "BlocksPerStage": blocks[::-1]}
    d_kwargs.update(FP16Stages=[x + len(preset["fp16"]) for x in preset["fp16"]], **common)
    if preset["classes"]:
        g_kwargs["ConditionEmbeddingDimension"] = g_kwargs["NoiseDimension"]
        d_kwargs["ConditionEmbeddingDimension"] = widths[0]
    return g_kwargs, d_kwargs


def count_arrays(official) -> dict[str, np.ndarray]:
    arrays = {}
    for name, preset in PRESETS.items():
        g_kwargs, d_kwargs = preset_kwargs(preset)
        for side, build, kwargs in [
            ("G", official.wrappers.Generator, g_kwargs),
            ("D", official.wrappers.Discriminator, d_kwargs),
        ]:
            model = build(**kwargs)
            count = sum(p.numel() for p in model.parameters() if p.requires_grad)
            arrays[f"count/{name}/{side}"] = np.asarray(count, dtype=np.int64)
            del model
    return arrays


# -- the file --------------------------------------------------------------------------------------


def check_reference_paths(official) -> None:
    """The numbers must come from the ops' PyTorch reference paths, not a compiled CUDA plugin."""
    compiled = [op.__name__ for op in official.cuda_ops if op._plugin is not None]
    if compiled:
        raise RuntimeError(f"a CUDA plugin was loaded for {compiled}; run this on the CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="a checkout of brownvc/R3GAN")
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write")
    args = parser.parse_args()

    official = load_official(args.official)
    inputs = make_inputs(seed=0)
    arrays = {**config_arrays(), **{f"inputs/{key}": value.numpy() for key, value in inputs.items()}}
    arrays.update(pair_arrays(official, seed=10, conditional=False, inputs=inputs))
    arrays.update(pair_arrays(official, seed=20, conditional=True, inputs=inputs))
    arrays.update(init_arrays(official, seed=30))
    arrays.update(count_arrays(official))
    check_reference_paths(official)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"{args.out}: {len(arrays)} arrays, {args.out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
