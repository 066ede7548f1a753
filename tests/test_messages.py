"""What the library says goes through logging; the ganforge command shows it, each line as "ganforge: ...".

The CLI's own process tests see the lines on its stderr (test_dashboards, test_datasets); here the
handler is tried in-process, and a program that imports ganforge gets Python's logging defaults.
"""

from __future__ import annotations

import logging
import subprocess
import sys

from ganforge.cli.support import library_messages
from ganforge.errors import DataError, TrainingStopped


def test_the_command_shows_info_and_above_of_the_library_and_its_plugins_with_the_prefix(capsys):
    logger = logging.getLogger("ganforge")
    before = (logger.level, logger.propagate, list(logger.handlers))
    with library_messages():
        logging.getLogger("ganforge.data.cache").warning("skipped 2 unreadable image(s)")
        logging.getLogger("ganforge.plugins.wandb").info("W&B: saved offline")
        logging.getLogger("ganforge.training.trainer").debug("not for users")
        logging.getLogger("some_other_library").warning("its own business")
    assert capsys.readouterr().err == "ganforge: skipped 2 unreadable image(s)\nganforge: W&B: saved offline\n"
    assert (logger.level, logger.propagate, list(logger.handlers)) == before  # the command leaves no trace


def test_a_program_that_imports_ganforge_gets_pythons_defaults():
    # a fresh interpreter: pytest's own handlers would stand in for logging's last resort here
    program = (
        "import ganforge.data.cache as cache, ganforge_wandb.sink as sink\n"
        "cache.logger.warning('skipped 1 unreadable image(s)')\n"
        "sink.logger.info('W&B: saved offline')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "skipped 1 unreadable image(s)\n"  # the warning, unprefixed; INFO unseen


def test_an_error_is_told_how_to_exit_when_it_is_made():
    assert TrainingStopped("a peer was lost", 69, exit_at_once=True).exit_at_once
    stopped = TrainingStopped("SIGTERM", 143)
    assert (stopped.exit_code, stopped.exit_at_once) == (143, False)
    plain = DataError("no such folder")
    assert (plain.exit_code, plain.exit_at_once) == (2, False)
