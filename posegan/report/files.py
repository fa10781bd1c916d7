"""Reading the JSON files the reports are built from, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from posegan.errors import InputDataError, InputMissingError


def read_json(path: str | Path, missing: str, remedy: str) -> Any:
    """The JSON document in `path`.

    Raises FileNotFoundError "<path>: <missing>" if there is no such file, and ValueError
    "<path>: not valid JSON (<error>); <remedy>" if it does not parse.
    """
    path = Path(path)
    if not path.exists():
        raise InputMissingError(f"{path}: {missing}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputDataError(f"{path}: not valid JSON ({err}); {remedy}") from err
