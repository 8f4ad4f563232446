"""The state functions pvc ships, and the registry of them.

Each module file lists its functions; this file is the one place that names every state
module (nothing is discovered). ``file`` spans several files by sub-concept.

Example::

    registry = default_registry()
    registry.get("file.managed")
"""

from __future__ import annotations

from pvc.states.functions import (
    backends,
    cmd,
    file,
    file_edit,
    file_tree,
    group,
    host,
    pkg,
    service,
    ssh_auth,
    sysctl,
    test,
    timezone,
    user,
)
from pvc.states.registry import StateModule, StateRegistry

FILE = StateModule("file", functions=(*file.FUNCTIONS, *file_edit.FUNCTIONS, *file_tree.FUNCTIONS))
MODULES = (
    FILE, test.MODULE, pkg.MODULE, pkg.REPO_MODULE, service.MODULE, cmd.MODULE, user.MODULE, group.MODULE,
    host.MODULE, sysctl.MODULE, timezone.MODULE, ssh_auth.MODULE, *backends.MODULES,
)


def default_registry() -> StateRegistry:
    return StateRegistry(MODULES)
