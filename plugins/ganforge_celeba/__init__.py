"""``celeba``: CelebA's aligned faces, as distributed, from a folder or the zip.

Where the data is looked for, in order: the recipe's ``root``; the
environment variable GANFORGE_CELEBA; ``~/datasets/celeba``; ``./data/celeba``.
See docs/datasets.md for the layout.
"""

from ganforge import hookimpl
from ganforge_celeba.reader import celeba_dataset

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


@hookimpl
def register_datasets(register):
    register(
        "celeba",
        celeba_dataset,
        help="CelebA aligned faces (folder or img_align_celeba.zip), splits, attribute filters, crops",
    )
