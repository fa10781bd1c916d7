"""What every stage command shares: the --params option, and the project's errors as one line.

A `PoseganError` (posegan.errors) is the user's input or a run that cannot go on: the stage
prints its message on stderr and exits 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys

import click

from posegan.errors import PoseganError

EXPECTED_ERRORS = (PoseganError,)

params_option = click.option("--params", "params_path", default="params.yaml", show_default=True,
                             help="params file")
progress_option = click.option("--progress/--no-progress", default=True, help="show a progress bar")


def clear_errors(command):
    """Decorator for a stage's main(): expected errors become one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)

    return wrapper
