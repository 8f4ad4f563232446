"""Salt's recursive merge of nested data (``salt.utils.dictupdate.update`` semantics), shared by
``grains.filter_by``, ``pillar.get(merge=True)``, ``defaults.merge`` and ``slsutil.merge``.

Mappings merge key by key, recursively; any other value from ``upd`` replaces the one in
``dest``; lists are concatenated (without repeating items already there) only with
``merge_lists``. ``dest`` is modified in place and returned, as in Salt (callers copy first when
they must not share).

Example::

    update({"a": {"x": 1}, "l": [1]}, {"a": {"y": 2}, "l": [2]}, merge_lists=True)
    # {'a': {'x': 1, 'y': 2}, 'l': [1, 2]}
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from pvc.errors import InvalidArgument


def update(dest: MutableMapping[Any, Any], upd: Mapping[Any, Any], merge_lists: bool = False) -> MutableMapping[Any, Any]:
    if not isinstance(dest, MutableMapping) or not isinstance(upd, Mapping):
        raise InvalidArgument(f"cannot merge {type(upd).__name__} into {type(dest).__name__}: both must be mappings")
    for key, value in upd.items():
        current = dest.get(key)
        if isinstance(value, Mapping) and isinstance(current, MutableMapping):
            update(current, value, merge_lists)
        elif merge_lists and isinstance(value, list) and isinstance(current, list):
            current.extend(item for item in value if item not in current)
        elif isinstance(value, Mapping):
            dest[key] = update({}, value, merge_lists)
        else:
            dest[key] = value
    return dest
