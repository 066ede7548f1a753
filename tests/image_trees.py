"""Real image files for data tests: a CelebA-like tree and folders of odd images.

The CelebA-like images are 178x218 JPEGs whose red channel grows with x and
green with y, so a crop can be recognised from the pixels that survive it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
    "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
    "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
    "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
    "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
WIDTH, HEIGHT = 178, 218


def gradient_face(index: int) -> Image.Image:
    x = np.linspace(0, 255, WIDTH)[None, :].repeat(HEIGHT, 0)
    y = np.linspace(0, 255, HEIGHT)[:, None].repeat(WIDTH, 1)
    blue = np.full((HEIGHT, WIDTH), (index * 37) % 256, dtype=np.float64)
    return Image.fromarray(np.stack([x, y, blue], -1).astype(np.uint8))


def make_celeba(root: Path, count: int = 300, seed: int = 0, with_zip: bool = False, with_folder: bool = True) -> dict:
    """A CelebA tree of ``count`` images; returns the expected split sizes and attribute table."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    names = [f"{i:06d}.jpg" for i in range(1, count + 1)]
    folder = root / "img_align_celeba"
    folder.mkdir(exist_ok=True)
    for index, name in enumerate(names):
        gradient_face(index).save(folder / name, quality=95)
    splits = ["0"] * int(count * 0.6) + ["1"] * int(count * 0.2)
    splits += ["2"] * (count - len(splits))
    (root / "list_eval_partition.txt").write_text("".join(f"{n} {s}\n" for n, s in zip(names, splits)))
    table = rng.choice([-1, 1], size=(count, len(ATTRIBUTES)))
    lines = [str(count), " ".join(ATTRIBUTES)] + [
        f"{n} " + " ".join(f"{v:2d}" for v in row) for n, row in zip(names, table)
    ]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    if with_zip:
        with zipfile.ZipFile(root / "img_align_celeba.zip", "w") as archive:
            for name in names:
                archive.write(folder / name, f"img_align_celeba/{name}")
    if not with_folder:
        for name in names:
            (folder / name).unlink()
        folder.rmdir()
    return {
        "names": names,
        "splits": {"train": splits.count("0"), "val": splits.count("1"), "test": splits.count("2"), "all": count},
        "table": table,
    }


def make_mixed_folder(root: Path) -> dict[str, tuple[int, int]]:
    """Nested folders of jpg/png/webp in odd modes and sizes; returns name -> (width, height)."""
    rng = np.random.default_rng(1)
    made = {}

    def save(relative: str, image: Image.Image, **options):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, **options)
        made[relative] = image.size

    rgb = Image.fromarray(rng.integers(0, 256, (40, 90, 3), dtype=np.uint8))
    save("a/wide.jpg", rgb)
    save("a/b/tall.png", rgb.transpose(Image.Transpose.ROTATE_90))
    save("gray.png", rgb.convert("L"))
    save("alpha.png", rgb.convert("RGBA"))
    save("cmyk.jpg", rgb.convert("CMYK"))
    save("palette.png", rgb.convert("P"))
    save("c/photo.webp", rgb)
    save("UPPER.JPG", rgb)
    (root / "notes.txt").write_text("not an image")
    return made
