"""The project modules a stage command imports, found by reading the source (every import
statement, including those inside functions), for checking dvc.yaml's dependency lists."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = ("posegan", "stages")


def module_file(root: Path, name: str) -> Path | None:
    """The file of module `name` under `root` (a package's __init__.py), or None."""
    base = root.joinpath(*name.split("."))
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return None


def _imported_names(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return names


def import_closure(root: Path, module: str) -> set[Path]:
    """Files of the project modules that `module` imports, directly or not (itself included),
    with the __init__.py of every package on the way (Python runs those too)."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if not name.startswith(PACKAGES):
            continue
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            path = module_file(root, prefix)
            if path is None or path in seen:
                continue
            seen.add(path)
            todo.extend(_imported_names(path, prefix))
    return seen
