"""The article's `D.trainable = False` idiom, checked on the installed Keras.

docs/how-ganforge-trains.md explains why ganforge never uses it; this test
keeps that explanation true: if a Keras release changes the behaviour, it
fails and the docs need another look.
"""

import numpy as np
import pytest

from ganforge.backend import tensorflow

tensorflow()
import keras  # noqa: E402
from keras import layers  # noqa: E402


def tiny_discriminator():
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def changed_by_training(model, x, y):
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    return any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_the_articles_freeze_stops_the_discriminator_from_learning():
    keras.utils.set_random_seed(0)
    x, y = np.random.randn(16, 4).astype("float32"), np.ones((16, 1), "float32")
    discriminator = tiny_discriminator()
    generator = keras.Sequential([keras.Input((2,)), layers.Dense(4)])
    # the article: compile D, freeze it, compile the combined model, then train D
    discriminator.trainable = False
    combined = keras.Sequential([generator, discriminator])
    combined.compile(optimizer="adam", loss="binary_crossentropy")
    # Keras' only hint is a warning; the losses still print
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        assert not changed_by_training(discriminator, x, y)

    # the variables a model trains are fixed when its train function is first
    # built: had D trained once before the freeze, it would go on learning
    keras.utils.set_random_seed(0)
    warmed = tiny_discriminator()
    warmed.train_on_batch(x, y)
    warmed.trainable = False
    assert changed_by_training(warmed, x, y)
