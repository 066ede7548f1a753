"""Labels in the dataset contract: classes and attributes, read beside the pixels, on real files."""

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_user_error, invoke_cli
from image_trees import ATTRIBUTES, make_celeba
from PIL import Image

from ganforge.data import ArrayDataset, BatchSampler, LabelSpec, label_spec
from ganforge.errors import DataError
from ganforge.testing import ContractError, check_dataset
from ganforge_celeba.reader import celeba_dataset
from ganforge_images.folder import images_dataset
from ganforge_mnist import digits, stacked_digits
from ganforge_mnist.embedded import read_embedded


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


def test_a_label_spec_says_what_is_wrong():
    spec = LabelSpec("classes", ("cat", "dog", "fox"))
    assert len(spec) == 3 and spec.shape == () and spec.index("dog") == 1
    with pytest.raises(ValueError, match=r"no class 'dgo'; did you mean 'dog'\?"):
        spec.index("dgo")
    assert spec.check(np.array([2, 0]), 2).dtype == np.int32
    with pytest.raises(ValueError, match="class numbers 0 to 2; found 0 to 3"):
        spec.check(np.array([0, 3]), 2)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        spec.check(np.array([[0], [1]]), 2)
    with pytest.raises(ValueError, match="whole numbers"):
        spec.check(np.array([0.5, 1.0]), 2)
    flags = LabelSpec("attributes", ("Smiling", "Eyeglasses"))
    assert flags.shape == (2,) and flags.check(np.array([[1, 0]]), 1).dtype == np.uint8
    with pytest.raises(ValueError, match="0 or 1"):
        flags.check(np.array([[1, -1]]), 1)
    for kind, names, message in [
        ("colours", ("a", "b"), "one of classes, attributes"),
        ("classes", ("a", "a"), "listed twice: a"),
        ("classes", ("a",), "at least two"),
        ("attributes", (), "need names"),
    ]:
        with pytest.raises(ValueError, match=message):
            LabelSpec(kind, names)


def test_the_digits_carry_their_classes():
    images, truth = read_embedded()
    dataset = check_dataset(digits)
    assert label_spec(dataset) == LabelSpec("classes", tuple("0123456789"))
    np.testing.assert_array_equal(dataset.labels(np.arange(len(dataset))), truth)
    kept = digits(classes=[7, 3])  # class numbers follow the kept digits in ascending order: 3 is 0, 7 is 1
    assert kept.label_spec.names == ("3", "7")
    chosen = np.isin(truth, [3, 7])
    np.testing.assert_array_equal(kept.labels(np.arange(len(kept))), (truth[chosen] == 7).astype(int))
    np.testing.assert_array_equal(kept.read(np.arange(3))[..., 0][:, 2:-2, 2:-2], images[chosen][:3])
    assert label_spec(digits(classes=[4])) is None  # one digit is nothing to condition on


def test_stacked_digits_are_labelled_with_their_triple():
    dataset = check_dataset(stacked_digits, size=200)
    assert len(dataset.label_spec) == 1000 and dataset.label_spec.names[42] == "042"
    _, truth = read_embedded()
    labels = dataset.labels(np.arange(200))
    np.testing.assert_array_equal(labels, truth[dataset.table] @ np.array([100, 10, 1]))


def test_a_batch_and_its_labels_are_the_same_examples():
    images = np.arange(40, dtype=np.uint8).reshape(10, 2, 2)
    dataset = ArrayDataset(images, np.arange(10) % 3, LabelSpec("classes", ("a", "b", "c")))
    sampler = BatchSampler(dataset, batch_size=4, seed=5)
    for number in range(5):
        rows = sampler.batch(number)[:, 0, 0, 0] // 4  # the example each image is
        np.testing.assert_array_equal(sampler.labels(number), rows % 3)
        np.testing.assert_array_equal(sampler.labels(number, slice(1, 3)), rows[1:3] % 3)
    with pytest.raises(ValueError, match="come together"):
        ArrayDataset(images, np.zeros(10, int))
    assert label_spec(ArrayDataset(images)) is None


def write_class_tree(root: Path, counts: dict[str, int]) -> dict[str, str]:
    """JPEGs in one subfolder per class; returns file (relative) -> class."""
    rng = np.random.default_rng(0)
    written = {}
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for index in range(count):
            pixels = rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index:03d}.jpg", quality=90)
            written[f"{name}/{index:03d}.jpg"] = name
    return written


def test_a_folder_per_class_labels_the_images(tmp_path, cache):
    root = tmp_path / "pets"
    write_class_tree(root, {"dog": 5, "cat": 4, "fox": 3})
    (root / "cat" / "001.jpg").write_bytes(b"not a jpeg")  # skipped as unreadable: its label goes with it
    dataset = check_dataset(images_dataset, root=str(root), resolution=16)
    assert dataset.label_spec == LabelSpec("classes", ("cat", "dog", "fox"))
    assert len(dataset) == 11
    np.testing.assert_array_equal(np.bincount(dataset.labels(np.arange(11))), [3, 5, 3])
    # each served image's label is its own folder's, the unreadable file left out of both
    served = [dataset.cache.names[row] for row in dataset._rows]
    assert "cat/001.jpg" not in served
    np.testing.assert_array_equal(
        dataset.labels(np.arange(11)), [("cat", "dog", "fox").index(name.split("/")[0]) for name in served]
    )
    assert label_spec(images_dataset(root=str(root), resolution=16, labels="none")) is None


def test_a_folder_that_is_not_one_per_class(tmp_path, cache):
    root = tmp_path / "mixed"
    write_class_tree(root, {"dog": 2, "cat": 2})
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "loose.png")
    assert label_spec(images_dataset(root=str(root), resolution=16)) is None  # auto: unlabelled, as before
    with pytest.raises(DataError, match=r"loose\.png: labels = \"folders\" needs every image in a class subfolder"):
        images_dataset(root=str(root), resolution=16, labels="folders")
    one = tmp_path / "one"
    write_class_tree(one, {"dog": 3})
    with pytest.raises(DataError, match=r"two or more class subfolders, found \['dog'\]"):
        images_dataset(root=str(one), resolution=16, labels="folders")


@pytest.fixture(scope="module")
def celeba_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba")
    return root, make_celeba(root, count=40)


def test_celeba_attributes_as_labels(celeba_tree, cache):
    root, expected = celeba_tree
    dataset = check_dataset(celeba_dataset, root=str(root), labels=["Smiling", "Eyeglasses"], resolution=16)
    assert dataset.label_spec == LabelSpec("attributes", ("Smiling", "Eyeglasses"))
    columns = [ATTRIBUTES.index("Smiling"), ATTRIBUTES.index("Eyeglasses")]
    np.testing.assert_array_equal(dataset.labels(np.arange(40)), expected["table"][:, columns] == 1)
    filtered = celeba_dataset(root=str(root), attributes={"Smiling": True}, labels=["Smiling"], resolution=16)
    assert filtered.labels(np.arange(len(filtered))).min() == 1
    with pytest.raises(ValueError, match=r"labels: CelebA has no attribute 'Smilling'; did you mean 'Smiling'\?"):
        celeba_dataset(root=str(root), labels=["Smilling"])


def copy_tree(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda lines: ["41", *lines[1:]], r"list_attr_celeba.txt:1: says '41' images, but 40 lines follow"),
        (lambda lines: [*lines[:5], lines[5].replace(" 1", " 2", 1), *lines[6:]], r"list_attr_celeba.txt:6: .* '2'"),
        (lambda lines: ["39", *lines[1:-1]], r"list_attr_celeba.txt: no line for 000040.jpg"),
    ],
    ids=["count", "value", "missing"],
)
def test_an_attribute_file_that_disagrees_is_refused(celeba_tree, cache, tmp_path, change, message):
    root = copy_tree(celeba_tree[0], tmp_path / "celeba")
    path = root / "list_attr_celeba.txt"
    path.write_text("\n".join(change(path.read_text().splitlines())) + "\n")
    with pytest.raises(DataError, match=message):
        celeba_dataset(root=str(root), labels=["Smiling"])


def test_a_broken_label_recipe_exits_2_before_anything_is_written(celeba_tree, tmp_path):
    recipe = tmp_path / "faces.toml"
    recipe.write_text(
        f'extends = "dcgan_celeba"\nname = "faces"\n[dataset]\nroot = "{celeba_tree[0]}"\nlabels = ["Eyeglases"]\n'
    )
    done = invoke_cli("recipe", "check", str(recipe), cwd=tmp_path, env={"GANFORGE_CACHE": str(tmp_path / "cache")})
    assert_user_error(done, "dataset", "did you mean 'Eyeglasses'?")
    assert not (tmp_path / "runs").exists()


def test_a_dataset_with_half_a_label_contract_is_caught():
    class HalfLabelled:  # declares what its labels are, but cannot read them
        label_spec = LabelSpec("classes", ("a", "b"))

        def __init__(self):
            self.inner = ArrayDataset(np.zeros((4, 2), np.float32))
            self.spec = self.inner.spec

        def __len__(self):
            return 4

        def read(self, indices):
            return self.inner.read(indices)

    with pytest.raises(ContractError, match="both label_spec and labels"):
        check_dataset(HalfLabelled)

    class WrongLabels(HalfLabelled):
        def labels(self, indices):
            return np.full(len(indices), 2)  # class 2 of two classes

    with pytest.raises(ContractError, match=r"labels\(\): labels must be class numbers 0 to 1; found 2 to 2"):
        check_dataset(WrongLabels)
