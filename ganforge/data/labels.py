"""Labels a dataset may carry beside its pixels: classes or attributes.

A labelled dataset declares ``label_spec`` (a ``LabelSpec``) and answers
``labels(indices)`` as it answers ``read(indices)``. Two kinds exist, because
conditional models treat them differently:

- ``classes``: each example is exactly one of K named classes (a digit, a
  folder name); labels are int32 class numbers, shape (N,).
- ``attributes``: each example has each of A named binary flags set or not
  (CelebA's Smiling, Eyeglasses, ...); labels are uint8 0/1, shape (N, A).

Datasets without labels declare nothing, and everything that trains
unconditionally goes on ignoring labels where they exist.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

KINDS = ("classes", "attributes")


@dataclass(frozen=True)
class LabelSpec:
    kind: str
    names: tuple[str, ...]

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"a label kind is one of {', '.join(KINDS)}, got {self.kind!r}")
        names = tuple(self.names)
        object.__setattr__(self, "names", names)
        if not names or any(not isinstance(name, str) or not name for name in names):
            raise ValueError(f"{self.kind} need names, non-empty strings; got {names!r}")
        if len(set(names)) != len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            raise ValueError(f"{self.kind} names must differ; listed twice: {', '.join(twice)}")
        if self.kind == "classes" and len(names) < 2:
            raise ValueError(f"a dataset with classes has at least two; got {names!r}")

    def __len__(self) -> int:
        return len(self.names)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one example's label."""
        return () if self.kind == "classes" else (len(self.names),)

    def index(self, name: str) -> int:
        """The number of a class or attribute by name; ValueError with the nearest names otherwise."""
        if name in self.names:
            return self.names.index(name)
        noun = "class" if self.kind == "classes" else "attribute"
        close = difflib.get_close_matches(name, self.names, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(self.names[:12]) + (", ..." if len(self.names) > 12 else "")
        raise ValueError(f"no {noun} {name!r}{hint} (the dataset has {shown})")

    def check(self, labels: np.ndarray, count: int) -> np.ndarray:
        """``labels`` for ``count`` examples, as this spec says they must be; ValueError saying what is wrong."""
        labels = np.asarray(labels)
        expected = (count, *self.shape)
        if labels.shape != expected:
            raise ValueError(f"labels must have shape {expected} for {count} examples, got {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer) and labels.dtype != np.bool_:
            raise ValueError(f"labels must be whole numbers, got {labels.dtype}")
        top = len(self.names) if self.kind == "classes" else 2
        if labels.size and (labels.min() < 0 or labels.max() >= top):
            allowed = f"class numbers 0 to {top - 1}" if self.kind == "classes" else "0 or 1"
            raise ValueError(f"labels must be {allowed}; found {labels.min()} to {labels.max()}")
        return labels.astype(np.int32 if self.kind == "classes" else np.uint8)


def require_pair(labels: object, spec: LabelSpec | None) -> None:
    """A dataset built with labels needs their spec, and the other way round."""
    if (labels is None) != (spec is None):
        raise ValueError("labels and label_spec come together: give both or neither")
