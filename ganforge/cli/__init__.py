"""The ``ganforge`` command: a thin typer layer over the library.

Errors the user can fix (GanforgeError) print one line and exit with 2; no
traceback. TensorFlow is imported only by the commands that build models,
so ``ganforge --help`` and ``ganforge plugins`` answer at once. Each module
here holds a group of commands and adds them to ``app``.
"""

from __future__ import annotations

import typer

from ganforge.cli import plugins, recipes, trained, training

app = typer.Typer(
    name="ganforge",
    help="Train GANs from TOML recipes; every part is a plugin.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for commands in (training, plugins, recipes, trained):
    commands.add_commands(app)


def main() -> None:
    plugins.add_plugin_commands(app)
    app()


if __name__ == "__main__":
    main()
