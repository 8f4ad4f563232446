"""YAML as Salt reads SLS, pillar and ``import_yaml`` files: PyYAML's safe loader (no Python
objects, ever; libyaml's parser when present) with Salt's three differences from plain PyYAML.

- An integer written with leading zeros is decimal: ``mode: 0644`` is 644 (YAML 1.1 would make
  it octal 420), so an unquoted mode means what the operator wrote.
- A key repeated in one mapping is an error ("found conflicting ID 'x'") instead of the last
  one silently winning: two states with one ID are a bug in the SLS.
- Dates stay text (``2024-01-01``), so a value's type does not depend on its spelling.

Example::

    load_sls_yaml("a: 0755\\nb: 2024-01-01\\n")     # {'a': 755, 'b': '2024-01-01'}
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

DECIMAL_WITH_ZEROS = re.compile(r"^[-+]?0[0-9_]+$")
MERGE = "tag:yaml.org,2002:merge"


# libyaml's parser when PyYAML has it (~10x faster; parsing dominated a 500-state highstate),
# the pure-Python one otherwise; the constructors below are the safe ones either way
BASE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SaltSafeLoader(BASE_LOADER):  # type: ignore[valid-type,misc]
    def construct_yaml_int(self, node: ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if DECIMAL_WITH_ZEROS.match(text):
            return int(text.replace("_", ""), 10)
        return int(super().construct_yaml_int(node))

    def construct_yaml_timestamp(self, node: ScalarNode) -> str:  # type: ignore[override]
        return str(self.construct_scalar(node))

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == MERGE:  # "<<: *defaults" entries may be overridden: not duplicates
                continue
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable: the base constructor reports it
            if duplicate:
                raise ConstructorError("while constructing a mapping", node.start_mark,
                                       f"found conflicting ID '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


SaltSafeLoader.add_constructor("tag:yaml.org,2002:int", SaltSafeLoader.construct_yaml_int)
SaltSafeLoader.add_constructor("tag:yaml.org,2002:timestamp", SaltSafeLoader.construct_yaml_timestamp)


def load_sls_yaml(text: str) -> Any:
    """Parse one YAML document with :class:`SaltSafeLoader` (raises :class:`yaml.YAMLError`)."""
    loader = SaltSafeLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
