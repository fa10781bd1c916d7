"""The project's own error types.

A `PoseganError` is about the user's input or a run that cannot go on (a bad params value, a
missing or malformed input file, a diverged loss): its message is one line that names the
file, key or field and what was expected, and the stage commands print it and exit 1.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class PoseganError(Exception):
    """Base of the errors a stage reports as one line (see the module docstring)."""


class InputMissingError(PoseganError, FileNotFoundError):
    """An input file or folder the command needs does not exist (the message says which stage
    makes it)."""


class InputDataError(PoseganError, ValueError):
    """An input file exists but holds data the command cannot use."""
