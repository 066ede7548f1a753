"""What a factory of each kind must return, checked the moment it returns.

A factory that hands back the wrong kind of object would otherwise fail deep
inside the training step with a message about something else. These checks
are cheap (no model is called) and say which plugin returned what; the
deeper checks a plugin author runs in their own tests are in
:mod:`ganforge.testing`.
"""

from __future__ import annotations

from typing import Any

from ganforge.errors import PluginError

# kind -> (what the factory must return, in words; attributes it must have)
REQUIRED = {
    "generator": ("a keras.Model from noise (batch, latent_dim) to images", ()),
    "discriminator": ("a keras.Model from images to logits (batch, 1)", ()),
    "dataset": ("an object with spec, __len__ and read(indices)", ("spec", "__len__", "read")),
    "loss": (
        "an object with discriminator_loss(real_logits, fake_logits) and generator_loss(fake_logits)",
        ("discriminator_loss", "generator_loss"),
    ),
    "penalty": ("an object with points, every and from_gradients(gradients)", ("points", "every", "from_gradients")),
    "metric": ("an object with evaluate(context) -> dict[str, float]", ("evaluate",)),
    "features": (
        "an object with input_shape, describe() and __call__(images) -> (features, logits)",
        ("input_shape", "describe", "__call__"),
    ),
}


def describe(value: Any) -> str:
    """A short account of what was returned, for messages."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__module__}.{type(value).__qualname__} {text}" if value is not None else "None"


def check_returned(kind: str, who: str, value: Any) -> Any:
    """``value`` if it is what a ``kind`` factory must return; else a PluginError naming ``who`` and ``value``.

    ``who`` names the component and its plugin, e.g. ``"generator 'tiny' of plugin 'shapes' (ganforge-shapes)"``.
    """
    if kind not in REQUIRED:
        return value
    expected, attributes = REQUIRED[kind]
    if kind in ("generator", "discriminator"):
        import keras

        if not isinstance(value, keras.Model):
            raise PluginError(f"{who} returned {describe(value)}; a {kind} factory must return {expected}")
        return value
    missing = [name for name in attributes if not hasattr(value, name)]
    if missing:
        raise PluginError(
            f"{who} returned {describe(value)}, which has no {', '.join(missing)}; "
            f"a {kind} factory must return {expected}"
        )
    if kind == "dataset":
        from ganforge.data import DataSpec

        if not isinstance(value.spec, DataSpec):
            raise PluginError(
                f"{who} returned a dataset whose spec is {describe(value.spec)}; it must be a ganforge.data.DataSpec"
            )
    if kind == "penalty" and value.points not in ("real", "interpolated"):
        raise PluginError(
            f"{who} returned a penalty with points = {value.points!r}; it must be 'real' or 'interpolated'"
        )
    return value
