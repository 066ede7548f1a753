"""Adversarial losses and gradient penalties, computed from logits with keras.ops."""

from pydantic import BaseModel, ConfigDict, Field

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WassersteinParams(_Params):
    clip: float = Field(0.01, gt=0, description="critic weights are clipped to [-clip, clip] after each update")


class WassersteinGPParams(_Params):
    weight: float = Field(10.0, ge=0, description="gradient penalty weight (lambda)")


class GradientPenaltyParams(_Params):
    weight: float = Field(10.0, ge=0, description="penalty weight (lambda)")
    every: int = Field(1, ge=1, description="apply every N discriminator updates (scaled by N)")


class R1Params(_Params):
    gamma: float = Field(10.0, ge=0, description="penalty weight (gamma)")
    every: int = Field(1, ge=1, description="apply every N discriminator updates (lazy R1, scaled by N)")


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
    register(
        "wgan",
        "ganforge_losses.divergences:Wasserstein",
        params=WassersteinParams,
        help="Wasserstein with weight clipping (Arjovsky et al. 2017)",
    )
    register(
        "wgan_gp",
        "ganforge_losses.divergences:WassersteinGP",
        params=WassersteinGPParams,
        help="Wasserstein with gradient penalty (Gulrajani et al. 2017)",
    )
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
        "ganforge_losses.penalties:GradientPenalty",
        params=GradientPenaltyParams,
        help="WGAN-GP's penalty at interpolates of real and fake, usable with any loss",
    )
    register(
        "r1",
        "ganforge_losses.penalties:R1",
        params=R1Params,
        help="R1 penalty on real images (Mescheder et al. 2018), lazy with every > 1",
    )
