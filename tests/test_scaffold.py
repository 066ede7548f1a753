"""`ganforge plugin new`: the scaffold installs with pip, passes its own tests and is listed by `ganforge plugins`."""

import pytest
from conftest import assert_user_error, invoke_cli, layered_venv, pip_install, run_cli, run_pytest

from ganforge.plugin.scaffold import KINDS

pytestmark = pytest.mark.slow  # pip-installs eight scaffolds and runs their tests


def test_scaffolds_of_every_kind_install_with_pip_pass_their_own_tests_and_are_listed(tmp_path):
    """The dataset scaffold installed editable (`pip install -e`, as its README says), the others into a folder.

    Both into a throwaway environment layered on the running one, which stays as it was.
    """
    python = layered_venv(tmp_path / "venv")
    site = tmp_path / "site"
    folders = []
    for kind in KINDS:
        made = invoke_cli("plugin", "new", f"my-{kind}", "--kind", kind, cwd=tmp_path)  # writes files only
        assert made.returncode == 0, made.stderr
        assert 'pip install -e ".[test]"' in made.stdout
        folders.append(tmp_path / f"ganforge-my-{kind}")
    # one pip call for the seven: each call pays pip's start-up and dependency resolution again
    into_folder = [folder for kind, folder in zip(KINDS, folders) if kind != "dataset"]
    pip_install(*into_folder, python=python, target=site)
    pip_install(tmp_path / "ganforge-my-dataset", python=python, editable=True)
    env = {"PYTHONPATH": str(site)}
    tests = run_pytest(*(folder / "tests" for folder in folders), cwd=tmp_path, env=env, python=python)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert f"{3 * len(folders)} passed" in tests.stdout  # contract check, discovery, two training steps: each
    listed = run_cli("plugins", cwd=tmp_path, env={**env, "COLUMNS": "400"}, python=str(python))
    for kind in KINDS:
        line = next(line for line in listed.stdout.splitlines() if f"ganforge-my-{kind} " in line)
        assert f"{kind} my_{kind}" in line and "ok" in line and "0.1.0" in line, line
    # the environment running these tests never saw the editable install
    assert "ganforge-my-dataset" not in invoke_cli("plugins", cwd=tmp_path, env={"COLUMNS": "400"}).stdout


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("Shapes", "plugin name 'Shapes'"),
        ("my shapes", "lower-case letters"),
        ("2d", "starting with a letter"),
        ("import", "is a Python keyword"),
        ("shapes--x", "single '-' or '_'"),
    ],
)
def test_a_name_that_is_not_a_package_name_is_refused(tmp_path, name, fragment):
    assert_user_error(invoke_cli("plugin", "new", name, cwd=tmp_path), fragment)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path):
    existing = tmp_path / "ganforge-shapes"
    existing.mkdir()
    (existing / "mine.py").write_text("keep me")
    assert_user_error(invoke_cli("plugin", "new", "shapes", cwd=tmp_path), "already exists", "nothing was written")
    assert [path.name for path in existing.iterdir()] == ["mine.py"] and (existing / "mine.py").read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ganforge-shapes"]  # no staging folder left


def test_an_unknown_kind_lists_the_kinds(tmp_path):
    assert_user_error(
        invoke_cli("plugin", "new", "shapes", "--kind", "widget", cwd=tmp_path), "choose one of generator"
    )
