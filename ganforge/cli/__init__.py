"""The ``ganforge`` command: a thin typer layer over the library.

Errors the user can fix (GanforgeError) print one line and exit with 2; no
traceback. The library only logs; while a command runs, its records of level
INFO and above are printed to stderr as "ganforge: ..." lines
(``support.library_messages``). TensorFlow is imported only by the commands
that build models, so ``ganforge --help`` and ``ganforge plugins`` answer at
once. Each module here holds a group of commands and adds them to ``app``.
"""

from __future__ import annotations

import typer

from ganforge.cli import plugins, recipes, trained, training
from ganforge.cli.support import library_messages

app = typer.Typer(
    name="ganforge",
    help="Train GANs from TOML recipes; every part is a plugin.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for commands in (training, plugins, recipes, trained):
    commands.add_commands(app)


@app.callback()
def _every_command(context: typer.Context) -> None:
    # before any command, plugins' included; undone when it ends, so in-process runs (tests) leave logging as found
    context.with_resource(library_messages())


def main() -> None:
    plugins.add_plugin_commands(app)
    app()


if __name__ == "__main__":
    main()
