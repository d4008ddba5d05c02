"""The analysis model to and from JSON, generically, for frozen dataclasses.

A dataclass is a JSON object of its fields in declaration order; a field's JSON name is its
own unless its metadata says otherwise (`{"json": "from"}`, or `NOT_IN_JSON`). Times are naive
UTC `datetime`s written as `2026-11-27T23:10:00Z`, dates as `2026-11-27`, tuples as lists, a
`Window` as its `as_dict()`. Reading is lenient where the contract allows (fields are only ever
added): a field a document lacks reads as None, zero or empty; anything else that does not fit
is a ConfigError naming where.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
from collections.abc import Mapping
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from rightsizer.errors import ConfigError
from rightsizer.window import Window

# A field with this metadata is the model's own, not part of the JSON.
NOT_IN_JSON: Mapping[str, Any] = {"json": None}


def iso(value: dt.datetime | None) -> str | None:
    """A naive UTC datetime as the JSON writes it: `2026-11-27T23:10:00Z`."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def json_value(value: Any) -> Any:
    """A model value as JSON values: dataclasses as objects in field order, times as text."""
    if isinstance(value, Window):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            name: json_value(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if (name := f.metadata.get("json", f.name)) is not None
        }
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: json_value(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [json_value(item) for item in value]
    return value


@cache
def _hints(cls: Any) -> dict[str, Any]:
    return get_type_hints(cls)


def read(cls: Any, data: Any, path: str) -> Any:
    """A dataclass of the model from a JSON object; missing fields read as empty."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} is not a JSON object")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        name = f.metadata.get("json", f.name)
        if name is None or not f.init:  # a field the class derives is written, never read
            continue
        where = f"{path}.{name}"
        if name in data:
            values[f.name] = _convert(hints[f.name], data[name], where)
        else:
            values[f.name] = _empty(hints[f.name], where)
    return cls(**values)


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = (arg for arg in get_args(tp) if arg is not type(None))
        return _convert(inner, value, path)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path} is not a JSON list")
        item = get_args(tp)[0]
        return tuple(_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path} is not a JSON object")
        return value
    if tp is Window:
        if not isinstance(value, Mapping) or not {"start", "end"} <= value.keys():
            raise ConfigError(f"{path} needs a start and an end")
        start = _timestamp(value["start"], f"{path}.start")
        return Window(start=start, end=_timestamp(value["end"], f"{path}.end"))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return read(tp, value, path)
    if tp is dt.datetime:
        return _timestamp(value, path)
    if tp is dt.date:
        return value if isinstance(value, dt.date) else _date(value, path)
    if tp is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, tp):
        raise ConfigError(f"{path} is {value!r}, not a {tp.__name__}")
    return value


def _timestamp(value: Any, path: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{path} is {value!r}, not a UTC timestamp") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _date(value: Any, path: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{path} is {value!r}, not a date") from None


def _empty(tp: Any, path: str) -> Any:
    """The value of a field a document lacks: nothing, zero or empty."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return None
    if origin is tuple:
        return ()
    if origin is Mapping:
        return {}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and tp is not Window:
        return read(tp, {}, path)
    if tp in (str, int, float, bool):
        return tp()
    raise ConfigError(f"{path} is missing")
