"""Salt's Jinja filters, as pure functions (registered on the sandbox by :mod:`pvc.states.render`).

Example::

    {{ pillar | traverse('ntp:servers', []) | unique | json }}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

from pvc.states.yamlsafe import load_sls_yaml


def _dump_scalar(value: Any, **kwargs: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=float("inf"), **kwargs)  # type: ignore[call-overload]
    text = str(text)
    text = text.removesuffix("\n...\n")
    return text.rstrip("\n")


def to_yaml(value: Any, flow_style: bool = True) -> str:
    """``{{ data | yaml }}``: inline YAML by default, block YAML with ``yaml(False)``."""
    text = yaml.safe_dump(value, default_flow_style=flow_style, width=float("inf"))  # type: ignore[call-overload]
    text = str(text)
    text = text.removesuffix("\n...\n")
    return text.rstrip("\n") if flow_style else text


def to_json(value: Any, sort_keys: bool = True, indent: int | None = None) -> str:
    return json.dumps(value, sort_keys=sort_keys, indent=indent)


def yaml_encode(value: Any) -> str:
    """A scalar as a YAML scalar (quoted only when YAML needs it)."""
    if not isinstance(value, str | int | float | bool) and value is not None:
        raise TypeError(f"yaml_encode needs a scalar, not {type(value).__name__}")
    return _dump_scalar(value)


def yaml_dquote(value: Any) -> str:
    """A string as a double-quoted YAML scalar (safe whatever it contains)."""
    if not isinstance(value, str):
        raise TypeError(f"yaml_dquote needs a string, not {type(value).__name__}")
    return _dump_scalar(value, default_style='"')


def load_yaml(value: Any) -> Any:
    """Parse YAML safely, as SLS files are; also what ``{% import_yaml %}`` binds (``str()`` of
    the rendered module)."""
    return load_sls_yaml(str(value))


def load_json(value: Any) -> Any:
    return json.loads(str(value))


def load_text(value: Any) -> str:
    return str(value)


def traverse(data: Any, key: str, default: Any = None, delimiter: str = ":") -> Any:
    """``a:b:0`` walks mappings by key and lists by index; a miss gives ``default``."""
    node = data
    for part in key.split(delimiter):
        if isinstance(node, Mapping):
            if part not in node:
                return default
            node = node[part]
        elif isinstance(node, list | tuple):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return default
        else:
            return default
    return node


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (re.IGNORECASE if ignorecase else 0) | (re.MULTILINE if multiline else 0)


def regex_replace(txt: str, rgx: str, val: str, ignorecase: bool = False, multiline: bool = False) -> str:
    return re.sub(rgx, val, txt, flags=_flags(ignorecase, multiline))


def regex_search(txt: str, rgx: str, ignorecase: bool = False, multiline: bool = False) -> tuple[Any, ...] | None:
    """The groups of the first match (Salt's semantics), or None."""
    found = re.search(rgx, txt, flags=_flags(ignorecase, multiline))
    return None if found is None else found.groups()


def regex_match(txt: str, rgx: str, ignorecase: bool = False, multiline: bool = False) -> tuple[Any, ...] | None:
    found = re.match(rgx, txt, flags=_flags(ignorecase, multiline))
    return None if found is None else found.groups()


def to_bool(value: Any) -> bool:
    """Salt's truthiness: 'yes'/'true'/'1' (any case) are True, numbers > 0, non-empty containers."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "1", "on")
    if isinstance(value, int | float):
        return value > 0
    if isinstance(value, Iterable):
        return len(list(value)) > 0
    return False


def unique(values: Iterable[Any]) -> list[Any]:
    """The values without duplicates, first occurrence kept (works for unhashable values)."""
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


FILTERS: dict[str, Callable[..., Any]] = {
    "yaml": to_yaml,
    "json": to_json,
    "traverse": traverse,
    "regex_replace": regex_replace,
    "regex_search": regex_search,
    "regex_match": regex_match,
    "to_bool": to_bool,
    "yaml_encode": yaml_encode,
    "yaml_dquote": yaml_dquote,
    "load_yaml": load_yaml,
    "load_json": load_json,
    "load_text": load_text,
    "unique": unique,
}
