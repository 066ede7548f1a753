"""``celeba``: CelebA's aligned faces, as distributed, from a folder or the zip.

Where the data is looked for, in order: the recipe's ``root``; the
environment variable GANFORGE_CELEBA; ``~/datasets/celeba``; ``./data/celeba``.
See docs/datasets.md for the layout.
"""

from typing import Literal, Optional

from pydantic import Field

from ganforge import hookimpl
from ganforge.data.params import CachedImageParams

GANFORGE_CONTRACT = 1  # the plugin contract this module was written for


class CelebAParams(CachedImageParams):
    root: Optional[str] = Field(
        None, description="CelebA folder (default: $GANFORGE_CELEBA, ~/datasets/celeba, ./data/celeba)"
    )
    split: Literal["train", "val", "test", "all"] = Field(
        "all", description="official partition; all = the 202,599 images"
    )
    attributes: dict[str, bool] = Field(
        {}, description="keep images with these attribute values, e.g. { Smiling = true }"
    )
    labels: list[str] = Field(
        [],
        description="attributes each face carries as 0/1 labels for conditional models, "
        'e.g. ["Smiling", "Eyeglasses"] (read from the same attribute file as the filters)',
    )
    crop: Literal["none", "center178", "center160", "center140"] = Field(
        "none", description="none: squash 178x218 to a square (the article); centerN: centred NxN box first"
    )


@hookimpl
def register_datasets(register):
    register(
        "celeba",
        "ganforge_celeba.reader:celeba_dataset",
        params=CelebAParams,
        help="CelebA aligned faces (folder or img_align_celeba.zip), splits, attribute filters, crops",
    )
