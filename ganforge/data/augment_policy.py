"""DiffAugment's policy names, as a recipe writes them (``[augment] policy = "color,cutout"``).

Apart from the transforms (``ganforge.training.augment``) so that the recipe, two layers below
training, can check a policy without reaching up into the step that applies it.
"""

from __future__ import annotations

import difflib

POLICIES = ("color", "translation", "cutout")


def parse_policy(text: str) -> tuple[str, ...]:
    """``"color,translation"`` -> ("color", "translation"); ValueError naming an unknown one."""
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        if name not in POLICIES:
            close = difflib.get_close_matches(name, POLICIES, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; choose from {', '.join(POLICIES)}"
            raise ValueError(f"unknown augmentation {name!r}{hint}")
    if len(set(names)) != len(names):
        raise ValueError(f"an augmentation is listed twice in {text!r}")
    return names


# ADA's pipelines (``[augment] pipeline = "bgc"``), named as StyleGAN2-ADA's ``--augpipe``: b = blit (x-flip,
# 90-degree rotations, integer translation), g = general geometric (scaling, rotation, anisotropic scaling,
# fractional translation), c = colour (brightness, contrast, luma flip, hue, saturation).
ADA_PIPELINES = {
    "b": ("blit",),
    "g": ("geom",),
    "c": ("color",),
    "bg": ("blit", "geom"),
    "bgc": ("blit", "geom", "color"),
}


def parse_pipeline(name: str) -> tuple[str, ...]:
    """``"bgc"`` -> ("blit", "geom", "color"); ValueError naming the pipelines there are."""
    groups = ADA_PIPELINES.get(name.strip())
    if groups is None:
        choices = ", ".join(repr(known) for known in ADA_PIPELINES)
        close = difflib.get_close_matches(name.strip(), ADA_PIPELINES, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown ADA pipeline {name!r}{hint} (choose from {choices})")
    return groups
