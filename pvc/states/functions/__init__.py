"""The state functions pvc ships, and the registry of them.

Example::

    registry = default_registry()
    registry.get("file.managed")
"""

from __future__ import annotations

from pvc.states.functions.file import MODULE as FILE
from pvc.states.functions.test import MODULE as TEST
from pvc.states.registry import StateRegistry

MODULES = (FILE, TEST)


def default_registry() -> StateRegistry:
    return StateRegistry(MODULES)
