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
