"""Adversarial losses, gradient penalties and generator regularisers, computed with keras.ops.

Each factory's typed signature is its recipe parameters; it imports its loss (and so Keras) only when called.
"""

from typing import Annotated

from pydantic import Field

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for

Every = Annotated[int, Field(ge=1, description="apply every N discriminator updates (scaled by N)")]


def wgan(
    clip: Annotated[
        float, Field(gt=0, description="critic weights are clipped to [-clip, clip] after each update")
    ] = 0.01,
):
    from ganforge_losses.divergences import Wasserstein

    return Wasserstein(clip)


def wgan_gp(weight: Annotated[float, Field(ge=0, description="gradient penalty weight (lambda)")] = 10.0):
    from ganforge_losses.divergences import WassersteinGP

    return WassersteinGP(weight)


def gradient_penalty(
    weight: Annotated[float, Field(ge=0, description="penalty weight (lambda)")] = 10.0, every: Every = 1
):
    from ganforge_losses.penalties import GradientPenalty

    return GradientPenalty(weight, every)


def r1(gamma: Annotated[float, Field(ge=0, description="penalty weight (gamma)")] = 10.0, every: Every = 1):
    from ganforge_losses.penalties import R1

    return R1(gamma, every)


def r2(gamma: Annotated[float, Field(ge=0, description="penalty weight (gamma)")] = 10.0, every: Every = 1):
    from ganforge_losses.penalties import R2

    return R2(gamma, every)


def path_length(
    weight: Annotated[float, Field(ge=0, description="regulariser weight")] = 2.0,
    decay: Annotated[float, Field(ge=0, le=1, description="rate of the running mean of path lengths")] = 0.01,
    batch_shrink: Annotated[
        int, Field(ge=1, description="take the term on every Nth row of the batch (saves time)")
    ] = 2,
    every: Annotated[int, Field(ge=1, description="apply every N generator updates (scaled by N)")] = 4,
):
    from ganforge_losses.generator_penalties import PathLength

    return PathLength(weight, decay, batch_shrink, every)


@hookimpl
def register_losses(register):
    register(
        "nonsaturating",
        "ganforge_losses.bce:NonSaturating",
        help="BCE with fakes labelled 1 for G (the article's training, Goodfellow's recommended form)",
    )
    register(
        "minimax",
        "ganforge_losses.bce:Minimax",
        help="the original minimax game: G minimises log(1 - D(G(z))) (saturates early in training)",
    )
    register("lsgan", "ganforge_losses.divergences:LeastSquares", help="least squares (Mao et al. 2017)")
    register("wgan", wgan, help="Wasserstein with weight clipping (Arjovsky et al. 2017)")
    register("wgan_gp", wgan_gp, help="Wasserstein with gradient penalty (Gulrajani et al. 2017)")
    register("hinge", "ganforge_losses.divergences:Hinge", help="hinge (Lim & Ye 2017, SNGAN)")
    register(
        "relativistic",
        "ganforge_losses.relativistic:RelativisticAverage",
        help="relativistic average GAN, RaGAN (Jolicoeur-Martineau 2018): G's loss sees D's real logits too",
    )
    register(
        "relativistic_hinge",
        "ganforge_losses.relativistic:RelativisticAverageHinge",
        help="relativistic average hinge, RaHingeGAN (Jolicoeur-Martineau 2018)",
    )
    register(
        "rpgan",
        "ganforge_losses.relativistic:RelativisticPairing",
        help="relativistic pairing, RpGAN (Jolicoeur-Martineau 2018; the loss of R3GAN, Huang et al. 2024)",
    )


@hookimpl
def register_penalties(register):
    register(
        "gradient_penalty",
        gradient_penalty,
        help="WGAN-GP's penalty at interpolates of real and fake, usable with any loss",
    )
    register("r1", r1, help="R1 penalty on real images (Mescheder et al. 2018), lazy with every > 1")
    register("r2", r2, help="R2 penalty on generated images (Mescheder et al. 2018), lazy with every > 1")


@hookimpl
def register_generator_penalties(register):
    register(
        "path_length",
        path_length,
        help="path length regularisation (Karras et al. 2020, StyleGAN2); needs a generator with mapping and synthesis",
    )
