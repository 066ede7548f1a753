"""How the DCGAN networks take a condition: the labels of a labelled dataset (ganforge.data.labels).

Generator: the condition is embedded and concatenated with the noise before
the first layer (Mirza & Osindero 2014's conditional GAN, with a learned
embedding): class ``k`` picks row ``k`` of an embedding table; attribute
flags, coded -1/+1, go through a bias-free dense layer, so each flag adds
or subtracts a vector of its own.

Discriminator: projection (Miyato & Koyama 2018). With ``h`` the features
before the last layer, logit = dense(h) + <embed(y), h>: a class picks its
row of a table; attribute flags, coded -1/+1 so that "not smiling" is as
much a statement as "smiling", project through a bias-free dense layer.

The training step does not pass labels yet: these are the networks the
conditional recipes will train (the dataset side, ``labels(indices)``, is in
place).
"""

from __future__ import annotations

import keras
from keras import layers

from ganforge.data.labels import LabelSpec

EMBEDDING = 50  # the size of the generator's label embedding, concatenated with the noise


def labels_input(condition: LabelSpec) -> keras.KerasTensor:
    """Class numbers ``(batch,)`` int32, or attribute flags ``(batch, A)`` float32 0/1."""
    if condition.kind == "classes":
        return keras.Input((), dtype="int32", name="labels")
    return keras.Input((len(condition),), dtype="float32", name="labels")


def embed(labels: keras.KerasTensor, condition: LabelSpec, size: int, name: str) -> keras.KerasTensor:
    """``(batch, size)``: the condition as a learned vector."""
    if condition.kind == "classes":
        return layers.Embedding(len(condition), size, name=name)(labels)
    signs = layers.Rescaling(2.0, offset=-1.0, name=f"{name}_signs")(labels)  # 0/1 flags as -1/+1
    return layers.Dense(size, use_bias=False, name=name)(signs)


def project(features: keras.KerasTensor, labels: keras.KerasTensor, condition: LabelSpec) -> keras.KerasTensor:
    """``(batch, 1)``: the projection term <embed(labels), features> added to D's logit."""
    embedded = embed(labels, condition, features.shape[-1], "projection")
    return layers.Dot(axes=1, name="projection_term")([embedded, features])
