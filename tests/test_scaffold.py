"""`ganforge plugin new`: the scaffold installs with pip, passes its own tests and is listed by `ganforge plugins`."""
import subprocess
import sys

import pytest

from conftest import assert_user_error, run_cli
from ganforge.scaffold import KINDS


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", *args, "--quiet", "--no-deps", "--no-build-isolation"], check=True)


def test_an_editable_install_of_a_new_dataset_plugin_passes_its_tests_and_is_listed(tmp_path):
    made = run_cli("plugin", "new", "disc-world", "--kind", "dataset", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    package = tmp_path / "ganforge-disc-world"
    assert 'pip install -e ".[test]"' in made.stdout
    pip("install", "-e", str(package))
    try:
        tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package,
                               capture_output=True, text=True, timeout=600)
        assert tests.returncode == 0, tests.stdout + tests.stderr
        assert "3 passed" in tests.stdout
        listed = run_cli("plugins", cwd=tmp_path, env={"COLUMNS": "400"})
        line = next(line for line in listed.stdout.splitlines() if "ganforge-disc-world" in line)
        assert "dataset disc_world" in line and "ok" in line and "0.1.0" in line
        trained = run_cli("run", str(package / "recipes" / "disc-world.toml"), "--set", "train.steps=2",
                          "--set", 'sinks=["jsonl"]', cwd=tmp_path)
        assert trained.returncode == 0, trained.stderr
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "ganforge-disc-world"], check=True)


def test_every_other_kind_scaffolds_a_package_whose_tests_pass(tmp_path):
    site = tmp_path / "site"
    folders = []
    for kind in KINDS:
        if kind == "dataset":
            continue  # installed editable above
        made = run_cli("plugin", "new", f"my-{kind}", "--kind", kind, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        folders.append(tmp_path / f"ganforge-my-{kind}")
        pip("install", "--target", str(site), str(folders[-1]))
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(folder / "tests") for folder in folders)],
        cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=600,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert f"{3 * len(folders)} passed" in tests.stdout


@pytest.mark.parametrize("name, fragment", [
    ("Shapes", "plugin name 'Shapes'"),
    ("my shapes", "lower-case letters"),
    ("2d", "starting with a letter"),
    ("import", "is a Python keyword"),
    ("shapes--x", "single '-' or '_'"),
])
def test_a_name_that_is_not_a_package_name_is_refused(tmp_path, name, fragment):
    assert_user_error(run_cli("plugin", "new", name, cwd=tmp_path), fragment)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    existing = tmp_path / "ganforge-shapes"
    existing.mkdir()
    (existing / "mine.py").write_text("keep me")
    assert_user_error(run_cli("plugin", "new", "shapes", cwd=tmp_path), "already exists", "nothing was written")
    assert [path.name for path in existing.iterdir()] == ["mine.py"] and (existing / "mine.py").read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ganforge-shapes"]  # no staging folder left


def test_an_unknown_kind_lists_the_kinds(tmp_path):
    assert_user_error(run_cli("plugin", "new", "shapes", "--kind", "widget", cwd=tmp_path), "choose one of generator")
