"""Typed settings: field metadata and the one generic checker that builds them from a mapping.

Each params section is a frozen dataclass owned by the part of the library that uses it
(`ModelSettings` by the models, `LoopSettings` by the training loops, ...). Its fields say
what they accept: the type annotation (int, float, bool, str, `X | None`, `Literal[...]`, an
`enum.Enum` whose values are the file's words, `tuple[float, ...]`, a nested settings dataclass) and `setting(..., minimum=, maximum=,
exclusive=, parse=, key=, optional=)`. `build(cls, mapping, prefix, file)` checks a mapping
against them and rejects unknown keys, missing keys, wrong types and out-of-range values
with a one-line `ParamsError` naming the file and the full key:

    params.yaml: pretrain_2d.lr must be a number, got 'abc'
    other.yaml: unknown key model.widht (expected one of: depth_pooling, fix_2d, ...)

Every key must be present (params.yaml holds the only defaults) unless its field says
`optional=True`. A class may declare `OTHER_KEYS`: keys of its section that belong to
another stage's view of it, accepted and not read. Reading the file is `posegan.config`'s job.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import field
from typing import Any, Callable, Literal

from posegan.errors import PoseganError


class ParamsError(PoseganError, ValueError):
    """The params file is missing, unreadable, or holds a value the pipeline cannot use."""


def setting(default: Any = dataclasses.MISSING, *, minimum: float | None = None, maximum: float | None = None,
            exclusive: bool = False, parse: Callable[[Any], Any] | None = None, key: str | None = None,
            optional: bool = False, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with what the checker needs to know about it.

    minimum / maximum: the allowed range (`exclusive`: the minimum itself is not allowed).
    parse: a function from the file's value to the field's value that raises ValueError with
    the reason when the value is unusable. key: the name in the file when it differs from the
    field's (e.g. `lambda`). optional: the key may be left out (the field's default is used).
    """
    metadata = {"minimum": minimum, "maximum": maximum, "exclusive": exclusive, "parse": parse, "key": key,
                "optional": optional}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def key_of(f: dataclasses.Field) -> str:
    """The name of a field in the params file."""
    return f.metadata.get("key") or f.name


# --------------------------------------------------------------------------- the checker

def _describe(kind: Any) -> str:
    """The words for what a type annotation accepts, for messages."""
    origin = typing.get_origin(kind)
    if kind is bool:
        return "true or false"
    if kind is int:
        return "an integer"
    if kind is float:
        return "a number"
    if kind is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(_yaml_word(v) for v in typing.get_args(kind))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(_yaml_word(member.value) for member in kind)
    if origin in (typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(kind) if a is not type(None)]
        words = " or ".join(_describe(a) for a in parts)
        return words + (" or null" if len(parts) < len(typing.get_args(kind)) else "")
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_plural(args[0])}"
        return f"a list of {len(args)} {_plural(args[0])}"
    if dataclasses.is_dataclass(kind):
        return "a mapping"
    return getattr(kind, "__name__", str(kind))


def _plural(kind: Any) -> str:
    return {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(kind, _describe(kind))


def _yaml_word(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Mismatch(Exception):
    """The value does not fit the annotation (the caller words the message)."""


# A scalar annotation -> (does the file's value fit it, the field's value). YAML's true/false are
# Python bools, which are ints too: a bool is never a number here.
_SCALARS: dict[type, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {
    bool: (lambda v: isinstance(v, bool), bool),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), int),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), float),
    str: (lambda v: isinstance(v, str), str),
}


def _convert(value: Any, kind: Any, where: str, file: str) -> Any:
    """`value` as the annotation `kind` asks for, or _Mismatch."""
    origin = typing.get_origin(kind)
    if kind is Any:
        return value
    if kind in _SCALARS:
        accepts, convert = _SCALARS[kind]
        if accepts(value):
            return convert(value)
        raise _Mismatch
    if origin is Literal:
        for choice in typing.get_args(kind):
            if type(choice) is type(value) and choice == value:
                return value
        raise _Mismatch
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        for member in kind:
            if type(member.value) is type(value) and member.value == value:
                return member
        raise _Mismatch
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(kind)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where, file)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], where, file) for v in value)
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_convert(v, a, where, file) for v, a in zip(value, args))
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise _Mismatch
        return build(kind, value, where, file)
    raise TypeError(f"settings field {where}: unsupported annotation {kind!r}")


def build(cls: type, values: Any, prefix: str, file: str, given: dict[str, Any] | None = None) -> Any:
    """An instance of the settings dataclass `cls` from the mapping `values` (the section at
    `prefix` in `file`), checked field by field; ParamsError (one line) on the first problem.

    given: values for fields that do not come from this mapping (e.g. the crop side that the
    synthetic benchmark takes from `data.image_size`); their names are not accepted as keys.
    """
    given = dict(given or {})
    if not isinstance(values, dict):
        raise ParamsError(f"{file}: {prefix} must be a mapping of keys, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init and f.name not in given]
    keys = {key_of(f): f for f in fields}
    unknown = sorted(set(values) - set(keys) - set(getattr(cls, "OTHER_KEYS", ())), key=str)
    if unknown:
        raise ParamsError(f"{file}: unknown key {prefix}.{unknown[0]} (expected one of: {', '.join(sorted(keys))})")
    built = dict(given)
    for key, f in keys.items():
        where = f"{prefix}.{key}"
        if key not in values:
            if f.metadata.get("optional"):
                continue
            raise ParamsError(f"{file}: {where} is missing")
        value = values[key]
        parse = f.metadata.get("parse")
        if parse is not None:
            try:
                built[f.name] = parse(value)
            except ValueError as err:
                reason = str(err)
                raise ParamsError(f"{file}: {reason if reason.startswith(where) else f'{where}: {reason}'}") from err
            continue
        kind = hints[f.name]
        try:
            converted = _convert(value, kind, where, file)
        except _Mismatch:
            raise ParamsError(f"{file}: {where} must be {_describe(kind)}, got {value!r}") from None
        _check_range(converted, f, where, file)
        built[f.name] = converted
    try:
        return cls(**built)
    except ValueError as err:   # a check across fields, in the class's __post_init__
        raise ParamsError(f"{file}: {prefix}: {err}") from err


def _check_range(value: Any, f: dataclasses.Field, where: str, file: str) -> None:
    low, high, exclusive = f.metadata.get("minimum"), f.metadata.get("maximum"), f.metadata.get("exclusive")
    if low is None and high is None:
        return
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if item is None or isinstance(item, bool) or not isinstance(item, (int, float)):
            continue
        too_low = low is not None and (item <= low if exclusive else item < low)
        too_high = high is not None and item > high
        if too_low or too_high:
            if low is not None and high is not None:
                span = f"in {'(' if exclusive else '['}{low:g}, {high:g}]"
            elif low is not None:
                span = f"{'>' if exclusive else '>='} {low:g}"
            else:
                span = f"<= {high:g}"
            raise ParamsError(f"{file}: {where} must be {span}, got {value!r}")
